"""The manifest: the index's record of the corpus files it holds.

Per file it keeps the content hash, the stamp it was read with, whether all the file's chunks
are stored, and its articles (to show a citation in its article). Typed records inside;
SQLite only in `load`, `save` and `version`.

One row per file, so work follows what changed: `save` writes only the files put or removed
since the manifest was loaded or last saved, in one transaction (a kill leaves the last
committed manifest, as the atomic JSON file of earlier versions did), and an ingest that
changes nothing writes nothing. A file's articles are kept as JSON text in its row and
decoded only when read: an ingest looks at every file's hash and stamp but at no article,
and decoding them was most of loading the JSON manifest.

A JSON manifest written by an earlier version is moved into SQLite the first time it is
loaded, then deleted: 3 s of CPU once at 93,405 files. Rebuilding the index instead would
re-read, re-chunk and re-embed the whole corpus to recreate a record this module can still
read: 98,000 chunks take 15 to 24 minutes at the 69 to 112 chunks/s of docs/speed.md's 10k
benchmark ingest (float and int8 model).
"""

from __future__ import annotations

import errno
import gc
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, overload

from rag.types import Article, IndexUnavailable, ParsedFile


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


class SavedArticles(Sequence[ArticleEntry]):
    """A file's articles as saved, decoded on first use (see the module's docstring)."""

    __slots__ = ("text", "_decoded")

    def __init__(self, text: str) -> None:
        self.text = text  # the row's JSON list
        self._decoded: tuple[ArticleEntry, ...] | None = None

    def _articles(self) -> tuple[ArticleEntry, ...]:
        if self._decoded is None:
            self._decoded = tuple(_article_from_json(item) for item in json.loads(self.text))
        return self._decoded

    @overload
    def __getitem__(self, index: int) -> ArticleEntry: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[ArticleEntry, ...]: ...
    def __getitem__(self, index: int | slice) -> ArticleEntry | tuple[ArticleEntry, ...]:
        return self._articles()[index]

    def __len__(self) -> int:
        return len(self._articles())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and self._articles() == tuple(other)

    def __repr__(self) -> str:
        return repr(self._articles())


@dataclass(frozen=True, slots=True)
class FileEntry:
    """What the manifest knows about one corpus file; changed through `Manifest.put`."""

    sha256: str
    encoding: str = "utf-8"
    articles: Sequence[ArticleEntry] = ()
    chunks: int = 0
    complete: bool = False  # every chunk of the file is stored
    stamp: tuple[int, ...] | None = None  # SourceFile.stamp when it was last read

    @classmethod
    def of(cls, parsed: ParsedFile) -> FileEntry:
        """The entry for a file about to be stored: not complete until its last chunk is,
        unless it has no chunk to wait for."""
        return cls(
            sha256=parsed.source.sha256,
            encoding=parsed.source.encoding,
            articles=tuple(ArticleEntry.of(article) for article in parsed.articles),
            chunks=len(parsed.chunks),
            complete=not parsed.chunks,
        )


