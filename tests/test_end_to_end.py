"""From files to cited answers with the real embedding model and a real Chroma."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from rag.answer.prompts import CANNOT_ANSWER
from rag.pipeline import Pipeline
from rag.sentences import sentence_spans, split_sentences
from rag.store import chunk_from_record
from rag.types import UserError
from tests.conftest import CORPUS, TROOPS_FILE, WIRE_COPIES


def file_text(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


def test_ingest_indexes_every_article(indexed: Pipeline) -> None:
    status = indexed.index.status()
    assert (status.files, status.articles) == (5, 11)
    assert status.chunks == len(indexed.index.bm25())
    assert status.collection == f"newsdesk-{indexed.settings.fingerprint}"
    assert status.skipped == {}


def test_every_stored_chunk_is_an_exact_span_of_its_file(indexed: Pipeline) -> None:
    stored = indexed.index.collection.get(include=["documents", "metadatas"])
    assert len(stored["ids"]) == 55
    for text, meta in zip(stored["documents"], stored["metadatas"], strict=True):
        assert file_text(meta["file"])[meta["start"] : meta["end"]] == text


def test_every_stored_chunk_keeps_its_sentences_as_the_splitter_finds_them(
    indexed: Pipeline,
) -> None:
    stored = indexed.index.collection.get(include=["documents", "metadatas"])
    for record in zip(stored["ids"], stored["documents"], stored["metadatas"], strict=True):
        chunk = chunk_from_record(*record)
        assert chunk.sentences == tuple(sentence_spans(chunk.text))
        # A store written before sentences were kept is read with the splitter: the same.
        older = replace(chunk, sentences=None)
        assert split_sentences(0, older) == [
            replace(s, chunk=older) for s in split_sentences(0, chunk)
        ]


def test_troop_question_is_answered_with_a_checkable_citation(indexed: Pipeline) -> None:
    answer = indexed.ask("When did US troop levels in Iraq drop to 2,500?")
    assert not answer.abstained
    assert "late 2020" in answer.answer
    assert "[1]" in answer.answer
    first = answer.citations[0]
    assert first.file == TROOPS_FILE
    assert first.title == "Rockets hit near Iraq base housing US trainers, no one hurt"
    assert file_text(first.file)[first.start : first.end] == first.quote
    assert "2,500" in first.quote


def test_dated_article_gives_the_date_of_an_undated_sentence(indexed: Pipeline) -> None:
    answer = indexed.ask("On what date was the rocket attack near US troops at Irbil airport?")
    assert "September 30" in answer.answer
    assert answer.citations[0].date == date(2020, 9, 30)


def test_copies_of_one_wire_story_collapse_into_one_hit(indexed: Pipeline) -> None:
    answer = indexed.ask("Who is Kataib Hezbollah's spokesman?")
    top = answer.hits[0]
    assert set(top.files) & WIRE_COPIES == set(top.files)
    assert len(top.files) >= 2, "near-identical passages from the copies were not folded"
    # No passage in the results repeats another: each hit's text is distinct evidence.
    assert len({hit.chunk.id for hit in answer.hits}) == len(answer.hits)
    assert "Husseini" in answer.answer


def test_unanswerable_question_abstains_and_shows_closest_passages(indexed: Pipeline) -> None:
    answer = indexed.ask("What is the population of Basra?")
    assert answer.abstained
    assert answer.answer == CANNOT_ANSWER
    assert answer.citations == ()
    assert answer.closest, "the passages about Basra are shown"
    assert all(hit.similarity and hit.similarity >= 0.35 for hit in answer.closest)
    assert set(answer.closest) <= set(answer.hits)


def test_an_off_topic_question_abstains_with_no_passages(indexed: Pipeline) -> None:
    answer = indexed.ask("Who won the 2018 FIFA World Cup?")
    assert answer.abstained and answer.confidence == "none"
    assert (answer.hits, answer.closest) == ((), ())


def test_follow_up_is_searched_with_the_earlier_question(indexed: Pipeline) -> None:
    first = "Who is Kataib Hezbollah's spokesman?"
    answer = indexed.ask("Which TV channel did he speak to?", [first])
    assert answer.searched_for.startswith(first)
    assert "Mayadeen" in answer.answer
    alone = indexed.ask("Which TV channel did he speak to?")
    assert alone.searched_for == alone.question


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01"])
def test_empty_question_is_refused_with_a_clear_message(indexed: Pipeline, question: str) -> None:
    with pytest.raises(UserError, match="empty"):
        indexed.ask(question)


def test_overlong_question_is_refused(indexed: Pipeline) -> None:
    with pytest.raises(UserError, match="20,000 characters"):
        indexed.ask("x" * 20_000)


def test_json_record_has_the_documented_fields(indexed: Pipeline) -> None:
    record = indexed.ask("When did US troop levels in Iraq drop to 2,500?").to_dict()
    assert {"question", "answer", "abstained", "mode", "citations", "timings_ms"} <= set(record)
    assert set(record["citations"][0]) >= {"n", "file", "title", "date", "quote", "start", "end"}
    assert record["mode"] == "extractive"
    assert record["timings_ms"]["total"] > 0
