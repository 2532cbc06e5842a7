"""Conversations kept across reloads and restarts: each question, its answer with citations
and evidence, and the hashes of the files the answer was made from, in one SQLite file.

Each conversation has an owner: the account that began it, or '' when it was begun with no
accounts (then it is one history shared by everyone who can open the app; docs/team.md). An
owner may share one read-only: the share token is apart from the conversation's id, so
sharing can be stopped without changing the owner's own link. Answers are stored whole (as
JSON, by pydantic from the same dataclasses the pipeline returns), so a reopened conversation
shows exactly what was answered then.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from rag.datafile import connect, open_file
from rag.types import Answer, UserError

# Conversations listed, newest first.
RECENT = 20
_ANSWER = TypeAdapter(Answer)
_FILES = TypeAdapter(dict[str, str])
_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    started TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT ''
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
CREATE TABLE IF NOT EXISTS shares (
    token TEXT PRIMARY KEY,
    conversation TEXT NOT NULL UNIQUE REFERENCES conversations(id) ON DELETE CASCADE
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
        self.path = open_file(folder, _SCHEMA, "Conversations")
        with self._connection() as db:
            _add_owners(db)

    def start(self, owner: str = "") -> str:
        """A new, empty conversation's id (hard to guess: it is the link that opens it),
        belonging to `owner` ('' with no accounts)."""
        conversation = secrets.token_urlsafe(9)
        with self._connection() as db:
            db.execute(
                "INSERT INTO conversations (id, started, owner) VALUES (?, ?, ?)",
                (conversation, _now().isoformat(), owner),
            )
        return conversation

    def owner(self, conversation: str) -> str | None:
        """The account the conversation belongs to ('' if begun with no accounts), or None
        for an unknown id."""
        owner: str | None = self._value(
            "SELECT owner FROM conversations WHERE id = ?", conversation
        )
        return owner

    def share(self, conversation: str) -> str:
        """The token of the conversation's read-only share link, made on first asking."""
        with self._connection() as db:
            try:
                db.execute(
                    "INSERT OR IGNORE INTO shares VALUES (?, ?)",
                    (secrets.token_urlsafe(12), conversation),
                )
            except sqlite3.IntegrityError:  # no such conversation
                raise UserError(
                    f"There is no conversation {conversation!r} to share: open one of yours."
                ) from None
        return str(self.share_token(conversation))

    def share_token(self, conversation: str) -> str | None:
        """The token of the conversation's share link, or None while it is not shared."""
        token: str | None = self._value(
            "SELECT token FROM shares WHERE conversation = ?", conversation
        )
        return token

    def unshare(self, conversation: str) -> None:
        """Stop sharing the conversation: its old share link opens nothing."""
        with self._connection() as db:
            db.execute("DELETE FROM shares WHERE conversation = ?", (conversation,))

    def shared(self, token: str) -> str | None:
        """The id of the conversation a share token opens read-only, or None."""
        conversation: str | None = self._value(
            "SELECT conversation FROM shares WHERE token = ?", token
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

    def recent(
        self, limit: int = RECENT, owner: str | None = None, *, unowned: bool = False
    ) -> list[Summary]:
        """The latest conversations that have a question, newest first: everyone's, or only
        `owner`'s when given, with `unowned` also those begun with no accounts."""
        with self._connection() as db:
            rows = db.execute(
                "SELECT c.id, c.started, t.question, "
                "(SELECT COUNT(*) FROM turns WHERE conversation = c.id) "
                "FROM conversations c JOIN turns t ON t.conversation = c.id AND t.n = 0 "
                "WHERE ? IS NULL OR c.owner = ? OR (? AND c.owner = '') "
                "ORDER BY c.started DESC LIMIT ?",
                (owner, owner, unowned, limit),
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

    def _value(self, query: str, key: str) -> Any:
        """The one column of the first row `query` finds for `key`, or None."""
        with self._connection() as db:
            row = db.execute(query, (key,)).fetchone()
        return row[0] if row else None

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with connect(self.path, _SCHEMA) as db:
            yield db


def _add_owners(db: sqlite3.Connection) -> None:
    """Give a file made before conversations had owners its `owner` column (every kept
    conversation then belongs to no account)."""
    db.execute("BEGIN IMMEDIATE")  # two processes opening one old file add it once
    columns = {row[1] for row in db.execute("PRAGMA table_info(conversations)")}
    if "owner" not in columns:
        db.execute("ALTER TABLE conversations ADD COLUMN owner TEXT NOT NULL DEFAULT ''")


def _now() -> datetime:
    return datetime.now(UTC)
