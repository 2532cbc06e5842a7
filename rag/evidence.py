"""What a reader needs to check a citation: the passage and the article around the quote.

Offsets in citations and chunks index the file's text (for HTML: its extracted text), so
the quote can be shown in place. The file is read again from the corpus, and when it no
longer matches what was indexed, the reader is told instead of being shown a wrong place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from rag.config import Settings
from rag.index import FileEntry
from rag.ingest import read_corpus_file
from rag.types import Chunk, Citation, Claim, Hit, Skipped

# How a segment of text is marked; a higher level wins where marks overlap.
PLAIN, PASSAGE, QUOTE, UNSUPPORTED = 0, 1, 2, 3
# What may follow a sentence's words in an answer: citation markers ("[1]", "[unsupported]")
# and closing punctuation, which a claim's own text may hold in another order.
_TAIL = re.compile(r"(?:\s*\[[^\]\n]*\]|[.!?…\"”’')])*")
_TRAILING = re.compile(r"(?:\s*\[[^\]\n]*\]|[\s.!?…\"”’')])+$")


@dataclass(frozen=True)
class Segment:
    """A stretch of text and its mark: PLAIN, PASSAGE, QUOTE or UNSUPPORTED."""

    text: str
    level: int


@dataclass(frozen=True)
class Evidence:
    """A citation in context: its passage, and its whole article when the file still matches."""

    passage: tuple[Segment, ...]
    article_title: str
    article: tuple[Segment, ...] = ()
    problem: str | None = None  # why the article cannot be shown, and what to do


def mark(text: str, offset: int, marks: Sequence[tuple[int, int, int]]) -> tuple[Segment, ...]:
    """Cut `text`, which starts at `offset` in its file, at the edges of the marks (start and
    end as file offsets, and a level); each segment takes the highest level covering it."""
    edges = {0, len(text)}
    for start, end, _ in marks:
        edges.update(min(max(edge - offset, 0), len(text)) for edge in (start, end))
    segments = []
    for begin, finish in pairwise(sorted(edges)):
        covering = [lvl for start, end, lvl in marks if start <= begin + offset < end]
        segments.append(Segment(text[begin:finish], max(covering, default=PLAIN)))
    return tuple(segments)


def passage_of(citation: Citation, hits: Sequence[Hit]) -> Chunk | None:
    """The retrieved passage (or copy of it) the citation quotes from."""
    for hit in hits:
        for chunk in (hit.chunk, *hit.copies):
            if chunk.file == citation.file and chunk.start <= citation.start < chunk.end:
                return chunk
    return None


def gather(
    citation: Citation, hits: Sequence[Hit], entry: FileEntry | None, settings: Settings
) -> Evidence:
    """The passage around a citation's quote and, from the file itself, its whole article."""
    quote = (citation.start, citation.end, QUOTE)
    chunk = passage_of(citation, hits)
    if chunk is None:
        passage = (Segment(citation.quote, QUOTE),)
    else:
        passage = mark(chunk.text, chunk.start, [quote])
    title = citation.title
    if entry is None:
        return Evidence(passage, title, problem="The file is no longer indexed: re-index.")
    source = read_corpus_file(
        settings.corpus_dir,
        citation.file,
        settings.corpus_dir / citation.file,
        int(settings.max_file_mb * 1e6),
    )
    if isinstance(source, Skipped) or source.sha256 != entry.sha256:
        return Evidence(
            passage,
            title,
            problem="The file is gone or changed since it was indexed: re-index to check it.",
        )
    article = next(
        (a for a in entry.articles if a["start"] <= citation.start < a["end"]),
        {"title": title, "start": 0, "end": len(source.text)},
    )
    marks = [quote] if chunk is None else [(chunk.start, chunk.end, PASSAGE), quote]
    # Indexes written before sections were recorded know only the article's outer span.
    spans = article.get("sections") or [[article["start"], article["end"]]]
    segments: list[Segment] = []
    for start, end in spans:
        if segments:
            segments.append(Segment("\n\n", PLAIN))
        segments += mark(source.text[start:end], start, marks)
    return Evidence(passage, article["title"], tuple(segments))


def unsupported_marks(text: str, claims: Sequence[Claim]) -> list[tuple[int, int, int]]:
    """Marks for `mark` on the answer sentences that failed the support check, each with the
    markers and closing punctuation that follow its words."""
    marks, cursor = [], 0
    for claim in claims:
        words = _TRAILING.sub("", claim.text)
        # Claims come in answer order; searching on from the last one keeps repeats apart.
        at = text.find(words, cursor) if words else -1
        if at >= 0:
            cursor = _TAIL.match(text, at + len(words)).end()
            if not claim.supported:
                marks.append((at, cursor, UNSUPPORTED))
    return marks
