"""A real small model in the loop: SmolLM2-135M-Instruct behind the stand-in Ollama.

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
from tests.ollama_stub import OllamaStub
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


@pytest.fixture(scope="module")
def served(model: SmallModel) -> Iterator[OllamaStub]:
    with OllamaStub(writer=model.reply) as stub:
        yield stub


@pytest.fixture(scope="module")
def asked(indexed: Pipeline, served: OllamaStub) -> dict[str, tuple[int, str, dict[str, Any]]]:
    """Each question asked once with `rag ask --json` in Ollama mode: exit code, output, JSON."""
    env = {
        "RAG_CORPUS_DIR": str(indexed.settings.corpus_dir),
        "RAG_INDEX_DIR": str(indexed.settings.index_dir),
        "RAG_CACHE_DIR": str(indexed.settings.cache_dir),
        "RAG_LLM": "ollama",
        "OLLAMA_HOST": served.url,
        "RAG_OLLAMA_MAX_OUTPUT": str(MAX_TOKENS),
    }
    results = {}
    for question in QUESTIONS:
        done = CliRunner().invoke(main, ["ask", "--json", question], env=env)
        results[question] = (done.exit_code, done.output, json.loads(done.stdout))
    return results


@pytest.mark.parametrize("question", QUESTIONS)
def test_whatever_the_model_writes_the_user_gets_a_sound_answer(
    asked: dict[str, tuple[int, str, dict[str, Any]]], question: str
) -> None:
    code, output, answer = asked[question]
    assert code == 0 and "Traceback" not in output
    assert len(answer["answer"]) <= MAX_ANSWER_CHARS
    if answer["mode"] == "ollama" and not answer["abstained"]:
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
    asked: dict[str, tuple[int, str, dict[str, Any]]], served: OllamaStub, model: SmallModel
) -> None:
    _, _, answer = asked["What is the capital of France?"]
    assert answer["abstained"] and answer["hits"] == []
    # The three questions about the articles went to the model, as Ollama chat calls.
    assert served.paths().count("/api/chat") == model.calls == 3


def test_the_app_shows_a_sound_answer_to_the_troop_question(
    indexed: Pipeline, served: OllamaStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "RAG_CORPUS_DIR": str(indexed.settings.corpus_dir),
        "RAG_INDEX_DIR": str(indexed.settings.index_path),
        "RAG_CACHE_DIR": str(indexed.settings.cache_dir),
        "RAG_LLM": "ollama",
        "OLLAMA_HOST": served.url,
        "RAG_OLLAMA_MAX_OUTPUT": str(MAX_TOKENS),
    }.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    at.chat_input[0].set_value(TROOPS).run()
    assert not at.exception and not at.error
    (badge, answer, *_) = (m.value for m in at.chat_message[1].markdown)
    assert "2020" in answer and len(answer) <= MAX_ANSWER_CHARS
    # The model's own answer, or the quoted one in its place: either way the badge says which.
    assert "Ollama · llama3.2:3b" in badge or "answer set aside" in badge
    page = [*at.markdown, *at.caption, *at.subheader, *at.info, *at.warning]
    assert escape(TROOPS_FILE) in "\n".join(element.value for element in page)
