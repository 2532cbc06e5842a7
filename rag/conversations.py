"""Conversations kept across reloads and restarts: each question, its answer with citations
and evidence, and the hashes of the files the answer was made from, in one SQLite file.

The app has no login, so this is one history shared by everyone who can open it (docs/team.md,
"Exposing the app"). Answers are stored whole (as JSON, by pydantic from the same dataclasses
the pipeline returns), so a reopened conversation shows exactly what was answered then.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import TypeAdapter

from rag.config import CONVERSATIONS_FILE
from rag.types import Answer, UserError

# Conversations listed, newest first.
RECENT = 20
_ANSWER = TypeAdapter(Answer)
_FILES = TypeAdapter(dict[str, str])
_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    started TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    asked TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    files TEXT NOT NULL,
    PRIMARY KEY (conversation, n)
);
CREATE TABLE IF NOT EXISTS feedback (
    conversation TEXT NOT NULL,
    n INTEGER NOT NULL,
    good INTEGER NOT NULL,
    correction TEXT NOT NULL DEFAULT '',
    given TEXT NOT NULL,
    PRIMARY KEY (conversation, n),
    FOREIGN KEY (conversation, n) REFERENCES turns(conversation, n) ON DELETE CASCADE
);
"""


@dataclass(frozen=True)
class Turn:
    """One question of a conversation and the answer it got."""

    question: str
    answer: Answer
    files: dict[str, str]  # cited file -> its sha256 when the answer was made
    asked: datetime


@dataclass(frozen=True)
class Feedback:
    """A reader's verdict on one answer, with the correction they gave, if any."""

    conversation: str
    n: int  # the turn's position in its conversation
    good: bool
    correction: str
    turn: Turn
    history: tuple[str, ...]  # the questions asked before it in its conversation


@dataclass(frozen=True)
class Summary:
    """A conversation as the list of recent ones shows it."""

    id: str
    title: str  # its first question
    started: datetime
    turns: int


def labels(recent: Sequence[Summary], title_chars: int) -> list[str]:
    """Each conversation's label in the list: its first question (cut at `title_chars`) and
    when it was started, which tells apart conversations that began with the same question:
    to the minute, to the second when that is shared, then numbered (newest first)."""

    def listed(kept: Summary, when: str) -> str:
        title = kept.title if len(kept.title) <= title_chars else kept.title[:title_chars] + "…"
        return f"{title} · {kept.started.strftime(when)}"

    found = [listed(kept, "%b %d, %H:%M") for kept in recent]
    found = [
        listed(kept, "%b %d, %H:%M:%S") if found.count(label) > 1 else label
        for kept, label in zip(recent, found, strict=True)
    ]
    left = {label: found.count(label) for label in found}
    numbered = []
    for label in found:
        if found.count(label) > 1:
            left[label] -= 1
            label = f"{label} ({left[label] + 1})"
        numbered.append(label)
    return numbered


class Conversations:
    """The conversations kept in `folder`/conversations.sqlite3."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / CONVERSATIONS_FILE
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with self._connection():
                pass
        except (OSError, sqlite3.Error) as error:
            raise UserError(
                f"Conversations cannot be kept in {self.path} ({error}): set RAG_DATA_DIR to "
                "a folder the app can write."
            ) from None

    def start(self) -> str:
        """A new, empty conversation's id (hard to guess: it is the link that opens it)."""
        conversation = secrets.token_urlsafe(9)
        with self._connection() as db:
            db.execute(
                "INSERT INTO conversations (id, started) VALUES (?, ?)",
                (conversation, _now().isoformat()),
            )
        return conversation

    def add(
        self, conversation: str, question: str, answer: Answer, files: Mapping[str, str]
    ) -> None:
        """Keep a question and its answer as the conversation's next turn."""
        with self._connection() as db:
            (n,) = db.execute(
                "SELECT COUNT(*) FROM turns WHERE conversation = ?", (conversation,)
            ).fetchone()
            db.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?)",
                (
                    conversation, n, _now().isoformat(), question,
                    _ANSWER.dump_json(answer).decode(), _FILES.dump_json(dict(files)).decode(),
                ),
            )  # fmt: skip

    def exists(self, conversation: str) -> bool:
        with self._connection() as db:
            found = db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation,))
            return found.fetchone() is not None

    def turns(self, conversation: str) -> list[Turn]:
        """The conversation's turns in order (none for an unknown id)."""
        with self._connection() as db:
            rows = db.execute(
                "SELECT question, answer, files, asked FROM turns WHERE conversation = ? "
                "ORDER BY n",
                (conversation,),
            ).fetchall()
        return [
            Turn(question, _ANSWER.validate_json(answer), _FILES.validate_json(files),
                 datetime.fromisoformat(asked))
            for question, answer, files, asked in rows
        ]  # fmt: skip

    def recent(self, limit: int = RECENT) -> list[Summary]:
        """The latest conversations that have a question, newest first."""
        with self._connection() as db:
            rows = db.execute(
                "SELECT c.id, c.started, t.question, "
                "(SELECT COUNT(*) FROM turns WHERE conversation = c.id) "
                "FROM conversations c JOIN turns t ON t.conversation = c.id AND t.n = 0 "
                "ORDER BY c.started DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            Summary(conversation, question, datetime.fromisoformat(started), turns)
            for conversation, started, question, turns in rows
        ]

    def rate(self, conversation: str, n: int, good: bool, correction: str = "") -> None:
        """Keep (or replace) the reader's verdict on turn `n` of a conversation."""
        with self._connection() as db:
            db.execute(
                "INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?)",
                (conversation, n, int(good), correction.strip(), _now().isoformat()),
            )

    def verdict(self, conversation: str, n: int) -> tuple[bool, str] | None:
        """The verdict kept on turn `n` of a conversation (good?, correction), if any."""
        with self._connection() as db:
            row = db.execute(
                "SELECT good, correction FROM feedback WHERE conversation = ? AND n = ?",
                (conversation, n),
            ).fetchone()
        return (bool(row[0]), row[1]) if row else None

    def feedback(self) -> list[Feedback]:
        """Every verdict given, oldest first, with the turn it is about."""
        with self._connection() as db:
            rows = db.execute(
                "SELECT conversation, n, good, correction FROM feedback ORDER BY given"
            ).fetchall()
        given = []
        for conversation, n, good, correction in rows:
            turns = self.turns(conversation)
            earlier = tuple(turn.question for turn in turns[:n])
            given.append(Feedback(conversation, n, bool(good), correction, turns[n], earlier))
        return given

    def delete(self, conversation: str) -> None:
        """Forget a conversation and its turns."""
        with self._connection() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation,))

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for one operation, committed when it succeeds (sessions run in
        threads of their own, so none is shared). The tables are made when missing: a file
        deleted while the app runs starts an empty history instead of failing."""
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            db.execute("PRAGMA foreign_keys = ON")
            db.executescript(_SCHEMA)
            yield db


def _now() -> datetime:
    return datetime.now(UTC)