@dataclass
class Manifest:
    """The index's record of the corpus it holds; `save` writes what changed since `load`."""

    fingerprint: str
    corpus_dir: str
    # Every file the manifest knows, by name: read it, change it with `put` and `remove`
    # (a save writes only the files they name).
    files: dict[str, FileEntry] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    last_indexed: str | None = None
    # Chunks were added or removed since the BM25 index was last updated (a run was killed
    # before its update): the next ingest updates it even when no file changed.
    keywords_pending: bool = False
    # How the store's and the keyword index's files looked when the last ingest left them
    # whole (see `Index.seal`); None while an ingest is changing them.
    sealed: str | None = None
    # Files put or removed since the last load or save: what the next save writes.
    _changed: set[str] = field(default_factory=set, init=False, repr=False, compare=False)

    def put(self, name: str, entry: FileEntry) -> None:
        """Record `entry` for the file `name`, to be written by the next `save`."""
        self.files[name] = entry
        self._changed.add(name)

    def remove(self, name: str) -> None:
        """Forget the file `name` (if known), from the store too at the next `save`."""
        self.files.pop(name, None)
        self._changed.add(name)

    def complete_files(self) -> dict[str, FileEntry]:
        """The files whose chunks are all stored: what the index answers from."""
        return {name: entry for name, entry in self.files.items() if entry.complete}

    @classmethod
    def load(cls, path: Path, fingerprint: str, corpus_dir: str) -> Manifest:
        """The manifest saved at `path` (moved there from an older version's JSON file
        beside it, if any), or an empty one for `fingerprint` and `corpus_dir`."""
        legacy = path.with_suffix(".json")
        if legacy.exists():
            _migrate(legacy, path)
        if not path.exists():
            return cls(fingerprint, corpus_dir)
        with _reading(path) as db, _no_gc():
            if not db.execute("PRAGMA user_version").fetchone()[0]:
                return cls(fingerprint, corpus_dir)  # left by a first save that was killed
            head = db.execute(f"SELECT {_HEAD} FROM manifest").fetchone()
            rows = db.execute(f"SELECT {_FILE} FROM files").fetchall()
            files = {row[0]: _file_from_row(row) for row in rows}
        return cls(head[0], head[1], files, json.loads(head[2]), head[3], bool(head[4]), head[5])

    def save(self, path: Path) -> None:
        """Write the files put or removed since the last load or save, and the index-wide
        fields, in one transaction: a kill or a failure leaves the last saved manifest."""
        put = [_row(name, self.files[name]) for name in self._changed if name in self.files]
        gone = [(name,) for name in self._changed if name not in self.files]
        with _writing(path) as db:
            db.execute(_SAVE_HEAD, _head(self))
            db.executemany(f"INSERT OR REPLACE INTO files ({_FILE}) VALUES ({_MARKS})", put)
            db.executemany("DELETE FROM files WHERE name = ?", gone)
        self._changed.clear()


def version(path: Path) -> str:
    """A token that changes whenever the manifest at `path` is saved, read without loading
    the manifest (one row)."""
    if not path.exists():
        return "never saved"
    try:
        with _reading(path) as db:
            if not db.execute("PRAGMA user_version").fetchone()[0]:
                return "never saved"
            saves = db.execute("SELECT saves FROM manifest").fetchone()[0]
    except IndexUnavailable:
        return "unreadable"  # `load` says so, where its caller can show it
    return f"{path.stat().st_ino}:{saves}"


# -- SQLite ------------------------------------------------------------------------------

# Bumped when the tables change; a manifest whose user_version is 0 has no tables yet.
SCHEMA_VERSION = 1
# Seconds a connection waits for another's transaction before giving up. The longest,
# moving a JSON manifest of 93,405 files in, took 7 s on a busy machine: a process opening
# the index meanwhile waits for it instead of failing with "database is locked".
BUSY_WAIT_S = 60.0
_SCHEMA = (
    # One row: the fields of the whole index, and a count of saves for `version`.
    """CREATE TABLE IF NOT EXISTS manifest (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        fingerprint TEXT NOT NULL,
        corpus_dir TEXT NOT NULL,
        skipped TEXT NOT NULL,
        last_indexed TEXT,
        keywords_pending INTEGER NOT NULL,
        sealed TEXT,
        saves INTEGER NOT NULL)""",
    # The stamp is read.stamp's (size, mtime_ns, ctime_ns), or three NULLs for no stamp: in
    # integer columns, so a load parses nothing but the rows.
    """CREATE TABLE IF NOT EXISTS files (
        name TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        encoding TEXT NOT NULL,
        chunks INTEGER NOT NULL,
        complete INTEGER NOT NULL,
        size INTEGER,
        mtime_ns INTEGER,
        ctime_ns INTEGER,
        articles TEXT NOT NULL)""",
)
_HEAD = "fingerprint, corpus_dir, skipped, last_indexed, keywords_pending, sealed"
_FILE = "name, sha256, encoding, chunks, complete, size, mtime_ns, ctime_ns, articles"
_MARKS = ", ".join("?" * len(_FILE.split(", ")))
_SAVE_HEAD = f"""INSERT INTO manifest (id, {_HEAD}, saves) VALUES (1, ?, ?, ?, ?, ?, ?, 1)
    ON CONFLICT (id) DO UPDATE SET
        fingerprint = excluded.fingerprint, corpus_dir = excluded.corpus_dir,
        skipped = excluded.skipped, last_indexed = excluded.last_indexed,
        keywords_pending = excluded.keywords_pending, sealed = excluded.sealed,
        saves = saves + 1"""


@contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection]:
    """One consistent read of the manifest at `path`; a damaged one is named with its fix."""
    try:
        # mode=rw: a manifest deleted meanwhile is not created empty by reading it.
        with closing(sqlite3.connect(f"file:{path}?mode=rw", BUSY_WAIT_S, uri=True)) as db:
            db.execute("BEGIN")
            yield db
    except sqlite3.DatabaseError as error:
        raise IndexUnavailable(
            f"The manifest {path} cannot be read ({error}): run `rag ingest --rebuild`."
        ) from None


@contextmanager
def _writing(path: Path) -> Iterator[sqlite3.Connection]:
    """A write transaction on the manifest at `path`, its tables made if new: committed
    whole, or rolled back whole (by SQLite's journal, also after a kill)."""
    try:
        with closing(sqlite3.connect(path, BUSY_WAIT_S, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")  # the write lock first: no reader sees half
            try:
                for table in _SCHEMA:
                    db.execute(table)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                yield db
            except BaseException:
                if db.in_transaction:  # SQLite rolls back by itself on some errors (a full disk)
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
    except sqlite3.DatabaseError as error:
        if error.sqlite_errorcode == sqlite3.SQLITE_FULL:  # said as a full disk, like OSError
            raise OSError(errno.ENOSPC, f"the manifest {path} could not be written") from None
        raise IndexUnavailable(
            f"The manifest {path} could not be written ({error}): check that the disk has "
            "space, then run the same command again."
        ) from None


def _migrate(legacy: Path, path: Path) -> None:
    """Move an older version's JSON manifest into the SQLite one at `path`, once: a second
    process waits for the first's transaction and finds the work done."""
    with _writing(path) as db:
        if not db.execute("SELECT 1 FROM manifest").fetchone():
            try:
                data = json.loads(legacy.read_text())
            except FileNotFoundError:
                return  # moved by another process between its commit and our lock
            manifest = _manifest_from_json(data)
            db.execute(_SAVE_HEAD, _head(manifest))
            db.executemany(
                f"INSERT INTO files ({_FILE}) VALUES ({_MARKS})",
                (_row(name, entry) for name, entry in manifest.files.items()),
            )
    legacy.unlink(missing_ok=True)  # only once the rows are committed


def _head(manifest: Manifest) -> tuple[Any, ...]:
    return (
        manifest.fingerprint,
        manifest.corpus_dir,
        json.dumps(dict(sorted(manifest.skipped.items())), ensure_ascii=False),
        manifest.last_indexed,
        manifest.keywords_pending,
        manifest.sealed,
    )


def _row(name: str, entry: FileEntry) -> tuple[Any, ...]:
    articles = entry.articles
    text = (
        articles.text
        if isinstance(articles, SavedArticles)  # as loaded: written back without decoding
        else json.dumps([_article_to_json(a) for a in articles], ensure_ascii=False)
    )
    size, mtime, ctime = entry.stamp or (None, None, None)
    return (name, entry.sha256, entry.encoding, entry.chunks, entry.complete, size, mtime, ctime,
            text)  # fmt: skip


@contextmanager
def _no_gc() -> Iterator[None]:
    """No garbage collection while a load makes its objects (none of them in cycles): with
    it, the collector scanned the growing heap again and again, and building the entries
    of 93,405 files took 0.20 s of CPU instead of 0.10 s."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# Positional constructors and no per-field checks: this runs once per file on every load.
def _file_from_row(row: tuple[Any, ...]) -> FileEntry:
    _, sha256, encoding, chunks, complete, size, mtime, ctime, articles = row
    stamp = None if size is None else (size, mtime, ctime)
    return FileEntry(sha256, encoding, SavedArticles(articles), chunks, bool(complete), stamp)


# -- JSON, as written by earlier versions: read once, by `_migrate` ---------------------------
# Every manifest this project has written still loads: entries written before sections,
# stamps or the keywords flag existed get the values those versions implied.


def _manifest_from_json(data: dict[str, Any]) -> Manifest:
    return Manifest(
        fingerprint=data["fingerprint"],
        corpus_dir=data["corpus_dir"],
        files={name: _file_from_json(entry) for name, entry in data["files"].items()},
        skipped=data.get("skipped", {}),
        last_indexed=data.get("last_indexed"),
        keywords_pending=data.get("keywords_pending", False),
    )


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
