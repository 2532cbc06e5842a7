"""Accounts in the Streamlit app, run in-process by AppTest on the real index: open with no
account (and saying so once), a login form before anything else once there is one, what
each role is shown, conversations that are their owner's, read-only share links, and logins
that end (logged out, revoked, expired)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.proto.TextInput_pb2 import TextInput
from streamlit.testing.v1 import AppTest

import ui
from rag.accounts import Accounts, Role
from rag.conversations import Conversations
from rag.markdown import escape, message
from rag.pipeline import Pipeline
from tests.test_app import APP, TIMEOUT, TROOPS, ask, shown, start, use

OPEN_NOTE = "Anyone who can reach this app can use it: there are no accounts."
WRONG = "Wrong user name or password."
ENDED = "Your login has ended: log in again."
REFUSED = "That conversation is another user's"
# An admin, an editor and a reader; each one's password is their name and "-pw".
TEAM = {"alice": Role.ADMIN, "eddie": Role.EDITOR, "rita": Role.READER}


@pytest.fixture
def shared_index(indexed: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app on the session's index, with no accounts."""
    use(monkeypatch, indexed.settings)


@pytest.fixture
def team(indexed: Pipeline, monkeypatch: pytest.MonkeyPatch, conversations_apart: Path) -> Path:
    """The app on the session's index, with the three accounts of TEAM; their data folder."""
    use(monkeypatch, indexed.settings)
    kept = Accounts(conversations_apart)
    for name, role in TEAM.items():
        kept.add(name, f"{name}-pw", role)
    return conversations_apart


def log_in(at: AppTest, name: str, password: str | None = None) -> AppTest:
    at.text_input(key="login_name").set_value(name)
    at.text_input(key="login_password").set_value(password or f"{name}-pw")
    at.button(key="log_in").click().run()
    assert not at.exception, at.exception
    return at


