"""The Streamlit app, run in-process by `streamlit.testing.v1.AppTest`, on the real index.

Each test drives the app as a reader would: ask, follow up, open the sources, upload a file,
re-index, switch modes. The one stand-in is the Ollama server (tests/ollama_stub.py).
"""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from rag.answer.prompts import CANNOT_ANSWER
from rag.cli import main
from rag.config import Settings
from rag.conversations import Conversations
from rag.evidence import Level, Segment
from rag.index import Index
from rag.markdown import escape, highlight
from rag.pipeline import Pipeline
from rag.types import Citation
from rag.uploads import save_upload
from tests.browser import free_port
from tests.conftest import REPO, TROOPS_FILE
from tests.ollama_stub import OllamaStub, Reply

APP = str(REPO / "app.py")
# The first run loads the embedding model and opens the index.
TIMEOUT = 60
TROOPS = "When did US troop levels in Iraq drop to 2,500?"
TROOPS_QUOTE = (
    "In late 2020, U.S. troop levels in Iraq was reduced to 2,500 after withdrawals based on "
    "orders from the Trump administration."
)
PORT_QUESTION = "When did the port of Umm Qasr reopen to container ships?"
# A new article whose quoted sentence also carries Markdown, HTML and Streamlit directives.
PORT_ARTICLE = (
    "Umm Qasr port reopens after dredging\nMarch 4, 2022\n\n"
    "BASRA, Iraq — The southern port of Umm Qasr reopened to container ships on March 3, 2022, "
    "after six months of dredging, harbour master <b>Salim Haddad</b> said :red[today] "
    "![pixel](http://127.0.0.1:9/p.png).\n\n"
    "Haddad said the deeper channel lets ships of up to 60,000 tonnes dock at the port.\n"
).encode()


