"""`rag ask` and `rag chat` with Ollama: the stand-in server, and a closed port."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from rag.answer.ollama import OllamaClient
from rag.cli import main
from rag.config import Settings
from rag.pipeline import Pipeline
from tests.browser import free_port
from tests.conftest import CORPUS, REPO, TROOPS_FILE
from tests.ollama_stub import OllamaStub, Reply

TROOPS = "When did US troop levels in Iraq drop to 2,500?"
REPLY = "US troop levels fell to 2,500 in late 2020 [1][9]."


@pytest.fixture
def env(indexed: Pipeline) -> dict[str, str]:
    """The indexed articles, by environment as a user gives them, generation on `auto`."""
    return {
        "RAG_CORPUS_DIR": str(indexed.settings.corpus_dir),
        "RAG_INDEX_DIR": str(indexed.settings.index_dir),
        "RAG_CACHE_DIR": str(indexed.settings.cache_dir),
        "RAG_LLM": "auto",
    }


def test_ask_json_keeps_only_the_citation_that_was_in_the_context(env: dict[str, str]) -> None:
    with OllamaStub([Reply(REPLY)]) as stub:
        result = CliRunner().invoke(
            main, ["ask", "--json", TROOPS], env={**env, "OLLAMA_HOST": stub.url}
        )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert (record["mode"], record["model"]) == ("ollama", "llama3.2:3b")
    assert len(record["hits"]) == 5, "the context held five passages"
    assert record["answer"] == "US troop levels fell to 2,500 in late 2020 [1]."
    assert "[9]" not in record["answer"]
    (citation,) = record["citations"]
    assert (citation["n"], citation["file"]) == (1, TROOPS_FILE)
    assert citation["quote"] == (
        "In late 2020, U.S. troop levels in Iraq was reduced to 2,500 after withdrawals based "
        "on orders from the Trump administration."
    )
    text = (CORPUS / TROOPS_FILE).read_text(encoding="utf-8")
    assert text[citation["start"] : citation["end"]] == citation["quote"]
    assert record["claims"] == [
        {"text": "US troop levels fell to 2,500 in late 2020.", "citations": [1],
         "supported": True, "problem": None}
    ]  # fmt: skip
    assert "Removed citation [9]" in record["notice"]


def test_ask_prints_the_tokens_then_the_checked_answer_and_sources(env: dict[str, str]) -> None:
    with OllamaStub([Reply(REPLY)]) as stub:
        result = CliRunner().invoke(main, ["ask", TROOPS], env={**env, "OLLAMA_HOST": stub.url})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"[ollama llama3.2:3b] {REPLY}"
    assert lines[1] == "checked: US troop levels fell to 2,500 in late 2020 [1]."
    assert lines[2].startswith(f"  [1] {TROOPS_FILE} - Rockets hit near Iraq base")
    assert lines[3] in ("High confidence.", "Low confidence: check the quote.")
    assert lines[4].startswith("Removed citation [9]")


def test_chat_shows_the_rewritten_follow_up_before_the_answer(env: dict[str, str]) -> None:
    rewritten = "Which TV channel did Kataib Hezbollah's spokesman speak to?"
    replies = [
        Reply("Jaafar Al-Husseini is Kataib Hezbollah's spokesman [1]."),
        Reply(rewritten),
        Reply("He spoke to Beirut-based Al-Mayadeen TV [1]."),
    ]
    turns = "Who is Kataib Hezbollah's spokesman?\nWhich TV channel did he speak to?\n\n"
    with OllamaStub(replies) as stub:
        result = CliRunner().invoke(
            main, ["chat"], env={**env, "OLLAMA_HOST": stub.url}, input=turns
        )
        assert len(stub.chats()) == 3, "answer, condense, answer: the rewrite is not asked twice"
    assert result.exit_code == 0, result.output
    second_turn = result.stdout.split(f"(searched for: {rewritten})\n", 1)[1]
    assert second_turn.startswith(
        "[ollama llama3.2:3b] He spoke to Beirut-based Al-Mayadeen TV [1]."
    )


def test_ask_with_ollama_required_but_down_is_a_one_line_error(env: dict[str, str]) -> None:
    port = free_port()
    environment = {**env, "RAG_LLM": "ollama", "OLLAMA_HOST": f"127.0.0.1:{port}"}
    result = CliRunner().invoke(main, ["ask", TROOPS], env=environment)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: Ollama is not reachable at http://127.0.0.1:{port}.")
    assert "`ollama serve`" in result.stderr
    assert "Traceback" not in result.output


def test_a_closed_port_is_detected_fast_and_the_answer_quotes(
    env: dict[str, str], indexed: Pipeline
) -> None:
    port = free_port()
    started = time.perf_counter()
    health = OllamaClient(Settings(ollama_host=f"127.0.0.1:{port}")).probe()
    probe_took = time.perf_counter() - started
    assert not health.ready and health.problem is not None
    assert "not reachable" in health.problem
    assert probe_took < 3

    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "rag", "ask", TROOPS],
        env={**env, "OLLAMA_HOST": f"http://127.0.0.1:{port}", "PATH": ""},
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    took = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert took < 10, "process start, index, model and the probe included"
    assert done.stdout.startswith("[extractive] ")
    assert "In late 2020, U.S. troop levels" in done.stdout
    assert f"Ollama is not reachable at http://127.0.0.1:{port}." in done.stdout
    assert "ollama serve" in done.stdout
