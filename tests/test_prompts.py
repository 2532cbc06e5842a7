"""Prompt files: the shipped ones load; a broken set is reported in one error naming each fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.prompts import (
    CANNOT_ANSWER,
    TEMPLATE_VARIABLES,
    PromptError,
    load_templates,
    render,
)


def test_shipped_templates_load_and_ask_for_the_cannot_answer_phrase() -> None:
    assert set(load_templates()) == set(TEMPLATE_VARIABLES)
    assert render("system").endswith(CANNOT_ANSWER)
    prompt = render("answer", context="[1] file: a.txt | title: T | published: May 2, 2022\nX.",
                    question="What happened?", hint="")  # fmt: skip
    assert "[1] file: a.txt" in prompt and "Question: What happened?" in prompt
    assert CANNOT_ANSWER in prompt
    assert "[n]" not in prompt and "{" not in prompt, "every variable was filled"
    condense = render("condense", history="Who is the spokesman?", question="Where did he speak?")
    assert "Who is the spokesman?" in condense and "Where did he speak?" in condense


def test_every_problem_is_named_in_one_error(tmp_path: Path) -> None:
    (tmp_path / "system.txt").write_text("Answer from the passages.\n")  # lacks {cannot_answer}
    (tmp_path / "answer.txt").write_text("{context}\nQuestion: {questoin}\n{cannot_answer}\n")
    # condense.txt is missing altogether
    with pytest.raises(PromptError) as raised:
        load_templates(tmp_path)
    message = str(raised.value)
    for problem in [
        f"{tmp_path / 'system.txt'} lacks {{cannot_answer}}",
        f"{tmp_path / 'answer.txt'} lacks {{question}}",
        f"{tmp_path / 'answer.txt'} uses unknown {{questoin}}",
        f"{tmp_path / 'condense.txt'} is missing",
    ]:
        assert problem in message


def test_an_unmatched_brace_is_reported(tmp_path: Path) -> None:
    for name in TEMPLATE_VARIABLES:
        (tmp_path / f"{name}.txt").write_text(
            " ".join(f"{{{v}}}" for v in TEMPLATE_VARIABLES[name])
        )
    (tmp_path / "condense.txt").write_text("{history} {question} and a stray {")
    with pytest.raises(PromptError, match=r"condense.txt: .*literal brace"):
        load_templates(tmp_path)
