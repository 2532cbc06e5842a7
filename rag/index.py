"""The stored index of a corpus: Chroma vectors, a BM25 index and a manifest of files.

The Chroma collection and every file beside it are named by the settings fingerprint, so
an index built with another embedding model or chunking is never reused by mistake. The
manifest records, per file, the content hash and whether all its chunks are stored; ingest
uses it to embed only new or changed files, and to clean up after a killed run.

With a Chroma server the vectors live on the server, but the manifest and the BM25 index
still live in the local index folder. A server is shared by every index folder that points
at it, so there the names also carry a hash of the index folder and the server address:
each local folder pairs with exactly one collection, and two corpora never mix.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.config import Settings
from rag.lexical import Bm25Index, TermRow, TermTable
from rag.types import Chunk, ParsedFile, Skipped, SourceFile, UserError

# (stage, done, total): READING counts files, EMBEDDING counts chunks.
Progress = Callable[[str, int, int], None]
READING = "Reading"
EMBEDDING = "Embedding"

# Seconds of embedding between manifest saves during ingest, at least; and the largest
# share of ingest time that saving the manifest may take.
MANIFEST_CHECKPOINT_S = 10.0
MANIFEST_SAVE_SHARE = 0.02
# Chunks read from Chroma per call when filling the BM25 index: a single get() of every
# chunk fails in the embedded store at about 100,000 chunks ("too many SQL variables").
_READ_PAGE = 5_000
# Files per Chroma delete call (one `$in` filter instead of one call per file).
_DELETE_BATCH = 500


class Embedder(Protocol):
    """What the index needs from an embedding model."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class IndexUnavailable(UserError):
    """The index cannot be used or changed; the message says what to do."""


@dataclass
class FileEntry:
    """What the manifest knows about one corpus file."""

    sha256: str
    encoding: str = "utf-8"
    articles: list[dict[str, Any]] = field(default_factory=list)
    chunks: int = 0
    complete: bool = False
    stamp: list[int] | None = None  # SourceFile.stamp when it was last read

    def source(self, name: str) -> SourceFile:
        """The file as recorded, for a file known to be unchanged (its text is not kept)."""
        return SourceFile(
            name, "", self.sha256, self.encoding, tuple(self.stamp) if self.stamp else None
        )


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
        if not path.exists():
            return cls(fingerprint, corpus_dir)
        data = json.loads(path.read_text())
        data["files"] = {name: FileEntry(**entry) for name, entry in data["files"].items()}
        return cls(**data)

    def save(self, path: Path) -> None:
        data = {
            "fingerprint": self.fingerprint,
            "corpus_dir": self.corpus_dir,
            "files": {name: entry.__dict__ for name, entry in sorted(self.files.items())},
            "skipped": dict(sorted(self.skipped.items())),
            "last_indexed": self.last_indexed,
            "keywords_pending": self.keywords_pending,
        }
        staging = path.with_suffix(".tmp")
        # No indent: json only uses its C encoder without one, and an indented manifest of
        # 100,000 chunks took 5 s to write. `rag status` is the readable view.
        staging.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        os.replace(staging, path)


@dataclass(frozen=True)
class SyncReport:
    """What one ingest run did."""

    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: list[str]
    skipped: list[Skipped]
    chunks_embedded: int

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


