"""Against a real Ollama, only when asked for:

    RAG_TEST_OLLAMA_HOST=http://127.0.0.1:11434 python -m pytest tests/test_ollama_live.py

The model is RAG_OLLAMA_MODEL (default llama3.2:3b), which must be pulled on that server.
A small model's wording varies, so these tests check what code guarantees (citations valid
and exact, off-topic questions never reach the model) and only the key figure of the answer.
"""

from __future__ import annotations

import os
import re

import pytest

from rag.config import Settings
from rag.pipeline import Pipeline
from rag.types import Answer, Mode
from tests.conftest import CORPUS

HOST = os.environ.get("RAG_TEST_OLLAMA_HOST")
pytestmark = pytest.mark.skipif(
    not HOST, reason="set RAG_TEST_OLLAMA_HOST to the address of a running Ollama to run these"
)


@pytest.fixture(scope="module")
def live(indexed: Pipeline) -> Pipeline:
    base = indexed.settings
    settings = Settings(
        corpus_dir=base.corpus_dir, index_dir=base.index_dir, cache_dir=base.cache_dir,
        llm="ollama", ollama_host=HOST,
    )  # fmt: skip
    return Pipeline(settings)


def test_a_real_model_streams_a_cited_answer(live: Pipeline) -> None:
    stream = live.stream("When did US troop levels in Iraq drop to 2,500?")
    pieces, answer = list(stream), stream.answer
    assert isinstance(answer, Answer) and len(pieces) > 1
    assert (answer.mode, answer.model) == (Mode.OLLAMA, live.settings.ollama_model)
    assert not answer.abstained, answer.answer
    assert "2020" in answer.answer
    assert answer.citations, answer.to_dict()
    for citation in answer.citations:
        assert 1 <= citation.n <= len(answer.hits)
        text = (CORPUS / citation.file).read_text(encoding="utf-8")
        assert text[citation.start : citation.end] == citation.quote
        assert f"[{citation.n}]" in answer.answer


def test_a_real_model_is_not_asked_what_the_articles_do_not_cover(live: Pipeline) -> None:
    answer = live.ask("Who won the 2018 FIFA World Cup?")
    assert answer.abstained and answer.notice is not None
    assert answer.notice.startswith("Not asking")


def test_a_real_model_rewrites_a_follow_up(live: Pipeline) -> None:
    standalone = live.standalone(
        "Which TV channel did he speak to?", ["Who is Kataib Hezbollah's spokesman?"]
    )
    assert not re.search(r"\bhe\b", standalone, re.IGNORECASE), standalone
    assert "Kataib Hezbollah" in standalone or "Husseini" in standalone, standalone
