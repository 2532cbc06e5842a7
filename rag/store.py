"""The vector store: one Chroma collection, embedded in the index folder or on a Chroma server.

Chunks go in with their vectors and come back as `Chunk`s; Chroma's records stay inside this
module, and so do Chroma's errors: a store that cannot be read (a `chroma.sqlite3` cut short
raises "database disk image is malformed") becomes one `IndexUnavailable` naming the fix,
never a traceback.
"""

from __future__ import annotations

import errno
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import numpy as np

from rag.config import Settings
from rag.types import Chunk, IndexUnavailable

# Chunks read from Chroma per call when reading back whole files: a single get() of every
# chunk fails in the embedded store at about 100,000 chunks ("too many SQL variables").
READ_PAGE = 5_000
# Chunks per Chroma add call: the embedded store refuses a call above its maximum batch size
# (5,461 records in some versions).
WRITE_BATCH = 5_000
# Files per Chroma delete call (one `$in` filter instead of one call per file).
DELETE_BATCH = 500
_METADATA_FIELDS = (
    "file",
    "file_sha256",
    "article",
    "title",
    "date",
    "start",
    "end",
    "date_estimated",
)


class StoreUnreachable(IndexUnavailable):
    """The Chroma server does not answer: nothing is known about what it holds."""


class Store:
    """The collection `name`, on the Chroma server in `settings` or in the index folder."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self._collection: Any = None
        # The identity of the embedded store's folder when the collection was opened.
        self._opened_as: tuple[int, int] | None = None

    def where(self) -> str:
        """Where the vectors live, for messages."""
        if self.settings.chroma_host:
            return f"the Chroma server at {self.settings.chroma_host}:{self.settings.chroma_port}"
        return self._folder()

    @contextmanager
    def _guarded(self, writing: bool = False) -> Iterator[None]:
        """Chroma's errors, as one line that says what to do. A failed write (`writing`) is
        most often a full disk, and a re-run completes the index; a store that is really
        damaged is named as such by the check the next ingest starts with."""
        import httpx
        from chromadb.errors import ChromaError

        unreachable = (
            (ValueError, OSError, httpx.TransportError) if self.settings.chroma_host else ()
        )
        try:
            yield
        except ChromaError as error:
            if "disk is full" in str(error):  # SQLite's SQLITE_FULL: said as a full disk
                raise OSError(errno.ENOSPC, str(error)) from None
            if writing:
                raise IndexUnavailable(
                    f"The vector store in {self.where()} could not be written ({error}): "
                    "check that the disk has space, then run the same command again."
                ) from None
            if self.settings.chroma_host:
                fix = "check that the server is up, then run `rag ingest`"
            else:
                fix = "run `rag ingest --rebuild`"
            raise IndexUnavailable(
                f"The vector store in {self.where()} cannot be read ({error}): {fix}."
            ) from None
        except unreachable as error:
            if isinstance(error, ValueError) and "connect" not in str(error).lower():
                raise  # a real bad value, not a server that is down
            # A server that is down fails the client's first request with a ValueError
            # ("Could not connect to a Chroma server"), and later ones with httpx's errors.
            raise StoreUnreachable(
                f"{self.where()[0].upper()}{self.where()[1:]} cannot be reached "
                f"({str(error).splitlines()[0] if str(error) else type(error).__name__}): "
                "check that the server is up (`chroma run`), then try again."
            ) from None

    @property
    def collection(self) -> Any:
        """The Chroma collection, opened (and created if new) on first use, and opened again
        once its folder was replaced or deleted (see `_persistent_client`): a warm app then
        sees what a new process would."""
        if self._collection is None or self.replaced():
            with self._guarded():
                self._collection = self._open()
        return self._collection

    def replaced(self) -> bool:
        """Whether the store was opened and its folder is no longer the one opened: replaced
        or deleted since (one stat)."""
        return (
            self._collection is not None
            and not self.settings.chroma_host
            and self._opened_as != _identity(self._folder())
        )

    def _folder(self) -> str:
        """The embedded store's folder."""
        return str(self.settings.index_path / "chroma")

    def _open(self) -> Any:
        """The Chroma client and collection, created if new."""
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
            self.settings.index_path.mkdir(parents=True, exist_ok=True)
            client = _persistent_client(self._folder(), chroma_settings)
            self._opened_as = _identity(self._folder())
        return client.get_or_create_collection(self.name, metadata={"hnsw:space": "cosine"})

    def count(self) -> int:
        """How many chunks the store holds (one indexed query, whatever the size)."""
        if self._collection is None and not self.settings.chroma_host:
            if not os.path.isdir(self._folder()):
                # Nothing was ever stored: opening the store would create an empty one, and
                # `rag status` on a corpus never indexed would leave an index folder behind.
                return 0
        with self._guarded():
            return int(self.collection.count())

    def present(self, ids: Sequence[str]) -> set[str]:
        """Those of `ids` the store holds (ids only: no text or vectors are read)."""
        if not ids:
            return set()
        with self._guarded():
            return set(self.collection.get(ids=list(ids), include=[])["ids"])

    def file_counts(self) -> Counter[str]:
        """Chunks stored per file, read in pages of READ_PAGE (metadata only)."""
        counts: Counter[str] = Counter()
        with self._guarded():
            for offset in range(0, self.collection.count(), READ_PAGE):
                got = self.collection.get(include=["metadatas"], limit=READ_PAGE, offset=offset)
                counts.update(str(metadata["file"]) for metadata in got["metadatas"])
        return counts

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store `chunks` with their vectors (one row of `vectors` per chunk)."""
        # Written straight to Chroma. llama-index's ChromaVectorStore wrote the same ids,
        # vectors, texts and fields, plus a JSON copy of each node (its text again) in the
        # metadata that nothing reads: 3,000 BBC chunks took 1.95-2.42 s of CPU through it
        # and 1.63-1.80 s straight (one run each, twice, 2 cores).
        for begin in range(0, len(chunks), WRITE_BATCH):
            batch = chunks[begin : begin + WRITE_BATCH]
            with self._guarded(writing=True):
                self.collection.add(
                    ids=[chunk.id for chunk in batch],
                    embeddings=np.asarray(vectors[begin : begin + len(batch)], dtype=np.float32),
                    metadatas=[chunk_metadata(chunk) for chunk in batch],
                    documents=[chunk.text for chunk in batch],
                )

    def delete_files(self, names: Sequence[str]) -> None:
        """Remove every chunk of the files `names`."""
        for begin in range(0, len(names), DELETE_BATCH):
            batch = list(names[begin : begin + DELETE_BATCH])
            with self._guarded(writing=True):
                self.collection.delete(where={"file": {"$in": batch}})

    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """Stored chunks by id (missing ids are left out)."""
        if not ids:
            return {}
        with self._guarded():
            got = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        return {chunk.id: chunk for chunk in _chunks(got)}

    def chunks_of(self, files: Mapping[str, int]) -> Iterator[Chunk]:
        """The stored chunks of `files` (name: chunk count), read in pages of about
        READ_PAGE chunks."""
        page: list[str] = []
        size = 0
        for i, (name, chunks) in enumerate(files.items()):
            page.append(name)
            size += chunks
            if size < READ_PAGE and i + 1 < len(files):
                continue
            where = {"file": {"$in": page}}
            with self._guarded():
                got = self.collection.get(where=where, include=["documents", "metadatas"])
            yield from _chunks(got)
            page, size = [], 0

    def nearest(
        self, vector: np.ndarray, n: int, days: Sequence[date] | None = None
    ) -> list[tuple[str, float]]:
        """Ids of the `n` stored chunks nearest to `vector`, nearest first, with their cosine
        similarity to it; with `days`, only chunks of articles published on one of them."""
        # Chroma is asked directly: going through llama-index's vector store costs every
        # command-line question half a second of imports, for the same query.
        with self._guarded():
            found = self.collection.query(
                query_embeddings=[vector.tolist()], n_results=n, include=["distances"],
                where=None if days is None else _published_on(days),
            )  # fmt: skip
        # The collection's space is cosine: its distance is 1 - cosine similarity.
        pairs = zip(found["ids"][0], found["distances"][0], strict=True)
        return [(str(chunk_id), 1.0 - float(distance)) for chunk_id, distance in pairs]

    def ids_published_on(self, days: Sequence[date]) -> set[str]:
        """Ids of the stored chunks of articles published on one of `days`."""
        with self._guarded():
            got = self.collection.get(where=_published_on(days), include=[])
        return {str(chunk_id) for chunk_id in got["ids"]}


def _published_on(days: Sequence[date]) -> dict[str, Any]:
    """The metadata filter for chunks of articles published on one of `days`."""
    return {"date": {"$in": [day.isoformat() for day in days]}}


# Each embedded store folder this process has opened, and its identity then (see
# `_persistent_client`).
_opened: dict[str, tuple[int, int] | None] = {}


def _persistent_client(folder: str, chroma_settings: Any) -> Any:
    """A Chroma client on the store in `folder`, opened afresh if the folder was replaced
    or deleted since this process opened it, or if opening it failed.

    Chroma keeps one open store per folder path for the life of the process, reading the
    files it first opened: after `rag ingest --rebuild` swapped in a new folder (from the
    app, or in a terminal while the app runs) the process would go on reading the old,
    damaged one, and after the folder was deleted it would still see the chunks. A store
    that failed to open is kept too, half started, and every later open fails on it with an
    AttributeError instead of the store's own error.
    """
    import chromadb

    if folder in _opened and _opened[folder] != _identity(folder):
        _forget(folder)  # replaced or deleted since
    try:
        client = chromadb.PersistentClient(path=folder, settings=chroma_settings)
    except BaseException:
        _forget(folder)  # half started: the next open starts it afresh
        raise
    _opened[folder] = _identity(folder)
    return client


def _identity(folder: str) -> tuple[int, int] | None:
    """The folder's device and inode, which change when it is replaced; None when missing."""
    try:
        found = os.stat(folder)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _forget(folder: str) -> None:
    """Drop Chroma's open store for `folder`, so the next client opens it afresh. Dropped,
    not stopped: a question still running on the old store finishes on it."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(folder, None)
    SharedSystemClient._identifier_to_refcount.pop(folder, None)
    _opened.pop(folder, None)


def chunk_metadata(chunk: Chunk) -> dict[str, str | int | bool]:
    """Chunk fields as Chroma metadata (which cannot hold None)."""
    values = {name: getattr(chunk, name) for name in _METADATA_FIELDS}
    values["date"] = chunk.date.isoformat() if chunk.date else None
    if chunk.sentences is not None:
        values["sentences"] = " ".join(f"{start}-{end}" for start, end in chunk.sentences)
    return {name: "" if value is None else value for name, value in values.items()}


def chunk_from_record(chunk_id: str, text: str, metadata: Mapping[str, Any]) -> Chunk:
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
        # Stores written before estimated dates have no such field: their dates are stated.
        date_estimated=bool(metadata.get("date_estimated", False)),
        sentences=_spans(metadata["sentences"]) if "sentences" in metadata else None,
    )


def _spans(written: str) -> tuple[tuple[int, int], ...]:
    """Sentence spans as `chunk_metadata` writes them: "0-120 121-300"."""
    pairs = (span.split("-") for span in written.split())
    return tuple((int(start), int(end)) for start, end in pairs)


def _chunks(got: Mapping[str, Any]) -> Iterator[Chunk]:
    """The chunks of one Chroma get() result."""
    for chunk_id, text, metadata in zip(
        got["ids"], got["documents"], got["metadatas"], strict=True
    ):
        yield chunk_from_record(chunk_id, text, metadata)
