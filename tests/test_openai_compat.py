"""Generation through an OpenAI-compatible server (`RAG_LLM=openai`, and `auto` after Ollama),
against the stand-in server speaking the OpenAI chat API, over the real index of the five
articles: the same citation checks, fallbacks and messages as with Ollama."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.config import Settings
from rag.pipeline import EXTRACTIVE, Pipeline
from rag.types import LLMError, Mode
from tests.browser import free_port
from tests.conftest import TROOPS_FILE
from tests.ollama_stub import OLLAMA_CHAT, OPENAI_CHAT, OllamaStub, Reply

TROOPS = "When did US troop levels in Iraq drop to 2,500?"
GOOD = "US troop levels fell to 2,500 in late 2020 [1]."
MODEL = "llama3.2:3b"  # the stand-in lists it first

MakePipeline = Callable[..., Pipeline]


def closed_port() -> str:
    """The address of a port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def generating(indexed: Pipeline) -> MakePipeline:
    """A pipeline over the indexed articles whose OpenAI-compatible server is the stand-in
    at `openai`; Ollama is at `ollama`, a closed port unless given."""

    def make(openai: str, ollama: str | None = None, **overrides: Any) -> Pipeline:
        base = indexed.settings
        settings = Settings(
            corpus_dir=base.corpus_dir, index_dir=base.index_dir, cache_dir=base.cache_dir,
            ollama_host=ollama or closed_port(), openai_base_url=openai,
            **{"llm": "openai", **overrides},
        )  # fmt: skip
        pipeline = Pipeline(settings)
        pipeline.embedder = indexed.embedder  # already warm
        return pipeline

    return make


def test_an_answer_is_written_by_the_server_and_checked(generating: MakePipeline) -> None:
    with OllamaStub([Reply(GOOD)]) as stub:
        pipeline = generating(stub.openai_url)
        stream = pipeline.stream(TROOPS)
        pieces = list(stream)
        answer = stream.answer
        label = pipeline.generator.label
    assert len(pieces) > 3, "the answer is streamed as the server sends it"
    assert (answer.mode, answer.model, answer.abstained) == (Mode.OPENAI, MODEL, False)
    assert answer.answer == GOOD and answer.fallback_reason is None
    (citation,) = answer.citations
    assert citation.file == TROOPS_FILE
    assert [(c.citations, c.supported) for c in answer.claims] == [((1,), True)]
    assert label == f"OpenAI-compatible · {MODEL}"
    assert stub.paths() == ["/v1/models", OPENAI_CHAT]
    (chat,) = stub.chats()
    assert chat["model"] == MODEL and chat["stream"] is True
    assert chat["messages"][0]["role"] == "system"
    assert "US troop levels" in chat["messages"][-1]["content"], "the passages are in the prompt"


def test_the_model_set_is_used_and_one_the_server_lacks_is_named(
    generating: MakePipeline,
) -> None:
    with OllamaStub([Reply(GOOD)], models=["qwen2.5:0.5b", "smollm2"]) as stub:
        answer = generating(stub.openai_url, openai_model="smollm2").ask(TROOPS)
        with pytest.raises(LLMError, match="has no model gpt-9; it has qwen2.5:0.5b, smollm2: set "
                           "RAG_OPENAI_MODEL"):  # fmt: skip
            generating(stub.openai_url, openai_model="gpt-9").ask(TROOPS)
    assert (answer.mode, answer.model) == (Mode.OPENAI, "smollm2")
    assert [chat["model"] for chat in stub.chats()] == ["smollm2"]


def test_the_api_key_is_sent_and_a_refused_one_is_explained(generating: MakePipeline) -> None:
    with OllamaStub([Reply(GOOD)], api_key="sk-local") as stub:
        answer = generating(stub.openai_url, openai_api_key="sk-local").ask(TROOPS)
        with pytest.raises(LLMError, match=r"refused the request \(HTTP 401\): set "
                           "RAG_OPENAI_API_KEY"):  # fmt: skip
            generating(stub.openai_url, openai_api_key="wrong").ask(TROOPS)
    assert answer.mode == Mode.OPENAI
    sent = {r.authorization for r in stub.requests if r.authorization}
    assert sent == {"Bearer sk-local", "Bearer wrong"}


def test_the_api_key_is_never_written_out() -> None:
    settings = Settings(openai_api_key="sk-secret")
    assert "sk-secret" not in settings.model_dump_json()
    assert "sk-secret" not in json.dumps(settings.model_dump(mode="json"))
    assert "sk-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("given", "used"),
    [("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
     ("http://gpu-box:1234/v1/", "http://gpu-box:1234/v1"),
     ("https://llm.example.org/openai/v1", "https://llm.example.org/openai/v1")],
)  # fmt: skip
def test_the_server_address_is_read_as_such_servers_are_reached(given: str, used: str) -> None:
    assert Settings(openai_base_url=given).openai_base_url == used


def test_an_address_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="RAG_OPENAI_BASE_URL 'gpu-box:8080' is not a server"):
        Settings(openai_base_url="gpu-box:8080")


def test_an_unreachable_server_says_how_to_start_one(generating: MakePipeline) -> None:
    with pytest.raises(LLMError, match="No OpenAI-compatible server is reachable .*llama-server"):
        generating(closed_port()).ask(TROOPS)


def test_openai_mode_without_an_address_says_which_setting_is_missing(
    generating: MakePipeline,
) -> None:
    with pytest.raises(LLMError, match="set RAG_OPENAI_BASE_URL to its address"):
        generating("").ask(TROOPS)


