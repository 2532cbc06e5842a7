"""Accounts: who may use the app and the API, in which role, and how they prove it.

Kept in the data folder's SQLite file beside the conversations (rag/datafile.py says why one
file). Passwords are stored as argon2id hashes, session ids and API tokens only as SHA-256
digests, so a copy of the file lets nobody in. With no account at all, the app and the API
are open to whoever can reach them, as before accounts existed; once there is one, there is
always an admin among them (the first account must be one, and the last cannot go).
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rag.config import Settings
from rag.datafile import connect, open_file
from rag.types import UserError

# Letters, digits, '.', '_' and '-', starting with a letter or digit: never a path, a flag
# (-x) or a control character, and short enough to show in one line.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Seconds every failed login waits before it is answered. The argon2 check itself takes
# 0.12 s on 2 cores (argon2-cffi's defaults: 3 passes over 64 MiB), so guessing one after
# another is held to about one guess a second.
FAILED_LOGIN_PAUSE = 1.0
# Each earlier failure on the same name within this window doubles the pause, up to
# 2**MAX_DOUBLINGS times (32 s); a login that succeeds clears the name's count. Names that
# have no account count too, so the pause never tells whether a name exists.
BACKOFF_WINDOW = timedelta(minutes=15)
MAX_DOUBLINGS = 5
_SESSION, _TOKEN = "session", "token"
_HASHER = PasswordHasher()
_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    role TEXT NOT NULL,
    password TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS credentials (
    digest TEXT PRIMARY KEY,
    name TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    expires TEXT
);
CREATE TABLE IF NOT EXISTS failed_logins (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    failures INTEGER NOT NULL,
    last TEXT NOT NULL
);
"""


class Role(StrEnum):
    """What an account may do; each role may do all that the roles below it may. The checks
    are properties: a method named without its call would always be true."""

    ADMIN = "admin"
    EDITOR = "editor"
    READER = "reader"

    @property
    def can_ask(self) -> bool:
        """Ask questions and keep conversations: every role."""
        return True

    @property
    def can_edit(self) -> bool:
        """Upload, re-index and remove files in the app, and upload through the API."""
        return self in (Role.EDITOR, Role.ADMIN)

    @property
    def can_remove(self) -> bool:
        """Remove files through the API (its DELETE route): admins."""
        return self is Role.ADMIN

    @property
    def can_manage(self) -> bool:
        """Add and remove accounts, change their roles, make and revoke tokens: admins."""
        return self is Role.ADMIN


@dataclass(frozen=True)
class User:
    """An account as everything outside this module sees it: never its password."""

    name: str
    role: Role
    created: datetime


