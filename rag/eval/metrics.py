"""How one answer is scored against its gold item, and the figures over many
(docs/evaluation.md, "Metrics")."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.answer.citations import MARKER, strip_markers
from rag.eval.gold import GoldItem
from rag.types import Answer, Citation, Confidence, TimelineEntry

# How deep `hit_at_k` and `recall_at_k` look: the passages retrieval returns by default.
DEFAULT_K = 5
# Items of this kind are right only when answered with a timeline in date order.
TIMELINE_KIND = "timeline"
# A rewordings file's kinds (docs/evaluation.md, "Rewordings"): a question asked after an
# unrelated one, right only when searched on its own; a question about nothing in the
# articles, right only when declined with no passages shown.
TOPIC_SWITCH_KIND = "topic_switch"
OFF_TOPIC_KIND = "off_topic"


@dataclass(frozen=True)
class EvalRecord:
    """How the system did on one gold item (metrics defined in docs/evaluation.md)."""

    item: GoldItem
    answer: Answer
    correct: bool
    gold_rank: int | None  # 1-based rank of the first hit from a gold file, None if absent
    recall: float = 0.0  # share of the gold files among the retrieved hits' files
    f1: float = 0.0  # SQuAD token F1 of the answer against the first gold alias
    citations_correct: int = 0  # citations from a gold file whose quote holds a gold answer
    lead_correct: bool = False  # right on its first cited sentence alone (what is read first)
    first_text_ms: float | None = None  # time to the first piece of answer text
    judge_faithfulness: float | None = None  # LLM judge: share of claims supported
    judge_correct: bool | None = None  # LLM judge: the answer states the gold answer

    @property
    def cited_correctly(self) -> bool:
        """Right answer backed by at least one correct citation."""
        return self.correct and self.citations_correct > 0


def normalize(text: str) -> str:
    """How answers are compared: lower case; a possessive "'s" dropped ("Garry Marshall's
    film" holds "Garry Marshall"); separators inside numbers and abbreviations dropped
    ("2,500" is "2500", "U.S." is "us"); other punctuation to spaces."""
    unpossessed = re.sub(r"(?<=\w)['’]s\b", "", text.lower())
    joined = re.sub(r"(?<=\w)[.,'’](?=\w)", "", unpossessed)
    return " ".join(re.sub(r"[^\w\s]", " ", joined).split())


def contains(answer: str, alias: str) -> bool:
    """Whether `alias` appears in `answer` as whole words, ignoring case and punctuation."""
    return f" {normalize(alias)} " in f" {normalize(answer)} "


def is_correct(item: GoldItem, answer: Answer) -> bool:
    """Right abstention for unanswerable items; otherwise the gold answer appears in it."""
    if item.unanswerable:
        return answer.abstained and not (item.kind == OFF_TOPIC_KIND and answer.hits)
    if answer.abstained:
        return False
    if item.kind == TOPIC_SWITCH_KIND and answer.searched_for != item.question:
        return False
    if any(contains(answer.answer, wrong) for wrong in item.answers_not):
        return False
    if item.kind == TIMELINE_KIND and not in_date_order(answer.timeline):
        return False
    if item.answers:
        return any(contains(answer.answer, alias) for alias in item.answers)
    return all(any(contains(answer.answer, alias) for alias in group) for group in item.answers_all)


def in_date_order(timeline: Sequence[TimelineEntry]) -> bool:
    """A timeline of two entries or more, oldest first."""
    days = [entry.when for entry in timeline]
    return len(days) >= 2 and days == sorted(days)


def gold_rank(item: GoldItem, answer: Answer) -> int | None:
    """1-based rank of the first hit carrying a gold source file."""
    for rank, hit in enumerate(answer.hits, start=1):
        if set(hit.files) & set(item.source_files):
            return rank
    return None


def gold_recall(item: GoldItem, answer: Answer) -> float:
    """Share of the gold source files found anywhere in the retrieved hits."""
    if not item.source_files:
        return 0.0
    found = {file for hit in answer.hits for file in hit.files}
    return len(found & set(item.source_files)) / len(item.source_files)


def aliases(item: GoldItem) -> list[str]:
    """Every acceptable answer string of an item."""
    return [*item.answers, *(alias for group in item.answers_all for alias in group)]


def citation_is_correct(item: GoldItem, citation: Citation) -> bool:
    """A citation from a gold file whose quoted passage holds a gold answer (ALCE-style)."""
    files = {citation.file, *citation.also_in}
    return bool(files & set(item.source_files)) and any(
        contains(citation.quote, alias) for alias in aliases(item)
    )


_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD's token F1: overlap of normalised words, articles dropped."""
    pred = _ARTICLES.sub(" ", normalize(prediction)).split()
    gold = _ARTICLES.sub(" ", normalize(reference)).split()
    common = sum((Counter(pred) & Counter(gold)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def score(item: GoldItem, answer: Answer, first_text_ms: float | None = None) -> EvalRecord:
    """All per-item figures for one answer."""
    answered = not item.unanswerable and not answer.abstained
    reference = item.answers[0] if item.answers else " ".join(g[0] for g in item.answers_all)
    # Markers ("[1]", "[unsupported]") are not words of the answer.
    f1 = token_f1(strip_markers(answer.answer), reference) if answered else 0.0
    cited = sum(citation_is_correct(item, c) for c in answer.citations) if answered else 0
    # What is read first: the answer up to its first citation marker.
    lead = answered and is_correct(
        item, replace(answer, answer=MARKER.split(answer.answer, maxsplit=1)[0])
    )
    return EvalRecord(
        item=item,
        answer=answer,
        correct=is_correct(item, answer),
        lead_correct=lead,
        gold_rank=gold_rank(item, answer),
        recall=gold_recall(item, answer),
        f1=f1,
        citations_correct=cited,
        first_text_ms=first_text_ms,
    )


def summarize(records: Sequence[EvalRecord], k: int = DEFAULT_K) -> dict[str, float]:
    """Retrieval, answer, citation, abstention, latency and judge figures over the records,
    in the order reports show them."""
    answerable = [r for r in records if not r.item.unanswerable]
    return {
        "items": len(records),
        "answerable": len(answerable),
        "unanswerable": len(records) - len(answerable),
        "correct": _mean([r.correct for r in records]),
        **_retrieval(answerable, k),
        **_answers(answerable),
        **_citations(answerable),
        **_abstention(records),
        **_confidence(records, answerable),
        **_generation(records),
        **_latency(records),
        **_judged(records),
    }


def _retrieval(answerable: Sequence[EvalRecord], k: int) -> dict[str, float]:
    """Where the first gold file ranks, and how many gold files were found."""
    ranks = [r.gold_rank for r in answerable]
    return {
        "hit_at_1": _mean([rank == 1 for rank in ranks]),
        f"hit_at_{k}": _mean([rank is not None and rank <= k for rank in ranks]),
        "mrr": _mean([1 / rank if rank else 0.0 for rank in ranks]),
        f"recall_at_{k}": _mean([r.recall for r in answerable]),
    }


def _answers(answerable: Sequence[EvalRecord]) -> dict[str, float]:
    """Whether the answers hold the gold answer, and how closely their words match it."""
    return {
        "answer_accuracy": _mean([r.correct for r in answerable]),
        "answer_f1": _mean([r.f1 for r in answerable]),
        "lead_accuracy": _mean([r.lead_correct for r in answerable]),
    }


def _citations(answerable: Sequence[EvalRecord]) -> dict[str, float]:
    """Right answers with a correct citation; correct citations among the given ones."""
    answered = [r for r in answerable if not r.answer.abstained]
    cited = sum(len(r.answer.citations) for r in answered)
    correct = sum(r.citations_correct for r in answered)
    return {
        "cited_accuracy": _mean([r.cited_correctly for r in answerable]),
        "citation_precision": round(correct / cited, 4) if cited else 0.0,
        "citation_recall": _mean([r.citations_correct > 0 for r in answered]),
    }


def _abstention(records: Sequence[EvalRecord]) -> dict[str, float]:
    """Abstaining on the unanswerable items, and only on them."""
    answerable = [r for r in records if not r.item.unanswerable]
    abstained = [r for r in records if r.answer.abstained]
    falsely = [r.answer.abstained for r in answerable]
    return {
        "abstention_accuracy": _mean([r.correct for r in records if r.item.unanswerable]),
        "abstention_precision": _mean([r.item.unanswerable for r in abstained]),
        "false_abstentions": sum(falsely),
        "false_abstention_rate": _mean(falsely),
    }


def _confidence(
    records: Sequence[EvalRecord], answerable: Sequence[EvalRecord]
) -> dict[str, float]:
    """How right the answers marked "high" confidence are, and the share of answerable
    items they cover."""
    high = [r for r in records if r.answer.confidence is Confidence.HIGH]
    return {
        "high_confidence_accuracy": _mean([r.correct for r in high]),
        "high_confidence_coverage": _mean(
            [r.answer.confidence is Confidence.HIGH for r in answerable]
        ),
    }


def _generation(records: Sequence[EvalRecord]) -> dict[str, float]:
    """How many answers a model wrote (shown, or set aside for the quoted answer because the
    passages did not support it), and the share set aside; none offline."""
    written = [
        r for r in records
        if r.answer.model and (r.answer.fallback_reason or not r.answer.abstained)
    ]  # fmt: skip
    return {
        "model_answers": len(written),
        "set_aside_rate": _mean([r.answer.fallback_reason is not None for r in written]),
    }


def _latency(records: Sequence[EvalRecord]) -> dict[str, float]:
    """Wall time per question, and time to the first piece of answer text."""
    totals = [r.answer.timings_ms.get("total", 0.0) for r in records]
    first_text = [r.first_text_ms for r in records if r.first_text_ms is not None]
    return {
        "latency_p50_ms": _percentile(totals, 0.5),
        "latency_p95_ms": _percentile(totals, 0.95),
        "first_text_p50_ms": _percentile(first_text, 0.5),
    }


def _judged(records: Sequence[EvalRecord]) -> dict[str, float]:
    """The LLM judge's figures, when a judge ran: mean faithfulness, share judged correct."""
    faithfulness = [r.judge_faithfulness for r in records if r.judge_faithfulness is not None]
    correct = [r.judge_correct for r in records if r.judge_correct is not None]
    if not faithfulness and not correct:
        return {}
    return {"judge_faithfulness": _mean(faithfulness), "judge_correctness": _mean(correct)}


def _mean(values: Sequence[float]) -> float:
    """Mean to 4 places (a share, for booleans); 0.0 for no values."""
    return round(sum(values) / len(values), 4) if values else 0.0


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def rewording_figures(
    originals: Sequence[EvalRecord], reworded: Sequence[EvalRecord]
) -> dict[str, float]:
    """How the answers hold when the questions are worded another way: accuracy on the
    rewordings beside accuracy on the same items in their original words (each original
    counted once per rewording of it that ran), the share of answerable rewordings declined,
    topic switches answered on their own, and off-topic questions declined with no passages."""
    by_id = {record.item.id: record for record in originals}
    plain = [
        r for r in reworded
        if r.item.rewording_of in by_id and r.item.kind != TOPIC_SWITCH_KIND
    ]  # fmt: skip
    switches = [r for r in reworded if r.item.kind == TOPIC_SWITCH_KIND]
    off_topic = [r for r in reworded if r.item.kind == OFF_TOPIC_KIND]
    return {
        "reworded": len(plain),
        "reworded_accuracy": _mean([r.correct for r in plain]),
        "original_accuracy": _mean([by_id[str(r.item.rewording_of)].correct for r in plain]),
        "reworded_declined": _mean([r.answer.abstained for r in plain]),
        "topic_switches": len(switches),
        "topic_switch_accuracy": _mean([r.correct for r in switches]),
        "off_topic": len(off_topic),
        "off_topic_declined": _mean([r.correct for r in off_topic]),
    }


def breakdown(records: Sequence[EvalRecord], k: int = DEFAULT_K) -> dict[str, dict[str, float]]:
    """The summary per question kind, plus follow-ups (items with turns) on their own."""
    groups: dict[str, list[EvalRecord]] = {}
    for record in records:
        groups.setdefault(record.item.kind or "unlabelled", []).append(record)
    groups["(follow-ups)"] = [r for r in records if r.item.turns]
    groups["(single questions)"] = [r for r in records if not r.item.turns]
    return {name: summarize(group, k) for name, group in sorted(groups.items()) if group}
