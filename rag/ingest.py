"""Files to clean articles to chunks: everything between the corpus folder and the index."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from rag.clean import articles_from_text
from rag.config import Settings
from rag.manifest import FileEntry
from rag.read import read_source, stamp, unreadable
from rag.sentences import sentence_spans, split_keeping_text
from rag.types import Article, Chunk, ParsedFile, Skipped, SourceFile

if TYPE_CHECKING:
    from llama_index.core.node_parser import SentenceSplitter

TokenCounter = Callable[[str], int]


class Stage(StrEnum):
    """The steps of an ingest that report progress; the value is the CLI's bar label."""

    READING = "Reading"  # counts files
    EMBEDDING = "Embedding"  # counts chunks


# (stage, done, total), called as an ingest goes.
Progress = Callable[[Stage, int, int], None]
# Most progress reports while reading the corpus (one per file would flood a progress bar).
PROGRESS_UPDATES = 200
NO_ARTICLE_TEXT = "no article text found"


@dataclass(frozen=True)
class CorpusFiles:
    """The corpus as read for one ingest: the files to index, and those that cannot be."""

    parsed: dict[str, ParsedFile]  # files read; those whose content is unchanged carry no chunks
    skipped: list[Skipped]
    # Files the index holds complete whose size and times are as recorded: neither read nor
    # hashed, and given no record of their own (at 100,000 files, reading took most of an
    # unchanged ingest, and a record per file a tenth of it).
    unread: frozenset[str] = frozenset()


def read_corpus(
    settings: Settings,
    known: Mapping[str, FileEntry],
    count_tokens: TokenCounter,
    progress: Progress | None = None,
) -> CorpusFiles:
    """Every file of the corpus folder parsed into chunks, or skipped with its reason.

    Files `known` to the index as complete and unchanged are not chunked again, and not even
    read when their size and times are as recorded. `count_tokens` is called only when a
    file needs chunking, so the embedding model loads only then.
    """
    max_bytes = int(settings.max_file_mb * 1e6)
    chunker = Chunker(settings.chunk_size, settings.chunk_overlap, count_tokens)
    parsed: dict[str, ParsedFile] = {}
    skipped: list[Skipped] = []
    unread: list[str] = []
    for name, path in reported(list(discover(settings.corpus_dir)), progress):
        entry = known.get(name)
        if entry is not None and entry.complete and unchanged(path, entry.stamp):
            unread.append(name)
            continue
        file = _read(settings.corpus_dir, name, path, entry, max_bytes, chunker)
        if isinstance(file, Skipped):
            skipped.append(file)
        else:
            parsed[name] = file
    return CorpusFiles(parsed, skipped, frozenset(unread))


def _read(
    corpus_dir: Path,
    name: str,
    path: str,
    entry: FileEntry | None,
    max_bytes: int,
    chunker: Chunker,
) -> ParsedFile | Skipped:
    """One corpus file read, and parsed unless the index holds its content (`entry`)."""
    if entry is not None and not entry.complete:
        entry = None  # an interrupted file is redone whatever its content
    source = read_corpus_file(corpus_dir, name, Path(path), max_bytes)
    if isinstance(source, Skipped):
        return source
    if entry and entry.sha256 == source.sha256:
        return ParsedFile(source, (), ())  # unchanged: nothing to re-chunk
    # A file with no article text is skipped before chunking: such a file is read again by
    # every ingest, and chunking can load the model's tokenizer and llama-index's splitter.
    articles = tuple(articles_from_text(source.name, source.text))
    file = chunker.parse(source, articles) if articles else None
    return file if file and file.chunks else Skipped(name, NO_ARTICLE_TEXT)


