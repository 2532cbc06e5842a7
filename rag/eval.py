"""Score the system on a gold file of questions (format in the README)."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.types import Answer, AnswerStream, Citation, EvalRecord, GoldItem, UserError

if TYPE_CHECKING:
    from rag.judge import Judge

_FIELDS = {
    "id",
    "question",
    "answers",
    "answers_all",
    "source_files",
    "unanswerable",
    "turns",
    "kind",
}


class GoldError(UserError):
    """A gold file line that cannot be used; the message names the line and the problem."""


def load_gold(path: Path, corpus_files: Iterable[str] | None = None) -> list[GoldItem]:
    """Parse and check a gold file; stop at the first bad line, naming it."""
    known = set(corpus_files) if corpus_files is not None else None
    items: list[GoldItem] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise GoldError(f"{where}: not valid JSON ({error.msg})") from None
        item = _item(record, where)
        if item.id in seen:
            raise GoldError(f"{where}: id {item.id!r} is used twice")
        seen.add(item.id)
        missing = [f for f in item.source_files if known is not None and f not in known]
        if missing:
            raise GoldError(f"{where}: source_files names {missing}, not in the corpus")
        items.append(item)
    if not items:
        raise GoldError(f"{path}: no questions in the file")
    return items


def _item(record: Any, where: str) -> GoldItem:
    if not isinstance(record, dict):
        raise GoldError(f"{where}: each line must be a JSON object")
    unknown = sorted(set(record) - _FIELDS)
    if unknown:
        raise GoldError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(_FIELDS)}")
    for name in ("id", "question"):
        if not isinstance(record.get(name), str) or not record[name].strip():
            raise GoldError(f"{where}: field {name!r} must be a non-empty string")
    unanswerable = record.get("unanswerable", False) is True
    answers = record.get("answers", [])
    answers_all = record.get("answers_all", [])
    if unanswerable and (answers or answers_all):
        raise GoldError(f"{where}: an unanswerable item has no answers")
    if not unanswerable and bool(answers) == bool(answers_all):
        raise GoldError(f"{where}: give exactly one of 'answers' or 'answers_all'")
    if not _strings(answers):
        raise GoldError(f"{where}: 'answers' must be a list of strings")
    groups = [[part] if isinstance(part, str) else part for part in answers_all]
    if not all(isinstance(g, list) and g and _strings(g) for g in groups):
        raise GoldError(f"{where}: 'answers_all' elements must be strings or lists of strings")
    sources = record.get("source_files", [])
    if not _strings(sources) or (not unanswerable and not sources):
        raise GoldError(f"{where}: 'source_files' must list the files that support the answer")
    turns = record.get("turns", [])
    if turns and (not _strings(turns) or turns[-1] != record["question"]):
        raise GoldError(f"{where}: 'turns' must be strings ending with the question itself")
    return GoldItem(
        id=record["id"],
        question=record["question"],
        answers=tuple(answers),
        answers_all=tuple(tuple(g) for g in groups),
        source_files=tuple(sources),
        unanswerable=unanswerable,
        turns=tuple(turns),
        kind=record.get("kind"),
    )


def _strings(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) and v.strip() for v in values)


def normalize(text: str) -> str:
    """How answers are compared: lower case; separators inside numbers and abbreviations
    dropped ("2,500" is "2500", "U.S." is "us"); other punctuation to spaces."""
    joined = re.sub(r"(?<=\w)[.,'’](?=\w)", "", text.lower())
    return " ".join(re.sub(r"[^\w\s]", " ", joined).split())


def contains(answer: str, alias: str) -> bool:
    """Whether `alias` appears in `answer` as whole words, ignoring case and punctuation."""
    return f" {normalize(alias)} " in f" {normalize(answer)} "


def is_correct(item: GoldItem, answer: Answer) -> bool:
    """Right abstention for unanswerable items; otherwise the gold answer appears in it."""
    if item.unanswerable:
        return answer.abstained
    if answer.abstained:
        return False
    if item.answers:
        return any(contains(answer.answer, alias) for alias in item.answers)
    return all(any(contains(answer.answer, alias) for alias in group) for group in item.answers_all)


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
_CITATION_MARKER = re.compile(r"\[\d+\]")


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
    return EvalRecord(
        item=item,
        answer=answer,
        correct=is_correct(item, answer),
        gold_rank=gold_rank(item, answer),
        recall=gold_recall(item, answer),
        f1=token_f1(_CITATION_MARKER.sub(" ", answer.answer), reference) if answered else 0.0,
        citations_correct=sum(citation_is_correct(item, c) for c in answer.citations)
        if answered
        else 0,
        first_text_ms=first_text_ms,
    )


Streamer = Callable[[str, Sequence[str]], AnswerStream]


def evaluate(
    items: Sequence[GoldItem],
    stream: Streamer,
    progress: Callable[[int, int], None] | None = None,
    judge: Judge | None = None,
) -> list[EvalRecord]:
    """Run every gold item through `stream(question, history)` (e.g. `Pipeline.stream`),
    with the LLM judge's verdict on each answer when a judge is given."""
    records = []
    for done, item in enumerate(items, start=1):
        started = time.perf_counter()
        first_text_ms = None
        answer = stream(item.question, item.history)
        for piece in answer:
            if piece and first_text_ms is None:
                first_text_ms = (time.perf_counter() - started) * 1000
        record = score(item, answer.answer, first_text_ms)
        if judge is not None:
            verdict = judge.verdict(item, answer.answer)
            record = replace(
                record, judge_faithfulness=verdict.faithfulness, judge_correct=verdict.correct
            )
        records.append(record)
        if progress:
            progress(done, len(items))
    return records


