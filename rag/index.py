"""The stored index of a corpus: Chroma vectors, a BM25 index and a manifest of files.

The Chroma collection and every file beside it are named by the settings fingerprint, so
an index built with another embedding model or chunking is never reused by mistake. The
manifest (rag/manifest.py) records, per file, the content hash and whether all its chunks
are stored; `Index.sync` uses it to embed only new or changed files, and to clean up after a
killed run. The collection itself is wrapped in rag/store.py; this module orchestrates.

With a Chroma server the vectors live on the server, but the manifest and the BM25 index
still live in the local index folder. A server is shared by every index folder that points
at it, so there the names also carry a hash of the index folder and the server address:
each local folder pairs with exactly one collection, and two corpora never mix.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from rag.config import Settings
from rag.ingest import Progress, Stage
from rag.lexical import Bm25Index, TermRow, TermTable
from rag.manifest import FileEntry, Manifest, version
from rag.store import Store, StoreUnreachable
from rag.types import Chunk, DateRange, ParsedFile, Skipped

# Defined beside UserError so the store can raise it too; importable from here as before.
from rag.types import IndexUnavailable as IndexUnavailable

# Told the number of chunks stored so far after each write to the store and the manifest
# save that follows it: every chunk counted is durable.
OnStored = Callable[[int], None]

# Chunk ids looked up in the store when an index is opened for questions, beside its count:
# one get() of ids, a few milliseconds whatever the size of the store (see `Index.check`).
OPEN_SAMPLE = 16
_KEYWORDS_LOST = "the keyword index is missing or unreadable"


class Embedder(Protocol):
    """What the index needs from an embedding model."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class Verdict(StrEnum):
    """Whether an index can answer questions."""

    OK = "ok"
    REPAIRABLE = "repairable"  # `rag ingest` repairs it
    DAMAGED = "damaged"  # the store cannot be read: it is rebuilt
    UNREACHABLE = "unreachable"  # the Chroma server does not answer
    EMPTY = "not indexed"  # never ingested


@dataclass(frozen=True)
class Health:
    """What the manifest promises beside what the store and the keyword index hold."""

    verdict: Verdict
    problem: str | None  # what is wrong, in a few words
    manifest_chunks: int  # the chunks of the manifest's complete files
    store_chunks: int | None  # None when the store cannot be read
    keyword_chunks: int | None  # None when the keyword index is missing or unreadable

    def __str__(self) -> str:
        return f"{self.verdict}: {self.problem}" if self.problem else str(self.verdict)


@dataclass(frozen=True)
class Repair:
    """What an ingest mended before bringing the index in line with the corpus."""

    restored: list[str] = field(default_factory=list)  # files the store lacked chunks of
    missing_chunks: int = 0  # ... and how many
    strays: list[str] = field(default_factory=list)  # files in the store the manifest lacks
    stray_chunks: int = 0  # ... and how many chunks of them were removed
    keywords: bool = False  # the keyword index was missing or damaged: rebuilt

    def lines(self) -> list[str]:
        """What was repaired, for the ingest report."""
        said = []
        if self.missing_chunks:
            said.append(
                f"restored {self.missing_chunks} chunks missing from the store "
                f"({len(self.restored)} files re-embedded)"
            )
        if self.stray_chunks:
            said.append(f"removed {self.stray_chunks} stored chunks the manifest did not list")
        if self.keywords:
            said.append("rebuilt the keyword index")
        return said


@dataclass(frozen=True)
class SyncReport:
    """What one ingest run did."""

    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: list[str]
    skipped: list[Skipped]
    chunks_embedded: int
    repair: Repair = field(default_factory=Repair)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class Status:
    """The state of an index, for `rag status`."""

    corpus_dir: str
    index_dir: str
    fingerprint: str
    collection: str
    files: int
    articles: int
    chunks: int
    skipped: dict[str, str]
    last_indexed: str | None
    embed: str  # the embedding model setting the index was built with
    health: Health  # the verdict, and what the store and the keyword index really hold

    def record(self) -> dict[str, Any]:
        """`rag status --json`: the health as its one-line verdict, beside the real counts."""
        return {
            **asdict(self),
            "health": str(self.health),
            "store_chunks": self.health.store_chunks,
            "keyword_chunks": self.health.keyword_chunks,
        }