class Index:
    """One corpus's index for one settings fingerprint."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.index_path
        key = store_key(settings)
        self.collection_name = f"newsdesk-{key}"
        self._manifest_path = self.root / f"manifest-{key}.json"
        self._bm25_path = self.root / f"bm25-{key}"
        self._collection: Any = None
        self._bm25: Bm25Index | None = None

    # -- storage -------------------------------------------------------------------------

    @property
    def collection(self) -> Any:
        """The Chroma collection (embedded, or on a Chroma server), opened on first use."""
        if self._collection is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            chroma_settings = ChromaSettings(anonymized_telemetry=False)
            if self.settings.chroma_host:
                client = chromadb.HttpClient(
                    host=self.settings.chroma_host,
                    port=self.settings.chroma_port,
                    settings=chroma_settings,
                )
            else:
                self.root.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(
                    path=str(self.root / "chroma"), settings=chroma_settings
                )
            self._collection = client.get_or_create_collection(
                self.collection_name, metadata={"hnsw:space": "cosine"}
            )
        return self._collection

    @property
    def vector_store(self) -> Any:
        """llama-index's view of the Chroma collection."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.collection)

    def manifest(self) -> Manifest:
        """The manifest as last saved."""
        return Manifest.load(
            self._manifest_path, self.settings.fingerprint, str(self.settings.corpus_dir)
        )

    def version(self) -> str:
        """A token that changes whenever the manifest is saved, without reading it (at
        100,000 files reading it takes over a second)."""
        try:
            saved = self._manifest_path.stat()
        except FileNotFoundError:
            return "never saved"
        # Saving replaces the file, so the inode changes even within the clock's resolution.
        return f"{saved.st_ino}:{saved.st_mtime_ns}:{saved.st_size}"

    def bm25(self) -> Bm25Index:
        """The keyword index, loaded once; raises when the corpus was never ingested."""
        if self._bm25 is None:
            if not self._bm25_path.exists():
                raise IndexUnavailable(
                    f"No index for {self.settings.corpus_dir} in {self.root}: "
                    "run `rag ingest` first."
                )
            self._bm25 = Bm25Index.load(self._bm25_path)
        return self._bm25

    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """Stored chunks by id (missing ids are left out)."""
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        return {
            chunk_id: chunk_from_record(chunk_id, text, meta)
            for chunk_id, text, meta in zip(
                got["ids"], got["documents"], got["metadatas"], strict=True
            )
        }

    def nearest(self, vector: np.ndarray, n: int) -> list[str]:
        """Ids of the `n` stored chunks nearest to `vector` (cosine), nearest first."""
        # Chroma is asked directly: going through llama-index's vector store costs every
        # command-line question half a second of imports, for the same query.
        found = self.collection.query(query_embeddings=[vector.tolist()], n_results=n, include=[])
        return found["ids"][0]

    def status(self, manifest: Manifest | None = None) -> Status:
        """Counts and dates for `rag status`, from `manifest` if it was already read."""
        manifest = manifest or self.manifest()
        complete = [entry for entry in manifest.files.values() if entry.complete]
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

    def sync(
        self,
        manifest: Manifest,
        parsed: dict[str, ParsedFile],
        skipped: list[Skipped],
        embed: Callable[[Sequence[str]], np.ndarray],
        progress: Progress | None = None,
    ) -> SyncReport:
        """Make the index hold exactly `parsed`: embed new and changed files, drop the rest.

        `embed` turns texts into vectors; it is called only when some file is new or changed.

        `manifest` is this index's, loaded inside `lock()` (at 100,000 files it is tens of
        megabytes, so it is loaded once per ingest). Safe to kill at any point: a file's
        chunks are removed before it is (re)written and it is marked complete only after its
        last chunk is stored.
        """
        known = set(manifest.files)
        removed = sorted(known - set(parsed))
        stale = [
            name
            for name, file in parsed.items()
            if name not in manifest.files
            or not manifest.files[name].complete
            or manifest.files[name].sha256 != file.source.sha256
        ]
        # Only files the manifest knows can have chunks stored: an entry is saved before
        # a file's first chunk is written.
        stored = sorted(known & set(removed + stale))
        for begin in range(0, len(stored), _DELETE_BATCH):
            self.collection.delete(where={"file": {"$in": stored[begin : begin + _DELETE_BATCH]}})
        for name in removed + stale:
            manifest.files.pop(name, None)
        for name in stale:
            manifest.files[name] = _entry(parsed[name], complete=False)
        skipped_before, manifest.skipped = manifest.skipped, {s.name: s.reason for s in skipped}
        manifest.keywords_pending |= bool(removed or stale)
        if removed or stale or manifest.skipped != skipped_before:
            manifest.save(self._manifest_path)  # before any chunk is written (see above)

        todo = [chunk for name in stale for chunk in parsed[name].chunks]
        remaining = {name: len(parsed[name].chunks) for name in stale}
        batch_size = self.settings.embed_batch_size
        saved_at, save_took = time.monotonic(), 0.0
        pending: list[Chunk] = []
        vectors: list[np.ndarray] = []
        for begin in range(0, len(todo), batch_size):
            batch = todo[begin : begin + batch_size]
            pending += batch
            vectors.append(embed([chunk.indexed_text for chunk in batch]))
            if progress:
                progress(EMBEDDING, min(begin + batch_size, len(todo)), len(todo))
            # Writing every embedding batch of 32 on its own spent 2 ms a chunk, half of all
            # ingest overhead at 10,000 chunks: embedded chunks wait in memory instead.
            if len(pending) < self.settings.store_batch_size and begin + batch_size < len(todo):
                continue
            self._store(pending, np.concatenate(vectors))
            for chunk in pending:
                remaining[chunk.file] -= 1
            for name in {chunk.file for chunk in pending if not remaining[chunk.file]}:
                manifest.files[name].complete = True
                del remaining[name]
            pending, vectors = [], []
            # Saving after every batch rewrote the whole manifest (40 MB at 100,000 chunks)
            # thousands of times. Save every few seconds instead, and never spend more than
            # a small share of the run on it; a kill loses only the work since the last save.
            since = time.monotonic() - saved_at
            if since >= max(MANIFEST_CHECKPOINT_S, save_took / MANIFEST_SAVE_SHARE):
                save_started = time.monotonic()
                manifest.save(self._manifest_path)
                saved_at = time.monotonic()
                save_took = saved_at - save_started
        for name in remaining:  # files that had no chunks
            manifest.files[name].complete = True
        restamped = False
        for name, file in parsed.items():  # recorded last: a killed run then reads them again
            stamp = list(file.source.stamp) if file.source.stamp else None
            restamped |= manifest.files[name].stamp != stamp
            manifest.files[name].stamp = stamp

        updated = manifest.keywords_pending or not self._bm25_path.exists()
        if updated:
            self._update_bm25(manifest, todo)
            manifest.keywords_pending = False
            manifest.last_indexed = datetime.now(UTC).isoformat(timespec="seconds")
        if updated or restamped or manifest.skipped != skipped_before:
            manifest.save(self._manifest_path)
        return SyncReport(
            added=[name for name in stale if name not in known],
            updated=[name for name in stale if name in known],
            removed=removed,
            unchanged=sorted(set(parsed) - set(stale)),
            skipped=skipped,
            chunks_embedded=len(todo),
        )

    def _store(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        from llama_index.core.schema import TextNode

        nodes = [
            TextNode(
                id_=chunk.id,
                text=chunk.text,
                metadata=chunk_metadata(chunk),
                embedding=vector.tolist(),
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        self.vector_store.add(nodes)

    def _update_bm25(self, manifest: Manifest, fresh: Sequence[Chunk]) -> None:
        """Make the keyword index hold the chunks of exactly the complete files.

        Rows of unchanged files are kept as stemmed, `fresh` (just embedded) chunks are
        stemmed, and any other complete file's chunks are read back from Chroma: after a
        killed run, or once for an index saved without its term table.
        """
        wanted = {name: entry.sha256 for name, entry in manifest.files.items() if entry.complete}
        renewed = {chunk.file for chunk in fresh}
        table = TermTable.load(self._bm25_path) or TermTable.empty()
        table = table.keep({name: sha for name, sha in wanted.items() if name not in renewed})
        missing = set(wanted) - set(table.shas) - renewed
        chunks = [chunk for chunk in fresh if chunk.file in wanted]
        chunks += self._stored_chunks(sorted(missing), manifest)
        table = table.add([TermRow(c.id, c.file, c.file_sha256, c.indexed_text) for c in chunks])
        bm25 = Bm25Index.from_table(table)
        bm25.save(self._bm25_path)
        self._bm25 = bm25

    def _stored_chunks(self, names: Sequence[str], manifest: Manifest) -> Iterator[Chunk]:
        """The stored chunks of files `names`, read in pages of about _READ_PAGE chunks."""
        page: list[str] = []
        size = 0
        for i, name in enumerate(names):
            page.append(name)
            size += manifest.files[name].chunks
            if size < _READ_PAGE and i + 1 < len(names):
                continue
            got = self.collection.get(
                where={"file": {"$in": page}}, include=["documents", "metadatas"]
            )
            for chunk_id, text, meta in zip(
                got["ids"], got["documents"], got["metadatas"], strict=True
            ):
                yield chunk_from_record(chunk_id, text, meta)
            page, size = [], 0


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


def _entry(parsed: ParsedFile, complete: bool) -> FileEntry:
    return FileEntry(
        sha256=parsed.source.sha256,
        encoding=parsed.source.encoding,
        articles=[
            {
                "title": a.title,
                "date": a.date.isoformat() if a.date else None,
                "date_text": a.date_text,
                "start": a.start,
                "end": a.end,
                # The kept stretches: the article without the page clutter between them.
                "sections": [[section.start, section.end] for section in a.sections],
            }
            for a in parsed.articles
        ],
        chunks=len(parsed.chunks),
        complete=complete,
    )


_METADATA_FIELDS = ("file", "file_sha256", "article", "title", "date", "start", "end")


def chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    """Chunk fields as Chroma metadata (which cannot hold None)."""
    values = {name: getattr(chunk, name) for name in _METADATA_FIELDS}
    values["date"] = chunk.date.isoformat() if chunk.date else None
    return {name: "" if value is None else value for name, value in values.items()}


def chunk_from_record(chunk_id: str, text: str, metadata: dict[str, Any]) -> Chunk:
    """Rebuild a `Chunk` from what Chroma stored."""
    return Chunk(
        id=chunk_id,
        file=metadata["file"],
        file_sha256=metadata["file_sha256"],
        article=int(metadata["article"]),
        title=metadata["title"],
        date=date.fromisoformat(metadata["date"]) if metadata["date"] else None,
        start=int(metadata["start"]),
        end=int(metadata["end"]),
        text=text,
    )
