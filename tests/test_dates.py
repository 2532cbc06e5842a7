"""Tests for rag.dates: the date shapes of the corpus's date lines, and what is not one."""

from __future__ import annotations

from datetime import date

import pytest

from rag.dates import find_date, parse_date_line

# (line as it appears in a scraped page, date it names, the words that name it)
DATE_LINES = [
    ("Updated 06 February 2018", date(2018, 2, 6), "06 February 2018"),
    ("Feb 07,2018", date(2018, 2, 7), "Feb 07,2018"),
    # Two dates on one line: the first one wins.
    ("By Reuters - Feb 07,2018 - Last updated at Feb 07,2018", date(2018, 2, 7), "Feb 07,2018"),
    ("May 11, 2020", date(2020, 5, 11), "May 11, 2020"),
    ("July 19, 2020 16:30 GMT", date(2020, 7, 19), "July 19, 2020"),
    ("April 7, 2021", date(2021, 4, 7), "April 7, 2021"),
    ("September 30, 2020", date(2020, 9, 30), "September 30, 2020"),
    ("Aug. 20, 2017", date(2017, 8, 20), "Aug. 20, 2017"),
    ("Sept. 3, 2019", date(2019, 9, 3), "Sept. 3, 2019"),
    ("Thursday 21 February 2019", date(2019, 2, 21), "21 February 2019"),
    ("3rd March 2020", date(2020, 3, 3), "3rd March 2020"),
    ("2021-04-07", date(2021, 4, 7), "2021-04-07"),
]


@pytest.mark.parametrize(("line", "expected", "words"), DATE_LINES)
def test_find_date_reads_each_corpus_shape(line: str, expected: date, words: str) -> None:
    assert find_date(line) == (expected, words)


@pytest.mark.parametrize(("line", "expected", "words"), DATE_LINES)
def test_each_corpus_shape_is_a_date_line(line: str, expected: date, words: str) -> None:
    assert parse_date_line(line) == (expected, words)


@pytest.mark.parametrize(
    "text",
    [
        "February 30, 2020",  # no such day
        "2021-02-30",  # no such day, ISO
        "2021-13-01",  # no such month
        "21 hours ago",  # relative: no calendar date
        "May 2020",  # no day
        "On May 10, the judiciary ordered",  # no year
        "Iran-backed groups urge full US withdrawal from Iraq",  # plain text
        "",
    ],
)
def test_no_date(text: str) -> None:
    assert find_date(text) is None
    assert parse_date_line(text) is None


def test_invalid_date_is_skipped_for_a_later_valid_one() -> None:
    assert find_date("February 30, 2020 and March 1, 2020") == (date(2020, 3, 1), "March 1, 2020")


LONG_SENTENCE = (
    "FILE - In this Aug. 20, 2017 file photo, U.S. Army soldiers stands next to a "
    "guided-missile launcher, a few miles from the frontline, in the village of Abu Ghaddur"
)


@pytest.mark.parametrize(
    "line",
    [
        LONG_SENTENCE,  # a caption carrying a date is not a date line
        "The talks began on April 7, 2021.",  # ends with a period: a sentence
        "Updated May 11, 2020.",
        'He said it happened on "May 11, 2020"',  # ends with a quote
    ],
)
def test_sentence_with_a_date_is_not_a_date_line(line: str) -> None:
    assert find_date(line) is not None  # the date is there ...
    assert parse_date_line(line) is None  # ... but the line is not a dateline


def test_date_line_may_be_fourteen_words_but_not_fifteen() -> None:
    fourteen = "By Daniel Uria and a b c d e f - " + "May 11, 2020"
    assert len(fourteen.split()) == 14
    assert parse_date_line(fourteen) == (date(2020, 5, 11), "May 11, 2020")
    assert parse_date_line("x " + fourteen) is None
