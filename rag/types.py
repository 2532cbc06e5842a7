"""The records that cross stage boundaries: files to articles to chunks to hits to answers.

Plain dataclasses with no I/O, so every stage can be tested alone and library objects
(llama-index nodes, Chroma results) never leak out of the module that wraps them.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any


class UserError(Exception):
    """A problem the user can fix; its message is shown as is and says what to do."""


class LLMError(UserError):
    """The LLM server (Ollama or an OpenAI-compatible one) could not write the answer; the
    message says why and what to do."""


class IndexUnavailable(UserError):
    """The index cannot be used or changed; the message says what to do."""


class Mode(StrEnum):
    """How an answer was made: quoted from the passages, or written by a model that Ollama
    or an OpenAI-compatible server runs."""

    EXTRACTIVE = "extractive"
    OLLAMA = "ollama"
    OPENAI = "openai"

    @property
    def server(self) -> str:
        """The kind of server behind the mode, as the app and the CLI name it."""
        return _SERVERS[self]


_SERVERS = {Mode.EXTRACTIVE: "offline extractive", Mode.OLLAMA: "Ollama",
            Mode.OPENAI: "OpenAI-compatible"}  # fmt: skip


class Confidence(StrEnum):
    """How far to trust an answer: "high" (right nine times in ten on the dev parts), "low"
    (check the quote), "none" for a decline."""

    HIGH = "high"
    LOW = "low"
    NONE = "none"


@dataclass(frozen=True)
class Evidence:
    """What a reading of the passages rests on; rag/answer/confidence.py weighs it."""

    support: float  # share of the question's weight the quoted sentences cover (with context)
    own_share: float  # share of its weight other than names the sentences hold themselves
    holds_kind: bool  # the best sentence itself holds the kind of thing asked for
    typed: bool  # the question asks for a kind of thing: a date, number, person or place
    nearest: float  # cosine of the question and the nearest passage found
    quoted: float  # cosine of the question and the passage of the best sentence
    margin: float  # the best sentence's score less that of the next other sentence
    top: bool  # the best sentence comes from the first passage found
    unknown_share: float  # share of the question's weight on words no article uses
    rival_margin: float  # the best sentence's score less that of the best from another story
    agreement: bool  # another story's sentence holds a value the best one gives (a name, figure)
    values: float  # things of the kind asked for in the best sentence (more: less sure which)
    terms: float  # the question's terms the articles use (more: a more specific question)
    second: bool  # a second sentence is quoted beside the best

    def features(self) -> dict[str, float]:
        """The evidence as numbers, by name."""
        return {name: float(value) for name, value in asdict(self).items()}


@dataclass(frozen=True)
class DateRange:
    """Which article dates a question may use: from `since` to `until`, both included.

    An undated article is outside any range that has a bound: nothing says it belongs there.
    """

    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise UserError(
                f"The date range is empty: {self.since.isoformat()} is after "
                f"{self.until.isoformat()}."
            )

    @property
    def bounded(self) -> bool:
        """Whether the range leaves any article out."""
        return self.since is not None or self.until is not None

    def __contains__(self, day: date | None) -> bool:
        if not self.bounded:
            return True
        if day is None:
            return False
        return (self.since is None or day >= self.since) and (
            self.until is None or day <= self.until
        )

    def up_to(self, day: date | None) -> DateRange:
        """This range, ending on `day` at the latest: a question asked as of that day reads
        only what was published by then."""
        if day is None or (self.until is not None and self.until <= day):
            return self
        return DateRange(self.since, day)


# No date range: every article, dated or not.
ANY_DATE = DateRange()


@dataclass(frozen=True)
class Span:
    """A stretch of a source file's text: `text == file_text[start:end]`."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Article:
    """One news story found in a file; a file may hold several."""

    file: str
    title: str
    date: date | None
    date_text: str | None
    sections: tuple[Span, ...]
    # Set when `date` is not stated but estimated from the text: the sentence it rests on.
    date_evidence: str | None = None

    @property
    def start(self) -> int:
        """Offset of the article's first kept character in its file."""
        return self.sections[0].start

    @property
    def end(self) -> int:
        """Offset just past the article's last kept character in its file."""
        return self.sections[-1].end

    @property
    def text(self) -> str:
        """The article's cleaned text, its kept sections separated by blank lines."""
        return "\n\n".join(section.text for section in self.sections)