def reported(
    files: list[tuple[str, str]], progress: Progress | None
) -> Iterator[tuple[str, str]]:
    """`files`, reporting how many were dealt with as the next one is asked for: reading and
    chunking 100,000 files takes minutes before any embedding starts."""
    step = max(1, len(files) // PROGRESS_UPDATES)
    for number, file in enumerate(files, start=1):
        yield file
        if progress and (number % step == 0 or number == len(files)):
            progress(Stage.READING, number, len(files))


def discover(corpus_dir: Path) -> Iterator[tuple[str, str]]:
    """Corpus files as (name relative to the corpus, path), sorted; hidden entries ignored.

    Names and paths are joined as strings, and a `Path` is made only for a file that is
    read: per-file Path arithmetic was half of an unchanged re-ingest of 100,000 files."""
    root = corpus_dir.resolve()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        prefix = Path(folder).relative_to(root).as_posix() + "/"
        for file in sorted(files):
            if not file.startswith("."):
                yield (prefix + file).removeprefix("./"), os.path.join(folder, file)


def read_corpus_file(
    corpus_dir: Path, name: str, path: Path, max_bytes: int
) -> SourceFile | Skipped:
    """Read one file, refusing links that lead out of the corpus folder."""
    root = corpus_dir.resolve()
    target = path.resolve()
    if not target.is_relative_to(root):
        return Skipped(name, f"link to {target}, outside the corpus folder")
    try:
        regular = stat.S_ISREG(target.stat().st_mode)
    except OSError as error:  # removed since the folder was listed, or no permission
        return Skipped(name, unreadable(error))
    if not regular:
        return Skipped(name, "not a regular file")
    return read_source(target, name, max_bytes)


def unchanged(path: str, recorded: Sequence[int] | None) -> bool:
    """Whether `path` is still the regular file (not a link) that was read with this stamp."""
    if recorded is None:
        return False
    try:
        status = os.lstat(path)
    except OSError:
        return False
    # A link is always read again: its target can change while the link itself does not.
    return stat.S_ISREG(status.st_mode) and stamp(status) == tuple(recorded)


class Chunker:
    """Cuts articles into passages with llama-index's sentence-aware splitter."""

    def __init__(self, chunk_size: int, chunk_overlap: int, count_tokens: TokenCounter) -> None:
        self._size = chunk_size
        self._overlap = chunk_overlap
        self._count = count_tokens

    @cached_property
    def _splitter(self) -> SentenceSplitter:
        # Imported on the first section longer than a chunk: llama-index's package takes a
        # second or more to import, and a corpus of short files never needs it.
        from llama_index.core.node_parser import SentenceSplitter

        # Sizes are counted in the embedding model's own word pieces, so no chunk is cut
        # short by the model's input limit.
        return SentenceSplitter(
            chunk_size=self._size,
            chunk_overlap=self._overlap,
            paragraph_separator="\n\n",
            tokenizer=lambda text: range(self._count(text)),
            chunking_tokenizer_fn=split_keeping_text,
        )

    def split(self, text: str) -> list[str]:
        """The passages of one section. Text that fits in a chunk is one passage, as the
        splitter would make it (stripped; none when blank)."""
        if self._count(text) <= self._size:
            return [text.strip()] if text.strip() else []
        return self._splitter.split_text(text)

    def parse(self, source: SourceFile, articles: Sequence[Article] | None = None) -> ParsedFile:
        """Articles of a file (found here unless given) and their chunks, each chunk an exact
        span of the file."""
        if articles is None:
            articles = tuple(articles_from_text(source.name, source.text))
        chunks = tuple(
            chunk
            for number, article in enumerate(articles)
            for chunk in self.chunk_article(source, number, article)
        )
        return ParsedFile(source, tuple(articles), chunks)

    def chunk_article(self, source: SourceFile, number: int, article: Article) -> list[Chunk]:
        """The chunks of one article; they never cross a removed line."""
        chunks = []
        for section in article.sections:
            cursor, reached = 0, 0
            for piece in self.split(section.text):
                at = _locate(section.text, piece, cursor, reached)
                if at < 0:
                    raise ValueError(f"chunk not found in {source.name}: {piece[:60]!r}")
                cursor, reached = at + 1, at + len(piece)
                start = section.start + at
                chunks.append(
                    Chunk(
                        id=chunk_id(source, start, start + len(piece)),
                        file=source.name,
                        file_sha256=source.sha256,
                        article=number,
                        title=article.title,
                        date=article.date,
                        start=start,
                        end=start + len(piece),
                        text=piece,
                        date_estimated=article.date_evidence is not None,
                        sentences=tuple(sentence_spans(piece)),
                    )
                )
        return chunks


def _locate(text: str, piece: str, after: int, reached: int) -> int:
    """Where the splitter's next piece sits in `text`, or -1.

    It starts after the previous piece's start; pieces overlap, so it starts at or before
    the previous piece's end. When text repeats itself several places fit: the last one
    in that window keeps the pieces in step with the text.
    """
    best, at = -1, text.find(piece, after)
    while 0 <= at <= reached:
        best, at = at, text.find(piece, at + 1)
    return best if best >= 0 else at


def chunk_id(source: SourceFile, start: int, end: int) -> str:
    """Stable id: the same file content always gives the same ids (safe re-runs)."""
    key = f"{source.name}\0{source.sha256}\0{start}\0{end}"
    return hashlib.sha1(key.encode()).hexdigest()[:24]
