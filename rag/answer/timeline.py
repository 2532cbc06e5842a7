"""Timeline answers: each dated statement of a fact that changes, oldest first.

News reports a figure or a status again and again as it changes ("more than 5,000" troops in
February 2018, "some 5,000" in July 2020, "about 2,500" in April 2021). Asked how it changed,
or asked for it without saying when, the answer lists every such statement with its date and
how that date is known, rather than quoting whichever one words the question best. Copies of
one wire story are one entry citing all their files; different figures on one date stay
separate entries, side by side, each with its own source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from rag.dates import find_date, format_day, leading_date, resolve_relative
from rag.grammar import YEAR
from rag.sentences import same_text
from rag.types import DateBasis, Hit, Sentence

# At most this many entries: a timeline is read at a glance.
MAX_ENTRIES = 8
# A year a sentence writes, perhaps with its part: "in late 2020", "early 2019".
_STATED_YEAR = re.compile(rf"\b(?:(?P<part>early|mid|late)[-\s]+)?(?P<year>{YEAR})\b", re.I)
# Where in its year a stated year is placed for ordering.
_PART_OF_YEAR = {"early": (2, 15), "mid": (6, 30), "late": (11, 15), None: (6, 30)}


@dataclass(frozen=True)
class Dated:
    """When a statement holds, and how that is known."""

    when: date
    text: str  # as shown: "February 5, 2018", "late 2020"
    precision: str  # "day" or "year"
    basis: DateBasis


@dataclass(frozen=True)
class Statement:
    """One entry of a timeline: a sentence and its copies, dated."""

    dated: Dated
    sentences: tuple[Sentence, ...]  # the first is quoted; all are cited


def date_of(sentence: Sentence, hit: Hit) -> Dated | None:
    """When `sentence` (of `hit`) says its statement holds: a full date it writes; else the
    day a relative expression names ("on Monday", against its article's date); else its
    article's date, or, for an undated copy of a wire story, the date of the first dated
    copy; in an undated article, a year it writes ("in late 2020"). None when nothing dates
    it."""
    text = sentence.text
    copies = (c.date for c in (hit.chunk, *hit.copies) if c.date is not None)
    published = sentence.chunk.date or min(copies, default=None)
    if stamp := leading_date(text):  # a search-result stamp is the article's date
        text = text[len(stamp[1]) :]
    if found := find_date(text):
        return Dated(found[0], format_day(found[0]), "day", DateBasis.STATED)
    if published is not None:
        for relative in resolve_relative(text, published):
            if relative.day is not None:
                return Dated(relative.day, format_day(relative.day), "day", DateBasis.RELATIVE)
        return Dated(published, format_day(published), "day", DateBasis.ARTICLE)
    if year := _STATED_YEAR.search(text):
        part = year.group("part").lower() if year.group("part") else None
        month, day = _PART_OF_YEAR[part]
        when = date(int(year.group("year")), month, day)
        return Dated(when, year.group(0), "year", DateBasis.STATED)
    return None


def timeline(sentences: Sequence[Sentence], hits: Sequence[Hit]) -> list[Statement]:
    """The dated statements among `sentences` (best first, of `hits`), copies merged, oldest
    first; sentences nothing dates are left out."""
    groups: list[list[Sentence]] = []
    for sentence in sentences:
        for group in groups:
            if same_text(group[0], sentence):
                group.append(sentence)
                break
        else:
            if len(groups) < MAX_ENTRIES:
                groups.append([sentence])
    statements = []
    for group in groups:
        dates = (date_of(sentence, hits[sentence.hit]) for sentence in group)
        dated = next((d for d in dates if d is not None), None)
        if dated is not None:
            statements.append(Statement(dated, tuple(group)))
    return sorted(statements, key=lambda s: s.dated.when)
