"""The manifest: the index's record of the corpus files it holds.

Per file it keeps the content hash, whether all the file's chunks are stored, and its
articles (to show a citation in its article). Typed records inside; JSON only in `load` and
`save`. Every manifest this project has written still loads: entries written before
sections, stamps or the keywords flag existed get the values those versions implied.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rag.types import Article, ParsedFile, SourceFile


@dataclass(frozen=True, slots=True)
class ArticleEntry:
    """What the manifest keeps of one article: where it is in its file, and its heading."""

    title: str
    date: date | None
    date_text: str | None
    start: int
    end: int
    # The kept stretches, as (start, end) file offsets: the article without the page
    # clutter between them.
    sections: tuple[tuple[int, int], ...]
    # Set when `date` is estimated from the text (no date is stated): the sentence it rests on.
    date_evidence: str | None = None

    @classmethod
    def of(cls, article: Article) -> ArticleEntry:
        """The entry for an article just parsed."""
        return cls(
            title=article.title,
            date=article.date,
            date_text=article.date_text,
            start=article.start,
            end=article.end,
            sections=tuple((section.start, section.end) for section in article.sections),
            date_evidence=article.date_evidence,
        )

    def holds(self, offset: int) -> bool:
        """Whether the file offset `offset` lies in the article's outer span."""
        return self.start <= offset < self.end


@dataclass(slots=True)
class FileEntry:
    """What the manifest knows about one corpus file."""

    sha256: str
    encoding: str = "utf-8"
    articles: tuple[ArticleEntry, ...] = ()
    chunks: int = 0
    complete: bool = False  # every chunk of the file is stored
    stamp: tuple[int, ...] | None = None  # SourceFile.stamp when it was last read

    @classmethod
    def of(cls, parsed: ParsedFile) -> FileEntry:
        """The entry for a file about to be stored: not complete until its last chunk is."""
        return cls(
            sha256=parsed.source.sha256,
            encoding=parsed.source.encoding,
            articles=tuple(ArticleEntry.of(article) for article in parsed.articles),
            chunks=len(parsed.chunks),
        )

    def source(self, name: str) -> SourceFile:
        """The file as recorded, for a file known to be unchanged (its text is not kept)."""
        return SourceFile(name, "", self.sha256, self.encoding, self.stamp)


@dataclass
class Manifest:
    """The index's record of the corpus it holds; written atomically after each step."""

    fingerprint: str
    corpus_dir: str
    files: dict[str, FileEntry] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    last_indexed: str | None = None
    # Chunks were added or removed since the BM25 index was last updated (a run was killed
    # before its update): the next ingest updates it even when no file changed.
    keywords_pending: bool = False

    @classmethod
    def load(cls, path: Path, fingerprint: str, corpus_dir: str) -> Manifest:
        """The manifest saved at `path`, or an empty one for `fingerprint` and `corpus_dir`."""
        if not path.exists():
            return cls(fingerprint, corpus_dir)
        data = json.loads(path.read_text())
        return cls(
            fingerprint=data["fingerprint"],
            corpus_dir=data["corpus_dir"],
            files={name: _file_from_json(entry) for name, entry in data["files"].items()},
            skipped=data.get("skipped", {}),
            last_indexed=data.get("last_indexed"),
            keywords_pending=data.get("keywords_pending", False),
        )

    def save(self, path: Path) -> None:
        """Write the manifest to `path` atomically: a kill leaves the old one or the new one."""
        data = {
            "fingerprint": self.fingerprint,
            "corpus_dir": self.corpus_dir,
            "files": {name: _file_to_json(entry) for name, entry in sorted(self.files.items())},
            "skipped": dict(sorted(self.skipped.items())),
            "last_indexed": self.last_indexed,
            "keywords_pending": self.keywords_pending,
        }
        staging = path.with_suffix(".tmp")
        # No indent: json only uses its C encoder without one, and an indented manifest of
        # 100,000 chunks took 5 s to write. `rag status` is the readable view.
        staging.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        os.replace(staging, path)

    def complete_files(self) -> dict[str, FileEntry]:
        """The files whose chunks are all stored: what the index answers from."""
        return {name: entry for name, entry in self.files.items() if entry.complete}


# The JSON boundary. Positional constructors and no per-field checks: at 100,000 files of
# two articles (51 MB), loading and saving take the same CPU time as with untyped dicts
# (within 3%, best of 5 on a busy 2-CPU machine); json.loads alone is over half of a load.


def _file_from_json(data: dict[str, Any]) -> FileEntry:
    stamp = data.get("stamp")
    return FileEntry(
        data["sha256"],
        data.get("encoding", "utf-8"),
        tuple(_article_from_json(article) for article in data.get("articles", ())),
        data.get("chunks", 0),
        data.get("complete", False),
        tuple(stamp) if stamp else None,
    )


def _file_to_json(entry: FileEntry) -> dict[str, Any]:
    return {
        "sha256": entry.sha256,
        "encoding": entry.encoding,
        "articles": [_article_to_json(article) for article in entry.articles],
        "chunks": entry.chunks,
        "complete": entry.complete,
        "stamp": list(entry.stamp) if entry.stamp else None,
    }


def _article_from_json(data: dict[str, Any]) -> ArticleEntry:
    start, end, day = data["start"], data["end"], data["date"]
    # Manifests written before sections were recorded know only the article's outer span.
    sections = data.get("sections") or ((start, end),)
    return ArticleEntry(
        data["title"],
        date.fromisoformat(day) if day else None,
        data["date_text"],
        start,
        end,
        tuple((begin, finish) for begin, finish in sections),
        data.get("date_evidence"),
    )


def _article_to_json(article: ArticleEntry) -> dict[str, Any]:
    return {
        "title": article.title,
        "date": article.date.isoformat() if article.date else None,
        "date_text": article.date_text,
        "start": article.start,
        "end": article.end,
        "sections": [list(section) for section in article.sections],
        "date_evidence": article.date_evidence,
    }