@dataclass(frozen=True)
class SourceFile:
    """A file read from the corpus, decoded to text, with the hash of its bytes."""

    name: str
    text: str
    sha256: str
    encoding: str
    # (size, mtime_ns, ctime_ns) when read, or None when the file had only just changed:
    # an unchanged stamp lets the next ingest skip reading and hashing the file.
    stamp: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Skipped:
    """A file ingest could not use, with a one-line reason a person can act on."""

    name: str
    reason: str


@dataclass(frozen=True)
class Chunk:
    """A passage of an article, stored in the index. `text == file_text[start:end]`."""

    id: str
    file: str
    file_sha256: str
    article: int
    title: str
    date: date | None
    start: int
    end: int
    text: str
    date_estimated: bool = False  # the article states no date; `date` is estimated
    # (start, end) of each sentence in `text`, found once at ingest so that answering never
    # loads the sentence splitter; None for chunks stored before they were recorded.
    sentences: tuple[tuple[int, int], ...] | None = None

    @property
    def heading(self) -> str:
        """The article's title and date, e.g. "Rockets hit Balad (April 7, 2021)"."""
        if not self.date:
            return self.title
        written = f"{self.date:%B} {self.date.day}, {self.date.year}"
        return f"{self.title} ({'about ' if self.date_estimated else ''}{written})"

    @property
    def indexed_text(self) -> str:
        """What is embedded and searched: title and date give each passage its context."""
        return f"{self.heading}\n{self.text}"


@dataclass(frozen=True)
class Sentence:
    """A sentence of a retrieved passage, located in its file."""

    hit: int  # index of its hit in the retrieval results
    chunk: Chunk
    start: int  # offsets in the file
    end: int
    text: str


@dataclass(frozen=True)
class ParsedFile:
    """A corpus file turned into articles and the chunks to index."""

    source: SourceFile
    articles: tuple[Article, ...]
    chunks: tuple[Chunk, ...]


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk, with copies of the same story from other files folded into it."""

    chunk: Chunk
    score: float
    copies: tuple[Chunk, ...] = ()
    # Cosine similarity of the question's embedding and the passage's: how close in meaning
    # they are, whatever the words. None when only the keyword side found the passage.
    similarity: float | None = None

    @property
    def files(self) -> tuple[str, ...]:
        """Every file that carries this passage, the best-ranked first, without repeats."""
        return tuple(dict.fromkeys([self.chunk.file, *(c.file for c in self.copies)]))


@dataclass(frozen=True)
class Citation:
    """A numbered pointer from an answer to the passage that supports it."""

    n: int
    file: str
    title: str
    date: date | None
    quote: str
    start: int
    end: int
    also_in: tuple[str, ...] = ()
    date_estimated: bool = False  # the article states no date; `date` is estimated

    @property
    def date_label(self) -> str:
        """The article's date as shown beside a quote: "2021-04-07", "about 2021-04-07
        (estimated)" or "undated"."""
        if not self.date:
            return "undated"
        return f"about {self.date} (estimated)" if self.date_estimated else str(self.date)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, the `citations` entries of `rag ask --json`."""
        record = asdict(self)
        record["date"] = self.date.isoformat() if self.date else None
        record["also_in"] = list(self.also_in)
        return record


class DateBasis(StrEnum):
    """How the date of a timeline entry is known."""

    STATED = "stated"  # the sentence writes it ("on April 7, 2021", "in late 2020")
    RELATIVE = "resolved relative date"  # "on Monday", against the article's date
    ARTICLE = "article date"  # the date the article was published
    # An undated copy of a wire story, dated by another copy: the card of the undated file
    # it quotes says "undated", and the row says whose date it is.
    COPY = "date of a copy of the article"
    ESTIMATED = "estimated article date"  # undated article, dated from its own text


@dataclass(frozen=True)
class TimelineEntry:
    """One dated statement of a timeline answer, with the citations of every copy of it."""

    when: date  # for ordering; a stated year alone stands for its middle, "late" for November
    date_text: str  # as shown: "February 5, 2018", "late 2020"
    precision: str  # "day" or "year"
    basis: DateBasis
    statement: str
    citations: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, the `timeline` entries of `rag ask --json`."""
        return {
            "date": self.when.isoformat() if self.precision == "day" else str(self.when.year),
            "date_text": self.date_text,
            "date_basis": str(self.basis),
            "statement": self.statement,
            "citations": list(self.citations),
        }


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer, the passages it cites, and whether code found it supported.

    A generated sentence is supported when every passage number it cites was in the context
    and the cited passages hold its numbers, names and dates and say something close to it.
    An unsupported sentence keeps the numbers it cited (to show what the model claimed) but
    loses its markers in the answer text. `problem` says why it is unsupported.
    """

    text: str
    citations: tuple[int, ...]
    supported: bool
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, the `claims` entries of `rag ask --json`."""
        record = asdict(self)
        record["citations"] = list(self.citations)
        return record


