"""Relative time expressions in article text, resolved against the article's date."""

from __future__ import annotations

from datetime import date

import pytest

from rag.dates import annotate_relative, relative_note, resolve_relative
from rag.pipeline import Pipeline

WEDNESDAY = date(2021, 4, 7)

# (text, meaning given an article published Wednesday, April 7, 2021)
RELATIVE = [
    ("Two rockets landed Sunday near the base", "April 4, 2021"),
    ("said on Monday evening", "April 5, 2021"),
    ("in a joint statement Wednesday", "April 7, 2021"),  # the day itself
    ("last Wednesday", "March 31, 2021"),
    ("talks next Monday", "April 12, 2021"),
    ("yesterday", "April 6, 2021"),
    ("today", "April 7, 2021"),
    ("tomorrow", "April 8, 2021"),
    ("Since last year, the role", "2020"),
    ("by the end of this year", "2021"),
    ("talks resume next year", "2022"),
    ("last month", "March 2021"),
    ("next month", "May 2021"),
    ("earlier this week", "the week of April 5, 2021"),
    ("last week", "the week of March 29, 2021"),
    ("21 hours ago", "about April 6, 2021"),
    ("5 hours ago", "about April 7, 2021"),
    ("three days ago", "April 4, 2021"),
    ("two weeks ago", "about March 24, 2021"),
    ("4 months ago", "about December 2020"),
    ("a year ago", "about 2020"),
]


@pytest.mark.parametrize(("text", "meaning"), RELATIVE)
def test_resolve_relative(text: str, meaning: str) -> None:
    (found,) = resolve_relative(text, WEDNESDAY)
    assert found.meaning == meaning
    assert text[found.start : found.end] == found.text


def test_last_year_in_january_is_the_year_before() -> None:
    (found,) = resolve_relative("Since last year", date(2020, 1, 3))
    assert found.meaning == "2019"


def test_text_without_relative_expressions() -> None:
    assert resolve_relative("On April 7, 2021 the United States and Iraq agreed.", WEDNESDAY) == []


def test_annotation_keeps_the_text_and_adds_the_date() -> None:
    text = "Rockets landed Sunday; since last year 2,500 troops remain."
    assert annotate_relative(text, WEDNESDAY) == (
        "Rockets landed Sunday (= April 4, 2021); since last year (= 2020) 2,500 troops remain."
    )
    assert annotate_relative(text, None) == text, "an undated article has nothing to resolve"


def test_relative_note() -> None:
    assert relative_note("said on Monday, a year after last year's vote", WEDNESDAY) == (
        "Monday = April 5, 2021; last year = 2020"
    )
    assert relative_note("said on Monday", None) == ""


def test_extractive_answer_resolves_monday_after_the_verbatim_quote(indexed: Pipeline) -> None:
    answer = indexed.ask("When did Kataib Hezbollah's spokesman speak to Al-Mayadeen TV?")
    quote = answer.citations[0].quote
    assert "told Beirut-based Al-Mayadeen TV on Monday" in quote
    assert "(Monday = February 5, 2018)" not in quote, "quotes stay verbatim"
    assert f"{quote} (Monday = February 5, 2018) [1]" in answer.answer


@pytest.mark.parametrize(
    "text",
    [
        "The season will premiere on Thursday, Nov. 12 at 9/8c.",
        "It kicked off on Thursday, November 12.",
        "Voting closes on Sunday 4 April.",
        "The vote is on Monday 5th February.",
    ],
)
def test_a_weekday_beside_its_date_is_not_resolved(text: str) -> None:
    # The text says which day it means; a note resolving the weekday against the article's
    # date ("Thursday = September 17, 2020") would contradict the quote.
    assert resolve_relative(text, WEDNESDAY) == []


def test_a_weekday_beside_other_words_is_still_resolved() -> None:
    (found,) = resolve_relative("Rockets landed Sunday, 12 of them near the base.", WEDNESDAY)
    assert found.meaning == "April 4, 2021"


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("said on Monday", date(2021, 4, 5)),
        ("landed Sunday", date(2021, 4, 4)),
        ("yesterday", date(2021, 4, 6)),
        ("3 days ago", date(2021, 4, 4)),
        ("next Friday", date(2021, 4, 9)),
        ("last year", None),  # a year, not a day
        ("21 hours ago", None),  # only about a day
    ],
)
def test_the_day_an_expression_names(text: str, day: date | None) -> None:
    (found,) = resolve_relative(text, WEDNESDAY)
    assert found.day == day