def _share(part: Iterable[bool], whole: Sequence[Any]) -> float:
    return round(sum(part) / len(whole), 4) if whole else 0.0


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def summarize(records: Sequence[EvalRecord], k: int = 5) -> dict[str, float]:
    """Retrieval, answer, citation, abstention and latency figures over the records."""
    answerable = [r for r in records if not r.item.unanswerable]
    unanswerable = [r for r in records if r.item.unanswerable]
    answered = [r for r in answerable if not r.answer.abstained]
    abstained = [r for r in records if r.answer.abstained]
    cited = sum(len(r.answer.citations) for r in answered)
    latencies = [r.answer.timings_ms.get("total", 0.0) for r in records]
    first_text = [r.first_text_ms for r in records if r.first_text_ms is not None]
    return {
        "items": len(records),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "correct": _share((r.correct for r in records), records),
        "hit_at_1": _share((r.gold_rank == 1 for r in answerable), answerable),
        f"hit_at_{k}": _share(
            (r.gold_rank is not None and r.gold_rank <= k for r in answerable), answerable
        ),
        "mrr": round(sum(1 / r.gold_rank for r in answerable if r.gold_rank) / len(answerable), 4)
        if answerable
        else 0.0,
        f"recall_at_{k}": round(sum(r.recall for r in answerable) / len(answerable), 4)
        if answerable
        else 0.0,
        "answer_accuracy": _share((r.correct for r in answerable), answerable),
        "answer_f1": round(sum(r.f1 for r in answerable) / len(answerable), 4)
        if answerable
        else 0.0,
        "cited_accuracy": _share((r.cited_correctly for r in answerable), answerable),
        "citation_precision": round(sum(r.citations_correct for r in answered) / cited, 4)
        if cited
        else 0.0,
        "citation_recall": _share((r.citations_correct > 0 for r in answered), answered),
        "abstention_accuracy": _share((r.correct for r in unanswerable), unanswerable),
        "abstention_precision": _share((r.item.unanswerable for r in abstained), abstained),
        "false_abstentions": len(answerable) - len(answered),
        "false_abstention_rate": _share((r.answer.abstained for r in answerable), answerable),
        "latency_p50_ms": _percentile(latencies, 0.5),
        "latency_p95_ms": _percentile(latencies, 0.95),
        "first_text_p50_ms": _percentile(first_text, 0.5),
        **_judged(records),
    }


def _judged(records: Sequence[EvalRecord]) -> dict[str, float]:
    """The LLM judge's figures, when a judge ran: mean faithfulness, share judged correct."""
    faithfulness = [r.judge_faithfulness for r in records if r.judge_faithfulness is not None]
    correct = [r.judge_correct for r in records if r.judge_correct is not None]
    if not faithfulness and not correct:
        return {}
    return {
        "judge_faithfulness": round(sum(faithfulness) / len(faithfulness), 4)
        if faithfulness
        else 0.0,
        "judge_correctness": _share(correct, correct),
    }


