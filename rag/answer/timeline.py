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

from rag.dates import dates_in, find_date, format_day, leading_date, resolve_relative
from rag.grammar import YEAR, YEAR_PATTERN
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
    article's date (stated, or estimated from its text), or, for an undated copy of a wire
    story, the date of the first dated copy; in an undated article, a year it writes ("in late
    2020"). None when nothing dates it."""
    text = sentence.text
    copies = (c.date for c in (hit.chunk, *hit.copies) if c.date is not None)
    published = sentence.chunk.date or min(copies, default=None)
    if stamp := leading_date(text):  # a search-result stamp is the article's date
        text = text[len(stamp[1]) :]
    if found := find_date(text):
        return Dated(found[0], format_day(found[0]), "day", DateBasis.STATED)
    if published is not None:
        # Whatever is dated by an estimated article date is itself an estimate.
        estimated = published == sentence.chunk.date and sentence.chunk.date_estimated
        for relative in resolve_relative(text, published):
            if relative.day is not None:
                basis = DateBasis.ESTIMATED if estimated else DateBasis.RELATIVE
                return Dated(relative.day, format_day(relative.day), "day", basis)
        basis = DateBasis.ESTIMATED if estimated else DateBasis.ARTICLE
        if sentence.chunk.date is None:
            basis = DateBasis.COPY
        return Dated(published, format_day(published), "day", basis)
    if year := _STATED_YEAR.search(text):
        return _in_year(year)
    return None


def _in_year(year: re.Match[str]) -> Dated:
    """A stated year ("late 2020"), placed in its year for ordering."""
    part = year.group("part").lower() if year.group("part") else None
    month, day = _PART_OF_YEAR[part]
    return Dated(date(int(year.group("year")), month, day), year.group(0), "year", DateBasis.STATED)


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


# --- Timelines written by the model ------------------------------------------------------

# A line of a model-written timeline: "- February 6, 2018: the Pentagon said ... [2]".
_LINE = re.compile(r"^\s*(?:[-*•]\s*)?(?P<date>[^:\n]{4,40}?):\s+(?P<statement>\S.*)$")


@dataclass(frozen=True)
class WrittenLine:
    """A line of a model-written timeline: the date it gives and its statement with markers."""

    dated: Dated
    statement: str


def read_line(line: str) -> WrittenLine | None:
    """A timeline line ("- February 6, 2018: ... [2]", "- late 2020: ... [3]"), or None when
    the line gives no date it can be placed by."""
    match = _LINE.match(line)
    if not match:
        return None
    written = match.group("date").strip()
    if found := find_date(written):
        dated = Dated(found[0], format_day(found[0]), "day", DateBasis.STATED)
    elif year := _STATED_YEAR.fullmatch(written):
        dated = _in_year(year)
    else:
        return None
    return WrittenLine(dated, match.group("statement").strip())


def passage_dates(hit: Hit) -> dict[date, DateBasis]:
    """The days a passage (with its copies) can date a statement by, and how: its articles'
    dates, the dates its text writes, and the days its relative expressions name."""
    days: dict[date, DateBasis] = {}
    for chunk in (hit.chunk, *hit.copies):
        if chunk.date is not None:
            days[chunk.date] = DateBasis.ARTICLE
            for relative in resolve_relative(chunk.text, chunk.date):
                if relative.day is not None:
                    days.setdefault(relative.day, DateBasis.RELATIVE)
        for day, _ in dates_in(chunk.text):
            days.setdefault(day, DateBasis.STATED)
    return days


def passage_years(hit: Hit) -> set[int]:
    """The years a passage (with its copies) names or was published in."""
    years = {day.year for day in passage_dates(hit)}
    for chunk in (hit.chunk, *hit.copies):
        years.update(int(year) for year in YEAR_PATTERN.findall(chunk.text))
    return years


def date_backed(dated: Dated, hits: Sequence[Hit], cited: Sequence[int]) -> Dated | None:
    """`dated` with how the cited passages know it, or None when none of them gives it: a
    day must be one they give; a year, one they name."""
    for n in cited:
        hit = hits[n - 1]
        if dated.precision == "day" and (basis := passage_dates(hit).get(dated.when)):
            return Dated(dated.when, dated.text, dated.precision, basis)
        if dated.precision == "year" and dated.when.year in passage_years(hit):
            return dated
    return None
