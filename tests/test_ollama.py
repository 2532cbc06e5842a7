"""Generation through Ollama, against the stand-in server in tests/ollama_stub.py, over the real
index of the five articles: citations checked, abstention, streaming, failures, follow-ups."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from rag.answer.generate import MAX_ANSWER_CHARS, without_thinking
from rag.answer.llm import PROBE_TIMEOUT_S
from rag.answer.ollama import OllamaClient
from rag.answer.prompts import CANNOT_ANSWER
from rag.answer.query import read_question
from rag.config import Settings
from rag.pipeline import EXTRACTIVE, Pipeline
from rag.types import Answer, DateBasis, LLMError, Mode
from tests.conftest import CORPUS, TROOPS_FILE, WIRE_COPIES
from tests.ollama_stub import OllamaStub, Reply

TROOPS = "When did US troop levels in Iraq drop to 2,500?"
GOOD = "US troop levels fell to 2,500 in late 2020 [1]."
MODEL = "llama3.2:3b"
# Generous: the bound says "seconds, not minutes"; the probe gives up after 2 s.
FEW_SECONDS = PROBE_TIMEOUT_S + 3

MakePipeline = Callable[..., Pipeline]


def notice(answer: Answer) -> str:
    """The notice of an answer that must have one."""
    assert answer.notice is not None, "the answer has no notice"
    return answer.notice


@pytest.fixture
def generating(indexed: Pipeline) -> MakePipeline:
    """A pipeline over the indexed articles that generates with the given stand-in server."""

    def make(stub: OllamaStub, **overrides: Any) -> Pipeline:  # any Settings fields
        base = indexed.settings
        settings = Settings(
            corpus_dir=base.corpus_dir, index_dir=base.index_dir, cache_dir=base.cache_dir,
            ollama_host=stub.url, **{"llm": "auto", **overrides},
        )  # fmt: skip
        pipeline = Pipeline(settings)
        pipeline.embedder = indexed.embedder  # already warm
        return pipeline

    return make


def file_text(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


def test_a_valid_citation_maps_to_its_file_and_exact_quote(generating: MakePipeline) -> None:
    with OllamaStub([Reply(GOOD)]) as stub:
        answer = generating(stub).ask(TROOPS)
    assert (answer.mode, answer.model, answer.abstained) == (Mode.OLLAMA, MODEL, False)
    assert answer.answer == GOOD
    assert answer.notice is None
    (citation,) = answer.citations
    assert (citation.n, citation.file) == (1, TROOPS_FILE)
    assert citation.quote == (
        "In late 2020, U.S. troop levels in Iraq was reduced to 2,500 after withdrawals based "
        "on orders from the Trump administration."
    )
    assert file_text(citation.file)[citation.start : citation.end] == citation.quote
    assert [(c.text, c.citations, c.supported) for c in answer.claims] == [
        ("US troop levels fell to 2,500 in late 2020.", (1,), True)
    ]
    record = answer.to_dict()
    assert record["claims"] == [
        {"text": "US troop levels fell to 2,500 in late 2020.", "citations": [1],
         "supported": True, "problem": None}
    ]  # fmt: skip
    assert (record["mode"], record["model"]) == ("ollama", MODEL)


def test_a_citation_outside_the_context_is_dropped(generating: MakePipeline) -> None:
    with OllamaStub([Reply("US troop levels fell to 2,500 in late 2020 [1][9].")]) as stub:
        answer = generating(stub).ask(TROOPS)
    assert len(answer.hits) == 5
    assert answer.answer == GOOD
    assert [c.n for c in answer.citations] == [1]
    assert "Removed citation [9]" in notice(answer)


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("US troop levels fell to 9,000 in late 2020 [1].", "9,000 not in [1]"),
        ("US troop levels fell to 2,500 in late 2020.", "cites no passage"),
        ("US troop levels fell to 2,500 in late 2020 [6].", "cites only [6]"),
        ("The troops were welcomed home with a parade [1].", "no sentence of [1] says this"),
    ],
    ids=["wrong-number", "missing", "out-of-range-only", "unrelated"],
)
def test_an_unsupported_sentence_is_marked_not_cited(
    generating: MakePipeline, reply: str, problem: str
) -> None:
    with OllamaStub([Reply(f"{GOOD} {reply}")]) as stub:
        answer = generating(stub).ask(TROOPS)
    good, claim = answer.claims
    assert good.supported
    assert not claim.supported and claim.problem is not None and problem in claim.problem
    assert answer.answer.startswith(GOOD)
    rest = answer.answer.removeprefix(GOOD)
    assert rest.endswith(" [unsupported].") and "[1]" not in rest and "[6]" not in rest
    assert [c.n for c in answer.citations] == [1], "only the supported sentence cites"
    assert not answer.abstained and answer.fallback_reason is None
    assert "1 of 2 sentences marked [unsupported]" in notice(answer)


@pytest.mark.parametrize(
    "reply",
    [
        "US troop levels fell to 9,000 in late 2020 [1].",
        "The troops were welcomed home with a parade [1]. They fell to 2,500 in 2020 [1]. "
        "Then 9,000 came back in 2022 [1].",
    ],
    ids=["none-supported", "one-of-three"],
)
def test_a_mostly_unsupported_reply_gives_way_to_the_cited_extractive_answer(
    generating: MakePipeline, reply: str
) -> None:
    with OllamaStub([Reply(reply)]) as stub:
        stream = generating(stub).stream(TROOPS)
        streamed = "".join(stream)
        answer = stream.answer
    assert streamed == reply, "the model's pieces were streamed as they came"
    assert answer.fallback_reason is not None and "answer was set aside" in answer.fallback_reason
    assert answer.mode is Mode.EXTRACTIVE and answer.model == MODEL
    assert "late 2020" in answer.answer and "9,000" not in answer.answer
    assert answer.citations[0].file == TROOPS_FILE
    # What the model wrote is kept, checked, for whoever wants to see it.
    assert [c.supported for c in answer.claims].count(True) * 2 < len(answer.claims)
    assert answer.fallback_reason in notice(answer)
    assert answer.to_dict()["fallback_reason"] == answer.fallback_reason


@pytest.mark.parametrize(
    "reply", [CANNOT_ANSWER, f"{CANNOT_ANSWER} The passages only cover troop numbers."]
)
def test_the_cannot_answer_reply_abstains(generating: MakePipeline, reply: str) -> None:
    with OllamaStub([Reply(reply)]) as stub:
        answer = generating(stub).ask(TROOPS)
    assert answer.abstained and answer.mode == Mode.OLLAMA
    assert (answer.answer, answer.citations, answer.claims) == (CANNOT_ANSWER, (), ())


def test_an_off_topic_question_never_reaches_the_model(generating: MakePipeline) -> None:
    with OllamaStub([Reply("France won the 2018 World Cup [1].")]) as stub:
        answer = generating(stub).ask("Who won the 2018 FIFA World Cup?")
        assert "/api/chat" not in stub.paths()
    assert answer.abstained and answer.answer == CANNOT_ANSWER
    assert (answer.mode, answer.model) == (Mode.OLLAMA, MODEL)
    assert notice(answer).startswith(f"Not asking {MODEL}: ")
    assert (answer.hits, answer.closest) == ((), ()), "no passage is about it: none is shown"


def test_the_model_is_told_when_no_passage_holds_what_is_asked(generating: MakePipeline) -> None:
    # The passages are about the attack on Balad, but none gives a cost: the model reads a
    # note saying so; for an answerable question the prompt carries no note.
    with OllamaStub([Reply(CANNOT_ANSWER), Reply(GOOD)]) as stub:
        pipeline = generating(stub)
        unanswered = pipeline.ask("How much did the rocket attack on Balad cost?")
        answered = pipeline.ask(TROOPS)
        (cost_prompt, troops_prompt) = [chat["messages"][-1]["content"] for chat in stub.chats()]
    assert "no passage that fits the question holds a number" in cost_prompt
    assert "Note:" not in troops_prompt
    assert troops_prompt.endswith(f"reply with exactly: {CANNOT_ANSWER}")
    assert unanswered.abstained and not answered.abstained
    assert answered.answer == "US troop levels fell to 2,500 in late 2020 [1]."


def test_tokens_stream_before_the_final_answer(generating: MakePipeline) -> None:
    pieces: list[tuple[float, str]] = []
    with OllamaStub([Reply(GOOD, delay=0.05)]) as stub:
        stream = generating(stub).stream(TROOPS)
        for piece in stream:
            pieces.append((time.perf_counter(), piece))
        last_at, answer = time.perf_counter(), stream.answer
    assert isinstance(answer, Answer)
    assert all(isinstance(piece, str) for _, piece in pieces)
    assert "".join(piece for _, piece in pieces) == GOOD
    assert len(pieces) >= 10, "one piece per token, not one block"
    # Pieces arrive as the server sends them (50 ms apart), not all at the end.
    assert last_at - pieces[0][0] > 0.4


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (Reply(GOOD, cut_after=6), "broke off the reply"),
        (Reply(GOOD, no_done=True), "closed the answer before finishing it"),
    ],
    ids=["connection-dropped", "no-done-line"],
)
def test_a_stream_cut_off_keeps_what_came_and_says_so(
    generating: MakePipeline, reply: Reply, said: str
) -> None:
    with OllamaStub([reply]) as stub:
        stream = generating(stub).stream(TROOPS)
        pieces, answer = list(stream), stream.answer
    assert said in notice(answer)
    if reply.cut_after:
        assert "".join(pieces) == "US troop levels fell to 2,500"
        # The half sentence cites nothing: it gives way to the articles' own words.
        assert answer.fallback_reason and answer.mode is Mode.EXTRACTIVE
        assert "late 2020" in answer.answer and answer.citations[0].file == TROOPS_FILE
    else:
        assert answer.mode == Mode.OLLAMA and answer.answer == GOOD


@pytest.mark.parametrize(
    ("reply", "overrides", "said"),
    [
        (Reply("".join(f"{n}. In 2021 [1].\n" for n in range(1, 60))), {}, "repeating itself"),
        (Reply("Troops " * 400), {}, "stopped at 2,000 characters"),
        (Reply(GOOD + " " + "More words follow here. " * 20, delay=0.05),
         {"answer_time_limit": 0.5}, "stopped after 0.5 s of writing"),
    ],  # fmt: skip
    ids=["repeating", "too-long", "too-slow"],
)
def test_a_runaway_reply_is_stopped_and_says_why(
    generating: MakePipeline, reply: Reply, overrides: dict[str, Any], said: str
) -> None:
    with OllamaStub([reply]) as stub:
        stream = generating(stub, **overrides).stream(TROOPS)
        streamed = "".join(stream)
        answer = stream.answer
    assert len(streamed) < len(reply.text), "the rest of the reply was not read"
    assert len(streamed) <= MAX_ANSWER_CHARS + 10
    assert said in notice(answer)
    assert len(answer.answer) <= MAX_ANSWER_CHARS


@pytest.mark.parametrize(
    "reply",
    [
        Reply(f"<think>They ask for a date. Maybe 2019 [3]? No.</think>\n\n{GOOD}"),
        Reply(f"<think>\nHmm, 9,000 troops [2].\n</think>{GOOD}", delay=0.0),
        Reply(GOOD, thinking="They ask when. Perhaps 9,000 troops in 2019 [2]?"),
    ],
    ids=["thinking-then-answer", "thinking-on-its-own-lines", "ollama-thinking-field"],
)
def test_a_thinking_part_is_neither_shown_nor_checked(
    generating: MakePipeline, reply: Reply
) -> None:
    with OllamaStub([reply]) as stub:
        stream = generating(stub).stream(TROOPS)
        streamed = "".join(stream)
        answer = stream.answer
    assert streamed == GOOD and answer.answer == GOOD
    assert [claim.text for claim in answer.claims] == [GOOD.removesuffix(" [1].") + "."]
    assert answer.fallback_reason is None


@pytest.mark.parametrize(("thinks", "sent"), [(True, False), (False, None)])
def test_a_model_that_can_think_is_asked_not_to(
    generating: MakePipeline, thinks: bool, sent: bool | None
) -> None:
    with OllamaStub([Reply(GOOD)], thinking_models=[MODEL] if thinks else []) as stub:
        answer = generating(stub).ask(TROOPS)
    assert answer.answer == GOOD
    (chat,) = stub.chats()
    # Only a model Ollama says can think is sent `think` (an older Ollama, or a model
    # that cannot, would refuse it).
    assert chat.get("think") is sent


@pytest.mark.parametrize(
    ("pieces", "shown"),
    [
        (["<thi", "nk>x</th", "ink>", "Answer."], "Answer."),
        (["A <", "b> c"], "A <b> c"),
        (["<think>never closed"], ""),
    ],
)
def test_thinking_is_cut_however_the_pieces_fall(pieces: list[str], shown: str) -> None:
    assert "".join(without_thinking(pieces)) == shown


def test_the_length_limit_is_reported(generating: MakePipeline) -> None:
    with OllamaStub([Reply(GOOD, done_reason="length")]) as stub:
        answer = generating(stub).ask(TROOPS)
    assert answer.answer == GOOD
    assert "512-token limit" in notice(answer) and "RAG_OLLAMA_MAX_OUTPUT" in notice(answer)


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (Reply(status=500, error="llama runner process has terminated"), "HTTP 500"),
        (Reply(status=404, error=f'model "{MODEL}" not found'), f"run `ollama pull {MODEL}`"),
    ],
    ids=["http-500", "http-404"],
)
def test_a_failed_request_falls_back_to_quoting_in_auto_mode(
    generating: MakePipeline, reply: Reply, said: str
) -> None:
    with OllamaStub([reply]) as stub:
        answer = generating(stub).ask(TROOPS)
    assert answer.mode == EXTRACTIVE and answer.model is None
    assert "late 2020" in answer.answer
    assert said in notice(answer) and "Answered extractively instead." in notice(answer)


def test_a_failed_request_is_a_user_error_in_ollama_mode(generating: MakePipeline) -> None:
    with OllamaStub([Reply(status=500, error="out of memory")]) as stub:
        with pytest.raises(LLMError, match="HTTP 500: out of memory"):
            generating(stub, llm="ollama").ask(TROOPS)


def test_a_model_not_pulled_gives_the_pull_command(generating: MakePipeline) -> None:
    with OllamaStub([Reply(GOOD)], models=["qwen2.5:0.5b"]) as stub:
        answer = generating(stub).ask(TROOPS)
        with pytest.raises(LLMError, match=f"run `ollama pull {MODEL}`"):
            generating(stub, llm="ollama").ask(TROOPS)
        assert "/api/chat" not in stub.paths()
    assert answer.mode == EXTRACTIVE
    assert f"does not have the model {MODEL}: run `ollama pull {MODEL}`." in notice(answer)


def test_a_failing_model_list_is_reported(generating: MakePipeline) -> None:
    with OllamaStub([Reply(GOOD)], tags_status=500) as stub:
        answer = generating(stub).ask(TROOPS)
    assert answer.mode == EXTRACTIVE
    assert f"Ollama at {stub.url} failed (HTTP 500: stub: tags failed)." in notice(answer)


def test_a_silent_server_is_given_up_within_seconds(generating: MakePipeline) -> None:
    with OllamaStub(hang=True) as stub:
        started = time.perf_counter()
        answer = generating(stub).ask(TROOPS)
        took = time.perf_counter() - started
    assert took < FEW_SECONDS
    assert answer.mode == EXTRACTIVE and "late 2020" in answer.answer
    assert f"did not answer within {PROBE_TIMEOUT_S:g} s" in notice(answer)


def test_a_model_that_never_answers_is_given_up_after_the_timeout(
    generating: MakePipeline,
) -> None:
    with OllamaStub([Reply(hang=True)]) as stub:
        started = time.perf_counter()
        answer = generating(stub, ollama_timeout=1.0).ask(TROOPS)
        took = time.perf_counter() - started
    assert took < FEW_SECONDS
    assert answer.mode == EXTRACTIVE
    assert "did not answer within 1 s" in notice(answer)


def test_the_prompt_numbers_the_passages_and_sizes_the_context(generating: MakePipeline) -> None:
    with OllamaStub([Reply(GOOD)]) as stub:
        pipeline = generating(stub)
        pipeline.ask(TROOPS)
        pipeline.ask(TROOPS)
        (chat, _) = stub.chats()
        assert stub.paths().count("/api/tags") == 1, "the health probe is cached"
        # Once, by the probe, for the model's capabilities; context_window is set, so the
        # integration never looks it up before an answer.
        assert stub.paths().count("/api/show") == 1
    system, user = chat["messages"]
    assert system["role"] == "system" and CANNOT_ANSWER in system["content"]
    prompt = user["content"]
    for n in range(1, 6):
        assert f"\n[{n}] file: " in prompt
    assert f"[1] file: {TROOPS_FILE} | title: Rockets hit near Iraq base housing US trainers, " \
           "no one hurt | published: date unknown" in prompt  # fmt: skip
    assert "| published: April 7, 2021\n" in prompt
    assert "joint statement Wednesday (= April 7, 2021)" in prompt, "relative dates resolved"
    assert f"Question: {TROOPS}" in prompt
    options = chat["options"]
    assert options["num_predict"] == 512
    chars = len(system["content"]) + len(prompt)
    assert options["num_ctx"] % 1024 == 0 and options["num_ctx"] >= chars / 3 + 512
    assert chat["stream"] is True, "the answer is streamed"


def test_the_window_grows_with_the_prompt_up_to_the_largest_allowed(indexed: Pipeline) -> None:
    generator = OllamaClient(indexed.settings)  # 512 output tokens, 3 characters per token
    assert generator.context_window("x" * 3000) == 2048  # Ollama's default is the floor
    assert generator.context_window("x" * 6000) == 3072
    small = OllamaClient(indexed.settings.model_copy(update={"ollama_max_context": 2048}))
    with pytest.raises(LLMError, match="about 3,072 tokens, more than RAG_OLLAMA_MAX_CONTEXT"):
        small.context_window("x" * 6000)


def test_a_follow_up_is_rewritten_before_retrieval(generating: MakePipeline) -> None:
    rewritten = "Which TV channel did Kataib Hezbollah's spokesman Jaafar al-Husseini speak to?"
    replies = [Reply(rewritten), Reply("He spoke to Beirut-based Al-Mayadeen TV [1].")]
    first = "Who is Kataib Hezbollah's spokesman?"
    with OllamaStub(replies) as stub:
        answer = generating(stub).ask("Which TV channel did he speak to?", [first])
        condense, generate = stub.chats()
    assert answer.searched_for == rewritten
    assert condense["stream"] is False and len(condense["messages"]) == 1
    assert first in condense["messages"][0]["content"]
    assert (
        "Follow-up question: Which TV channel did he speak to?"
        in condense["messages"][0]["content"]
    )
    assert f"Question: {rewritten}" in generate["messages"][-1]["content"]
    assert answer.hits[0].chunk.file in WIRE_COPIES
    (citation,) = answer.citations
    assert "Al-Mayadeen TV" in citation.quote or "Al Mayadeen TV" in citation.quote
    assert answer.claims[0].supported


def test_a_question_naming_its_own_subject_is_not_rewritten(generating: MakePipeline) -> None:
    # After an unrelated turn, a question that stands alone is searched as typed: the model
    # is asked only for the answer, never to merge it with the earlier question.
    replies = [Reply("About 2,500 US troops remained [1].")]
    question = "When did rockets hit Balad air base?"
    with OllamaStub(replies) as stub:
        answer = generating(stub).ask(question, ["Who is Kataib Hezbollah's spokesman?"])
        (chat,) = stub.chats()
    assert answer.searched_for == question
    assert "spokesman" not in chat["messages"][-1]["content"].split("Question:")[-1]


def test_offline_follow_ups_keep_the_heuristic(indexed: Pipeline) -> None:
    first = "Who is Kataib Hezbollah's spokesman?"
    assert indexed.standalone("Which TV channel did he speak to?", [first]) == (
        f"{first} Which TV channel did he speak to?"
    )


@pytest.mark.parametrize(
    ("reply", "searched_for"),
    [
        ('Standalone question: "Which TV channel did Jaafar al-Husseini speak to?"',
         "Which TV channel did Jaafar al-Husseini speak to?"),
        ("\nWhich TV channel did Jaafar al-Husseini speak to?\nI replaced 'he' with the name.",
         "Which TV channel did Jaafar al-Husseini speak to?"),
        ("", "Who is Kataib Hezbollah's spokesman? Which TV channel did he speak to?"),
    ],
    ids=["label-and-quotes", "explanation-after", "empty-falls-back-to-joining"],
)  # fmt: skip
def test_a_rewritten_follow_up_is_cleaned(
    generating: MakePipeline, reply: str, searched_for: str
) -> None:
    with OllamaStub([Reply(reply)]) as stub:
        pipeline = generating(stub)
        first = "Who is Kataib Hezbollah's spokesman?"
        assert pipeline.standalone("Which TV channel did he speak to?", [first]) == searched_for


def test_a_malformed_line_in_the_stream_ends_in_a_message_not_a_crash(
    generating: MakePipeline,
) -> None:
    # Six good tokens, then a line that is not JSON: what came is kept and checked.
    with OllamaStub([Reply(GOOD, garbage_after=6)]) as stub:
        started = time.monotonic()
        stream = generating(stub).stream(TROOPS)
        pieces, answer = list(stream), stream.answer
    assert time.monotonic() - started < FEW_SECONDS
    assert "".join(pieces) == "US troop levels fell to 2,500"
    assert answer.notice and answer.fallback_reason  # the half sentence is set aside
    assert "late 2020" in answer.answer and answer.citations[0].file == TROOPS_FILE


def test_a_malformed_first_line_falls_back_to_quoting(generating: MakePipeline) -> None:
    with OllamaStub([Reply(GOOD, garbage_after=0)]) as stub:
        answer = generating(stub).ask(TROOPS)
    assert answer.mode == EXTRACTIVE
    assert "late 2020" in answer.answer and answer.citations[0].file == TROOPS_FILE
    assert "Ollama" in notice(answer)


def test_as_of_gives_the_model_only_what_was_published_by_then(generating: MakePipeline) -> None:
    # Asked as of mid-2019, the model must not see the 2020 and 2021 passages (2,500), and
    # the answer records the date and the undated articles left out.
    with OllamaStub([Reply("More than 5,000 US troops were in Iraq [1].")]) as stub:
        answer = generating(stub).ask(
            "How many US troops are in Iraq now?", as_of=date(2019, 6, 30)
        )
        (chat,) = stub.chats()
    prompt = chat["messages"][-1]["content"]
    assert "5,000" in prompt
    assert "2,500" not in prompt
    assert answer.model == MODEL
    assert answer.as_of == date(2019, 6, 30)
    assert "undated articles left out by the date range" in notice(answer)


def test_a_timeline_is_asked_for_and_each_line_checked(
    generating: MakePipeline, indexed: Pipeline
) -> None:
    question = "How many US troops were in Iraq?"
    hits = indexed.retriever.search_all(read_question(question).search_texts, top_k=15)
    pentagon = next(n for n, h in enumerate(hits, 1) if "about 5,300 troops" in h.chunk.text)
    april = next(n for n, h in enumerate(hits, 1) if "About 2,500 U.S. troops" in h.chunk.text)
    reply = "\n".join([
        f"- April 7, 2021: About 2,500 U.S. troops remained in Iraq [{april}].",
        f"- February 6, 2018: The Pentagon said it had about 5,300 troops in Iraq [{pentagon}].",
        f"- March 1, 2019: About 2,500 U.S. troops remained in Iraq [{april}].",  # wrong date
        f"- April 7, 2021: About 3,000 U.S. troops remained in Iraq [{april}].",  # wrong figure
    ])  # fmt: skip
    with OllamaStub([Reply(reply)]) as stub:
        answer = generating(stub).ask(question)
        (chat,) = stub.chats()
    assert "as a timeline" in chat["messages"][-1]["content"]
    assert [(e.when, e.date_text) for e in answer.timeline] == [
        (date(2018, 2, 6), "February 6, 2018"),
        (date(2021, 4, 7), "April 7, 2021"),
    ]
    assert answer.timeline[0].basis == DateBasis.ARTICLE  # the date its story was published
    lines = answer.answer.splitlines()
    assert lines[0].startswith("- February 6, 2018: The Pentagon said")  # oldest first
    assert lines[1] == "- March 1, 2019: About 2,500 U.S. troops remained in Iraq [unsupported]."
    assert lines[3] == "- April 7, 2021: About 3,000 U.S. troops remained in Iraq [unsupported]."
    assert "March 1, 2019 is not a date" in " ".join(c.problem or "" for c in answer.claims)