def use(monkeypatch: pytest.MonkeyPatch, settings: Settings, llm: str = "extractive") -> None:
    """Point the app at an index the way a user would: through RAG_* variables."""
    monkeypatch.setenv("RAG_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_path))
    monkeypatch.setenv("RAG_CACHE_DIR", str(settings.cache_dir))
    monkeypatch.setenv("RAG_LLM", llm)


@pytest.fixture
def shared(indexed: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The app on the session's index of the five articles (not changed by these tests)."""
    use(monkeypatch, indexed.settings)
    return indexed.settings


@pytest.fixture
def private(tmp_path: Path, make_settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The app on its own indexed copy of one article, free to change."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / TROOPS_FILE).write_bytes((REPO / "corpus" / TROOPS_FILE).read_bytes())
    settings: Settings = make_settings(corpus)
    Pipeline(settings).ingest()
    use(monkeypatch, settings)
    return settings


def start() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> str:
    """Every piece of Markdown on the page (text, captions, alerts), one per line."""
    parts = [*at.markdown, *at.subheader, *at.caption, *at.info, *at.warning, *at.error,
             *at.success]  # fmt: skip
    return "\n".join(element.value for element in parts)


def sidebar_metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.sidebar.metric if m.label == label)


def test_a_question_gets_a_cited_answer_with_a_checkable_source(shared: Settings) -> None:
    at = ask(start(), TROOPS)
    user, assistant = at.chat_message
    assert (user.name, assistant.name) == ("user", "assistant")
    answer = assistant.markdown[1].value  # after the mode badge
    assert escape("In late 2020, U.S. troop levels") in answer
    # The inline marker links to card 1, with the card's title and date on hover.
    hover = escape("Rockets hit near Iraq base housing US trainers, no one hurt, undated")
    assert rf'[:blue-badge[\[1\]]](#source-0-1 "{hover}")' in answer
    text = shown(at)
    assert "offline extractive" in text
    # The card: number and title, then file, date and offsets, then the passage.
    title = escape("Rockets hit near Iraq base housing US trainers, no one hurt")
    [heading] = [h for h in assistant.subheader if h.value.startswith(":blue-badge[")][:1]
    assert heading.value == rf":blue-badge[\[1\]] {title}"
    assert heading.proto.anchor == "source-0-1", "the card is where the marker links to"
    assert escape(f"{TROOPS_FILE} · undated · characters 15170–15295") in text
    marked_quote = highlight([Segment(TROOPS_QUOTE, Level.QUOTE)])
    passage = next(m.value for m in assistant.markdown if marked_quote in m.value)
    assert passage.startswith(escape("The talks, which began in June")), "the quote's passage"
    whole = next(e for e in assistant.expander if e.label == "Whole article")
    # It opens at the passage's line, the earlier text a toggle away.
    assert whole.caption[0].value.startswith("From the quoted passage on; ")
    opening = whole.markdown[0].value
    assert opening.startswith(":blue-background[") and marked_quote in opening
    whole.toggle[0].set_value(True).run()
    whole = next(e for e in at.chat_message[1].expander if e.label == "Whole article")
    article = whole.markdown[0].value
    assert marked_quote in article and article.endswith(opening[-200:])
    assert ":blue-background[" in article, "the passage is marked in the article"
    assert article.startswith(escape("The Associated Press")), "the article, not the whole file"


def test_a_follow_up_is_searched_with_the_earlier_question(shared: Settings) -> None:
    at = ask(start(), "Who is Kataib Hezbollah's spokesman?")
    at = ask(at, "Which TV channel did he speak to?")
    assert [m.name for m in at.chat_message] == ["user", "assistant"] * 2
    follow_up = at.chat_message[3]
    assert "Al\\-Mayadeen TV" in follow_up.markdown[1].value
    searched = [c.value for c in follow_up.caption if c.value.startswith("Searched for")]
    assert searched == [
        "Searched for: "
        + escape("Who is Kataib Hezbollah's spokesman? Which TV channel did he speak to?")
    ]
    assert not [c for c in at.chat_message[1].caption if c.value.startswith("Searched for")]


def test_a_merged_follow_up_can_be_asked_again_on_its_own(shared: Settings) -> None:
    at = ask(start(), "Who is Kataib Hezbollah's spokesman?")
    at = ask(at, "Which TV channel did he speak to?")
    at.button(key="alone-1").click().run()
    assert not at.exception, at.exception
    assert [m.name for m in at.chat_message] == ["user", "assistant"] * 3
    again = at.chat_message[5]
    assert not [c for c in again.caption if c.value.startswith("Searched for")], "asked alone"
    assert at.chat_message[4].markdown[0].value == escape("Which TV channel did he speak to?")


def test_an_answers_confidence_is_shown(shared: Settings) -> None:
    at = ask(start(), "when did US troops drop to 2,500?")
    answer = Pipeline(shared).ask("when did US troops drop to 2,500?")
    label = {"low": "low confidence · check the quote", "high": "high confidence"}
    assert label[answer.confidence] in shown(at)
    assert label["low" if answer.confidence == "high" else "high"] not in shown(at)
    at = ask(at, "Who won the 2018 FIFA World Cup?")  # a decline says neither
    assert shown(at).count("confidence") == 1


def test_new_chat_forgets_the_conversation(shared: Settings) -> None:
    at = ask(start(), TROOPS)
    at.button(key="new_chat").click().run()
    assert not at.chat_message
    at = ask(at, "Which TV channel did he speak to?")
    assert not [c for c in at.caption if c.value.startswith("Searched for")], "no history left"


def test_an_abstention_says_so_and_shows_the_closest_passages(shared: Settings) -> None:
    at = ask(start(), "What is the population of Basra?")
    assert [i.value for i in at.info] == [escape(CANNOT_ANSWER)]
    closest = next(e for e in at.expander if e.label == "Closest passages")
    headings = [m.value for m in closest.markdown if m.value.startswith("**")]
    assert 1 <= len(headings) <= 3  # only the passages about the question
    assert ":blue-badge[" not in shown(at), "no citation cards"


def test_an_off_topic_question_is_declined_with_no_passages(shared: Settings) -> None:
    at = ask(start(), "Who won the 2018 FIFA World Cup?")
    assert [i.value for i in at.info] == [escape(CANNOT_ANSWER)]
    assert not [e for e in at.expander if e.label == "Closest passages"]


def test_a_question_too_long_is_shown_back_by_its_start_then_refused(shared: Settings) -> None:
    question = "How many troops were in Iraq? " * 400  # 12,000 characters
    at = ask(start(), question)
    (echo,) = at.chat_message[0].markdown
    assert len(echo.value) < 600 and escape("(12,000 characters)") in echo.value
    (refused,) = at.error
    assert escape("2,000") in refused.value


def test_a_blank_question_is_refused_with_no_empty_bubble(shared: Settings) -> None:
    at = ask(start(), "   ")
    assert not at.chat_message
    (refused,) = at.error
    assert "The question is empty" in refused.value


def test_passages_per_answer_comes_from_the_sidebar(shared: Settings) -> None:
    at = start()
    assert at.sidebar.slider[0].value == shared.top_k
    at.sidebar.slider[0].set_value(1).run()
    at = ask(at, "What is the population of Basra?")
    closest = next(e for e in at.expander if e.label == "Closest passages")
    assert len([m for m in closest.markdown if m.value.startswith("**")]) == 1


def test_the_corpus_panel_counts_the_index(shared: Settings) -> None:
    at = start()
    assert [sidebar_metric(at, name) for name in ("Files", "Articles", "Passages")] == [
        "5",
        "11",
        "55",
    ]
    assert any(c.value.startswith("Last indexed 20") for c in at.sidebar.caption)
    listed = at.sidebar.dataframe[0].value
    assert sorted(listed["file"]) == sorted(p.name for p in shared.corpus_dir.glob("*.txt"))
    assert list(listed["articles"]) == [
        len(e.articles) for e in Index(shared).manifest().files.values()
    ]


def test_an_upload_is_saved_indexed_and_answerable(private: Settings) -> None:
    at = ask(start(), PORT_QUESTION)
    assert [i.value for i in at.info] == [escape(CANNOT_ANSWER)], "not answerable before"
    at.sidebar.file_uploader[0].set_value(("../../umm qasr.txt", PORT_ARTICLE, "text/plain"))
    at.run()
    at.button(key="add").click().run()
    assert not at.exception, at.exception
    notes = [s.value for s in at.sidebar.success]
    assert notes[0] == escape("Added ../../umm qasr.txt (saved as umm_qasr.txt).")
    assert notes[1].startswith(escape("Indexed: 1 added, 0 updated, 0 removed"))
    assert (private.corpus_dir / "umm_qasr.txt").read_bytes() == PORT_ARTICLE
    assert sidebar_metric(at, "Files") == "2"
    assert not at.sidebar.file_uploader[0].value, "the uploader is emptied"

    at = ask(at, PORT_QUESTION)
    assert "March 3, 2022" in at.chat_message[3].markdown[1].value.replace("\\", "")
    assert escape("umm_qasr.txt · 2022-03-04") in shown(at)
    # Corpus text is shown as text: its Markdown, HTML and directives are escaped.
    everything = shown(at)
    assert "![pixel](" not in everything and "<b>" not in everything
    assert r"\<b\>Salim Haddad\<\/b\>" in everything and r"\:red\[today\]" in everything


def test_a_bad_upload_is_refused_with_a_message(private: Settings) -> None:
    at = start()
    at.sidebar.file_uploader[0].set_value(
        [("empty.txt", b"", "text/plain"), ("bin.txt", b"\x00\x01" * 50, "text/plain")]
    )
    at.run()
    at.button(key="add").click().run()
    assert not at.exception
    assert [e.value for e in at.sidebar.error] == [
        escape("'empty.txt' cannot be indexed (empty file): upload an article with text."),
        escape("'bin.txt' cannot be indexed (binary file, not text): upload an article with text."),
    ]
    assert sorted(p.name for p in private.corpus_dir.iterdir() if p.is_file()) == [TROOPS_FILE]


def test_reindex_picks_up_a_file_saved_into_the_corpus_for_every_session(
    private: Settings,
) -> None:
    at, other = start(), ask(start(), TROOPS)  # a second browser session, already chatting
    assert sidebar_metric(at, "Files") == "1"
    save_upload(private.corpus_dir, "port.txt", PORT_ARTICLE, 10**6)
    at.button(key="reindex").click().run()
    assert not at.exception
    assert at.sidebar.success[0].value.startswith(escape("Indexed: 1 added, 0 updated, 0 removed"))
    assert sidebar_metric(at, "Files") == "2"
    at = ask(at, PORT_QUESTION)
    assert escape("port.txt · 2022-03-04") in shown(at)
    other = ask(other, PORT_QUESTION)
    assert escape("port.txt · 2022-03-04") in shown(other), "the other session sees it too"
    assert sidebar_metric(other, "Files") == "2"


def test_an_ingest_from_outside_the_app_is_seen_without_a_restart(private: Settings) -> None:
    at = ask(start(), TROOPS)  # the app's pipeline is warm
    save_upload(private.corpus_dir, "port.txt", PORT_ARTICLE, 10**6)
    Pipeline(private).ingest()  # as `rag ingest` in a terminal would
    at = ask(at, PORT_QUESTION)
    assert escape("port.txt · 2022-03-04") in shown(at)


def test_a_second_ingest_is_told_to_wait(shared: Settings) -> None:
    at = start()
    with Index(shared).lock():  # another session or `rag ingest` is indexing
        at.button(key="reindex").click().run()
    assert not at.exception
    assert "Another ingest is updating" in at.sidebar.error[0].value
    at = ask(at, TROOPS)
    assert "2020" in at.chat_message[1].markdown[1].value, "questions still work"


def test_ollama_unreachable_is_an_error_saying_how_to_fix_it(
    shared: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("RAG_LLM", "ollama")
    monkeypatch.setenv("OLLAMA_HOST", host)
    at = ask(start(), TROOPS)
    assert not at.exception
    status, answering = at.error  # the status line, then the question's own error
    assert f"Ollama is not reachable at {escape(host)}" in status.value
    assert "`ollama serve`" in status.value
    assert "switch Answers to Auto in the sidebar" in status.value
    assert f"Ollama is not reachable at {escape(host)}" in answering.value


def test_auto_mode_without_ollama_answers_offline_with_a_notice(
    shared: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_LLM", "auto")
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{free_port()}")
    at = ask(ask(start(), TROOPS), "Who is the spokesman of the Badr Organization?")
    # Stated once, in the status line at the top, not again under each of the two answers.
    [notice] = at.warning
    assert notice.value.startswith(escape("Offline extractive · Ollama is not reachable"))
    assert "`ollama serve`" in notice.value
    assert shown(at).count("Ollama is not reachable") == 1
    assert shown(at).count("offline extractive") == 2  # each answer's short badge
    assert "2020" in at.chat_message[1].markdown[1].value


def test_an_ollama_answer_shows_the_model_and_marks_unsupported_sentences(
    shared: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = (
        "In late 2020, US troop levels in Iraq were reduced to 2,500 [1]. "
        "The troops then moved to a new base on Mars [1]."
    )
    with OllamaStub([Reply(reply)]) as stub:
        monkeypatch.setenv("RAG_LLM", "auto")
        monkeypatch.setenv("OLLAMA_HOST", stub.url)
        at = ask(start(), TROOPS)
        assert len(stub.chats()) == 1
    assert not at.error
    text = shown(at)
    assert "Ollama · llama3.2:3b" in text
    answer = at.chat_message[1].markdown[1].value
    assert escape("In late 2020, US troop levels in Iraq were reduced to 2,500") in answer
    assert answer.endswith(
        ":red-background["
        + escape("The troops then moved to a new base on Mars [unsupported].")
        + "]"
    )
    assert any(c.value.startswith(":material/warning:") and "Mars" in c.value for c in at.caption)
    assert escape(TROOPS_FILE) in text, "the supported sentence keeps its source card"


def test_the_sidebar_lists_the_models_ollama_has(
    shared: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OllamaStub(models=["qwen2.5:7b", "llama3.2:3b"]) as stub:
        monkeypatch.setenv("RAG_LLM", "auto")
        monkeypatch.setenv("OLLAMA_HOST", stub.url)
        at = start()
        listed = [c.value for c in at.sidebar.caption if c.value.startswith("On the")]
        assert listed == [escape("On the Ollama server: llama3.2:3b, qwen2.5:7b")]
        # Offline mode does not ask the server.
        asked = len(stub.paths())
        at.sidebar.selectbox(key="setting_llm").set_value("extractive").run()
        assert not [c for c in at.sidebar.caption if c.value.startswith("On the")]
        assert len(stub.paths()) == asked


def test_an_openai_compatible_server_is_chosen_and_named_in_the_sidebar(
    shared: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OllamaStub([Reply("US troop levels fell to 2,500 in late 2020 [1].")]) as stub:
        monkeypatch.setenv("RAG_LLM", "auto")
        monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{free_port()}")
        at = start()
        # Auto with no address set: nothing about such a server.
        assert "setting_openai_url" not in {field.key for field in at.sidebar.text_input}
        at.sidebar.selectbox(key="setting_llm").set_value("openai").run()
        at.sidebar.text_input(key="setting_openai_url").set_value(stub.openai_url).run()
        status = [c.value for c in at.caption if "writes the answers" in c.value]
        assert status == [escape("OpenAI-compatible · llama3.2:3b writes the answers; every "
                                 "sentence is checked against the passages it cites.")]  # fmt: skip
        listed = [c.value for c in at.sidebar.caption if c.value.startswith("On the")]
        assert listed == [escape("On the OpenAI-compatible server: llama3.2:3b, "
                                 "nomic-embed-text:latest")]  # fmt: skip
        at.chat_input[0].set_value("When did US troop levels in Iraq drop to 2,500?").run()
        assert not at.exception
        badge = at.chat_message[1].markdown[0].value
        assert "OpenAI-compatible · llama3.2:3b" in badge
        assert "/v1/chat/completions" in stub.paths() and "/api/chat" not in stub.paths()


def test_an_unexpected_failure_is_a_short_message_and_a_logged_traceback(
    shared: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("internal detail")

    monkeypatch.setattr(Pipeline, "stream", broken)
    with caplog.at_level(logging.ERROR, logger="newsdesk.app"):
        at = ask(start(), TROOPS)
    [error] = at.error
    assert error.value.startswith("Something went wrong while answering. Try again")
    assert "internal detail" not in shown(at) and "Traceback" not in shown(at)
    [record] = [r for r in caplog.records if r.name == "newsdesk.app"]
    assert record.exc_info and "internal detail" in str(record.exc_info[1])


def test_a_question_about_change_is_answered_with_a_dated_table(shared: Settings) -> None:
    at = ask(start(), "How many US troops were in Iraq?")
    (table,) = at.table
    rows = table.value
    assert list(rows.columns) == ["Date", "Dated by", "Statement", "Sources"]
    assert len(rows) >= 3
    assert rows["Date"].iloc[0] == "February 6, 2018" and "5,300" in rows["Statement"].iloc[0]
    assert any("2,500" in statement for statement in rows["Statement"])
    cards = [h.value for h in at.subheader if h.value.startswith(":blue-badge[")]
    assert len(cards) == len({n for cell in rows["Sources"] for n in cell.split()})


def test_as_of_and_the_date_range_come_from_the_sidebar(shared: Settings) -> None:
    at = start()
    at.sidebar.date_input(key="as_of").set_value(date(2019, 6, 30)).run()
    at = ask(at, "How many US troops are in Iraq now?")
    page = shown(at)
    assert escape("As of 2019-06-30: only articles published by then.") in page
    assert escape("more than 5,000") in page and escape("2,500") not in page
    assert escape("4 undated articles left out by the date range.") in page
    at.sidebar.date_input(key="as_of").set_value(None)
    at.sidebar.date_input(key="published_since").set_value(date(2021, 5, 1))
    at.sidebar.date_input(key="published_until").set_value(date(2021, 1, 1)).run()
    at = ask(at, "How many US troops are in Iraq now?")
    assert escape("The date range is empty: 2021-05-01 is after 2021-01-01.") in shown(at)


def test_a_conversation_is_kept_and_reopened_by_its_link(shared: Settings) -> None:
    at = ask(start(), TROOPS)
    at = ask(at, "Who is the spokesman of the Badr Organization?")
    conversation = at.query_params["c"]  # the link now names the conversation
    assert isinstance(conversation, str) and len(conversation) >= 12
    reopened = AppTest.from_file(APP, default_timeout=TIMEOUT)
    reopened.query_params["c"] = conversation
    reopened.run()  # a reload, or the link opened by someone else
    assert not reopened.exception, reopened.exception
    questions = [m.markdown[0].value for m in reopened.chat_message if m.name == "user"]
    assert questions == [escape(TROOPS), escape("Who is the spokesman of the Badr Organization?")]
    page = shown(reopened)
    assert "late 2020" in page and "Kareem Nuri" in page
    listed = reopened.sidebar.button(key=f"open_{conversation}")
    assert listed.label.startswith(f"{TROOPS} · ")
    # The open one is marked, not greyed out as if it could not be used.
    assert listed.proto.type == "secondary" and not listed.disabled
    follow_up = ask(reopened, "Which ministry does it run?")
    assert len([m for m in follow_up.chat_message if m.name == "user"]) == 3


def test_the_conversation_list_is_current_bounded_and_tells_twins_apart(
    shared: Settings, conversations_apart: Path
) -> None:
    at = ask(start(), TROOPS)
    first = at.query_params["c"]
    # Listed on the same run that started it, not after the next page load.
    assert at.sidebar.button(key=f"open_{first}").label.startswith(TROOPS)
    at.button(key="new_chat").click().run()
    at = ask(at, TROOPS)
    second = at.query_params["c"]
    labels = {at.sidebar.button(key=f"open_{c}").label for c in (first, second)}
    assert len(labels) == 2, "two conversations that began alike are told apart"
    for _ in range(6):
        at.button(key="new_chat").click().run()
        at = ask(at, "Who is Basra's police chief?")
    # Eight conversations: listed in a box of bounded height that scrolls, above Settings.
    listing = at.sidebar.children[0]
    boxes = listing.children.values()
    (box,) = [b for b in boxes if getattr(b.proto, "id", "").endswith("-conversations")]
    assert 0 < box.proto.height_config.pixel_height <= 400
    assert len(box.children) == 8
    assert at.sidebar.subheader[0].value == "Conversations"
    assert at.sidebar.subheader[1].value == "Settings"


def test_deleting_a_conversation_asks_first(shared: Settings) -> None:
    at = ask(start(), TROOPS)
    conversation = at.query_params["c"]
    at.button(key="delete_chat").click().run()
    assert "Delete this conversation?" in shown(at)
    at.button(key="delete_cancelled").click().run()
    assert at.query_params["c"] == conversation
    at.button(key="delete_chat").click().run()
    at.button(key="delete_confirmed").click().run()
    assert "c" not in at.query_params
    assert not [m for m in at.chat_message if m.name == "user"]
    gone = AppTest.from_file(APP, default_timeout=TIMEOUT)
    gone.query_params["c"] = conversation
    gone.run()
    assert "That conversation was deleted" in shown(gone)
    # One line, and the chat goes on as a new conversation.
    assert not gone.exception and not gone.error
    assert "c" not in gone.query_params
    again = ask(gone, TROOPS)
    assert not again.exception and not again.error
    assert "That conversation was deleted" not in shown(again)
    assert again.query_params["c"] != conversation


def test_a_source_edited_since_the_answer_says_so_instead_of_marking_wrong_text(
    private: Settings,
) -> None:
    at = ask(start(), TROOPS)
    path = private.corpus_dir / TROOPS_FILE
    path.write_text("An editor's note added at the top.\n" + path.read_text(encoding="utf-8"))
    at.button(key="reindex").click().run()
    assert at.sidebar.success[0].value.startswith(escape("Indexed: 0 added, 1 updated"))
    whole = next(e for e in at.expander if e.label == "Whole article")
    [warning] = whole.warning
    assert "changed since this answer was made" in warning.value
    assert not whole.markdown, "no article with the old offsets marked in the new text"
    assert TROOPS_QUOTE.split(",")[0] in shown(at), "the quote as it was is still shown"


def test_the_articles_page_lists_searches_and_dates_the_corpus(shared: Settings) -> None:
    at = start()
    at.switch_page("views/articles.py").run()
    assert not at.exception, at.exception
    assert escape("11 articles published from 2018-02-06 to 2021-04-07; 4 undated.") in shown(at)
    rows = at.main.dataframe[0].value
    assert len(rows) == 11 and list(rows.columns) == ["Title", "Date", "File", "Passages in file"]
    at.main.text_input(key="title_search").set_value("troops").run()
    titles = list(at.main.dataframe[0].value["Title"])
    assert titles and all("troops" in t.casefold() for t in titles)
    assert escape("from 2018-02-06 to 2021-04-07") in "\n".join(c.value for c in at.sidebar.caption)


def test_a_removed_file_leaves_the_corpus_and_the_answers(private: Settings) -> None:
    at = start()
    at.switch_page("views/articles.py").run()
    at.main.selectbox(key="remove_choice").set_value(TROOPS_FILE).run()
    at.main.button(key="remove").click().run()
    assert escape(f"Remove {TROOPS_FILE}? It is moved to .removed/") in shown(at)
    at.main.button(key="remove_confirmed").click().run()
    assert not at.exception, at.exception
    assert (private.corpus_dir / ".removed" / TROOPS_FILE).is_file()
    assert not (private.corpus_dir / TROOPS_FILE).exists()
    notes = "\n".join(s.value for s in at.sidebar.success)
    assert escape(f"Moved {TROOPS_FILE} to .removed/{TROOPS_FILE}.") in notes
    assert escape("1 removed") in notes
    answered = ask(start(), TROOPS)  # a chat page: no answer quotes the removed file
    assert escape(TROOPS_FILE) not in shown(answered)
    assert "late 2020" not in shown(answered)


# Answered with two sentences of one passage (the spokesman's count, then Badr's warning).
FEBRUARY_TROOPS = "How many US troops were in Iraq in February 2018?"


def test_citations_of_one_passage_share_one_card(shared: Settings) -> None:
    at = start()
    at.sidebar.date_input(key="as_of").set_value(date(2019, 6, 30)).run()
    at = ask(at, FEBRUARY_TROOPS)
    answer = at.chat_message[1]
    cards = [h.value for h in answer.subheader if h.value.startswith(":blue-badge[")]
    assert len(cards) == 1 and cards[0].startswith(r":blue-badge[\[1\]] :blue-badge[\[2\]] ")
    page = shown(at)
    assert escape("characters [1]") in page and escape("[2]") in page
    quotes = [c.quote for c in ask_direct(shared, FEBRUARY_TROOPS)]
    for quote in quotes:  # both quotes marked in the one passage shown
        assert highlight([Segment(quote, Level.QUOTE)]) in page
    # Both markers lead to the one card.
    assert '(#source-0-1 "' in answer.markdown[1].value.split("[2]")[-1]


def ask_direct(settings: Settings, question: str) -> tuple[Citation, ...]:
    """The citations of the same question asked of the pipeline directly."""
    return Pipeline(settings).ask(question, as_of=date(2019, 6, 30)).citations


def test_a_verdict_and_correction_are_kept_and_exported(
    shared: Settings, conversations_apart: Path
) -> None:
    at = ask(start(), TROOPS)
    conversation = at.query_params["c"]
    at.feedback(key=f"thumbs_{conversation}_0").set_value(0).run()  # thumbs down
    assert "You marked this answer wrong." in [c.value for c in at.chat_message[1].caption]
    at.text_input(key=f"correction_{conversation}_0").set_value("In late 2020.").run()
    result = CliRunner().invoke(main, ["feedback", "export"],
                                env={"RAG_DATA_DIR": str(conversations_apart)})  # fmt: skip
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    item = json.loads(line)
    assert item["id"] == f"fb-{conversation}-0" and item["answers"] == ["In late 2020."]
    assert item["kind"] == "feedback-corrected" and TROOPS_FILE in item["source_files"]


def test_a_reopened_conversation_shows_the_verdicts_given(
    shared: Settings, conversations_apart: Path
) -> None:
    at = ask(start(), TROOPS)
    conversation = at.query_params["c"]
    at.feedback(key=f"thumbs_{conversation}_0").set_value(0).run()
    at.text_input(key=f"correction_{conversation}_0").set_value("In late 2020.").run()
    reopened = start()  # a new session, as after a reload
    reopened.query_params["c"] = conversation
    reopened.run()
    assert reopened.feedback(key=f"thumbs_{conversation}_0").value == 0
    assert reopened.text_input(key=f"correction_{conversation}_0").value == "In late 2020."


def test_an_abstention_can_be_marked_wrong_too(
    shared: Settings, conversations_apart: Path
) -> None:
    at = ask(start(), "Who won the 2018 FIFA World Cup?")
    assert [i.value for i in at.info] == [escape(CANNOT_ANSWER)]
    conversation = at.query_params["c"]
    at.feedback(key=f"thumbs_{conversation}_0").set_value(0).run()
    at.text_input(key=f"correction_{conversation}_0").set_value("France").run()
    [kept] = Conversations(conversations_apart).feedback()
    assert (kept.good, kept.correction, kept.turn.answer.abstained) == (False, "France", True)
