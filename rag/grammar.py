"""The small grammars of news text that several stages read: months, years, number words.

One owner for each, so a month written "Sept." means September to the date finder, the
answerer and the citation checker alike.
"""

from __future__ import annotations

import re

# Month names and the abbreviations news copy uses, with their numbers.
MONTHS: dict[str, int] = {
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
# A regex alternation of every month word, longest first ("september" before "sep").
MONTH_WORDS = "|".join(sorted(MONTHS, key=len, reverse=True))
MONTH_NAMES = (
    "January February March April May June July August September October November December"
).split()
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# A year news copy of our time writes: 1900 to 2099.
YEAR = r"(?:19|20)\d\d"
YEAR_PATTERN = re.compile(rf"\b{YEAR}\b")

# Counts written as words, with their values ("two days ago", "nine people").
COUNT_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
# Words that state a quantity without a digit ("dozens of", "thousands of").
MAGNITUDE_WORDS = (
    "dozen",
    "dozens",
    "hundred",
    "hundreds",
    "thousand",
    "thousands",
    "million",
    "millions",
    "billion",
)
# A number as news copy writes it: digits with separators, or a number word.
NUMBER_PATTERN = re.compile(
    rf"\b(?:\d[\d,.]*|{'|'.join([*COUNT_WORDS, *MAGNITUDE_WORDS])})\b", re.IGNORECASE
)


def month_number(word: str) -> int | None:
    """1 to 12 for a month name or its abbreviation ("Sept.", "september"), else None."""
    return MONTHS.get(word.lower().rstrip("."))
