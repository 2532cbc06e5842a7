"""`rag users`: accounts made, listed, changed and removed from the command line, tokens
printed last, and every refusal one line with a non-zero exit and no traceback. The data
folder is the test's own (RAG_DATA_DIR, set by conftest)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rag.accounts import Accounts, Role
from rag.cli import main
from tests.conftest import REPO


def users(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["users", *args], input=stdin)


def add(name: str, role: str, password: str = "pw-1") -> None:
    done = users("add", name, "--role", role, "--password-stdin", stdin=f"{password}\n")
    assert done.exit_code == 0, done.output


@pytest.fixture
def accounts(conversations_apart: Path) -> Accounts:
    """The accounts the commands change (the test's data folder), with an admin, alice."""
    add("alice", "admin", "alice-pw")
    return Accounts(conversations_apart, 12)


def test_add_asks_for_the_password_twice_without_showing_it(conversations_apart: Path) -> None:
    done = users("add", "alice", "--role", "admin", stdin="first\nsecond\nright-pw\nright-pw\n")
    assert done.exit_code == 0, done.output
    assert done.stdout.count("Password: ") == 2  # asked again after the two differed
    assert "The two entered values do not match." in done.stdout
    assert "right-pw" not in done.output and "first" not in done.output
    assert done.stdout.endswith("Added alice, admin.\n")
    assert Accounts(conversations_apart, 12).login("alice", "right-pw") is not None


def test_no_password_at_the_prompt_is_one_line_naming_the_fix(conversations_apart: Path) -> None:
    done = users("add", "alice", "--role", "admin", stdin="")  # input ends: nothing typed
    assert done.exit_code == 1 and "Aborted" not in done.output
    assert done.output.strip().endswith(
        "Error: No password was given: type it when asked, or pipe it in with --password-stdin."
    )
    assert not Accounts(conversations_apart, 12).exists()


def test_password_stdin_takes_the_first_line_as_it_is(accounts: Accounts) -> None:
    add("bob", "reader", " spaced pw ")
    assert accounts.login("bob", " spaced pw ") is not None


def test_list_shows_name_role_and_creation(accounts: Accounts) -> None:
    add("bob", "editor")
    lines = users("list").stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["alice", "admin"], ["bob", "editor"]]
    assert lines[0].endswith(" UTC")


def test_list_with_no_accounts_says_the_app_is_open() -> None:
    done = users("list")
    assert done.exit_code == 0
    assert "No accounts: the app and the API are open" in done.stdout


def test_token_is_the_last_line_and_revoke_ends_it(accounts: Accounts) -> None:
    add("bob", "reader")
    done = users("token", "bob")
    assert done.exit_code == 0, done.output
    token = done.stdout.splitlines()[-1]
    assert done.stdout == f"{token}\n"  # the note goes to stderr: $(rag users token) is the token
    assert done.output.splitlines()[-1] == token
    user = accounts.token_user(token)
    assert user is not None and user.name == "bob"
    assert users("revoke", "bob").exit_code == 0
    assert accounts.token_user(token) is None


def test_role_and_remove_change_the_accounts(accounts: Accounts) -> None:
    add("bob", "reader")
    assert users("role", "bob", "admin").stdout == "bob is now admin.\n"
    assert users("role", "alice", "editor").exit_code == 0  # bob is an admin now
    assert users("remove", "alice").stdout == "Removed alice.\n"
    assert [(u.name, u.role) for u in accounts.users()] == [("bob", Role.ADMIN)]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["add", "../x", "--role", "reader", "--password-stdin"], "pw\n",
         "'../x' is not a user name"),
        (["add", "nul\x00", "--role", "reader", "--password-stdin"], "pw\n",
         "'nul\\x00' is not a user name"),
        (["add", "carol", "--role", "reader", "--password-stdin"], "\n",
         "The password for carol is empty"),
        (["add", "alice", "--role", "reader", "--password-stdin"], "pw\n",
         "There is already a user alice"),
        (["remove", "carol"], None, "There is no user carol: `rag users list`"),
        (["role", "carol", "admin"], None, "There is no user carol"),
        (["token", "carol"], None, "There is no user carol"),
        (["revoke", "carol"], None, "There is no user carol"),
        (["remove", "alice"], None, "alice is the last admin"),
        (["role", "alice", "reader"], None, "alice is the last admin"),
    ],
)  # fmt: skip
def test_a_refusal_is_one_line_naming_the_fix(
    accounts: Accounts, args: list[str], stdin: str | None, message: str
) -> None:
    add("bob", "reader")  # so alice is the last admin, not the last account
    done = users(*args, stdin=stdin)
    assert done.exit_code == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"Error: {message}")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.output
    assert [(u.name, u.role) for u in accounts.users()] == [
        ("alice", Role.ADMIN), ("bob", Role.READER),
    ]  # fmt: skip


def test_the_first_account_must_be_an_admin() -> None:
    done = users("add", "bob", "--role", "reader", "--password-stdin", stdin="pw\n")
    assert done.exit_code == 1
    assert done.stderr == (
        "Error: The first account must be an admin, to manage the others: "
        "`rag users add bob --role admin`.\n"
    )


def test_an_unknown_role_is_a_usage_error() -> None:
    done = users("add", "alice", "--role", "owner", "--password-stdin", stdin="pw\n")
    assert done.exit_code == 2
    assert "'owner' is not one of 'admin', 'editor', 'reader'" in done.stderr


def test_rag_users_as_a_real_process_reads_the_password_from_stdin(
    conversations_apart: Path,
) -> None:
    env = {**os.environ, "RAG_DATA_DIR": str(conversations_apart)}

    def rag(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rag", "users", *args], input=stdin, env=env, cwd=REPO,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    added = rag("add", "alice", "--role", "admin", "--password-stdin", stdin="pw-9\n")
    assert added.returncode == 0, added.stderr
    token = rag("token", "alice").stdout.splitlines()[-1]
    accounts = Accounts(conversations_apart, 12)
    assert accounts.login("alice", "pw-9") is not None
    user = accounts.token_user(token)
    assert user is not None and user.name == "alice"
    refused = rag("remove", "alice-x")
    assert (refused.returncode, refused.stderr) == (
        1, "Error: There is no user alice-x: `rag users list` shows who there is.\n",
    )  # fmt: skip