def opened(name: str, link: dict[str, str] | None = None) -> AppTest:
    """A new browser session at `link`'s query parameters, logged in as `name`."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(link or {})
    return log_in(at.run(), name)


def only_the_login_form(at: AppTest) -> None:
    """The page holds the login form and nothing of the app: no chat, sidebar or page."""
    assert not at.exception, at.exception
    assert [field.label for field in at.text_input] == ["User name", "Password"]
    assert at.text_input(key="login_password").proto.type == TextInput.PASSWORD
    assert not at.chat_input and not at.sidebar.children
    assert not at.dataframe and not at.chat_message
    assert [button.key for button in at.button] == ["log_in"]


def test_with_no_accounts_the_app_is_open_and_says_so_once(shared_index: None) -> None:
    at = start()
    (note,) = at.sidebar.info
    assert note.value.startswith(OPEN_NOTE) and "`rag users add NAME --role admin`" in note.value
    at = ask(at, TROOPS)
    assert "late 2020" in at.chat_message[1].markdown[1].value
    assert OPEN_NOTE not in shown(at), "said once a session"
    assert not [c for c in at.sidebar.caption if c.value.startswith("Logged in")]
    assert at.sidebar.file_uploader and at.button(key="reindex")


@pytest.mark.parametrize(
    ("page", "title"),
    [(None, "newsdesk"), ("views/articles.py", "Articles"), ("views/evaluation.py", "Evaluation")],
)
def test_with_an_account_every_page_shows_only_the_login_form_then_itself(
    team: Path, page: str | None, title: str
) -> None:
    at = start()
    if page:
        at.switch_page(page).run()
    only_the_login_form(at)
    assert OPEN_NOTE not in shown(at)
    at = log_in(at, "rita")
    assert title in [t.value for t in at.title], "the page asked for, once logged in"


def test_a_failed_login_says_so_in_one_line_whether_or_not_the_name_exists(team: Path) -> None:
    at = log_in(start(), "rita", "not-her-password")
    assert [e.value for e in at.error] == [WRONG]
    only_the_login_form(at)
    at = log_in(at, "nobody", "rita-pw")
    assert [e.value for e in at.error] == [WRONG]
    only_the_login_form(at)


def test_a_reader_asks_but_is_shown_no_way_to_change_the_corpus(team: Path) -> None:
    at = log_in(start(), "rita")
    assert escape("Logged in as rita (reader)") in [c.value for c in at.sidebar.caption]
    at = ask(at, TROOPS)
    assert "late 2020" in at.chat_message[1].markdown[1].value
    assert not at.sidebar.file_uploader
    keys = {button.key for button in at.button}
    assert "reindex" not in keys and "rebuild" not in keys
    assert at.sidebar.metric, "the corpus's counts are still shown"
    at.switch_page("views/articles.py").run()
    assert at.main.dataframe and not [s for s in at.selectbox if s.key == "remove_choice"]
    at.switch_page("views/evaluation.py").run()
    assert not [b for b in at.button if b.key in ("run_eval", "export_feedback")]
    assert "an editor or an admin can run the evaluation here" in shown(at)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/users.py")


def test_an_editor_may_upload_reindex_and_remove_but_not_manage_users(team: Path) -> None:
    at = log_in(start(), "eddie")
    assert at.sidebar.file_uploader and at.button(key="reindex")
    at.switch_page("views/articles.py").run()
    assert at.main.selectbox(key="remove_choice")
    at.switch_page("views/evaluation.py").run()
    assert at.button(key="run_eval")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/users.py")  # admins only: not among an editor's pages


def test_an_admin_manages_the_users_from_their_page(team: Path) -> None:
    kept = Accounts(team)
    at = log_in(start(), "alice")
    at.switch_page("views/users.py").run()
    assert not at.exception, at.exception
    assert list(at.main.dataframe[0].value["User"]) == ["alice", "eddie", "rita"]

    def add(password: str, again: str) -> None:
        at.text_input(key="new_name").set_value("nina")
        at.text_input(key="new_password").set_value(password)
        at.text_input(key="new_password_again").set_value(again)
        at.button(key="add_account").click().run()
        assert not at.exception, at.exception

    add("nina-pw", "nina-typo")
    assert [e.value for e in at.error] == [escape("The two passwords differ: type the same one "
                                                  "twice.")]  # fmt: skip
    add("nina-pw", "nina-pw")
    assert [s.value for s in at.success] == [escape("Added nina, reader.")]
    assert "nina" in list(at.main.dataframe[0].value["User"])
    assert kept.login("nina", "nina-pw") is not None

    at.selectbox(key="user_choice").set_value("nina").run()
    at.selectbox(key="role_nina").set_value(Role.EDITOR).run()
    at.button(key="set_role").click().run()
    assert [s.value for s in at.success] == [escape("nina is now editor.")]
    nina = kept.get("nina")
    assert nina is not None and nina.role is Role.EDITOR

    at.button(key="new_token").click().run()
    (token,) = [c.value for c in at.code]
    holder = kept.token_user(token)
    assert holder is not None and holder.name == "nina"
    assert escape("It is not kept: copy it now.") in at.success[0].value
    at.run()
    assert not at.code, "a token is shown once"
    at.button(key="revoke").click().run()
    assert kept.token_user(token) is None

    at.button(key="remove_user").click().run()
    assert escape("Remove nina?") in at.warning[0].value
    at.button(key="remove_confirmed").click().run()
    assert [s.value for s in at.success] == [escape("Removed nina.")]
    assert kept.get("nina") is None

    at.selectbox(key="user_choice").set_value("alice").run()
    at.selectbox(key="role_alice").set_value(Role.READER).run()
    at.button(key="set_role").click().run()
    (refused,) = at.error  # one line naming the fix
    assert refused.value == message("alice is the last admin: make another user an admin first "
                                    "(`rag users role NAME admin`).")  # fmt: skip
    alice = kept.get("alice")
    assert alice is not None and alice.role is Role.ADMIN


def test_conversations_are_their_owners_and_another_users_link_is_refused(team: Path) -> None:
    eddies = opened("eddie")
    eddies = ask(eddies, TROOPS)
    link = eddies.query_params["c"]
    assert Conversations(team).owner(link) == "eddie"
    rita = opened("rita", {"c": link})
    (refused,) = rita.info
    assert refused.value.startswith(REFUSED) and not rita.error
    assert not rita.chat_message and "c" not in rita.query_params
    assert not [b for b in rita.sidebar.button if b.key == f"open_{link}"], "not in her list"
    rita = ask(rita, "Who is Basra's police chief?")  # the chat goes on, as her own
    assert rita.query_params["c"] != link and REFUSED not in shown(rita)
    assert Conversations(team).owner(rita.query_params["c"]) == "rita"
    listed = [b.key for b in rita.sidebar.button if b.key and b.key.startswith("open_")]
    assert listed == [f"open_{rita.query_params['c']}"]


def test_a_link_opened_before_the_login_opens_after_it(team: Path) -> None:
    rita = ask(opened("rita"), TROOPS)
    link = rita.query_params["c"]
    again = AppTest.from_file(APP, default_timeout=TIMEOUT)
    again.query_params["c"] = link
    only_the_login_form(again.run())
    again = log_in(again, "rita")
    assert [m.markdown[0].value for m in again.chat_message if m.name == "user"] == [
        escape(TROOPS)
    ]


def test_a_share_link_opens_the_conversation_read_only(team: Path) -> None:
    eddies = ask(opened("eddie"), TROOPS)
    eddies.button(key="share").click().run()
    (link,) = [c.value for c in eddies.code if "?share=" in c.value]
    token = link.split("?share=")[1]
    rita = opened("rita", {"share": token})
    assert [m.markdown[0].value for m in rita.chat_message if m.name == "user"] == [
        escape(TROOPS)
    ]
    assert "late 2020" in shown(rita)
    assert rita.info[0].value.startswith(escape("eddie shared this conversation read-only"))
    assert not rita.chat_input, "no adding to it"
    keys = {button.key for button in rita.button}
    assert "delete_chat" not in keys and "share" not in keys
    assert not rita.feedback, "no verdicts on another's answers"
    rita.button(key="new_chat").click().run()
    assert rita.chat_input and not rita.chat_message and "share" not in rita.query_params

    eddies.button(key="unshare").click().run()
    stopped = opened("rita", {"share": token})
    assert stopped.info[0].value.startswith("That read-only link was stopped")
    assert not stopped.chat_message and stopped.chat_input


def test_conversations_from_before_accounts_are_the_admins(
    team: Path, indexed: Pipeline
) -> None:
    kept = Conversations(team)
    old = kept.start()  # owner '': begun while there were no accounts
    kept.add(old, TROOPS, indexed.ask(TROOPS), {})
    alice = opened("alice", {"c": old})
    assert "late 2020" in shown(alice) and alice.chat_input
    assert alice.sidebar.button(key=f"open_{old}")
    rita = opened("rita", {"c": old})
    assert rita.info[0].value.startswith(REFUSED) and not rita.chat_message


def test_log_out_returns_to_the_form_and_ends_the_session(team: Path) -> None:
    at = ask(log_in(start(), "rita"), TROOPS)
    session = at.session_state[ui.SESSION]
    at.sidebar.button(key="logout").click().run()
    only_the_login_form(at)
    assert ENDED not in shown(at), "a logout is not a surprise"
    assert "c" not in at.query_params
    assert Accounts(team).session_user(session) is None


def test_a_revoked_login_returns_to_the_form_and_keeps_nothing_more(team: Path) -> None:
    at = ask(log_in(start(), "rita"), TROOPS)
    conversation = at.query_params["c"]
    Accounts(team).revoke("rita")
    # A thumb given on the page still open: its callback runs before the login is checked.
    at.feedback(key=f"thumbs_{conversation}_0").set_value(0).run()
    only_the_login_form(at)
    assert [i.value for i in at.info] == [ENDED]
    assert Conversations(team).verdict(conversation, 0) is None


def test_a_login_lasts_rag_session_hours(team: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = log_in(start(), "rita")  # with the default 12 hours; the pages are warm after it
    at.sidebar.button(key="logout").click().run()
    monkeypatch.setenv("RAG_SESSION_HOURS", str(4 / 3600))  # four seconds
    at = log_in(at, "rita")
    assert at.chat_input
    time.sleep(4.2)
    at.run()
    only_the_login_form(at)
    assert [i.value for i in at.info] == [ENDED]


@pytest.mark.parametrize(("name", "may"), [("rita", False), ("eddie", False), ("alice", True)])
def test_only_an_admin_may_point_the_app_at_another_server(
    team: Path, name: str, may: bool
) -> None:
    # The server sends questions and passages to that address: a reader choosing it could
    # make the server call any address it can reach.
    at = log_in(start(), name)
    at.selectbox(key=ui.OVERRIDES["llm"]).set_value("openai").run()
    field = at.text_input(key=ui.OVERRIDES["openai_base_url"])
    assert field.disabled is not may
