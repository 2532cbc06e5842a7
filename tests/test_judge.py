"""The optional LLM judge (`rag eval --judge MODEL`), against the stand-in Ollama server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.config import Settings
from rag.eval.gold import GoldItem
from rag.eval.judge import Judge
from rag.eval.metrics import summarize
from rag.eval.run import evaluate, run
from rag.pipeline import Pipeline
from rag.types import LLMError
from tests.conftest import TROOPS_FILE
from tests.ollama_stub import OllamaStub, Reply

TROOPS = GoldItem(id="a", question="When did US troop levels in Iraq drop to 2,500?",
                  answers=("late 2020",), source_files=(TROOPS_FILE,), kind="date")  # fmt: skip
BADR = GoldItem(id="b", question="Who is the spokesman of the Badr Organization?",
                answers=("Kareem Nuri",), source_files=("000_3457b9917c9ed967.txt",))  # fmt: skip
WORLD_CUP = GoldItem(id="u", question="Who won the 2018 FIFA World Cup?", unanswerable=True)
TROOPS_LINE = json.dumps({"id": "a", "question": TROOPS.question, "answers": ["late 2020"],
                          "source_files": [TROOPS_FILE]}) + "\n"  # fmt: skip


def judge_with(stub: OllamaStub, indexed: Pipeline) -> Judge:
    return Judge(indexed.settings.model_copy(update={"ollama_host": stub.url}), "judge:7b")


def test_verdicts_come_from_the_judges_replies(indexed: Pipeline) -> None:
    # One faithfulness question per claim of an answer, then one correctness question.
    badr_claims = len(indexed.ask(BADR.question).claims)
    troops_claims = len(indexed.ask(TROOPS.question).claims)
    replies = [
        *[Reply("Yes.")] * troops_claims, Reply("no"),
        *[Reply("no")] * badr_claims, Reply("YES"),
    ]  # fmt: skip
    with OllamaStub(replies, models=("judge:7b",)) as stub:
        judge = judge_with(stub, indexed)
        records = evaluate([TROOPS, BADR, WORLD_CUP], indexed.stream, judge=judge)
        prompts = [chat["messages"][-1]["content"] for chat in stub.chats()]
    troops, badr, world_cup = records
    assert (troops.judge_faithfulness, troops.judge_correct) == (1.0, False)
    assert (badr.judge_faithfulness, badr.judge_correct) == (0.0, True)
    assert (world_cup.judge_faithfulness, world_cup.judge_correct) == (None, None)  # abstained
    assert len(prompts) == troops_claims + 1 + badr_claims + 1  # none about an abstention
    assert "Claim: In late 2020, U.S. troop levels" in prompts[0]
    assert "2,500 after withdrawals" in prompts[0].split("Passages:")[1]  # the cited quote
    assert "Reference answer: late 2020" in prompts[troops_claims]
    summary = summarize(records)
    assert summary["judge_faithfulness"] == 0.5  # (1 + 0) / 2 judged answers
    assert summary["judge_correctness"] == 0.5  # 1 of the 2 answerable items


def test_without_a_judge_there_are_no_judge_figures(indexed: Pipeline) -> None:
    summary = summarize(evaluate([TROOPS], indexed.stream))
    assert "judge_faithfulness" not in summary and "judge_correctness" not in summary


def test_an_unreachable_judge_stops_before_any_question(indexed: Pipeline, tmp_path: Path) -> None:
    settings = indexed.settings.model_copy(update={"ollama_host": "http://127.0.0.1:1"})
    pipeline = Pipeline(settings)
    pipeline.embedder = indexed.embedder
    gold = tmp_path / "gold.jsonl"
    gold.write_text(TROOPS_LINE)
    with pytest.raises(LLMError, match="The judge cannot run: Ollama is not reachable"):
        run(gold, pipeline, results_dir=tmp_path / "results", judge_model="judge:7b")
    assert not (tmp_path / "results").exists()


def test_a_judged_run_reports_the_judge(indexed: Pipeline, tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(TROOPS_LINE)
    claims = len(indexed.ask(TROOPS.question).claims)
    with OllamaStub([Reply("yes")] * (claims + 1), models=("judge:7b",)) as stub:
        settings: Settings = indexed.settings.model_copy(update={"ollama_host": stub.url})
        pipeline = Pipeline(settings)
        pipeline.embedder = indexed.embedder
        folder = run(gold, pipeline, results_dir=tmp_path / "results", judge_model="judge:7b")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["judge"] == "judge:7b"
    assert summary["summary"]["judge_faithfulness"] == 1.0
    assert summary["summary"]["judge_correctness"] == 1.0
