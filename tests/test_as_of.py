"""Date ranges and "as of" answers, end to end over the five real articles.

The articles report US troop levels in Iraq as "more than 5,000" (February 2018), "some 5,000"
(July 2020) and "about 2,500" (April 2021); four of the eleven articles state no date.
"""

from __future__ import annotations

from datetime import date

import pytest

from rag.answer.query import read_question
from rag.pipeline import Pipeline
from rag.types import DateRange, UserError

NOW = "How many US troops are in Iraq now?"


def test_a_range_holds_its_bounds_and_never_an_undated_article() -> None:
    spring = DateRange(date(2021, 3, 1), date(2021, 4, 30))
    assert date(2021, 3, 1) in spring
    assert date(2021, 4, 30) in spring
    assert date(2021, 5, 1) not in spring
    assert None not in spring  # nothing says an undated article belongs there
    assert None not in DateRange(until=date(2030, 1, 1))
    assert None in DateRange()  # no range: every article
    assert not DateRange().bounded


def test_an_as_of_day_ends_a_range_that_runs_later() -> None:
    spring = DateRange(date(2021, 3, 1), date(2021, 4, 30))
    assert spring.up_to(date(2021, 4, 7)) == DateRange(date(2021, 3, 1), date(2021, 4, 7))
    assert spring.up_to(date(2022, 1, 1)) == spring  # already ends earlier
    assert spring.up_to(None) == spring
    assert DateRange().up_to(date(2019, 6, 30)) == DateRange(until=date(2019, 6, 30))


def test_an_empty_range_is_refused_with_its_dates() -> None:
    with pytest.raises(UserError, match="2021-05-01 is after 2021-04-01"):
        DateRange(date(2021, 5, 1), date(2021, 4, 1))


@pytest.mark.parametrize(
    ("question", "present"),
    [
        (NOW, True),
        ("Who is the current prime minister?", True),
        ("What is the latest figure?", True),
        ("How many US troops were in Iraq in 2018?", False),
        ("When did troop levels drop to 2,500?", False),
    ],
)
def test_questions_about_now_are_recognised(question: str, present: bool) -> None:
    assert read_question(question).whole.present is present


def test_now_means_the_newest_evidence_and_says_its_date(indexed: Pipeline) -> None:
    answer = indexed.ask(NOW)
    assert "2,500" in answer.answer
    assert "as of April 7, 2021" in answer.answer
    assert answer.as_of is None
    assert answer.to_dict()["as_of"] is None


def test_as_of_reads_only_what_was_published_by_then(indexed: Pipeline) -> None:
    answer = indexed.ask(NOW, as_of=date(2019, 6, 30))
    assert not answer.abstained
    assert "2,500" not in answer.answer
    assert "5,000" in answer.answer
    assert all(c.date is not None and c.date <= date(2019, 6, 30) for c in answer.citations)
    assert all(h.chunk.date and h.chunk.date <= date(2019, 6, 30) for h in answer.hits)
    assert answer.to_dict()["as_of"] == "2019-06-30"
    assert "4 undated articles left out by the date range" in (answer.notice or "")


def test_since_keeps_older_articles_out_of_retrieval(indexed: Pipeline) -> None:
    since = date(2020, 1, 1)
    answer = indexed.ask("How many US troops were in Iraq?", dates=DateRange(since=since))
    assert answer.hits
    assert all(h.chunk.date and h.chunk.date >= since for h in answer.hits)
    assert "5,300" not in answer.answer and "more than 5,000" not in answer.answer


def test_a_range_with_no_articles_abstains(indexed: Pipeline) -> None:
    answer = indexed.ask(NOW, dates=DateRange(until=date(2010, 1, 1)))
    assert answer.abstained
    assert not answer.hits


def test_a_narrow_range_is_searched_in_the_store_not_cut_from_the_best_matches(
    indexed: Pipeline,
) -> None:
    # With three candidates per side, none of the best dozen matches for the question on
    # either side is from May 2020 (the article on the militia raid): that range must still
    # find its passages, as both sides filter by the store's dates before ranking.
    narrow = Pipeline(indexed.settings.model_copy(update={"candidates": 3}))
    narrow.embedder = indexed.embedder  # already warm
    may = DateRange(date(2020, 5, 1), date(2020, 5, 31))
    question = "How many US troops are in Iraq now?"
    hits = narrow.retriever.search(question, scope=narrow.index.scope(may))
    assert hits
    assert all(h.chunk.date == date(2020, 5, 11) for h in hits)
