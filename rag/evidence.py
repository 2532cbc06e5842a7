"""What a reader needs to check a citation: the passage and the article around the quote.

Offsets in citations and chunks index the file's text (for HTML: its extracted text), so
the quote can be shown in place. The file is read again from the corpus, and when it no
longer matches what was indexed, the reader is told instead of being shown a wrong place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from itertools import pairwise

from rag.answer.citations import MARKER, UNSUPPORTED_MARK
from rag.config import Settings
from rag.ingest import read_corpus_file
from rag.manifest import ArticleEntry, FileEntry
from rag.types import Chunk, Citation, Claim, Hit, Skipped


class Level(IntEnum):
    """How a segment of text is marked; a higher level wins where marks overlap."""

    PLAIN = 0
    PASSAGE = 1  # the retrieved passage the quote is from
    QUOTE = 2  # the words the citation quotes
    UNSUPPORTED = 3  # an answer sentence that failed the support check


# A citation marker ("[1]") or the unsupported mark, after optional space.
_MARK = rf"\s*(?:{MARKER.pattern}|{re.escape(UNSUPPORTED_MARK)})"
# What may follow a sentence's words in an answer: markers and closing punctuation, which a
# claim's own text may hold in another order.
_TAIL = re.compile(rf"(?:{_MARK}|[.!?…\"”’')])*")
_TRAILING = re.compile(rf"(?:{_MARK}|[\s.!?…\"”’')])+$")

# (start, end, level): a stretch of a text to mark, as offsets in its file (or answer).
Mark = tuple[int, int, Level]


@dataclass(frozen=True)
class Segment:
    """A stretch of text and its mark."""

    text: str
    level: Level


@dataclass(frozen=True)
class Evidence:
    """A citation in context: its passage, and its whole article when the file still matches."""

    passage: tuple[Segment, ...]
    article_title: str
    article: tuple[Segment, ...] = ()
    problem: str | None = None  # why the article cannot be shown, and what to do


def mark(text: str, offset: int, marks: Sequence[Mark]) -> tuple[Segment, ...]:
    """Cut `text`, which starts at `offset` in its file, at the edges of the marks (start and
    end as file offsets, and a level); each segment takes the highest level covering it."""
    edges = {0, len(text)}
    for start, end, _ in marks:
        edges.update(min(max(edge - offset, 0), len(text)) for edge in (start, end))
    segments = []
    for begin, finish in pairwise(sorted(edges)):
        covering = [lvl for start, end, lvl in marks if start <= begin + offset < end]
        segments.append(Segment(text[begin:finish], max(covering, default=Level.PLAIN)))
    return tuple(segments)


def passage_of(citation: Citation, hits: Sequence[Hit]) -> Chunk | None:
    """The retrieved passage (or copy of it) the citation quotes from."""
    for hit in hits:
        for chunk in (hit.chunk, *hit.copies):
            if chunk.file == citation.file and chunk.start <= citation.start < chunk.end:
                return chunk
    return None


def gather(
    citations: Sequence[Citation], hits: Sequence[Hit], entry: FileEntry | None, settings: Settings
) -> Evidence:
    """The passage around the quotes of `citations` (one or more quoting the same passage of
    one file) and, from the file itself, their whole article."""
    citation = citations[0]
    quotes: list[Mark] = [(c.start, c.end, Level.QUOTE) for c in citations]
    chunk = passage_of(citation, hits)
    if chunk is None:
        passage = tuple(Segment(c.quote, Level.QUOTE) for c in citations)
    else:
        passage = mark(chunk.text, chunk.start, quotes)
    if entry is None:
        return Evidence(passage, citation.title, problem="The file is no longer indexed: re-index.")
    source = read_corpus_file(
        settings.corpus_dir, citation.file, settings.corpus_dir / citation.file,
        int(settings.max_file_mb * 1e6),
    )  # fmt: skip
    if isinstance(source, Skipped) or source.sha256 != entry.sha256:
        return Evidence(
            passage,
            citation.title,
            problem="The file is gone or changed since it was indexed: re-index to check it.",
        )
    # The passage records the version of the file the answer quoted; offsets into another
    # version would mark the wrong characters.
    if chunk is not None and chunk.file_sha256 != source.sha256:
        return Evidence(
            passage,
            citation.title,
            problem="The file changed since this answer was made: its quote above is as it was "
            "then; ask again to quote the file as it is now.",
        )
    text = source.text
    marks = quotes if chunk is None else [(chunk.start, chunk.end, Level.PASSAGE), *quotes]
    article = _article_at(entry.articles, citation.start)
    if article is None:  # shown as the whole file
        return Evidence(passage, citation.title, mark(text, 0, marks))
    return Evidence(passage, article.title, _sections(text, article, marks))


def _article_at(articles: Sequence[ArticleEntry], offset: int) -> ArticleEntry | None:
    return next((article for article in articles if article.holds(offset)), None)


def _sections(text: str, article: ArticleEntry, marks: Sequence[Mark]) -> tuple[Segment, ...]:
    """The article's kept sections of `text`, marked, a blank line between them."""
    segments: list[Segment] = []
    for start, end in article.sections:
        if segments:
            segments.append(Segment("\n\n", Level.PLAIN))
        segments += mark(text[start:end], start, marks)
    return tuple(segments)


def split_at_passage(segments: Sequence[Segment]) -> tuple[tuple[Segment, ...], ...]:
    """`segments` (a marked article) cut at the start of the line where the first marked
    text begins: what comes before, and the rest. A whole article opens at its quote, with
    the earlier text a click away; with nothing marked, all of it comes before."""
    at = next((i for i, segment in enumerate(segments) if segment.level), len(segments))
    if at == len(segments) or at == 0:
        return tuple(segments[:at]), tuple(segments[at:])
    lead = segments[at - 1]
    cut = lead.text.rfind("\n") + 1  # 0 when the line began in an earlier segment
    before = [*segments[: at - 1], Segment(lead.text[:cut], lead.level)]
    rest = [Segment(lead.text[cut:], lead.level), *segments[at:]]
    return tuple(s for s in before if s.text), tuple(s for s in rest if s.text)


def unsupported_marks(text: str, claims: Sequence[Claim]) -> list[Mark]:
    """Marks for `mark` on the answer sentences that failed the support check, each with the
    markers and closing punctuation that follow its words."""
    marks: list[Mark] = []
    cursor = 0
    for claim in claims:
        words = _TRAILING.sub("", claim.text)
        # Claims come in answer order; searching on from the last one keeps repeats apart.
        at = text.find(words, cursor) if words else -1
        if at >= 0:
            tail = _TAIL.match(text, at + len(words))  # matches, if only the empty string
            cursor = tail.end() if tail else at + len(words)
            if not claim.supported:
                marks.append((at, cursor, Level.UNSUPPORTED))
    return marks
