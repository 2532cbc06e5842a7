"""Accounts in a real browser: `streamlit run app.py` with accounts in its data folder, driven
by headless Chromium. One server serves the module; each test is a browser session of its own,
so it logs in afresh (a session's login lives in the server's memory, never in the link)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.accounts import Accounts, Role
from rag.conversations import Conversations
from rag.pipeline import Pipeline
from tests.browser import ask, browser_page, streamlit_server
from tests.conftest import TROOPS_FILE
from tests.test_browser import ANSWER_TIMEOUT_MS, ARTIFACTS, TROOPS, app_env, need_chromium

LOG = ARTIFACTS / "browser-accounts-server.log"


@pytest.fixture(scope="module")
def data(indexed: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with an admin (alice), a reader (rita) and a conversation of alice's."""
    folder = tmp_path_factory.mktemp("browser-accounts")
    accounts = Accounts(folder)
    accounts.add("alice", "alice-pw", Role.ADMIN)
    accounts.add("rita", "rita-pw", Role.READER)
    kept = Conversations(folder)
    kept.add(kept.start("alice"), TROOPS, indexed.ask(TROOPS), {})
    return folder


@pytest.fixture(scope="module")
def app_url(indexed: Pipeline, data: Path) -> Iterator[str]:
    need_chromium()
    with streamlit_server(app_env(indexed, data), LOG) as url:
        yield url


def log_in(page: Any, name: str, password: str) -> None:
    """Fill in the login form and send it."""
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def logged_in(page: Any, name: str) -> None:
    """Log in as `name` (whose password is their name and "-pw"); wait for the chat box."""
    log_in(page, name, f"{name}-pw")
    page.get_by_test_id("stChatInput").wait_for(timeout=ANSWER_TIMEOUT_MS)


def test_with_an_account_the_page_asks_for_a_password_and_shows_no_chat(app_url: str) -> None:
    with browser_page() as page:
        page.goto(app_url)
        page.locator("input[type=password]").wait_for(timeout=ANSWER_TIMEOUT_MS)
        page.screenshot(path=ARTIFACTS / "browser-login.png")
        assert page.get_by_test_id("stChatInput").count() == 0
        assert page.get_by_test_id("stSidebar").count() == 0
        assert page.get_by_test_id("stFileUploader").count() == 0
        log_in(page, "rita", "not-her-password")  # a wrong one: still only the form
        page.get_by_text("Wrong user name or password.").wait_for(timeout=ANSWER_TIMEOUT_MS)
        assert page.get_by_test_id("stChatInput").count() == 0


def test_a_reader_logged_in_gets_an_answer_and_no_upload_control(app_url: str) -> None:
    with browser_page() as page:
        page.goto(app_url)
        logged_in(page, "rita")
        ask(page, TROOPS)
        answer = page.get_by_test_id("stChatMessage").nth(1)
        answer.get_by_text(TROOPS_FILE).first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        page.screenshot(path=ARTIFACTS / "browser-reader.png")
        assert "In late 2020, U.S. troop levels in Iraq was reduced to 2,500" in answer.inner_text()
        sidebar = page.get_by_test_id("stSidebar")
        assert "Logged in as rita (reader)" in sidebar.inner_text()
        assert page.get_by_test_id("stFileUploader").count() == 0
        assert page.get_by_role("button", name="Re-index").count() == 0
        assert page.get_by_test_id("stException").count() == 0


def test_another_users_conversation_link_is_refused(app_url: str, data: Path) -> None:
    (alices,) = Conversations(data).recent(owner="alice")
    with browser_page() as page:
        page.goto(f"{app_url}/?c={alices.id}")
        logged_in(page, "rita")
        page.get_by_text("That conversation is another user's").wait_for(
            timeout=ANSWER_TIMEOUT_MS
        )
        page.screenshot(path=ARTIFACTS / "browser-refused.png")
        assert page.get_by_test_id("stChatMessage").count() == 0, "none of alice's turns"
        assert alices.id not in page.url
        assert page.get_by_test_id("stException").count() == 0
    with open(LOG, encoding="utf-8", errors="replace") as server_log:
        assert "Traceback" not in server_log.read()
