"""The Ollama path: the model writes the answer from the numbered passages, streamed, and
every sentence of it is checked against the passages it cites before it is shown."""

from __future__ import annotations

from collections.abc import Generator, Sequence

from rag.answer.confidence import CALIBRATOR
from rag.answer.context import numbered_context
from rag.answer.extractive import Extract, closest_passages
from rag.answer.ollama import OllamaClient
from rag.answer.prompts import CANNOT_ANSWER, render
from rag.answer.query import MAX_QUESTION_CHARS
from rag.answer.verify import Embed, check_answer, check_timeline
from rag.types import Answer, Claim, Confidence, Hit, Mode, OllamaError


def generate(
    question: str,
    searched_for: str,
    hits: Sequence[Hit],
    relevance: Extract,
    client: OllamaClient,
    embed: Embed,
    min_similarity: float,
    timeline: bool = False,
) -> Generator[str, None, Answer]:
    """Stream the model's answer to `searched_for` from `hits`, then return it checked.

    With `timeline` (a question about how something changed) the model is asked for one
    dated line per statement, and each line's statement and date are checked.

    `relevance` is the extractive answerer's judgement of the passages: when nothing
    retrieved is about the question, the model is not asked, so it cannot answer from its
    own knowledge. Raises OllamaError only before the first piece; a reply that breaks off
    later ends as an answer that says so.
    """
    model = client.model
    if relevance.off_topic:
        shown = () if relevance.unrelated else tuple(hits)
        answer = Answer(
            question=question, answer=CANNOT_ANSWER, abstained=True, mode=Mode.OLLAMA,
            citations=(), hits=shown, searched_for=searched_for,
            notice=f"Not asking {model}: {relevance.reason}.", model=model,
            closest=closest_passages(shown),
        )  # fmt: skip
        yield answer.answer
        return answer
    context = numbered_context(hits)
    if timeline:
        prompt = render("timeline", context=context, question=searched_for)
    else:
        prompt = render("answer", context=context, question=searched_for, hint=hint(relevance))
    pieces: list[str] = []
    broke_off = ""
    try:
        for piece in client.stream(prompt, system=render("system")):
            pieces.append(piece)
            yield piece
    except OllamaError as error:
        if not pieces:
            raise
        broke_off = str(error)
    reply = "".join(pieces)
    if timeline:
        checked, entries = check_timeline(reply, hits, embed, min_similarity)
    else:
        checked, entries = check_answer(reply, hits, embed, min_similarity), ()
    notice = " ".join(filter(None, [broke_off, checked.note(len(hits))]))
    return Answer(
        question=question, answer=checked.text, abstained=checked.abstained, mode=Mode.OLLAMA,
        citations=tuple(checked.citations), hits=tuple(hits), searched_for=searched_for,
        notice=notice or None, model=model, claims=tuple(checked.claims), timeline=entries,
        confidence=confidence(checked.abstained, checked.claims, relevance),
    )  # fmt: skip


def confidence(abstained: bool, claims: Sequence[Claim], relevance: Extract) -> Confidence:
    """How sure a generated answer is: "high" only when every sentence of it is supported by
    a passage it cites and the extractive reading of the same passages is sure of its own
    answer; "none" for a decline."""
    if abstained:
        return Confidence.NONE
    if relevance.evidence is None or not all(claim.supported for claim in claims):
        return Confidence.LOW
    return CALIBRATOR.level(relevance.evidence)


def hint(relevance: Extract) -> str:
    """A line for the prompt when the passages are about the question but the extractive
    reading found none that holds what it asks for ("" otherwise): small models tend to
    answer from a nearby fact instead of saying the passages do not tell."""
    if not relevance.abstained or relevance.off_topic:
        return ""
    return (
        f"\n- Note: a reading of these passages found that {relevance.reason.value}; check "
        "that one really answers the question before you answer from it."
    )


def condense(client: OllamaClient, question: str, history: Sequence[str]) -> str | None:
    """A follow-up rewritten by the model into a question that stands alone, or None when
    the reply is empty or too long to be one. Raises OllamaError."""
    reply = client.complete(render("condense", history="\n".join(history), question=question))
    # Small models sometimes repeat the label, quote the question or explain after it.
    lines = (
        line.removeprefix("Standalone question:").strip(" \"'") for line in reply.splitlines()
    )
    rewritten = next((line for line in lines if line), "")
    return rewritten if 0 < len(rewritten) <= MAX_QUESTION_CHARS else None