def test_auto_tries_ollama_then_the_openai_server_then_quotes(generating: MakePipeline) -> None:
    with OllamaStub([Reply(GOOD)]) as ollama, OllamaStub([Reply(GOOD)]) as server:
        first = generating(server.openai_url, ollama=ollama.url, llm="auto").ask(TROOPS)
        second = generating(server.openai_url, llm="auto").ask(TROOPS)
    third = generating(closed_port(), llm="auto").ask(TROOPS)
    assert first.mode == Mode.OLLAMA and OLLAMA_CHAT in ollama.paths()
    assert OPENAI_CHAT not in ollama.paths()
    assert second.mode == Mode.OPENAI and server.paths().count(OPENAI_CHAT) == 1
    assert third.mode == EXTRACTIVE and "2020" in third.answer
    assert third.notice is not None
    assert "Ollama is not reachable" in third.notice
    assert "No OpenAI-compatible server is reachable" in third.notice


def test_auto_without_an_openai_server_set_never_asks_for_one(indexed: Pipeline) -> None:
    settings = indexed.settings.model_copy(update={"llm": "auto"})
    assert [server.mode for server in Pipeline(settings).servers] == [Mode.OLLAMA]


def test_a_thinking_part_is_neither_shown_nor_checked(generating: MakePipeline) -> None:
    reasoning = "The passages say 2,500 [1]; maybe it was 9,000 [3]."
    with OllamaStub([Reply(GOOD, thinking=reasoning)]) as stub:
        stream = generating(stub.openai_url).stream(TROOPS)
        shown = "".join(stream)
    assert shown == GOOD
    assert [claim.text for claim in stream.answer.claims] == [GOOD.replace(" [1]", "")]


def test_a_reply_the_passages_do_not_support_is_set_aside(generating: MakePipeline) -> None:
    with OllamaStub([Reply("1. 2021 [1]\n2. 2021 [2]\n3. Troops went home in 2019 [3].")]) as stub:
        answer = generating(stub.openai_url).ask(TROOPS)
    assert answer.mode == EXTRACTIVE and answer.model == MODEL
    assert answer.fallback_reason is not None and "answer was set aside" in answer.fallback_reason
    assert "2020" in answer.answer and answer.citations[0].file == TROOPS_FILE


@pytest.mark.parametrize(
    ("reply", "said"),
    [(Reply(GOOD + " More follows here.", cut_after=14), "broke off the reply"),
     (Reply(GOOD, no_done=True), "closed the answer before finishing it"),
     (Reply(GOOD, done_reason="length"), "reached the 512-token limit")],
    ids=["cut", "unfinished", "length"],
)  # fmt: skip
def test_a_reply_that_ends_early_keeps_what_came_and_says_so(
    generating: MakePipeline, reply: Reply, said: str
) -> None:
    with OllamaStub([reply]) as stub:
        answer = generating(stub.openai_url).ask(TROOPS)
    assert answer.answer.startswith(GOOD)
    assert answer.notice is not None and said in answer.notice


def test_a_failed_request_is_told_in_openai_mode_and_quoted_around_in_auto(
    generating: MakePipeline,
) -> None:
    with OllamaStub([Reply(status=500, error="out of memory")] * 2) as stub:
        with pytest.raises(LLMError, match=r"failed \(HTTP 500: out of memory\)"):
            generating(stub.openai_url).ask(TROOPS)
        answer = generating(stub.openai_url, llm="auto").ask(TROOPS)
    assert answer.mode == EXTRACTIVE and "2020" in answer.answer
    assert answer.notice is not None and "HTTP 500: out of memory" in answer.notice


def test_a_follow_up_is_rewritten_by_the_server_before_the_search(
    generating: MakePipeline,
) -> None:
    rewritten = "Which TV channel did Kataib Hezbollah's spokesman speak to?"
    replies = [Reply(rewritten), Reply("He spoke to Beirut-based Al-Mayadeen TV [1].")]
    with OllamaStub(replies) as stub:
        answer = generating(stub.openai_url).ask(
            "Which channel did he speak to?", ["Who is Kataib Hezbollah's spokesman?"]
        )
    assert answer.searched_for == rewritten
    assert stub.chats()[0]["stream"] is False, "the rewrite is asked for in one piece"
    assert answer.mode == Mode.OPENAI


def test_the_cli_labels_the_answer_and_says_a_problem_in_one_line(
    indexed: Pipeline,
) -> None:
    env = {
        "RAG_CORPUS_DIR": str(indexed.settings.corpus_dir),
        "RAG_INDEX_DIR": str(indexed.settings.index_dir),
        "RAG_CACHE_DIR": str(indexed.settings.cache_dir),
        "RAG_LLM": "openai",
    }
    with OllamaStub([Reply(GOOD)] * 2) as stub:
        served = {**env, "RAG_OPENAI_BASE_URL": stub.url}
        shown = CliRunner().invoke(main, ["ask", TROOPS], env=served)
        as_json = CliRunner().invoke(main, ["ask", "--json", TROOPS], env=served)
    closed = {**env, "RAG_OPENAI_BASE_URL": closed_port()}
    failed = CliRunner().invoke(main, ["ask", TROOPS], env=closed)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0] == f"[openai {MODEL}] {GOOD}"
    record = json.loads(as_json.stdout)
    assert (record["mode"], record["model"]) == ("openai", MODEL)
    assert failed.exit_code == 1
    assert "No OpenAI-compatible server is reachable" in failed.output
    assert "Traceback" not in failed.output and len(failed.output.strip().splitlines()) == 1
