"""Undated articles dated from their own text, only on strong evidence, and marked as
estimates wherever their date is shown or used."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from rag.answer.timeline import date_of
from rag.clean import articles_from_text
from rag.dates import estimate_published
from rag.pipeline import Pipeline
from rag.types import Chunk, DateBasis, DateRange, Hit, Sentence

TALKS = "The Sunday attack comes days ahead of a new round of talks on April 7, 2021."


@pytest.mark.parametrize(
    ("sentences", "expected"),
    [
        ([TALKS], date(2021, 4, 7)),
        (["Officials said on Monday that the deal, signed on March 2, 2020, holds."],
         date(2020, 3, 2)),
        (["Two rockets landed yesterday, a week after the March 1, 2021 strike.",
          "Talks are due next week, on March 19, 2021."], date(2021, 3, 19)),
        # a capitalised word before "today" is no name: only weekdays make names
        (["VALLEY FORGE (July 13, 2017) The Vanguard Group today elected a president."],
         date(2017, 7, 13)),
        # past dates alone say nothing about when the story was written
        (["The invasion began on March 20, 2003.", "Troops left in December 2011."], None),
        # a weekday written beside its date names the date's weekday, not its nearness
        (["The election was held on Tuesday, November 3, 2020."], None),
        # a weekday inside a name
        (["Black Friday looks at the explosions which rocked Mumbai on 12 March 1993."], None),
        # a photo caption dates the photo
        (["FILE - In this Aug. 20, 2017 file photo, soldiers stand on Monday."], None),
        (["A jet takes off on Sunday at Balad, June 17, 2019. (Staff Sgt. Luke Kitterman/USAF)"],
         None),
        # "tomorrow's" is a possessive, not a time
        (["Episode one, All Tomorrow's Parties, aired November 12, 2020."], None),
        # a year-sized cue cannot place a story within days
        (["Last year, on May 5, 2019, the mission began."], None),
    ],
)  # fmt: skip
def test_an_estimate_needs_a_dated_event_placed_near_the_writing(
    sentences: list[str], expected: date | None
) -> None:
    found = estimate_published(sentences)
    assert (found[0] if found else None) == expected
    if found:
        assert found[1] in sentences  # the evidence is the sentence itself


def test_an_undated_article_keeps_its_estimate_and_the_sentence_it_rests_on() -> None:
    text = f"Rockets hit near Iraq base\n\n{TALKS}\nThe Iraqi government requested the talks.\n"
    (article,) = articles_from_text("rockets.txt", text)
    assert article.date == date(2021, 4, 7)
    assert article.date_evidence == TALKS
    assert article.date_text is None


def test_a_stated_date_is_never_replaced_by_an_estimate() -> None:
    text = f"Rockets hit near Iraq base\nMarch 30, 2021\n\n{TALKS}\nNo one was hurt.\n"
    (article,) = articles_from_text("rockets.txt", text)
    assert article.date == date(2021, 3, 30)
    assert article.date_evidence is None


def sentence_of(chunk: Chunk) -> Sentence:
    return Sentence(0, chunk, chunk.start, chunk.end, chunk.text)


@pytest.mark.parametrize(
    ("text", "basis", "when"),
    [
        ("About 2,500 troops remain.", DateBasis.ESTIMATED, date(2021, 4, 7)),
        ("A spokesman said on Monday 2,500 remain.", DateBasis.ESTIMATED, date(2021, 4, 5)),
        ("On March 3, 2020 the base held 40 troops.", DateBasis.STATED, date(2020, 3, 3)),
    ],
)
def test_a_statement_dated_by_an_estimated_article_date_is_an_estimate(
    text: str, basis: DateBasis, when: date
) -> None:
    chunk = Chunk("id", "a.txt", "sha", 0, "Title", date(2021, 4, 7), 0, len(text), text, True)
    dated = date_of(sentence_of(chunk), Hit(chunk, 1.0))
    assert dated is not None
    assert (dated.basis, dated.when) == (basis, when)


@pytest.fixture(scope="module")
def estimated(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Pipeline:
    """A corpus of one dated story and one the ingest dates from its text."""
    from rag.config import Settings

    root = tmp_path_factory.mktemp("estimated")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "rockets.txt").write_text(
        "Rockets hit near Balad air base\n\n"
        f"Two rockets landed on Sunday near Balad air base, an Iraqi official said. {TALKS}\n"
    )
    (corpus / "deal.txt").write_text(
        "Baghdad and Washington agree on troop plan\nMarch 2, 2018\n\n"
        "Iraq and the United States agreed on a plan for the troops at Balad air base.\n"
    )
    settings = Settings(corpus_dir=corpus, index_dir=root / "index", cache_dir=model_cache)
    pipeline = Pipeline(settings)
    pipeline.ingest()
    return pipeline


def test_an_estimated_date_is_stored_cited_and_used_by_date_ranges(estimated: Pipeline) -> None:
    (entry,) = estimated.index.manifest().files["rockets.txt"].articles
    assert (entry.date, entry.date_evidence) == (date(2021, 4, 7), TALKS)

    answer = estimated.ask("Where did the rockets land?")
    cited = [c for c in answer.citations if c.file == "rockets.txt"]
    assert cited, answer.answer
    assert cited[0].date_estimated
    assert cited[0].date_label == "about 2021-04-07 (estimated)"
    assert answer.to_dict()["citations"][0]["date_estimated"] is True

    # An estimated date counts as a date: in range after it, out of range before it.
    before = estimated.index.scope(DateRange(until=date(2019, 1, 1)))
    assert (before.days, before.undated) == ((date(2018, 3, 2),), 0)
    assert {c.file for c in estimated.index.chunks(sorted(before.ids)).values()} == {"deal.txt"}
    after = estimated.index.scope(DateRange(since=date(2021, 1, 1)))
    assert {c.file for c in estimated.index.chunks(sorted(after.ids)).values()} == {"rockets.txt"}


def test_the_articles_page_marks_an_estimated_date(
    estimated: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP, TIMEOUT, use

    use(monkeypatch, estimated.settings)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("views/articles.py").run()
    assert not at.exception, at.exception
    rows = at.main.dataframe[0].value
    dates = dict(zip(rows["File"], rows["Date"], strict=True))
    assert dates == {"deal.txt": "2018-03-02", "rockets.txt": "2021-04-07 (estimated)"}
