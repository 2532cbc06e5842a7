"""A real small model in the loop: SmolLM2-135M-Instruct behind the stand-in server, asked
through its Ollama API (`RAG_LLM=ollama`) and its OpenAI chat API (`RAG_LLM=openai`).

Whatever this weak model writes (lists, repetition, wrong or missing citations), what the
user is shown must hold up: no traceback, no answer over 2,000 characters, never a generated
answer shown with fewer than half of its sentences supported by the passages they cite, and
the troop question still answered with 2020 (from the model, or from the articles' own words
once the model's answer is set aside).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from rag.answer.generate import MAX_ANSWER_CHARS, MIN_SUPPORTED_SHARE
from rag.cli import main
from rag.markdown import escape
from rag.pipeline import Pipeline
from tests.conftest import REPO, TROOPS_FILE
from tests.ollama_stub import CHAT_PATHS, OLLAMA_CHAT, OPENAI_CHAT, OllamaStub
from tests.real_model import MAX_TOKENS, SmallModel

TROOPS = "When did US troops drop to 2,500?"
QUESTIONS = [
    TROOPS,
    "Who is the spokesman of the Badr Organization?",
    "How was Qassem Soleimani killed?",
    "What is the capital of France?",
]


@pytest.fixture(scope="module")
def model() -> SmallModel:
    return SmallModel()


# Each mode, and the chat path its server is asked on.
MODES = {"ollama": OLLAMA_CHAT, "openai": OPENAI_CHAT}


@pytest.fixture(scope="module", params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def served(model: SmallModel, mode: str) -> Iterator[OllamaStub]:
    """The model behind a server of its own for each mode."""
    with OllamaStub(writer=model.reply) as stub:
        yield stub


def settings_env(indexed: Pipeline, served: OllamaStub, mode: str) -> dict[str, str]:
    """The indexed articles, and answers written by the model through `mode`'s API."""
    server = {"OLLAMA_HOST": served.url} if mode == "ollama" else {
        "RAG_OPENAI_BASE_URL": served.openai_url
    }  # fmt: skip
    return {
        "RAG_CORPUS_DIR": str(indexed.settings.corpus_dir),
        "RAG_INDEX_DIR": str(indexed.settings.index_path),
        "RAG_CACHE_DIR": str(indexed.settings.cache_dir),
        "RAG_LLM": mode,
        "RAG_OLLAMA_MAX_OUTPUT": str(MAX_TOKENS),
        **server,
    }


@pytest.fixture(scope="module")
def asked(
    indexed: Pipeline, served: OllamaStub, mode: str
) -> dict[str, tuple[int, str, dict[str, Any]]]:
    """Each question asked once with `rag ask --json`: exit code, output, JSON."""
    env = settings_env(indexed, served, mode)
    results = {}
    for question in QUESTIONS:
        done = CliRunner().invoke(main, ["ask", "--json", question], env=env)
        # A failed ask prints one line and no JSON: its test then shows that line.
        answer = json.loads(done.stdout) if done.exit_code == 0 else {}
        results[question] = (done.exit_code, done.output, answer)
    return results


@pytest.mark.parametrize("question", QUESTIONS)
def test_whatever_the_model_writes_the_user_gets_a_sound_answer(
    asked: dict[str, tuple[int, str, dict[str, Any]]], question: str
) -> None:
    code, output, answer = asked[question]
    assert code == 0 and "Traceback" not in output, output
    assert len(answer["answer"]) <= MAX_ANSWER_CHARS
    if answer["mode"] != "extractive" and not answer["abstained"]:
        claims = answer["claims"]
        supported = sum(claim["supported"] for claim in claims)
        assert supported >= MIN_SUPPORTED_SHARE * len(claims), "a mostly unsupported answer"
    if answer["fallback_reason"]:
        assert answer["mode"] == "extractive" and answer["fallback_reason"] in answer["notice"]
        assert answer["claims"], "what the model wrote is kept beside the replacement"


def test_the_troop_question_says_2020_citing_its_article(
    asked: dict[str, tuple[int, str, dict[str, Any]]],
) -> None:
    _, _, answer = asked[TROOPS]
    assert "2020" in answer["answer"]
    assert TROOPS_FILE in {citation["file"] for citation in answer["citations"]}


def test_an_off_topic_question_is_declined_before_the_model_is_asked(
    asked: dict[str, tuple[int, str, dict[str, Any]]], served: OllamaStub, mode: str
) -> None:
    _, _, answer = asked["What is the capital of France?"]
    assert answer["abstained"] and answer["hits"] == []
    # The three questions about the articles went to the model, as chat calls of the API
    # the mode speaks.
    chats = [path for path in served.paths() if path in CHAT_PATHS]
    assert chats == [MODES[mode]] * 3


def test_the_app_shows_a_sound_answer_to_the_troop_question(
    indexed: Pipeline, served: OllamaStub, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in settings_env(indexed, served, mode).items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    at.chat_input[0].set_value(TROOPS).run()
    assert not at.exception and not at.error
    (badge, answer, *_) = (m.value for m in at.chat_message[1].markdown)
    assert "2020" in answer and len(answer) <= MAX_ANSWER_CHARS
    # The model's own answer, or the quoted one in its place: either way the badge says which.
    server = {"ollama": "Ollama", "openai": "OpenAI-compatible"}[mode]
    assert f"{server} · llama3.2:3b" in badge or "answer set aside" in badge
    page = [*at.markdown, *at.caption, *at.subheader, *at.info, *at.warning]
    assert escape(TROOPS_FILE) in "\n".join(element.value for element in page)
