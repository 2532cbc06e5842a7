"""The data folder's SQLite file, which conversations and accounts share, each with tables of
its own: one file to back up, and the one `rag ingest --rebuild` carries over."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from rag.config import CONVERSATIONS_FILE
from rag.types import UserError

# Seconds a writer waits for another process's write to finish before giving up.
BUSY_WAIT_S = 10


def open_file(folder: Path, schema: str, kept: str) -> Path:
    """The data file in `folder`, made with `schema`'s tables when missing; a folder that
    cannot hold it is a UserError naming what (`kept`, e.g. "Conversations") and the fix."""
    path = folder / CONVERSATIONS_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with connect(path, schema):
            pass
    except (OSError, sqlite3.Error) as error:
        raise UserError(
            f"{kept} cannot be kept in {path} ({error}): set RAG_DATA_DIR to a folder the app "
            "can write."
        ) from None
    return path


@contextmanager
def connect(path: Path, schema: str) -> Iterator[sqlite3.Connection]:
    """A connection for one operation, committed when it succeeds (sessions run in threads
    of their own, so none is shared). The tables are made when missing: a file deleted while
    the app runs starts empty instead of failing."""
    with closing(sqlite3.connect(path, timeout=BUSY_WAIT_S)) as db, db:
        db.execute("PRAGMA foreign_keys = ON")
        db.executescript(schema)
        yield db
