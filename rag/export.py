"""Answers and conversations to take away: Markdown a person can paste into a story or a
note, JSON a script can read (the `rag ask --json` object)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rag.types import Answer


def answer_markdown(answer: Answer, heading: str = "##") -> str:
    """An answer as Markdown: the question, the answer with its `[n]` references, then each
    source: file, title, date, the quoted passage and its character offsets in the file."""
    lines = [f"{heading} {answer.question}", "", answer.answer, ""]
    if answer.as_of:
        lines += [f"As of {answer.as_of.isoformat()}: only articles published by then.", ""]
    if answer.citations:
        lines += ["Sources:", ""]
    for citation in answer.citations:
        also = f" (also in {', '.join(citation.also_in)})" if citation.also_in else ""
        lines += [
            f"[{citation.n}] {citation.file}{also}: {citation.title}, {citation.date_label}, "
            f"characters {citation.start}-{citation.end}",
            "",
            "> " + citation.quote.replace("\n", "\n> "),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def conversation_markdown(turns: Sequence[tuple[str, Answer]], title: str = "newsdesk") -> str:
    """A whole conversation as Markdown: each answer as `answer_markdown` writes it."""
    parts = [f"# {title}", ""] + [answer_markdown(answer) for _, answer in turns]
    return "\n".join(parts)


def answer_json(answer: Answer) -> str:
    """An answer as `rag ask --json` prints it."""
    return json.dumps(answer.to_dict(), ensure_ascii=False, indent=2)


def conversation_json(turns: Sequence[tuple[str, Answer]]) -> str:
    """A whole conversation: a list of `rag ask --json` objects, in order."""
    return json.dumps([a.to_dict() for _, a in turns], ensure_ascii=False, indent=2)
