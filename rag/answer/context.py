"""The numbered passages an LLM reads: each with its file, title and date, relative dates
resolved, and what copies of the same story folded into it add."""

from __future__ import annotations

from collections.abc import Sequence

from rag.dates import annotate_relative, format_day
from rag.sentences import same_text, split_sentences
from rag.types import Chunk, Hit, Sentence


def passage(n: int, hit: Hit) -> str:
    """Passage `n` as the LLM reads it: number, file, title, date, then the text with its
    relative dates resolved ("on Monday (= April 5, 2021)"), then what copies folded into it
    add ("Also in FILE: ...")."""
    chunk = hit.chunk
    header = f"[{n}] file: {chunk.file} | title: {chunk.title} | published: {_when(chunk)}"
    lines = [header, annotate_relative(chunk.text, chunk.date)]
    added: dict[Chunk, list[str]] = {}
    for sentence in passage_sentences(n, hit):
        if sentence.chunk is not chunk:
            added.setdefault(sentence.chunk, []).append(sentence.text)
    for copy, sentences in added.items():
        text = annotate_relative(" ".join(sentences), copy.date)
        lines.append(f"Also in {copy.file} (published {_when(copy)}): {text}")
    return "\n".join(lines)


def passage_sentences(n: int, hit: Hit) -> list[Sentence]:
    """The sentences of passage `n`: its chunk's, then those of the copies folded into it that
    say something the chunk does not (a version of a story may carry a fact the others lack)."""
    sentences = split_sentences(n - 1, hit.chunk)
    for copy in hit.copies:
        for sentence in split_sentences(n - 1, copy):
            if not any(same_text(sentence, kept) for kept in sentences):
                sentences.append(sentence)
    return sentences



def _when(chunk: Chunk) -> str:
    return format_day(chunk.date) if chunk.date else "date unknown"


def numbered_context(hits: Sequence[Hit]) -> str:
    """The retrieved passages numbered from 1, in retrieval order, for the answer prompt."""
    return "\n\n".join(passage(n, hit) for n, hit in enumerate(hits, start=1))

