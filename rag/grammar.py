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
# A number that is not a year, in digits or words: "2,500", "nine" (not "2014"): a year says
# when, not how many.
QUANTITY_PATTERN = re.compile(
    rf"\b(?!{YEAR}\b)(?:\d[\d,.]*|{'|'.join([*COUNT_WORDS, *MAGNITUDE_WORDS])})\b",
    re.IGNORECASE,
)
# A figure written in digits that is not a year: "2,500", "5.3", "40" (not "2014", "three").
FIGURE = re.compile(rf"\b(?!{YEAR}\b)\d[\d,.]*\b")


def month_number(word: str) -> int | None:
    """1 to 12 for a month name or its abbreviation ("Sept.", "september"), else None."""
    return MONTHS.get(word.lower().rstrip("."))


# Words that say which way something went, in opposed pairs of groups: a claim that says
# one where its source says only the other reverses the fact ("rose" against "was cut").
# General English verbs and adjectives of change and outcome, as news copy writes them.
DIRECTIONS: tuple[tuple[frozenset[str], frozenset[str]], ...] = tuple(
    (frozenset(up.split()), frozenset(down.split()))
    for up, down in (
        (
            "increase increased increases increasing rise rises rose risen rising grow grows "
            "grew grown growing gain gains gained climb climbs climbed jump jumps jumped soar "
            "soars soared raise raises raised boost boosts boosted expand expands expanded "
            "higher highest",
            "decrease decreased decreases decreasing reduce reduced reduces reducing fall falls "
            "fell fallen falling drop drops dropped dropping decline declines declined cut cuts "
            "cutting lower lowered lowest shrink shrinks shrank shrunk slump slumped plunge "
            "plunged slash slashed",
        ),
        ("win wins won winning victory", "lose loses lost losing defeat defeated"),
        (
            "approve approves approved accept accepts accepted",
            "reject rejects rejected refuse refuses refused block blocks blocked veto vetoed",
        ),
    )
)
