"""Answers and conversations exported as Markdown and JSON."""

from __future__ import annotations

import json

from rag.export import answer_json, answer_markdown, conversation_json, conversation_markdown
from rag.pipeline import Pipeline
from tests.conftest import TROOPS_FILE

TROOPS = "When did US troop levels in Iraq drop to 2,500?"


def test_an_answer_in_markdown_names_each_source_and_quotes_it(indexed: Pipeline) -> None:
    answer = indexed.ask(TROOPS)
    text = answer_markdown(answer)
    assert text.startswith(f"## {TROOPS}\n\n{answer.answer}\n")
    first = answer.citations[0]
    assert first.file == TROOPS_FILE
    line = (
        f"[1] {first.file}: {first.title}, {first.date.isoformat() if first.date else 'undated'}, "
        f"characters {first.start}-{first.end}"
    )
    assert line in text
    assert f"> {first.quote}" in text
    assert text.count("\n> ") == len(answer.citations)


def test_an_answer_in_json_is_the_rag_ask_json_object(indexed: Pipeline) -> None:
    answer = indexed.ask(TROOPS)
    assert json.loads(answer_json(answer)) == json.loads(json.dumps(answer.to_dict()))


def test_a_conversation_exports_every_answer_in_order(indexed: Pipeline) -> None:
    turns = [(q, indexed.ask(q)) for q in (TROOPS, "How many US troops were in Iraq?")]
    markdown = conversation_markdown(turns)
    assert markdown.index(f"## {TROOPS}") < markdown.index("## How many US troops were in Iraq?")
    assert [record["question"] for record in json.loads(conversation_json(turns))] == [
        TROOPS, "How many US troops were in Iraq?",
    ]  # fmt: skip
    assert "Reported over time, oldest first:" in markdown  # the timeline's lines too
