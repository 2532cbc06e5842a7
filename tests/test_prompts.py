"""Prompt files: the shipped ones load; a broken set is reported in one error naming each fault."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from rag.answer.prompts import (
    CANNOT_ANSWER,
    TEMPLATE_VARIABLES,
    PromptError,
    load_templates,
    render,
)
from tests.conftest import REPO


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


def test_an_installed_wheel_finds_its_prompts(tmp_path: Path) -> None:
    # prompts/ sits outside the package; a wheel (pip install ., not the Makefile's editable
    # install) must carry it, or every command fails as it starts. Built from a copy of the
    # tracked files as they are in the working tree, so nothing is written into the checkout.
    source = tmp_path / "source"
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "pyproject.toml", "README.md", "rag", "prompts"], cwd=REPO,
        capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, tracked):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir"]
    subprocess.run([*build, str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    [wheel] = (tmp_path / "dist").glob("newsdesk-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The dependencies come from this environment's site-packages, added after the wheel's.
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = subprocess.run([str(python), "-c", where], capture_output=True, text=True, check=True)
    Path(site.stdout.strip(), "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)],
                   check=True, capture_output=True)  # fmt: skip
    shown = subprocess.run(
        [str(python), "-c",
         "import rag, rag.answer.prompts as p; print(rag.__file__); print(p.PROMPTS_DIR); "
         "print(p.render('system'))"],
        cwd=tmp_path, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    module, prompts, system = shown.stdout.split("\n", 2)
    assert Path(module).is_relative_to(venv), "the wheel's copy of rag was imported"
    assert Path(prompts) == venv / "share" / "newsdesk" / "prompts"
    assert CANNOT_ANSWER in system
