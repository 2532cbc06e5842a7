"""Find publication dates in the date lines of scraped articles.

Handles the shapes seen in news pages: "Updated 06 February 2018", "Feb 07,2018",
"May 11, 2020", "July 19, 2020 16:30 GMT", "April 7, 2021", "Aug. 20, 2017",
"Thursday 21 February 2019", "2021-04-07".
"""

from __future__ import annotations

import re
from datetime import date

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"

# Month first ("May 11, 2020", "Feb 07,2018"), day first ("06 February 2018"), ISO.
_DATE_PATTERNS = [
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s*{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_DAY}\s+{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE),
    re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>[01]\d)-(?P<day>[0-3]\d)\b"),
]

# A date line says little besides the date: a verb like "Updated", a byline, a time.
_DATE_LINE_MAX_WORDS = 14


def find_date(text: str) -> tuple[date, str] | None:
    """The first valid calendar date written in `text`, with the matched words."""
    found: list[tuple[int, date, str]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            parsed = _to_date(match)
            if parsed is not None:
                found.append((match.start(), parsed, match.group(0)))
    if not found:
        return None
    _, parsed, words = min(found, key=lambda item: item[0])
    return parsed, words


def parse_date_line(line: str) -> tuple[date, str] | None:
    """The date of a line that is a dateline (short, carrying a date), else None."""
    if len(line.split()) > _DATE_LINE_MAX_WORDS or line.rstrip().endswith((".", '"', "”")):
        return None
    return find_date(line)


def _to_date(match: re.Match[str]) -> date | None:
    month_text = match.group("month").lower().rstrip(".")
    month = int(month_text) if month_text.isdigit() else _MONTHS[month_text]
    try:
        return date(int(match.group("year")), month, int(match.group("day")))
    except ValueError:  # "February 30": words that look like a date but are not one
        return None
