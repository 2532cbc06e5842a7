"""Kept conversations: answers stored whole and read back equal, listed newest first,
deleted with their turns, and carried over when the index is rebuilt."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rag.config import CONVERSATIONS_FILE
from rag.conversations import Conversations, Summary, labels
from rag.eval.feedback import candidate_items
from rag.eval.gold import load_gold
from rag.pipeline import Pipeline
from rag.types import UserError
from tests.conftest import TROOPS_FILE, copy_corpus

TROOPS = "When did US troop levels in Iraq drop to 2,500?"


def test_answers_are_read_back_exactly_as_they_were_given(
    indexed: Pipeline, tmp_path: Path
) -> None:
    kept = Conversations(tmp_path)
    answers = [indexed.ask(TROOPS), indexed.ask("How many US troops were in Iraq?")]
    conversation = kept.start()
    for answer in answers:
        kept.add(conversation, answer.question, answer, {"002.txt": "ab12"})
    turns = Conversations(tmp_path).turns(conversation)  # as a restarted server reads them
    assert [turn.answer for turn in turns] == answers  # citations, hits, timeline and all
    assert [turn.question for turn in turns] == [a.question for a in answers]
    assert turns[0].files == {"002.txt": "ab12"}


def test_the_list_is_newest_first_by_first_question(indexed: Pipeline, tmp_path: Path) -> None:
    kept = Conversations(tmp_path)
    answer = indexed.ask(TROOPS)
    first, empty, second = kept.start(), kept.start(), kept.start()
    kept.add(first, "First question?", answer, {})
    kept.add(first, "A follow-up?", answer, {})
    kept.add(second, "Second question?", answer, {})
    recent = kept.recent()
    assert [(c.id, c.title, c.turns) for c in recent] == [
        (second, "Second question?", 1),
        (first, "First question?", 2),
    ]  # a conversation without a question is not listed
    assert kept.exists(empty)


def test_delete_forgets_the_conversation_and_its_turns(indexed: Pipeline, tmp_path: Path) -> None:
    kept = Conversations(tmp_path)
    conversation = kept.start()
    kept.add(conversation, TROOPS, indexed.ask(TROOPS), {})
    kept.delete(conversation)
    assert not kept.exists(conversation)
    assert kept.turns(conversation) == []
    assert kept.recent() == []


def test_a_folder_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(UserError, match="set RAG_DATA_DIR to a folder the app can write"):
        Conversations(blocked)


def test_a_rebuild_keeps_the_conversations(
    tmp_path: Path,
    make_settings,  # noqa: ANN001 - the conftest factory
    indexed: Pipeline,
) -> None:
    # Kept in the index folder, as by default.
    pipeline = Pipeline(make_settings(copy_corpus(tmp_path / "corpus"), data_dir=None))
    pipeline.embedder = indexed.embedder  # already warm
    pipeline.ingest()
    kept = Conversations(pipeline.settings.data_path)
    conversation = kept.start()
    kept.add(conversation, TROOPS, indexed.ask(TROOPS), {})
    pipeline.rebuild()
    assert (pipeline.settings.index_path / CONVERSATIONS_FILE).exists()
    assert [t.question for t in Conversations(pipeline.settings.data_path).turns(conversation)] == [
        TROOPS
    ]
    assert not any(name.endswith((".old", ".rebuild")) for name in os.listdir(tmp_path))


def test_verdicts_become_candidate_gold_items_that_rag_eval_reads(
    indexed: Pipeline, tmp_path: Path
) -> None:
    kept = Conversations(tmp_path)
    first, second = kept.start(), kept.start()
    kept.add(first, TROOPS, indexed.ask(TROOPS), {})
    follow_up = "How many US troops were in Iraq?"
    kept.add(first, follow_up, indexed.ask(follow_up, [TROOPS]), {})
    cup = "Who won the 2018 FIFA World Cup?"
    kept.add(second, cup, indexed.ask(cup), {})
    kept.rate(first, 0, good=True)
    kept.rate(first, 1, good=False, correction="About 2,500")
    kept.rate(second, 0, good=True)  # a right abstention
    items = {item.id: item for item in candidate_items(kept.feedback())}
    good, corrected, declined = (items[f"fb-{first}-0"], items[f"fb-{first}-1"],
                                 items[f"fb-{second}-0"])  # fmt: skip
    assert good.kind == "feedback-good" and "late 2020" in good.answers[0]
    assert TROOPS_FILE in good.source_files
    assert corrected.answers == ("About 2,500",) and corrected.turns == (TROOPS, follow_up)
    assert declined.unanswerable and not declined.source_files
    # Written as `rag feedback export` writes them, they load as a gold file.
    gold = tmp_path / "candidates.jsonl"
    lines = [item.model_dump_json(exclude_defaults=True) for item in items.values()]
    gold.write_text("".join(f"{line}\n" for line in lines))
    assert [item.id for item in load_gold(gold)] == list(items)


def test_a_verdict_given_again_replaces_the_first(indexed: Pipeline, tmp_path: Path) -> None:
    kept = Conversations(tmp_path)
    conversation = kept.start()
    kept.add(conversation, TROOPS, indexed.ask(TROOPS), {})
    kept.rate(conversation, 0, good=True)
    kept.rate(conversation, 0, good=False, correction="  In late 2020.  ")
    [verdict] = kept.feedback()
    assert (verdict.good, verdict.correction) == (False, "In late 2020.")
    kept.delete(conversation)
    assert kept.feedback() == []


def test_every_label_in_the_list_differs_however_alike_they_began() -> None:
    at = datetime(2026, 12, 5, 7, 29, 15, tzinfo=UTC)
    recent = [
        Summary("c4", "When did troops drop?", at, 1),
        Summary("c3", "When did troops drop?", at, 2),  # the same question, the same second
        Summary("c2", "When did troops drop?", at.replace(second=2), 1),  # same minute
        Summary("c1", "Who is the spokesman?", at, 1),
        Summary("c0", "x" * 60, at.replace(minute=3), 1),
    ]
    assert labels(recent, 48) == [
        "When did troops drop? · Dec 05, 07:29:15 (2)",
        "When did troops drop? · Dec 05, 07:29:15 (1)",
        "When did troops drop? · Dec 05, 07:29:02",
        "Who is the spokesman? · Dec 05, 07:29",
        "x" * 48 + "… · Dec 05, 07:03",
    ]