@dataclass(frozen=True, kw_only=True)
class Answer:
    """The result of one question: text, citations, the evidence, and how it was made."""

    question: str
    answer: str
    abstained: bool
    mode: Mode
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    searched_for: str
    notice: str | None = None
    model: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    claims: tuple[Claim, ...] = ()
    # Asked as if on this date: only articles published by then were read.
    as_of: date | None = None
    # For a question about how something changed: its dated statements, oldest first.
    timeline: tuple[TimelineEntry, ...] = ()
    # Beside a decline: the passages found that are about the question and hold article
    # text (not a byline or a photo credit), best first; none for an off-topic question.
    closest: tuple[Hit, ...] = ()
    # How far to trust it, and the reading's evidence that says so (none for a decline).
    confidence: Confidence = Confidence.LOW
    evidence: Evidence | None = None
    # Why the model's answer was replaced by the extractive one (None: it was not); `claims`
    # then still holds what the model wrote.
    fallback_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form printed by `rag ask --json` and stored by `rag eval --out`."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "mode": str(self.mode),
            "model": self.model,
            "notice": self.notice,
            "searched_for": self.searched_for,
            "citations": [c.to_dict() for c in self.citations],
            "claims": [c.to_dict() for c in self.claims],
            "hits": [_hit_json(hit) for hit in self.hits],
            "closest": [_hit_json(hit) for hit in self.closest],
            "confidence": str(self.confidence),
            "evidence": None if self.evidence is None else self.evidence.features(),
            "fallback_reason": self.fallback_reason,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "timeline": [entry.to_dict() for entry in self.timeline],
        }


def _hit_json(hit: Hit) -> dict[str, Any]:
    """A retrieved passage as `rag ask --json` gives it."""
    return {
        "file": hit.chunk.file,
        "also_in": list(hit.files[1:]),
        "title": hit.chunk.title,
        "score": round(hit.score, 6),
        "similarity": None if hit.similarity is None else round(hit.similarity, 4),
        "start": hit.chunk.start,
        "end": hit.chunk.end,
    }


class AnswerStream:
    """An answer as it is produced: iterate for the pieces of its text, then read `.answer`.

    With Ollama the pieces are the model's tokens as they arrive and `.answer` holds the
    checked text; offline the one piece is the whole extractive answer. Reading `.answer`
    before the pieces are used up reads the rest first, so it is never a stale answer.
    """

    def __init__(self, pieces: Generator[str, None, Answer]) -> None:
        self._pieces = pieces
        self._answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        self._answer = yield from self._pieces

    @property
    def answer(self) -> Answer:
        """The finished answer: citations, checks, timings."""
        if self._answer is None:
            for _ in self:
                pass
        if self._answer is None:  # the pieces were iterated elsewhere and not to the end
            raise RuntimeError("the answer stream was abandoned before it finished")
        return self._answer
