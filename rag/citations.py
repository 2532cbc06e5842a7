"""Citation numbering: each cited passage gets a number, in order of first use."""

from __future__ import annotations

from collections.abc import Sequence

from rag.extract import Sentence
from rag.types import Citation, Hit


def cite(sentences: Sequence[Sentence], hits: Sequence[Hit]) -> tuple[list[int], list[Citation]]:
    """Number the quoted sentences: one citation per sentence, repeats share a number.

    Returns the number of each sentence and the citations, numbered from 1.
    """
    numbers: list[int] = []
    citations: list[Citation] = []
    by_span: dict[tuple[str, int, int], int] = {}
    for sentence in sentences:
        key = (sentence.chunk.file, sentence.start, sentence.end)
        if key not in by_span:
            by_span[key] = len(citations) + 1
            hit = hits[sentence.hit]
            citations.append(
                Citation(
                    n=by_span[key],
                    file=sentence.chunk.file,
                    title=sentence.chunk.title,
                    date=sentence.chunk.date,
                    quote=sentence.text,
                    start=sentence.start,
                    end=sentence.end,
                    also_in=tuple(f for f in hit.files if f != sentence.chunk.file),
                )
            )
        numbers.append(by_span[key])
    return numbers, citations