def breakdown(records: Sequence[EvalRecord], k: int = 5) -> dict[str, dict[str, float]]:
    """The summary per question kind, plus follow-ups (items with turns) on their own."""
    groups: dict[str, list[EvalRecord]] = {}
    for record in records:
        groups.setdefault(record.item.kind or "unlabelled", []).append(record)
    groups["(follow-ups)"] = [r for r in records if r.item.turns]
    groups["(single questions)"] = [r for r in records if not r.item.turns]
    return {name: summarize(group, k) for name, group in sorted(groups.items()) if group}


def record_json(record: EvalRecord) -> dict[str, Any]:
    """One line of `rag eval --out`."""
    answer = record.answer.to_dict()
    return {
        "id": record.item.id,
        "kind": record.item.kind,
        "question": record.item.question,
        "turns": list(record.item.turns),
        "answer": answer["answer"],
        "abstained": answer["abstained"],
        "mode": answer["mode"],
        "searched_for": answer["searched_for"],
        "citations": answer["citations"],
        "hits": [
            {"file": h["file"], "also_in": h["also_in"], "score": h["score"]}
            for h in answer["hits"]
        ],
        "correct": record.correct,
        "cited_correctly": record.cited_correctly,
        "gold_rank": record.gold_rank,
        "recall": round(record.recall, 4),
        "f1": round(record.f1, 4),
        "citations_correct": record.citations_correct,
        "gold_source_files": list(record.item.source_files),
        "timings_ms": answer["timings_ms"],
        "first_text_ms": None if record.first_text_ms is None else round(record.first_text_ms, 1),
        "judge_faithfulness": record.judge_faithfulness,
        "judge_correct": record.judge_correct,
    }


def select(
    items: Sequence[GoldItem],
    ids: Sequence[str] = (),
    kind: str | None = None,
    limit: int | None = None,
) -> list[GoldItem]:
    """The gold items to run: by id, by kind, then the first `limit`."""
    unknown = sorted(set(ids) - {item.id for item in items})
    if unknown:
        raise GoldError(f"no gold item has id {', '.join(unknown)}")
    chosen = [i for i in items if (not ids or i.id in ids) and (kind is None or i.kind == kind)]
    if not chosen:
        raise GoldError(f"no gold item matches kind {kind!r}" if kind else "no gold item selected")
    return chosen[:limit] if limit else chosen


def run(
    gold_path: Path,
    pipeline: Any,
    progress: Callable[[int, int], None] | None = None,
    results_dir: Path = Path("eval/results"),
    baseline: bool = False,
    items: Sequence[GoldItem] | None = None,
    judge_model: str | None = None,
) -> Path:
    """Evaluate `pipeline` (and optionally the LlamaIndex baseline) on a gold file and write
    the report folder (see rag/report.py); return that folder."""
    from rag.ingest import discover
    from rag.report import Run, corpus_hash, write

    settings = pipeline.settings
    if items is None:
        items = load_gold(gold_path, [name for name, _ in discover(settings.corpus_dir)])
    judge = None
    if judge_model:
        from rag.judge import Judge

        judge = Judge(settings, judge_model)
        judge.check()
    total = len(items) * (2 if baseline else 1)
    records = evaluate(
        items, pipeline.stream, progress and (lambda d, _: progress(d, total)), judge
    )
    baseline_records = None
    if baseline:
        from rag.baseline import Baseline

        reference = Baseline(settings.corpus_dir, pipeline.embedder)
        step = len(items)
        baseline_records = evaluate(
            items, reference.stream, progress and (lambda d, _: progress(step + d, total)), judge
        )
    modes = Counter(r.answer.mode for r in records)
    meta = {
        "gold_file": str(gold_path),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "fingerprint": settings.fingerprint,
        "mode": modes.most_common(1)[0][0],
        "model": next((r.answer.model for r in records if r.answer.model), None),
        "corpus_hash": corpus_hash(
            {name: entry.sha256 for name, entry in pipeline.index.manifest().files.items()}
        ),
        "settings": settings.model_dump(mode="json", exclude={"cache_dir"}),
        "judge": judge_model,
    }
    return write(Run(records, meta, baseline_records), results_dir)
