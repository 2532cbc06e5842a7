"""Prompt texts, kept as files in `prompts/` so they can be read and changed without code.

Every template is checked when this module is imported: a file that lacks a variable the
code fills in, or names one the code does not know, stops start-up with one error that
lists every such problem, instead of a prompt silently missing the question or the context.
"""

from __future__ import annotations

import string
import sysconfig
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from rag.types import UserError


def _prompts_dir() -> Path:
    """`prompts/` at the top of the checkout this package sits in; for an installed wheel,
    which has no checkout around it, the copy the wheel put under the installation's data
    folder (pyproject.toml's data-files)."""
    checkout = Path(__file__).resolve().parents[2] / "prompts"
    if checkout.is_dir():
        return checkout
    return Path(sysconfig.get_path("data")) / "share" / "newsdesk" / "prompts"


PROMPTS_DIR = _prompts_dir()

# Each template and the variables the code fills into it.
TEMPLATE_VARIABLES: Mapping[str, frozenset[str]] = {
    "system": frozenset({"cannot_answer"}),
    "answer": frozenset({"context", "question", "cannot_answer", "hint"}),
    "timeline": frozenset({"context", "question", "cannot_answer"}),
    "condense": frozenset({"history", "question"}),
    "judge_faithfulness": frozenset({"claim", "passages"}),
    "judge_correctness": frozenset({"question", "reference", "answer"}),
}


class PromptError(UserError):
    """A prompt file is missing or does not use exactly the variables the code fills in."""


@cache
def load(name: str, directory: Path = PROMPTS_DIR) -> str:
    """The text of `<directory>/<name>.txt`, without its trailing newline."""
    return (directory / f"{name}.txt").read_text(encoding="utf-8").rstrip("\n")


def variables(template: str) -> set[str]:
    """The `{names}` a template expects (escaped `{{braces}}` are text, not variables)."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def load_templates(directory: Path = PROMPTS_DIR) -> dict[str, str]:
    """Every template of TEMPLATE_VARIABLES from `directory`, checked all at once."""
    templates: dict[str, str] = {}
    problems: list[str] = []
    for name, expected in TEMPLATE_VARIABLES.items():
        path = directory / f"{name}.txt"
        if not path.is_file():
            problems.append(f"{path} is missing")
            continue
        try:
            found = variables(load(name, directory))
        except ValueError as error:  # an unmatched "{" or "}"
            problems.append(f"{path}: {error} (write a literal brace as {{{{ or }}}})")
            continue
        problems += [f"{path} lacks {{{var}}}" for var in sorted(expected - found)]
        problems += [f"{path} uses unknown {{{var}}}" for var in sorted(found - expected)]
        templates[name] = load(name, directory)
    if problems:
        raise PromptError("Prompt templates need fixing: " + "; ".join(problems) + ".")
    return templates


def render(name: str, **values: str) -> str:
    """Template `name` filled with `values` (and the cannot-answer phrase, where it asks for it)."""
    return TEMPLATES[name].format(cannot_answer=CANNOT_ANSWER, **values)


# The one reply meaning "the articles do not say": the extractive answerer returns it and
# the LLM prompts ask for it word for word, so code can recognise an abstention.
CANNOT_ANSWER = load("cannot_answer")
TEMPLATES = load_templates()
