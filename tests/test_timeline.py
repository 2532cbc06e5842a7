"""Timeline answers: how each statement is dated, copies merged, and the five real articles'
troop figures told in date order."""

from __future__ import annotations

from datetime import date

import pytest

from rag.answer.query import asks_over_time, read_question
from rag.answer.timeline import date_of, timeline
from rag.pipeline import Pipeline
from rag.types import Chunk, DateBasis, Hit, Sentence

WEDNESDAY = date(2021, 4, 7)


def sentence(text: str, published: date | None, file: str = "a.txt", hit: int = 0) -> Sentence:
    chunk = Chunk(f"id-{file}", file, "sha", 0, "Title", published, 0, len(text), text)
    return Sentence(hit, chunk, 0, len(text), text)


def hit_of(*sentences: Sentence) -> Hit:
    first, *copies = [s.chunk for s in sentences]
    return Hit(first, 1.0, tuple(copies))


@pytest.mark.parametrize(
    ("text", "published", "when", "basis", "shown"),
    [
        ("On March 3, 2020 the base held 40 troops.", WEDNESDAY, date(2020, 3, 3),
         DateBasis.STATED, "March 3, 2020"),
        ("A spokesman said on Monday 5,000 remain.", WEDNESDAY, date(2021, 4, 5),
         DateBasis.RELATIVE, "April 5, 2021"),
        ("About 2,500 troops remain.", WEDNESDAY, WEDNESDAY, DateBasis.ARTICLE, "April 7, 2021"),
        ("Apr 7, 2021 ... About 2,500 troops remain.", WEDNESDAY, WEDNESDAY, DateBasis.ARTICLE,
         "April 7, 2021"),
        ("In late 2020 troop levels were reduced to 2,500.", None, date(2020, 11, 15),
         DateBasis.STATED, "late 2020"),
    ],
)  # fmt: skip
def test_a_statement_is_dated_by_the_best_evidence_it_has(
    text: str, published: date | None, when: date, basis: DateBasis, shown: str
) -> None:
    quoted = sentence(text, published)
    dated = date_of(quoted, hit_of(quoted))
    assert dated is not None
    assert (dated.when, dated.basis, dated.text) == (when, basis, shown)


def test_an_undated_copy_takes_the_date_of_a_dated_copy_of_the_story() -> None:
    undated = sentence("The Pentagon says it has about 5,300 troops.", None, "copy.txt")
    dated_copy = sentence("The Pentagon says it has about 5,300 troops.", date(2018, 2, 6))
    found = date_of(undated, hit_of(undated, dated_copy))
    assert found is not None
    # Said as a copy's date: the quoted file's own card says it is undated.
    assert (found.when, found.basis) == (date(2018, 2, 6), DateBasis.COPY)


def test_a_statement_nothing_dates_is_left_out() -> None:
    quoted = sentence("The troops, now totaling 2,500, train Iraqi forces.", None)
    assert date_of(quoted, hit_of(quoted)) is None
    assert timeline([quoted], [hit_of(quoted)]) == []


def test_copies_are_one_entry_and_entries_run_oldest_first() -> None:
    new = sentence("About 2,500 troops remain in Iraq.", date(2021, 4, 7), "new.txt", 0)
    old = sentence("Some 5,000 troops are based in Iraq.", date(2020, 7, 19), "old.txt", 1)
    copy = sentence("Some 5,000 troops are based in Iraq.", date(2020, 7, 20), "copy.txt", 2)
    hits = [hit_of(new), hit_of(old), hit_of(copy)]
    entries = timeline([new, old, copy], hits)
    assert [e.dated.when for e in entries] == [date(2020, 7, 19), date(2021, 4, 7)]
    assert [s.chunk.file for s in entries[0].sentences] == ["old.txt", "copy.txt"]


def test_different_figures_on_one_date_stay_side_by_side() -> None:
    officials = sentence("Officials said 5,000 troops were there.", date(2018, 2, 6), "a.txt", 0)
    pentagon = sentence("The Pentagon put the count at 5,300.", date(2018, 2, 6), "b.txt", 1)
    entries = timeline([officials, pentagon], [hit_of(officials), hit_of(pentagon)])
    assert [e.sentences[0].text for e in entries] == [officials.text, pentagon.text]


@pytest.mark.parametrize(
    ("question", "over_time"),
    [
        ("How many US troops were in Iraq?", True),
        ("How did the number of US troops in Iraq change?", True),
        ("Since when have US troops been in Iraq?", True),
        ("How many US troops were in Iraq in 2018?", False),  # one time
        ("How many US troops are in Iraq now?", False),  # the newest, not the history
        ("How many rockets hit the base after the drone strike?", False),
        ("Who leads Kataib Hezbollah?", False),
    ],
)
def test_questions_about_change_are_recognised(question: str, over_time: bool) -> None:
    assert asks_over_time(question) is over_time


def test_the_troop_figures_are_told_in_date_order(indexed: Pipeline) -> None:
    answer = indexed.ask("How many US troops were in Iraq?")
    entries = answer.timeline
    assert len(entries) >= 3
    assert [e.when for e in entries] == sorted(e.when for e in entries)
    assert any(e.when.year == 2018 and ("5,000" in e.statement or "5,300" in e.statement)
               for e in entries)  # fmt: skip
    assert any(e.when.year in (2020, 2021) and "2,500" in e.statement for e in entries)
    cited = {c.file for e in entries for n in e.citations for c in answer.citations if c.n == n}
    assert len(cited) >= 2
    for entry in entries:  # each line of the answer is an entry, citing what it quotes
        quoted = {c.quote for c in answer.citations if c.n in entry.citations}
        assert entry.statement in quoted
        assert f"{entry.date_text} ({entry.basis})" in answer.answer
    record = answer.to_dict()["timeline"][0]
    assert set(record) == {"date", "date_text", "date_basis", "statement", "citations"}


def test_an_ordinary_question_has_no_timeline(indexed: Pipeline) -> None:
    answer = indexed.ask("When did US troop levels in Iraq drop to 2,500?")
    assert answer.timeline == ()
    assert answer.to_dict()["timeline"] == []
    assert "late 2020" in answer.answer


def test_a_question_about_change_that_reads_one_time_only_is_answered_as_usual() -> None:
    assert not read_question("How did US troop levels change between 2018 and 2021?").timeline
