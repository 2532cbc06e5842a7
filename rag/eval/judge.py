"""An optional LLM judge for evaluations (`rag eval --judge MODEL`), served by Ollama.

RAGAS-style: faithfulness is the share of an answer's claims that the judge finds supported
by the passages they cite; correctness is whether the judge finds the answer states the
gold answer. The offline metrics never depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.answer.ollama import OllamaClient
from rag.answer.prompts import render
from rag.config import Settings
from rag.eval.gold import GoldItem
from rag.types import Answer, Claim, LLMError


@dataclass(frozen=True)
class Verdict:
    """The judge's view of one answer; None where a figure does not apply."""

    faithfulness: float | None  # share of claims supported by their cited passages
    correct: bool | None  # the answer states the gold answer


class Judge:
    """Asks an Ollama model yes/no questions about answers."""

    def __init__(self, settings: Settings, model: str) -> None:
        self.model = model
        self._generator = OllamaClient(settings.model_copy(update={"ollama_model": model}))

    def check(self) -> None:
        """Fail at once, with the fixing command, when the judge model cannot answer."""
        health = self._generator.health()
        if not health.ready:
            raise LLMError(f"The judge cannot run: {health.problem}")

    def verdict(self, item: GoldItem, answer: Answer) -> Verdict:
        """Faithfulness of the answer's claims and its correctness against the gold answer."""
        if answer.abstained:
            return Verdict(None, None if item.unanswerable else False)
        claims = [claim for claim in answer.claims if claim.text.strip()]
        faithful = [self._supported(claim, answer) for claim in claims]
        faithfulness = sum(faithful) / len(faithful) if faithful else None
        if item.unanswerable:
            return Verdict(faithfulness, None)
        reference = item.answers[0] if item.answers else "; ".join(g[0] for g in item.answers_all)
        reply = self._generator.complete(
            render("judge_correctness", question=item.question, reference=reference,
                   answer=answer.answer)  # fmt: skip
        )
        return Verdict(faithfulness, _yes(reply))

    def _supported(self, claim: Claim, answer: Answer) -> bool:
        passages = _passages(claim, answer)
        if not passages:
            return False  # a claim citing nothing that exists is not supported
        reply = self._generator.complete(
            render("judge_faithfulness", claim=claim.text, passages="\n\n".join(passages))
        )
        return _yes(reply)


def _passages(claim: Claim, answer: Answer) -> list[str]:
    """The text of each passage a claim cites: the answer's citation, else the numbered hit."""
    quoted = {citation.n: citation.quote for citation in answer.citations}
    found = []
    for n in claim.citations:
        if n in quoted:
            found.append(quoted[n])
        elif 1 <= n <= len(answer.hits):
            found.append(answer.hits[n - 1].chunk.text)
    return found


def _yes(reply: str) -> bool:
    return reply.strip().lower().lstrip("*\"' ").startswith("yes")