class Accounts:
    """The accounts kept in `folder`/conversations.sqlite3.

    Sessions (from `login`, for the app) last `session_hours` (default: the setting); API
    tokens last until revoked. `clock` and `pause` are the time and the wait of failed
    logins, given by tests.
    """

    def __init__(
        self,
        folder: Path,
        session_hours: float | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),  # aware, as stored
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = open_file(folder, _SCHEMA, "Accounts")
        hours = Settings().session_hours if session_hours is None else session_hours
        self.session_length = timedelta(hours=hours)
        self._clock = clock
        self._pause = pause

    def add(self, name: str, password: str, role: Role) -> User:
        """A new account; the first must be an admin."""
        _check_name(name)
        if not password:
            raise UserError(f"The password for {name} is empty: give one.")
        hashed = _HASHER.hash(password)  # before the write lock: it takes a tenth of a second
        created = self._clock()
        with self._transaction() as db:
            _keep_an_admin(db, name, accounts=1, admins=int(role is Role.ADMIN))
            try:
                db.execute(
                    "INSERT INTO accounts VALUES (?, ?, ?, ?)",
                    (name, role.value, hashed, _stamp(created)),
                )
            except sqlite3.IntegrityError:
                raise UserError(
                    f"There is already a user {name}: choose another name, or change its role "
                    f"with `rag users role {name} ROLE`."
                ) from None
        return User(name, role, created)

    def remove(self, name: str) -> None:
        """Delete an account, its sessions and its tokens (its conversations stay)."""
        with self._transaction() as db:
            user = _stored(db, name)
            _keep_an_admin(db, user.name, accounts=-1, admins=-int(user.role is Role.ADMIN))
            db.execute("DELETE FROM accounts WHERE name = ?", (user.name,))

    def set_role(self, name: str, role: Role) -> None:
        """Change an account's role; its sessions and tokens carry the new one at once."""
        with self._transaction() as db:
            user = _stored(db, name)
            change = int(role is Role.ADMIN) - int(user.role is Role.ADMIN)
            _keep_an_admin(db, user.name, accounts=0, admins=change)
            db.execute("UPDATE accounts SET role = ? WHERE name = ?", (role.value, user.name))

    def users(self) -> list[User]:
        """Every account, by name."""
        with self._connection() as db:
            rows = db.execute(
                "SELECT name, role, created FROM accounts ORDER BY name COLLATE NOCASE"
            ).fetchall()
        return [_user(*row) for row in rows]

    def exists(self) -> bool:
        """Whether there is any account (with none, the app and the API are open)."""
        with self._connection() as db:
            return db.execute("SELECT 1 FROM accounts LIMIT 1").fetchone() is not None

    def get(self, name: str) -> User | None:
        """The account of that name (in any case), or None."""
        if not NAME.fullmatch(name):
            return None
        with self._connection() as db:
            row = db.execute(
                "SELECT name, role, created FROM accounts WHERE name = ?", (name,)
            ).fetchone()
        return _user(*row) if row else None

    def login(self, name: str, password: str) -> str | None:
        """A new session id for the account if the password is its own; None, after a
        pause that grows with the name's recent failures, for any other name or password."""
        with self._connection() as db:
            row = (
                db.execute("SELECT name, password FROM accounts WHERE name = ?", (name,))
                .fetchone() if NAME.fullmatch(name) else None
            )  # fmt: skip
        # An unknown name is checked against a decoy hash, so it takes as long as a known one.
        hashed = row[1] if row else _decoy()
        if not _verified(hashed, password) or row is None:
            self._failed(name)
            return None
        known = row[0]
        session = secrets.token_urlsafe(32)
        now = self._clock()
        with self._connection() as db:
            if _HASHER.check_needs_rehash(hashed):  # kept with the hasher's current costs
                db.execute(
                    "UPDATE accounts SET password = ? WHERE name = ?",
                    (_HASHER.hash(password), known),
                )
            db.execute("DELETE FROM failed_logins WHERE name = ?", (known,))
            db.execute(
                "DELETE FROM credentials WHERE kind = ? AND expires <= ?", (_SESSION, _stamp(now))
            )
            db.execute(
                "INSERT INTO credentials VALUES (?, ?, ?, ?)",
                (_digest(session), known, _SESSION, _stamp(now + self.session_length)),
            )
        return session

    def session_user(self, session: str) -> User | None:
        """The account a session id was given to, or None once it is unknown, expired,
        logged out or revoked."""
        return self._holder(session, _SESSION)

    def logout(self, session: str) -> None:
        """End one session."""
        with self._connection() as db:
            db.execute(
                "DELETE FROM credentials WHERE digest = ? AND kind = ?",
                (_digest(session), _SESSION),
            )

    def new_token(self, name: str) -> str:
        """A new API token for the account, shown this once: only its digest is kept."""
        token = secrets.token_urlsafe(32)
        with self._connection() as db:
            user = _stored(db, name)
            db.execute(
                "INSERT INTO credentials VALUES (?, ?, ?, NULL)",
                (_digest(token), user.name, _TOKEN),
            )
        return token

    def token_user(self, token: str) -> User | None:
        """The account an API token was given to, or None once it is unknown or revoked."""
        return self._holder(token, _TOKEN)

    def revoke(self, name: str) -> None:
        """End every API token and session of the account."""
        with self._connection() as db:
            user = _stored(db, name)
            db.execute("DELETE FROM credentials WHERE name = ?", (user.name,))

    def _holder(self, secret: str, kind: str) -> User | None:
        # Looked up by digest: timing the lookup tells nothing of a secret's own characters.
        with self._connection() as db:
            row = db.execute(
                "SELECT a.name, a.role, a.created, c.expires FROM credentials c "
                "JOIN accounts a ON a.name = c.name WHERE c.digest = ? AND c.kind = ?",
                (_digest(secret), kind),
            ).fetchone()
        if row is None or (row[3] is not None and row[3] <= _stamp(self._clock())):
            return None
        return _user(*row[:3])

    def _failed(self, name: str) -> None:
        """Count a failed login against its name and wait before answering (outside any
        transaction, so other logins go on meanwhile)."""
        earlier = 0
        if NAME.fullmatch(name):
            now = self._clock()
            with self._transaction() as db:
                old = _stamp(now - BACKOFF_WINDOW)
                db.execute("DELETE FROM failed_logins WHERE last < ?", (old,))
                row = db.execute(
                    "SELECT failures FROM failed_logins WHERE name = ?", (name,)
                ).fetchone()
                earlier = row[0] if row else 0
                db.execute(
                    "INSERT OR REPLACE INTO failed_logins VALUES (?, ?, ?)",
                    (name, earlier + 1, _stamp(now)),
                )
        self._pause(FAILED_LOGIN_PAUSE * 2 ** min(earlier, MAX_DOUBLINGS))

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with connect(self.path, _SCHEMA) as db:
            yield db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection holding the write lock from its first read, so a check (the last
        admin, an earlier failure) still holds when its change is written."""
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            yield db


def _check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise UserError(
            f"{name!r} is not a user name: use 1 to 64 letters, digits, '.', '_' or '-', "
            "beginning with a letter or digit."
        )


def _stored(db: sqlite3.Connection, name: str) -> User:
    """The account of that name, or a UserError naming the fix."""
    _check_name(name)
    row = db.execute("SELECT name, role, created FROM accounts WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise UserError(f"There is no user {name}: `rag users list` shows who there is.")
    return _user(*row)


def _keep_an_admin(db: sqlite3.Connection, name: str, accounts: int, admins: int) -> None:
    """Refuse a change of `accounts` accounts and `admins` admins that would leave accounts
    but no admin among them: nobody could manage the others from the app or the API."""
    had, had_admins = db.execute(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE role = ?) FROM accounts", (Role.ADMIN.value,)
    ).fetchone()
    if had + accounts > 0 and had_admins + admins == 0:
        if had == 0:
            raise UserError(
                f"The first account must be an admin, to manage the others: "
                f"`rag users add {name} --role admin`."
            )
        raise UserError(
            f"{name} is the last admin: make another user an admin first "
            "(`rag users role NAME admin`)."
        )


def _verified(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _decoy() -> str:
    """The hash a password given for an unknown name is checked against (made once)."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _stamp(moment: datetime) -> str:
    """A time as stored: UTC to the microsecond, so stored times compare as strings."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _user(name: str, role: str, created: str) -> User:
    return User(name, Role(role), datetime.fromisoformat(created))