@dataclass(frozen=True)
class Plan:
    """What one sync changes, decided from the manifest and the files just read."""

    embed: list[str]  # new, changed and interrupted files, in corpus order
    added: list[str]  # of those, the files the manifest did not know
    updated: list[str]  # ... and the files it knew
    removed: list[str]  # files the manifest knows that are no longer in the corpus
    unchanged: list[str]

    @classmethod
    def of(
        cls, manifest: Manifest, parsed: Mapping[str, ParsedFile], unread: Collection[str] = ()
    ) -> Plan:
        """The plan that makes the index hold exactly `parsed` and the `unread` files (known
        complete and unchanged, not read)."""
        known = manifest.files
        embed = [name for name, file in parsed.items() if _stale(known.get(name), file)]
        present = set(parsed).union(unread)
        return cls(
            embed=embed,
            added=[name for name in embed if name not in known],
            updated=[name for name in embed if name in known],
            removed=sorted(set(known) - present),
            unchanged=sorted(present.difference(embed)),
        )

    @property
    def dropped(self) -> list[str]:
        """Files whose stored chunks go: removed, or about to be stored again. Only files
        the manifest knows can have chunks stored: an entry is saved before a file's first
        chunk is written."""
        return sorted(self.removed + self.updated)

    @property
    def changes(self) -> bool:
        """Whether any chunk is added or removed."""
        return bool(self.embed or self.removed)


def _stale(entry: FileEntry | None, file: ParsedFile) -> bool:
    return entry is None or not entry.complete or entry.sha256 != file.source.sha256


def restamp(manifest: Manifest, parsed: Mapping[str, ParsedFile]) -> bool:
    """Record each file's stamp as it was read; whether any changed."""
    changed = False
    for name, file in parsed.items():
        entry = manifest.files[name]
        if entry.stamp != file.source.stamp:
            manifest.put(name, replace(entry, stamp=file.source.stamp))
            changed = True
    return changed


@dataclass(frozen=True)
class Scope:
    """What a date range lets a question read."""

    days: tuple[date, ...]  # publication dates of the indexed articles within it
    ids: frozenset[str]  # the stored chunks of those articles
    undated: int  # indexed articles it leaves out for having no date


