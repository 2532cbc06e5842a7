"""Citation markers and numbering: the one owner of the `[n]` grammar.

An answer cites passage n with "[n]" (or "[1, 2]"); a sentence no passage supports carries
"[unsupported]" instead. Every module that writes, reads or strips markers uses these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from rag.types import Citation, Hit, Sentence

# A citation marker: "[1]", "[2, 3]".
MARKER = re.compile(r"\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]")
# Put in place of the markers of a sentence the passages do not support.
UNSUPPORTED_MARK = "[unsupported]"
# Any marker an answer may carry: a citation or the unsupported mark.
_ANY_MARK = re.compile(rf"{MARKER.pattern}|{re.escape(UNSUPPORTED_MARK)}")


def markers(numbers: Iterable[int]) -> str:
    """The markers citing `numbers`, in order, without repeats: "[1][3]"."""
    return "".join(f"[{n}]" for n in dict.fromkeys(numbers))


def strip_markers(text: str) -> str:
    """`text` without its citation markers and unsupported marks (for scoring its words)."""
    return _ANY_MARK.sub(" ", text)


def defuse_markers(text: str) -> str:
    """Quoted text may itself hold "[3]"; shown as "(3)" so the only [n] are our citations."""
    return MARKER.sub(lambda m: f"({m.group(1)})", text)


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
            citations.append(citation(by_span[key], sentence, hits[sentence.hit]))
        numbers.append(by_span[key])
    return numbers, citations


def citation(n: int, sentence: Sentence, hit: Hit) -> Citation:
    """Citation `n`, quoting `sentence` of `hit` (whose other files are listed as copies)."""
    return Citation(
        n=n,
        file=sentence.chunk.file,
        title=sentence.chunk.title,
        date=sentence.chunk.date,
        quote=sentence.text,
        start=sentence.start,
        end=sentence.end,
        also_in=tuple(f for f in hit.files if f != sentence.chunk.file),
        date_estimated=sentence.chunk.date_estimated,
    )
