"""Prompt texts, kept as files in `prompts/` so they can be read and changed without code."""

from __future__ import annotations

from functools import cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@cache
def load(name: str) -> str:
    """The text of `prompts/<name>.txt`, without its trailing newline."""
    return (PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8").rstrip("\n")


# The one reply meaning "the articles do not say": the extractive answerer returns it and
# the LLM prompts ask for it word for word, so code can recognise an abstention.
CANNOT_ANSWER = load("cannot_answer")
