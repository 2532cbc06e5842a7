"""Score the system on a gold file of questions (format in the README)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.types import Answer, EvalRecord, GoldItem, UserError

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


@dataclass(frozen=True)
class Summary:
    """The headline figures of one evaluation run."""

    items: int
    answerable: int
    unanswerable: int
    hit_at_1: float
    hit_at_5: float
    mrr: float
    answer_accuracy: float
    abstention_accuracy: float
    false_abstentions: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def evaluate(
    items: Sequence[GoldItem],
    ask: Callable[[str, Sequence[str]], Answer],
    progress: Callable[[int, int], None] | None = None,
) -> list[EvalRecord]:
    """Run every gold item through `ask(question, history)`."""
    records = []
    for done, item in enumerate(items, start=1):
        answer = ask(item.question, item.history)
        records.append(EvalRecord(item, answer, is_correct(item, answer), gold_rank(item, answer)))
        if progress:
            progress(done, len(items))
    return records


def summarize(records: Sequence[EvalRecord]) -> Summary:
    """Retrieval, answer and abstention figures over the records."""
    answerable = [r for r in records if not r.item.unanswerable]
    unanswerable = [r for r in records if r.item.unanswerable]

    def share(part: Iterable[bool], whole: Sequence[Any]) -> float:
        return round(sum(part) / len(whole), 4) if whole else 0.0

    return Summary(
        items=len(records),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        hit_at_1=share((r.gold_rank == 1 for r in answerable), answerable),
        hit_at_5=share(
            (r.gold_rank is not None and r.gold_rank <= 5 for r in answerable), answerable
        ),
        mrr=round(sum(1 / r.gold_rank for r in answerable if r.gold_rank) / len(answerable), 4)
        if answerable
        else 0.0,
        answer_accuracy=share((r.correct for r in answerable), answerable),
        abstention_accuracy=share((r.correct for r in unanswerable), unanswerable),
        false_abstentions=sum(r.answer.abstained for r in answerable),
    )


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
        "gold_rank": record.gold_rank,
        "gold_source_files": list(record.item.source_files),
        "timings_ms": answer["timings_ms"],
    }