class Index:
    """One corpus's index for one settings fingerprint."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.index_path
        key = store_key(settings)
        self.collection_name = f"newsdesk-{key}"
        self.store = Store(settings, self.collection_name)
        self._manifest_path = self.root / f"manifest-{key}.sqlite3"
        self._bm25_path = self.root / f"bm25-{key}"
        self._bm25: Bm25Index | None = None

    # -- reading -------------------------------------------------------------------------

    @property
    def collection(self) -> Any:
        """The raw Chroma collection (embedded, or on a Chroma server), for inspection."""
        return self.store.collection

    def manifest(self) -> Manifest:
        """The manifest as last saved."""
        return Manifest.load(
            self._manifest_path, self.settings.fingerprint, str(self.settings.corpus_dir)
        )

    def version(self) -> str:
        """A token that changes whenever the manifest is saved, without loading it."""
        return version(self._manifest_path)

    def bm25(self) -> Bm25Index:
        """The keyword index, loaded and checked against the store once (and again when the
        store's folder was replaced or deleted since); raises IndexUnavailable when the
        corpus was never ingested or the index is damaged."""
        if self._bm25 is None or self.store.replaced():
            self._bm25 = None  # until the check passes
            if not self._manifest_path.exists() and not self._bm25_path.exists():
                raise IndexUnavailable(
                    f"No index for {self.settings.corpus_dir} in {self.root}: "
                    "run `rag ingest` first."
                )
            bm25 = self._load_bm25()
            problem = self._problem_on_open(bm25)
            if problem or bm25 is None:
                raise IndexUnavailable(self.refusal(problem or _KEYWORDS_LOST))
            self._bm25 = bm25
        return self._bm25

    def refusal(self, problem: str) -> str:
        """The one line that refuses a question from a damaged index."""
        return (
            f"The index in {self.root} is damaged ({problem}); questions are not answered "
            "from it. Run `rag ingest` to repair it."
        )

    def check(self) -> None:
        """Raise IndexUnavailable, saying what to run, unless the index is whole (cheap:
        see `_problem_on_open`)."""
        self.bm25()

    def _load_bm25(self) -> Bm25Index | None:
        """The saved keyword index, or None when it is missing or cannot be read."""
        try:
            return Bm25Index.load(self._bm25_path)
        except (OSError, ValueError, KeyError, EOFError):
            return None

    def _problem_on_open(self, bm25: Bm25Index | None) -> str | None:
        """What is wrong with the index, judged in milliseconds: the manifest is there, the
        keyword index loads, the store's count equals the keyword index's rows (both are
        made from the manifest's complete files) and a sample of those ids is stored.

        The manifest itself is not read (a second at 100,000 files); `health` compares it
        in full for `rag status` and `rag ingest`. Raises IndexUnavailable for a store that
        cannot be read.
        """
        if not self._manifest_path.exists():
            return f"its manifest {self._manifest_path.name} is missing"
        if bm25 is None:
            return _KEYWORDS_LOST
        stored = self.store.count()
        if stored < len(bm25):
            return f"{len(bm25) - stored} chunks missing from the store"
        if stored > len(bm25) and not self._ingest_running():
            # Chunks no file of this index accounts for: a killed ingest's, or another
            # index's writing into the same collection (a server shared by two machines
            # whose index folders have the same path). Answers could cite them.
            return f"{stored - len(bm25)} stored chunks the index does not list"
        lost, sampled = self._lost_in_sample(bm25)
        if lost:
            return f"{lost} of {sampled} sampled chunks missing from the store"
        return None

    def _ingest_running(self) -> bool:
        """Whether an ingest holds this index's lock (see `lock`), storing chunks now."""
        try:
            with open(self.root / "ingest.lock", "a") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                return False
        except OSError:
            return False

    def _lost_in_sample(self, bm25: Bm25Index | None) -> tuple[int, int]:
        """How many of an evenly spread sample of the keyword index's ids the store lacks,
        and how many were sampled: one small `get`, whatever the size of the index."""
        if bm25 is None:
            return 0, 0
        sample = bm25.ids[:: max(1, len(bm25) // OPEN_SAMPLE)][:OPEN_SAMPLE]
        return len(set(sample) - self.store.present(sample)), len(sample)

    def health(self, manifest: Manifest | None = None) -> Health:
        """The manifest compared with what the store and the keyword index hold."""
        manifest = manifest or self.manifest()
        promised = sum(entry.chunks for entry in manifest.complete_files().values())
        # Chunks of files an interrupted run was storing may be there, or not.
        pending = sum(entry.chunks for entry in manifest.files.values() if not entry.complete)
        bm25 = self._load_bm25()
        keyword = None if bm25 is None else len(bm25)
        try:
            stored = self.store.count()
            lost, _ = self._lost_in_sample(bm25)
        except StoreUnreachable as error:
            return Health(Verdict.UNREACHABLE, str(error), promised, None, keyword)
        except IndexUnavailable as error:
            return Health(Verdict.DAMAGED, str(error), promised, None, keyword)
        problem = None
        if not self._manifest_path.exists():
            if not stored and keyword is None:
                return Health(Verdict.EMPTY, None, 0, 0, None)
            problem = f"the manifest {self._manifest_path.name} is missing"
        elif stored < promised:
            problem = f"{promised - stored} chunks missing from the store"
        elif stored > promised + pending:
            problem = f"{stored - promised - pending} stored chunks the manifest does not list"
        elif keyword is None and promised:
            problem = _KEYWORDS_LOST
        elif keyword is not None and keyword != promised and not manifest.keywords_pending:
            problem = f"the keyword index holds {keyword} chunks, the manifest {promised}"
        elif lost:
            problem = f"{lost} sampled chunks missing from the store"
        verdict = Verdict.REPAIRABLE if problem else Verdict.OK
        return Health(verdict, problem, promised, stored, keyword)

    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """Stored chunks by id (missing ids are left out)."""
        return self.store.get(ids)

    def nearest(
        self, vector: np.ndarray, n: int, days: Sequence[date] | None = None
    ) -> list[tuple[str, float]]:
        """Ids of the `n` stored chunks nearest to `vector`, nearest first, with their cosine
        similarity to it; with `days`, only chunks of articles published on one of them."""
        return self.store.nearest(vector, n, days)

    def scope(self, dates: DateRange) -> Scope:
        """What `dates` lets a question read, worked out once per question: the manifest is
        read once and the store asked once, however many parts the question has."""
        articles = [a for f in self.manifest().complete_files().values() for a in f.articles]
        days = tuple(sorted({a.date for a in articles if a.date and a.date in dates}))
        ids = frozenset(self.store.ids_published_on(days)) if days else frozenset()
        return Scope(days, ids, sum(a.date is None for a in articles))

    def status(self, manifest: Manifest | None = None) -> Status:
        """Counts and dates for `rag status`, from `manifest` if it was already read."""
        manifest = manifest or self.manifest()
        complete = manifest.complete_files().values()
        return Status(
            corpus_dir=str(self.settings.corpus_dir),
            index_dir=str(self.root),
            fingerprint=self.settings.fingerprint,
            collection=self.collection_name,
            files=len(complete),
            articles=sum(len(entry.articles) for entry in complete),
            chunks=sum(entry.chunks for entry in complete),
            skipped=manifest.skipped,
            last_indexed=manifest.last_indexed,
            embed=self.settings.embed,
            health=self.health(manifest),
        )

    # -- ingest --------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the index for one writer; a second ingest is told to wait."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "ingest.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexUnavailable(
                    f"Another ingest is updating {self.root}; wait for it to finish."
                ) from None
            yield

    def repair(self, manifest: Manifest) -> Repair:
        """Make the manifest's promises true again before a sync (inside `lock()`).

        Complete files whose chunks the store lacks are marked not complete, so they are
        read and embedded again; chunks of files the manifest does not know are removed; a
        missing or damaged keyword index is marked for rebuilding. Costs a few stats when
        nothing touched the index's files since the last ingest left it whole (see `seal`),
        a count and a sample when the index is whole; only a damaged one has its store read
        file by file.
        """
        if manifest.sealed is not None and manifest.sealed == self.seal():
            return Repair()
        self._unseal(manifest)  # the checks below may find what to mend, and mend it
        health = self.health(manifest)
        if health.verdict in (Verdict.OK, Verdict.EMPTY):
            return Repair()
        if health.verdict in (Verdict.DAMAGED, Verdict.UNREACHABLE):
            raise IndexUnavailable(health.problem)
        stored = self.store.file_counts()
        restored: list[str] = []
        missing = 0
        for name, entry in manifest.complete_files().items():
            if stored[name] != entry.chunks:
                restored.append(name)
                missing += max(0, entry.chunks - stored[name])
                manifest.put(name, replace(entry, complete=False))
        strays = sorted(set(stored) - set(manifest.files))
        self.store.delete_files(strays)
        keywords = health.keyword_chunks is None or health.keyword_chunks != health.manifest_chunks
        manifest.keywords_pending |= keywords or bool(restored or strays)
        return Repair(
            sorted(restored), missing, strays, sum(stored[name] for name in strays), keywords
        )

    def sync(
        self,
        manifest: Manifest,
        parsed: dict[str, ParsedFile],
        skipped: list[Skipped],
        embed: Callable[[Sequence[str]], np.ndarray],
        progress: Progress | None = None,
        on_stored: OnStored | None = None,
        repair: Repair | None = None,
        unread: Collection[str] = (),
    ) -> SyncReport:
        """Make the index hold exactly `parsed` and the `unread` files (complete and unchanged,
        not read again): embed new and changed files, drop the rest.

        `embed` turns texts into vectors; it is called only when some file is new or changed.

        `manifest` is this index's, loaded inside `lock()`; only what changes is saved, so
        an unchanged corpus writes nothing. Safe to kill at any point: a file's chunks are
        removed before it is (re)written and it is marked complete only after its last chunk
        is stored. `repair` is what `repair()` mended first, for the report.
        """
        repair = repair or Repair()
        plan = Plan.of(manifest, parsed, unread)
        reasons = {file.name: file.reason for file in skipped}
        skipped_changed, manifest.skipped = reasons != manifest.skipped, reasons
        if plan.changes or manifest.keywords_pending:
            self._unseal(manifest)  # before the store or the keyword index changes
        self._drop(manifest, plan, parsed)
        if plan.changes or skipped_changed:
            self._save(manifest)  # before any chunk is written (see Plan.dropped)
        fresh = [chunk for name in plan.embed for chunk in parsed[name].chunks]
        self._embed_and_store(manifest, fresh, embed, progress, on_stored)
        # Stamps are recorded last: a killed run then reads its files again.
        restamped = restamp(manifest, parsed)
        refreshed = self._refresh_keywords(manifest, fresh)
        sealed = manifest.sealed != (seal := self.seal())  # the index is whole now
        manifest.sealed = seal
        if refreshed or restamped or skipped_changed or sealed:
            self._save(manifest)
        return SyncReport(
            added=plan.added,
            updated=[name for name in plan.updated if name not in repair.restored],
            removed=plan.removed,
            unchanged=plan.unchanged,
            skipped=skipped,
            chunks_embedded=len(fresh),
            repair=repair,
        )

    def _save(self, manifest: Manifest) -> None:
        manifest.save(self._manifest_path)

    def seal(self) -> str | None:
        """The identities of the embedded store's folder and database and of the keyword
        index's files, from stats alone; None with a Chroma server (others change it) or
        when one is missing.

        An ingest that leaves the index whole records it in the manifest; the next one
        finding it unchanged knows no file of the index was deleted, replaced or cut short
        since, and skips loading the store and the keyword index to check them (importing
        and opening Chroma alone took 1.3 s at 100,000 chunks, most of an unchanged
        ingest). Chroma rewrites its database in place even when only read, so the store is
        known by inodes and the database's size; the keyword index, written only by ingests,
        by its files' inodes, sizes and modification times.
        """
        if self.settings.chroma_host:
            return None
        store = self.root / "chroma"  # the embedded store's folder, as rag/store.py names it
        try:
            folder, database = os.stat(store), os.stat(store / "chroma.sqlite3")
            keywords = [os.stat(path) for path in sorted(self._bm25_path.iterdir())]
        except OSError:
            return None
        marks = [f"{folder.st_dev}:{folder.st_ino}", f"{database.st_ino}:{database.st_size}"]
        marks += [f"{kept.st_ino}:{kept.st_size}:{kept.st_mtime_ns}" for kept in keywords]
        return " ".join(marks)

    def _unseal(self, manifest: Manifest) -> None:
        """Clear the manifest's seal, saved before the index's files change (see `seal`): a
        run killed while changing them leaves its successor the full check."""
        if manifest.sealed is not None:
            manifest.sealed = None
            self._save(manifest)

    def _drop(self, manifest: Manifest, plan: Plan, parsed: Mapping[str, ParsedFile]) -> None:
        """Delete the stored chunks of removed and changed files, and record the files to
        store as not complete."""
        self.store.delete_files(plan.dropped)
        for name in plan.removed:
            manifest.remove(name)
        for name in plan.embed:
            manifest.put(name, FileEntry.of(parsed[name]))
        manifest.keywords_pending |= plan.changes

    def _embed_and_store(
        self,
        manifest: Manifest,
        fresh: Sequence[Chunk],
        embed: Callable[[Sequence[str]], np.ndarray],
        progress: Progress | None,
        on_stored: OnStored | None,
    ) -> None:
        """Embed and store `fresh`, marking each file complete once its last chunk is stored.

        The manifest is saved after every write to the store: a save writes only the files
        that write completed (1,000 files in 30 to 50 ms, in a manifest of 93,405, beside
        about ten seconds of embedding per write), so a failed write, a model error, Ctrl-C
        or a kill loses at most the batch being stored.
        """
        unstored = Counter(chunk.file for chunk in fresh)
        stored = 0
        for chunks, vectors in self._embedded(fresh, embed, progress):
            self.store.add(chunks, vectors)
            stored += len(chunks)
            unstored.subtract(chunk.file for chunk in chunks)
            for name in {chunk.file for chunk in chunks if not unstored[chunk.file]}:
                manifest.put(name, replace(manifest.files[name], complete=True))
            self._save(manifest)
            if on_stored:
                on_stored(stored)

    def _embedded(
        self,
        chunks: Sequence[Chunk],
        embed: Callable[[Sequence[str]], np.ndarray],
        progress: Progress | None,
    ) -> Iterator[tuple[list[Chunk], np.ndarray]]:
        """`chunks` embedded batch by batch, gathered into groups to store with their vectors."""
        size = self.settings.embed_batch_size
        pending: list[Chunk] = []
        vectors: list[np.ndarray] = []
        for begin in range(0, len(chunks), size):
            batch = chunks[begin : begin + size]
            pending += batch
            vectors.append(embed([chunk.indexed_text for chunk in batch]))
            if progress:
                progress(Stage.EMBEDDING, min(begin + size, len(chunks)), len(chunks))
            # Writing every embedding batch of 32 on its own spent 2 ms a chunk, half of all
            # ingest overhead at 10,000 chunks: embedded chunks wait in memory instead.
            if len(pending) >= self.settings.store_batch_size or begin + size >= len(chunks):
                yield pending, np.concatenate(vectors)
                pending, vectors = [], []

    def _refresh_keywords(self, manifest: Manifest, fresh: Sequence[Chunk]) -> bool:
        """Update the keyword index if chunks were added or removed since it was last
        updated, or it is missing; whether it was updated."""
        if not manifest.keywords_pending and self._bm25_path.exists():
            return False
        self._update_bm25(manifest, fresh)
        manifest.keywords_pending = False
        manifest.last_indexed = datetime.now(UTC).isoformat(timespec="seconds")
        return True

    def _update_bm25(self, manifest: Manifest, fresh: Sequence[Chunk]) -> None:
        """Make the keyword index hold the chunks of exactly the complete files.

        Rows of unchanged files are kept as stemmed, `fresh` (just embedded) chunks are
        stemmed, and any other complete file's chunks are read back from Chroma: after a
        killed run, or once for an index saved without its term table.
        """
        complete = manifest.complete_files()
        wanted = {name: entry.sha256 for name, entry in complete.items()}
        renewed = {chunk.file for chunk in fresh}
        table = TermTable.load(self._bm25_path) or TermTable.empty()
        table = table.keep({name: sha for name, sha in wanted.items() if name not in renewed})
        missing = set(wanted) - set(table.shas) - renewed
        chunks = [chunk for chunk in fresh if chunk.file in wanted]
        chunks += self.store.chunks_of({name: complete[name].chunks for name in sorted(missing)})
        table = table.add([TermRow(c.id, c.file, c.file_sha256, c.indexed_text) for c in chunks])
        bm25 = Bm25Index.from_table(table)
        bm25.save(self._bm25_path)
        self._bm25 = bm25


# Hex digits of the index folder's hash in server-side names: enough to keep the folders
# that share one server apart, short enough to read in `rag status`.
_SERVER_KEY_DIGITS = 8


def store_key(settings: Settings) -> str:
    """The name shared by a collection and its local manifest and BM25 index.

    Embedded, it is the settings fingerprint: the store sits inside the index folder, which
    already belongs to one corpus. On a server, the hash of the resolved index folder and
    the server address is added, since every corpus using that server shares its namespace;
    the address keeps a manifest from vouching for a collection on another server.
    """
    if not settings.chroma_host:
        return settings.fingerprint
    place = f"{settings.index_path.resolve()}\0{settings.chroma_host}:{settings.chroma_port}"
    digest = hashlib.sha256(place.encode()).hexdigest()[:_SERVER_KEY_DIGITS]
    return f"{settings.fingerprint}-{digest}"
