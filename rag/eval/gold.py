"""Gold files (format in docs/evaluation.md, "Gold file format") and their dev/test split files.

Each line of a gold file is validated into a `GoldItem`; a bad line stops the load with
`file:line: problem`, every problem of that line named at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from rag.types import UserError

# Where `rag eval GOLD --split PART` looks for the split when no --split-file is given.
SPLIT_FILE = "split.json"
# Beside a gold file: the same questions worded as people type them, run with it
# (docs/evaluation.md, "Rewordings").
REWORDINGS_FILE = "rewordings.jsonl"
Part = Literal["dev", "test"]


class GoldError(UserError):
    """A gold or split file that cannot be used; the message names the line and the problem."""


def _non_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("blank")  # reported as the field's problem in _FIELD_PROBLEMS
    return text


NonBlank = Annotated[StrictStr, AfterValidator(_non_blank)]
Alternatives = Annotated[tuple[NonBlank, ...], Field(min_length=1)]

# The one problem reported for a field whose value has the wrong type or is blank.
_FIELD_PROBLEMS = {
    "id": "field 'id' must be a non-empty string",
    "question": "field 'question' must be a non-empty string",
    "answers": "'answers' must be a list of strings",
    "answers_all": "'answers_all' elements must be strings or lists of strings",
    "source_files": "'source_files' must list the files that support the answer",
    "unanswerable": "'unanswerable' must be true or false",
    "turns": "'turns' must be strings ending with the question itself",
    "kind": "'kind' must be a string",
    "answers_not": "'answers_not' must be a list of strings",
    "as_of": "'as_of' must be a date written YYYY-MM-DD",
    "rewording_of": "'rewording_of' must be the id of the gold item it rewords",
}


class GoldItem(BaseModel):
    """One line of a gold file (see docs/evaluation.md, "Gold file format")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: NonBlank
    question: NonBlank
    answers: tuple[NonBlank, ...] = ()
    # Every group must appear in the answer, any one alternative of it; a string is a group
    # of one alternative.
    answers_all: tuple[Alternatives, ...] = ()
    source_files: tuple[NonBlank, ...] = ()
    unanswerable: StrictBool = False
    turns: tuple[NonBlank, ...] = ()
    kind: StrictStr | None = None
    # Strings the answer must not contain: a figure of after the `as_of` date, say.
    answers_not: tuple[NonBlank, ...] = ()
    # The question is asked as of this date (`rag ask --as-of`).
    as_of: date | None = None
    # In a rewordings file: the id of the gold item this one asks again in other words.
    rewording_of: NonBlank | None = None

    @property
    def history(self) -> tuple[str, ...]:
        """The questions asked before the scored one."""
        return self.turns[:-1]

    @field_validator("answers_all", mode="before")
    @classmethod
    def _strings_are_groups(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [[part] if isinstance(part, str) else part for part in value]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.unanswerable and (self.answers or self.answers_all):
            raise _problem("an unanswerable item has no answers")
        if not self.unanswerable and bool(self.answers) == bool(self.answers_all):
            raise _problem("give exactly one of 'answers' or 'answers_all'")
        if not self.unanswerable and not self.source_files:
            raise _problem(_FIELD_PROBLEMS["source_files"])
        if self.turns and self.turns[-1] != self.question:
            raise _problem(_FIELD_PROBLEMS["turns"])
        return self


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("gold_item", message)


def load_gold(path: Path, corpus_files: Iterable[str] | None = None) -> list[GoldItem]:
    """Parse and check a gold file; stop at the first bad line, naming it."""
    known = set(corpus_files) if corpus_files is not None else None
    items: dict[str, GoldItem] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        item = _parse(line, where)
        if item.id in items:
            raise GoldError(f"{where}: id {item.id!r} is used twice")
        missing = [f for f in item.source_files if known is not None and f not in known]
        if missing:
            raise GoldError(f"{where}: source_files names {missing}, not in the corpus")
        items[item.id] = item
    if not items:
        raise GoldError(f"{path}: no questions in the file")
    return list(items.values())


def _parse(line: str, where: str) -> GoldItem:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise GoldError(f"{where}: not valid JSON ({error.msg})") from None
    if not isinstance(record, dict):
        raise GoldError(f"{where}: each line must be a JSON object")
    try:
        return GoldItem.model_validate(record)
    except ValidationError as error:
        raise GoldError(f"{where}: {'; '.join(_problems(error))}") from None


def _problems(error: ValidationError) -> list[str]:
    """pydantic's errors as the gold format's problems: unknown fields, then field by field."""
    unknown = sorted(str(e["loc"][0]) for e in error.errors() if e["type"] == "extra_forbidden")
    problems = []
    if unknown:
        problems.append(f"unknown field(s) {unknown}; allowed: {sorted(GoldItem.model_fields)}")
    for e in error.errors():
        if e["type"] != "extra_forbidden":
            problem = _FIELD_PROBLEMS[str(e["loc"][0])] if e["loc"] else e["msg"]
            if problem not in problems:
                problems.append(problem)
    return problems


class SplitFile(BaseModel):
    """A split file: which gold ids are for tuning (dev) and which for reporting (test)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    about: StrictStr  # how the split was made
    seed: StrictInt  # the seed it was drawn with
    dev: tuple[NonBlank, ...]
    test: tuple[NonBlank, ...]


@dataclass(frozen=True)
class Split:
    """The part of a split file an evaluation runs on."""

    file: Path
    part: Part
    seed: int
    ids: frozenset[str]

    def meta(self) -> dict[str, Any]:
        """How `summary.json` records the split."""
        return {"file": str(self.file), "part": self.part, "seed": self.seed, "ids": len(self.ids)}


def load_split(path: Path, part: Part, items: Sequence[GoldItem]) -> Split:
    """Read and check a split file against the gold items; return the ids of `part`."""
    if not path.is_file():
        raise GoldError(
            f"{path} does not exist: write the split there or pass --split-file FILE "
            '(a JSON object {"about": ..., "seed": ..., "dev": [ids], "test": [ids]}).'
        )
    try:
        split = SplitFile.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as error:
        problems = [
            f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in error.errors()
        ]
        raise GoldError(f"{path}: {'; '.join(problems)}") from None
    _check_split(path, split, {item.id for item in items})
    return Split(path, part, split.seed, frozenset(getattr(split, part)))


def _check_split(path: Path, split: SplitFile, gold_ids: set[str]) -> None:
    for name, ids in (("dev", split.dev), ("test", split.test)):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise GoldError(f"{path}: {name} lists {twice} more than once")
    unknown = sorted(set(split.dev + split.test) - gold_ids)
    if unknown:
        raise GoldError(f"{path}: ids {unknown} are not in the gold file")
    both = sorted(set(split.dev) & set(split.test))
    if both:
        raise GoldError(f"{path}: ids {both} are in both dev and test; the parts must not overlap")


def load_questions(
    path: Path, corpus_files: Iterable[str] | None = None
) -> tuple[list[GoldItem], list[GoldItem]]:
    """A gold file's items, and those of the rewordings file beside it (none without one)."""
    items = load_gold(path, corpus_files)
    beside = path.parent / REWORDINGS_FILE
    return items, load_rewordings(beside, items, corpus_files) if beside.is_file() else []


def load_rewordings(
    path: Path, originals: Sequence[GoldItem], corpus_files: Iterable[str] | None = None
) -> list[GoldItem]:
    """Parse and check a rewordings file against the gold items it rewords: each
    `rewording_of` names one of them, and no id is used by both files."""
    items = load_gold(path, corpus_files)
    known = {item.id: item for item in originals}
    for item in items:
        if item.id in known:
            raise GoldError(f"{path}: id {item.id!r} is also used in the gold file")
        if item.rewording_of is not None and item.rewording_of not in known:
            raise GoldError(
                f"{path}: {item.id!r} rewords {item.rewording_of!r}, which is not in the gold file"
            )
    return items


def select_rewordings(
    rewordings: Sequence[GoldItem],
    chosen: Sequence[GoldItem],
    ids: Sequence[str] = (),
    kind: str | None = None,
    split: Split | None = None,
) -> list[GoldItem]:
    """The rewordings to run beside the `chosen` gold items: those of a chosen item, and the
    ones that reword nothing (off-topic questions) in the split's part, among the ids and of
    the kind, as `select` chooses."""
    run = {item.id for item in chosen}
    return [
        item
        for item in rewordings
        if (item.rewording_of in run if item.rewording_of else _chosen(item, ids, kind, split))
    ]


def select(
    items: Sequence[GoldItem],
    ids: Sequence[str] = (),
    kind: str | None = None,
    limit: int | None = None,
    split: Split | None = None,
) -> list[GoldItem]:
    """The gold items to run: the split's part, by id, by kind, then the first `limit`."""
    unknown = sorted(set(ids) - {item.id for item in items})
    if unknown:
        raise GoldError(f"no gold item has id {', '.join(unknown)}")
    chosen = [item for item in items if _chosen(item, ids, kind, split)]
    if not chosen:
        raise GoldError(f"no gold item matches kind {kind!r}" if kind else "no gold item selected")
    return chosen[:limit] if limit else chosen


def _chosen(item: GoldItem, ids: Sequence[str], kind: str | None, split: Split | None) -> bool:
    """In the split's part, among the ids and of the kind, each where given."""
    # A rewording belongs to the part of the item it rewords: no test wording is tuned on.
    return (
        (split is None or (item.rewording_of or item.id) in split.ids)
        and (not ids or item.id in ids)
        and (kind is None or item.kind == kind)
    )
