"""Find publication dates in the date lines of scraped articles.

Handles the shapes seen in news pages: "Updated 06 February 2018", "Feb 07,2018",
"May 11, 2020", "July 19, 2020 16:30 GMT", "April 7, 2021", "Aug. 20, 2017",
"Thursday 21 February 2019", "2021-04-07". Also resolves relative expressions in article text
("last year", "on Monday", "21 hours ago") against the article's date, so answers can say when.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from rag.grammar import COUNT_WORDS, MONTH_NAMES, MONTH_WORDS, MONTHS, WEEKDAYS, YEAR

_MONTH = rf"(?P<month>{MONTH_WORDS})\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = rf"(?P<year>{YEAR})"

# Month first ("May 11, 2020", "Feb 07,2018"), day first ("06 February 2018"), ISO.
_DATE_PATTERNS = [
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s*{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_DAY}\s+{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_YEAR}-(?P<month>[01]\d)-(?P<day>[0-3]\d)\b"),
]

# A date line says little besides the date: a verb like "Updated", a byline, a time.
_DATE_LINE_MAX_WORDS = 14


def find_date(text: str) -> tuple[date, str] | None:
    """The first valid calendar date written in `text`, with the matched words."""
    found = dates_in(text)
    return found[0] if found else None


def dates_in(text: str) -> list[tuple[date, str]]:
    """Every valid calendar date written in `text`, in order, with the matched words."""
    found: list[tuple[int, date, str]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            parsed = _to_date(match)
            if parsed is not None:
                found.append((match.start(), parsed, match.group(0)))
    return [(parsed, words) for _, parsed, words in sorted(found, key=lambda item: item[0])]


# What separates a date stamp from the text it opens: "Nov 12, 2020 ... The", "May 2 - ",
# with the agency a wire dateline may name before it ("14 March 2024 (Reuters) - ").
_STAMP_END = re.compile(r"(?:\s*\([^()\n]{1,30}\))?\s*(?:\.\.\.|…|—|–|-|\|)\s+")
# A wire dateline's place before its date, in capitals as wire copy sets it, up to the
# comma: "LONDON, ", "NEW YORK (AP), ". ("In London, May 2, 2022 - ..." is a sentence.)
_PLACE = re.compile(r"[A-Z][A-Z.'’-]+(?: [A-Z][A-Z.'’-]+){0,3}(?:\s*\([^()\n]{1,30}\))?,\s+")


def leading_date(text: str) -> tuple[date, str] | None:
    """The date stamp that opens `text`, set off from what follows ("Nov 12, 2020 ...
    Season 17 ..." as search results and some wire copy print it, "LONDON, 14 March 2024
    (Reuters) - Shares ..." as a dateline does), with the stamp's words."""
    place = _PLACE.match(text)
    for start in (0, place.end()) if place else (0,):
        for pattern in _DATE_PATTERNS:
            match = pattern.match(text, start)
            if match and _STAMP_END.match(text, match.end()):
                parsed = _to_date(match)
                if parsed is not None:
                    return parsed, match.group(0)
    return None


def parse_date_line(line: str) -> tuple[date, str] | None:
    """The date of a line that is a dateline (short, carrying a date), else None."""
    if len(line.split()) > _DATE_LINE_MAX_WORDS or line.rstrip().endswith((".", '"', "”")):
        return None
    return find_date(line)


def _to_date(match: re.Match[str]) -> date | None:
    month_text = match.group("month").lower().rstrip(".")
    month = int(month_text) if month_text.isdigit() else MONTHS[month_text]
    try:
        return date(int(match.group("year")), month, int(match.group("day")))
    except ValueError:  # "February 30": words that look like a date but are not one
        return None


# --- Relative expressions ("last year", "on Monday", "21 hours ago") ---------------------

# "a day ago" counts one day.
_COUNT_WORDS = {"a": 1, "an": 1, **COUNT_WORDS}
_UNIT = r"(?P<unit>hour|day|week|month|year)s?"
_COUNT = r"(?P<count>\d{1,3}|" + "|".join(_COUNT_WORDS) + r")"
_RELATIVE = re.compile(
    rf"\b(?:{_COUNT}\s+{_UNIT}\s+ago"
    r"|(?P<which>last|this|next)\s+(?P<period>year|month|week)"
    r"|(?P<day_word>yesterday|today|tonight|tomorrow)"
    rf"|(?:(?P<day_which>last|next|this)\s+)?(?P<weekday>{'|'.join(WEEKDAYS)})"
    r")\b",
    re.IGNORECASE,
)

# A weekday written beside its date ("Thursday, Nov. 12", "Sunday 4 April") names that
# date itself; resolving it against the article's date would contradict the text.
_DATE_BESIDE = re.compile(
    rf",?\s*(?:(?:{MONTH_WORDS})\.?\s+\d{{1,2}}\b|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTH_WORDS})\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RelativeDate:
    """A relative time expression in a text, and what it means given the article's date."""

    start: int
    end: int
    text: str
    meaning: str  # "2020", "April 4, 2021", "March 2021", "about April 6, 2021"
    day: date | None = None  # the day meant, when the expression names one ("on Sunday")


def resolve_relative(text: str, published: date) -> list[RelativeDate]:
    """The relative time expressions in `text`, resolved against the publication date.

    News copy reports what has happened, so a bare weekday ("landed Sunday") is the most
    recent such day on or before publication; "next Monday" looks forward.
    """
    found = []
    for match in _RELATIVE.finditer(text):
        if match.group("weekday") and _DATE_BESIDE.match(text, match.end()):
            continue
        resolved = _meaning(match, published)
        if resolved:
            meaning, day = resolved
            found.append(RelativeDate(match.start(), match.end(), match.group(0), meaning, day))
    return found


def annotate_relative(text: str, published: date | None) -> str:
    """`text` with each relative expression followed by its date: "Sunday (= April 4, 2021)"."""
    if published is None:
        return text
    parts, last = [], 0
    for found in resolve_relative(text, published):
        parts += [text[last : found.end], f" (= {found.meaning})"]
        last = found.end
    return "".join([*parts, text[last:]])


def relative_note(text: str, published: date | None) -> str:
    """What the relative expressions of a quote mean, e.g. "Sunday = April 4, 2021"; "" if none."""
    if published is None:
        return ""
    return "; ".join(
        f"{found.text} = {found.meaning}" for found in resolve_relative(text, published)
    )


# --- Estimating an undated article's date ------------------------------------------------

# Words that place an event within days of the writing: "on Sunday", "yesterday", "last
# week", "three days ago", "days ahead of". Year-sized ones ("last year") place nothing
# closely enough to date an article by.
_NEAR_NOW = re.compile(
    rf"\b(?:{'|'.join(WEEKDAYS)}|yesterday|today|tonight|tomorrow(?!['’]s)"
    r"|(?:last|this|next)\s+week"
    r"|(?:\d{1,2}|a|an|two|three|four|five|six|few)\s+(?:hours|days?)\s+ago"
    r"|(?:hours|days)\s+(?:ahead|before|after|earlier|later))\b",
    re.IGNORECASE,
)
# A photo caption dates the photo, not the story: "FILE - In this Aug. 20, 2017 file photo",
# "... takes off June 17, 2019, at Balad Air Base. (Staff Sgt. Luke Kitterman/Air Force)".
_CAPTION = re.compile(r"^\s*FILE\b|\bphoto\b|\([^()]*/[^()]*\)\s*$", re.IGNORECASE)


def _places_near(cue: re.Match[str]) -> bool:
    """Whether a cue really places its sentence's event near the writing: "held on Tuesday,
    November 3, 2020" only names the date's weekday, and "Black Friday" or "Good Friday" is a
    name (a capitalised word before the weekday that is not a sentence's opening article)."""
    if _DATE_BESIDE.match(cue.string, cue.end()):
        return False
    if cue.group(0).lower() not in WEEKDAYS:
        return True
    before = cue.string[: cue.start()].split()
    return not (before and before[-1][0].isupper() and before[-1] not in ("The", "On", "By"))


def estimate_published(sentences: list[str]) -> tuple[date, str] | None:
    """When an undated article was probably written, and the sentence that says so.

    Only strong evidence counts: a sentence that gives an event's full date and places it
    within days of the writing ("The Sunday attack comes days ahead of talks on April 7,
    2021"); the latest such date is the estimate. Captions are passed over. None without
    such a sentence: an article that only mentions past dates is left undated.
    """
    found: list[tuple[date, str]] = []
    for sentence in sentences:
        if _CAPTION.search(sentence) or not any(map(_places_near, _NEAR_NOW.finditer(sentence))):
            continue
        found += [(day, sentence.strip()) for day, _ in dates_in(sentence)]
    return max(found, key=lambda item: item[0], default=None)


def format_day(day: date) -> str:
    """A date as answers and notes write it: "April 4, 2021"."""
    return f"{MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"


def _meaning(match: re.Match[str], published: date) -> tuple[str, date | None] | None:
    """What a relative expression means, and the day it names if it names one."""
    if match.group("unit"):
        unit, count = match.group("unit").lower(), _count(match.group("count"))
        if unit == "day":
            return _on(published - timedelta(days=count))
        return _ago(count, unit, published), None
    if match.group("period"):
        step = {"last": -1, "this": 0, "next": 1}[match.group("which").lower()]
        return _period(match.group("period").lower(), step, published), None
    if match.group("day_word"):
        offset = {"yesterday": -1, "today": 0, "tonight": 0, "tomorrow": 1}
        return _on(published + timedelta(days=offset[match.group("day_word").lower()]))
    weekday = WEEKDAYS.index(match.group("weekday").lower())
    which = (match.group("day_which") or "").lower()
    if which == "next":
        return _on(published + timedelta(days=(weekday - published.weekday() - 1) % 7 + 1))
    back = (published.weekday() - weekday) % 7
    if which == "last" and back == 0:
        back = 7  # "last Monday" written on a Monday means a week ago
    return _on(published - timedelta(days=back))


def _on(day: date) -> tuple[str, date]:
    return format_day(day), day


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _COUNT_WORDS[word.lower()]


def _ago(count: int, unit: str, published: date) -> str:
    if unit == "hour":
        # Only the day of publication is known, not its hour: round to the nearest day.
        return "about " + format_day(published - timedelta(days=round(count / 24)))
    if unit == "week":
        return "about " + format_day(published - timedelta(weeks=count))
    if unit == "month":
        months = published.year * 12 + published.month - 1 - count
        return f"about {MONTH_NAMES[months % 12]} {months // 12}"
    return f"about {published.year - count}"


def _period(period: str, step: int, published: date) -> str:
    if period == "year":
        return str(published.year + step)
    if period == "month":
        months = published.year * 12 + published.month - 1 + step
        return f"{MONTH_NAMES[months % 12]} {months // 12}"
    monday = published - timedelta(days=published.weekday()) + timedelta(weeks=step)
    return f"the week of {format_day(monday)}"
