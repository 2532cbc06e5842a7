"""Kept conversations: answers stored whole and read back equal, listed newest first (all, or
one owner's), shared read-only, deleted with their turns, carried over when the index is
rebuilt, and kept when a file from before owners is opened."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from rag.config import CONVERSATIONS_FILE
from rag.conversations import Conversations, Summary, labels
from rag.eval.feedback import candidate_items
from rag.eval.gold import load_gold
from rag.pipeline import Pipeline
from rag.types import Answer, UserError
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


def test_each_owner_lists_only_their_own(indexed: Pipeline, tmp_path: Path) -> None:
    kept = Conversations(tmp_path)
    answer = indexed.ask(TROOPS)
    mine, theirs, nobodys = kept.start("alice"), kept.start("bob"), kept.start()
    for conversation in (mine, theirs, nobodys):
        kept.add(conversation, TROOPS, answer, {})
    assert [c.id for c in kept.recent(owner="alice")] == [mine]
    assert [c.id for c in kept.recent(owner="")] == [nobodys]
    assert {c.id for c in kept.recent(owner="alice", unowned=True)} == {mine, nobodys}  # admin
    assert {c.id for c in kept.recent()} == {mine, theirs, nobodys}  # with no accounts: all
    assert (kept.owner(mine), kept.owner(nobodys), kept.owner("unknown")) == ("alice", "", None)


def test_a_share_link_opens_one_conversation_until_sharing_stops(tmp_path: Path) -> None:
    kept = Conversations(tmp_path)
    conversation, other = kept.start("alice"), kept.start("alice")
    assert kept.share_token(conversation) is None
    token = kept.share(conversation)
    assert kept.share(conversation) == token == kept.share_token(conversation)  # one link
    assert token != conversation  # the owner's own link is not the shared one
    assert kept.shared(token) == conversation
    assert kept.shared(kept.share(other)) == other
    kept.unshare(conversation)
    assert kept.shared(token) is None
    assert kept.share(conversation) != token  # sharing again makes a new link
    kept.delete(other)
    assert kept.share_token(other) is None
    with pytest.raises(UserError, match="There is no conversation 'unknown' to share"):
        kept.share("unknown")


# conversations.sqlite3 as it was made before conversations had owners.
_OLD_SCHEMA = """
CREATE TABLE conversations (id TEXT PRIMARY KEY, started TEXT NOT NULL);
CREATE TABLE turns (
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    n INTEGER NOT NULL, asked TEXT NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,
    files TEXT NOT NULL, PRIMARY KEY (conversation, n)
);
CREATE TABLE feedback (
    conversation TEXT NOT NULL, n INTEGER NOT NULL, good INTEGER NOT NULL,
    correction TEXT NOT NULL DEFAULT '', given TEXT NOT NULL, PRIMARY KEY (conversation, n),
    FOREIGN KEY (conversation, n) REFERENCES turns(conversation, n) ON DELETE CASCADE
);
"""


def test_a_file_from_before_owners_keeps_its_conversations(
    indexed: Pipeline, tmp_path: Path
) -> None:
    answer = indexed.ask(TROOPS)
    with closing(sqlite3.connect(tmp_path / CONVERSATIONS_FILE)) as db, db:
        db.executescript(_OLD_SCHEMA)
        db.execute("INSERT INTO conversations VALUES ('old', '2026-01-02T03:04:05+00:00')")
        db.execute(
            "INSERT INTO turns VALUES ('old', 0, '2026-01-02T03:04:06+00:00', ?, ?, '{}')",
            (TROOPS, TypeAdapter(Answer).dump_json(answer).decode()),
        )
    kept = Conversations(tmp_path)
    assert kept.owner("old") == ""
    assert [(c.id, c.title) for c in kept.recent(owner="")] == [("old", TROOPS)]
    assert [turn.answer for turn in kept.turns("old")] == [answer]
    new = kept.start("alice")
    kept.add(new, TROOPS, answer, {})
    assert [c.id for c in Conversations(tmp_path).recent(owner="alice")] == [new]  # opened again
