"""Accounts: passwords kept only as argon2 hashes, session ids and API tokens only as digests,
sessions that end, revocation, bad names refused, an admin always among the accounts, and
failed logins slowed without telling whether the name exists. Real SQLite in tmp_path."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rag.accounts import FAILED_LOGIN_PAUSE, MAX_DOUBLINGS, Accounts, Role
from rag.config import CONVERSATIONS_FILE
from rag.conversations import Conversations
from rag.types import UserError

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pauses() -> list[float]:
    return []


@pytest.fixture
def accounts(tmp_path: Path, clock: Clock, pauses: list[float]) -> Accounts:
    """Accounts with an admin, alice (password 'alice-pw'), and a reader, bob ('bob-pw')."""
    kept = Accounts(tmp_path, session_hours=12, clock=clock, pause=pauses.append)
    kept.add("alice", "alice-pw", Role.ADMIN)
    kept.add("bob", "bob-pw", Role.READER)
    return kept


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


@pytest.mark.parametrize(
    ("role", "ask", "edit", "remove", "manage"),
    [
        (Role.READER, True, False, False, False),
        (Role.EDITOR, True, True, False, False),
        (Role.ADMIN, True, True, True, True),
    ],
)
def test_what_each_role_may_do(
    role: Role, ask: bool, edit: bool, remove: bool, manage: bool
) -> None:
    assert (role.can_ask, role.can_edit, role.can_remove, role.can_manage) == (
        ask, edit, remove, manage,
    )  # fmt: skip


def test_a_password_is_kept_only_as_an_argon2_hash(accounts: Accounts) -> None:
    [(stored,)] = rows(accounts.path, "SELECT password FROM accounts WHERE name = 'alice'")
    assert isinstance(stored, str) and stored.startswith("$argon2id$")
    assert "alice-pw" not in stored
    assert accounts.login("alice", "alice-pw") is not None
    assert accounts.login("alice", "bob-pw") is None
    assert accounts.login("alice", "") is None


def test_accounts_are_listed_by_name_with_role_and_creation_time(
    accounts: Accounts, clock: Clock
) -> None:
    clock.now += timedelta(minutes=5)
    accounts.add("Carol", "carol-pw", Role.EDITOR)
    assert [(u.name, u.role, u.created) for u in accounts.users()] == [
        ("alice", Role.ADMIN, START),
        ("bob", Role.READER, START),
        ("Carol", Role.EDITOR, START + timedelta(minutes=5)),
    ]
    assert accounts.get("carol") == accounts.users()[2]  # names are found in any case
    assert accounts.get("nobody") is None
    assert accounts.get("../x") is None


def test_a_session_names_its_user_until_logout(accounts: Accounts) -> None:
    session = accounts.login("bob", "bob-pw")
    assert session is not None
    user = accounts.session_user(session)
    assert user is not None and (user.name, user.role) == ("bob", Role.READER)
    assert accounts.token_user(session) is None  # a session is not an API token
    accounts.logout(session)
    assert accounts.session_user(session) is None
    assert accounts.session_user("made-up") is None


def test_a_session_ends_after_session_hours(accounts: Accounts, clock: Clock) -> None:
    session = accounts.login("bob", "bob-pw")
    assert session is not None
    clock.now += timedelta(hours=12) - timedelta(seconds=1)
    assert accounts.session_user(session) is not None
    clock.now += timedelta(seconds=1)
    assert accounts.session_user(session) is None


def test_session_hours_come_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_SESSION_HOURS", "0.5")
    assert Accounts(tmp_path).session_length == timedelta(minutes=30)


def test_tokens_are_kept_only_as_digests_and_never_expire(
    accounts: Accounts, clock: Clock
) -> None:
    token = accounts.new_token("bob")
    assert len(token) >= 40
    stored = rows(accounts.path, "SELECT digest, expires FROM credentials")
    assert all(token not in str(row) for row in stored)
    clock.now += timedelta(days=3650)
    user = accounts.token_user(token)
    assert user is not None and user.name == "bob"
    assert accounts.session_user(token) is None  # an API token does not log into the app
    assert accounts.token_user(token + "x") is None


def test_revoke_ends_every_token_and_session_of_that_user_only(accounts: Accounts) -> None:
    tokens = [accounts.new_token("bob"), accounts.new_token("bob")]
    session = accounts.login("bob", "bob-pw")
    kept_token, kept_session = accounts.new_token("alice"), accounts.login("alice", "alice-pw")
    assert session is not None and kept_session is not None
    accounts.revoke("bob")
    assert [accounts.token_user(token) for token in tokens] == [None, None]
    assert accounts.session_user(session) is None
    assert accounts.token_user(kept_token) is not None
    assert accounts.session_user(kept_session) is not None
    assert accounts.login("bob", "bob-pw") is not None  # the password still works


def test_a_new_role_holds_at_once_for_sessions_and_tokens(accounts: Accounts) -> None:
    token = accounts.new_token("bob")
    accounts.set_role("bob", Role.EDITOR)
    user = accounts.token_user(token)
    assert user is not None and user.role is Role.EDITOR


def test_removing_an_account_ends_its_tokens(accounts: Accounts) -> None:
    token = accounts.new_token("bob")
    accounts.remove("bob")
    assert accounts.get("bob") is None
    assert accounts.token_user(token) is None
    assert rows(accounts.path, "SELECT name FROM credentials") == []


@pytest.mark.parametrize(
    "name",
    ["", "../x", "a/b", "a b", "nul\x00", "bell\x07", "line\n", "tab\t", "-flag", ".hidden",
     "é", "x" * 65],
)  # fmt: skip
def test_a_bad_name_is_refused_naming_it(tmp_path: Path, name: str) -> None:
    with pytest.raises(UserError, match="is not a user name: use 1 to 64 letters") as refused:
        Accounts(tmp_path, 12).add(name, "pw", Role.ADMIN)
    assert repr(name) in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("name", ["a", "alice", "j.smith", "news_desk-2", "X" * 64])
def test_good_names_are_taken(tmp_path: Path, name: str) -> None:
    assert Accounts(tmp_path, 12).add(name, "pw", Role.ADMIN).name == name


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.add("Alice", "pw", Role.READER), "There is already a user Alice"),
        (lambda a: a.add("carol", "", Role.READER), "The password for carol is empty"),
        (lambda a: a.remove("carol"), "There is no user carol: `rag users list`"),
        (lambda a: a.set_role("carol", Role.ADMIN), "There is no user carol"),
        (lambda a: a.new_token("carol"), "There is no user carol"),
        (lambda a: a.revoke("carol"), "There is no user carol"),
        (lambda a: a.remove("alice"), "alice is the last admin: make another user an admin"),
        (lambda a: a.set_role("alice", Role.EDITOR), "alice is the last admin"),
    ],
)
def test_refused_changes_say_what_to_do(accounts: Accounts, change, message: str) -> None:
    with pytest.raises(UserError, match=message):
        change(accounts)
    assert [(u.name, u.role) for u in accounts.users()] == [
        ("alice", Role.ADMIN), ("bob", Role.READER),
    ]  # fmt: skip


def test_an_admin_may_go_once_another_is_admin(accounts: Accounts) -> None:
    accounts.set_role("bob", Role.ADMIN)
    accounts.set_role("alice", Role.READER)
    accounts.remove("alice")
    assert [(u.name, u.role) for u in accounts.users()] == [("bob", Role.ADMIN)]


def test_the_first_account_must_be_an_admin(tmp_path: Path) -> None:
    kept = Accounts(tmp_path, 12)
    assert not kept.exists()
    with pytest.raises(UserError, match="The first account must be an admin"):
        kept.add("bob", "pw", Role.EDITOR)
    assert not kept.exists()
    kept.add("alice", "pw", Role.ADMIN)
    assert kept.exists()


def test_removing_the_only_account_opens_the_app_again(tmp_path: Path) -> None:
    kept = Accounts(tmp_path, 12)
    kept.add("alice", "pw", Role.ADMIN)
    kept.remove("alice")
    assert not kept.exists()


def test_a_failed_login_pauses_and_each_failure_on_a_name_doubles_it(
    accounts: Accounts, pauses: list[float], clock: Clock
) -> None:
    for _ in range(MAX_DOUBLINGS + 2):
        assert accounts.login("bob", "wrong") is None
    first = FAILED_LOGIN_PAUSE
    assert pauses == [first * 2**n for n in range(MAX_DOUBLINGS + 1)] + [first * 2**MAX_DOUBLINGS]
    pauses.clear()
    assert accounts.login("alice", "wrong") is None  # another name has its own count
    clock.now += timedelta(minutes=16)  # and old failures are forgotten
    assert accounts.login("bob", "wrong") is None
    assert pauses == [first, first]


def test_a_good_login_clears_the_count_and_does_not_pause(
    accounts: Accounts, pauses: list[float]
) -> None:
    assert accounts.login("bob", "wrong") is None
    assert accounts.login("BOB", "bob-pw") is not None  # in any case
    assert accounts.login("bob", "wrong") is None
    assert pauses == [FAILED_LOGIN_PAUSE, FAILED_LOGIN_PAUSE]


@pytest.mark.parametrize("name", ["nobody", "nobody-else", "../x", "nul\x00"])
def test_an_unknown_name_fails_exactly_like_a_wrong_password(
    accounts: Accounts, pauses: list[float], name: str
) -> None:
    assert accounts.login("bob", "wrong") is None
    assert accounts.login(name, "wrong") is None
    assert pauses == [FAILED_LOGIN_PAUSE, FAILED_LOGIN_PAUSE]


def test_a_failed_login_really_waits(tmp_path: Path) -> None:
    kept = Accounts(tmp_path, 12)  # the real pause
    kept.add("alice", "pw", Role.ADMIN)
    began = time.monotonic()
    assert kept.login("alice", "wrong") is None
    assert time.monotonic() - began >= FAILED_LOGIN_PAUSE


def test_accounts_share_the_conversations_file(tmp_path: Path) -> None:
    # The one file `rag ingest --rebuild` carries over into the new index folder.
    conversation = Conversations(tmp_path).start("alice")
    Accounts(tmp_path, 12).add("alice", "pw", Role.ADMIN)
    assert sorted(path.name for path in tmp_path.iterdir()) == [CONVERSATIONS_FILE]
    assert Conversations(tmp_path).owner(conversation) == "alice"


def test_a_folder_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(UserError, match="Accounts cannot be kept in .* set RAG_DATA_DIR"):
        Accounts(blocked, 12)
