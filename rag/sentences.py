"""Sentence boundaries for news copy, shared by chunking, answering and checking.

nltk's punkt splitter, untrained as llama-index uses it, with the titles and abbreviations
of news writing added, so "Brig. Gen. Jonathan Braga said" stays one sentence everywhere.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from rag.lexical import terms
from rag.types import Chunk, Sentence

# Titles before a name; punkt sometimes ends a sentence after them all the same.
_TITLES = "maj gen brig lt col sgt capt cpl adm mr mrs ms dr gov sen rep st"
_ENDS_WITH_TITLE = re.compile(rf"\b(?:{'|'.join(_TITLES.split())})\.$", re.IGNORECASE)
_ABBREVIATIONS = f"{_TITLES} no u.s u.k u.n jan feb mar apr jun jul aug sep sept oct nov dec"


@cache
def _punkt() -> Any:  # nltk has no type hints
    # Made here rather than taken from llama-index, whose import costs a question asked
    # from the command line half a second.
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    splitter = PunktSentenceTokenizer()
    splitter._params.abbrev_types.update(_ABBREVIATIONS.split())
    return splitter


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`; line breaks also end a sentence."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        merged: list[list[int]] = []
        for start, end in _punkt().span_tokenize(line.group(0)):
            if merged and _ENDS_WITH_TITLE.search(line.group(0)[merged[-1][0] : merged[-1][1]]):
                merged[-1][1] = end
            else:
                merged.append([start, end])
        spans.extend((line.start() + a, line.start() + b) for a, b in merged)
    return spans


def split_keeping_text(text: str) -> list[str]:
    """Sentences that concatenate back to `text` exactly (what llama-index's splitter needs)."""
    starts = [start for start, _ in sentence_spans(text)]
    if not starts:
        return [text]
    starts[0] = 0
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)], strict=True)]


def split_sentences(hit_number: int, chunk: Chunk) -> list[Sentence]:
    """The sentences of a chunk, with file offsets."""
    spans = sentence_spans(chunk.text) if chunk.sentences is None else chunk.sentences
    return [
        Sentence(hit_number, chunk, chunk.start + a, chunk.start + b, chunk.text[a:b])
        for a, b in spans
    ]


# Share of their content terms (Jaccard) above which two sentences say the same thing.
SAME_TEXT_OVERLAP = 0.6


def same_text(a: Sentence, b: Sentence) -> bool:
    """Two sentences saying the same (copies of one story)."""
    ta, tb = set(terms(a.text)), set(terms(b.text))
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) > SAME_TEXT_OVERLAP
