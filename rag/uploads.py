"""Save a file a user uploaded into the corpus folder, safely.

The name comes from the browser and is not trusted: only its last path component is kept,
characters outside letters, digits, `.`, `-` and `_` become `_`, and leading dots are dropped
(ingest ignores hidden files). The contents are checked by the same reader ingest uses. The
file is written beside its final name under a hidden temporary name and then linked into
place, which fails instead of replacing an existing file, so two sessions uploading the same
name at once both keep their file.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
from pathlib import Path

from rag.ingest import discover
from rag.read import SUPPORTED_SUFFIXES, read_source
from rag.types import Skipped, UserError

# Long enough for real article names, short enough for every file system (255 bytes).
MAX_STEM_CHARS = 100
# Tries at "name-2.txt", "name-3.txt", ... before giving up on a free name.
MAX_NUMBERED_NAMES = 1000
_UNSAFE = re.compile(r"[^\w.-]+")


class UploadError(UserError):
    """An upload that cannot be added to the corpus; the message says what to do."""


def safe_name(filename: str) -> str:
    """The corpus file name for an uploaded file's name, or UploadError."""
    # Browsers send a bare name, but other clients may send a path, in either convention.
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", filename).strip())[-1]
    stem, dot, suffix = base.rpartition(".")
    suffix = f"{dot}{suffix}".lower() if dot else ""
    if suffix not in SUPPORTED_SUFFIXES:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UploadError(f"{filename!r} is not an article file: upload one of {allowed}.")
    stem = _UNSAFE.sub("_", stem).strip("._")[:MAX_STEM_CHARS]
    if not stem:
        raise UploadError(f"{filename!r} has no usable name: rename it, e.g. article{suffix}.")
    return f"{stem}{suffix}"


def save_upload(corpus_dir: Path, filename: str, data: bytes, max_bytes: int) -> Path:
    """Write an uploaded file into `corpus_dir` under a safe, unused name; return its path."""
    name = safe_name(filename)
    if len(data) > max_bytes:
        raise UploadError(
            f"{filename!r} is {len(data) / 1e6:.1f} MB, above the {max_bytes / 1e6:g} MB limit: "
            "split it or raise RAG_MAX_FILE_MB."
        )
    root = corpus_dir.resolve()
    if not root.is_dir():
        raise UploadError(f"Corpus folder {corpus_dir} does not exist: create it first.")
    if (copy := same_content(root, data)) is not None:
        raise UploadError(f"{filename!r} is already in the corpus as {copy}: nothing was added.")
    # Hidden, so a concurrent ingest skips it, and with the real suffix, so the reader that
    # ingest uses can judge the contents before the file joins the corpus.
    staging = root / f".upload-{uuid.uuid4().hex}{Path(name).suffix}"
    staging.write_bytes(data)
    try:
        source = read_source(staging, name, max_bytes)
        if isinstance(source, Skipped):
            raise UploadError(
                f"{filename!r} cannot be indexed ({source.reason}): upload an article with text."
            )
        full = f"The corpus already holds {name} and many numbered copies: rename it."
        return _link_unused(staging, root, name, full)
    finally:
        staging.unlink()


def same_content(root: Path, data: bytes) -> str | None:
    """The name of a corpus file holding exactly `data`, if one does (files of another size
    are never read)."""
    digest = hashlib.sha256(data).digest()
    for name, found in discover(root):  # hidden entries (the index, staged uploads) left out
        path = Path(found)
        try:
            if path.is_symlink() or path.stat().st_size != len(data):
                continue  # ingest does not follow links either
            if hashlib.sha256(path.read_bytes()).digest() == digest:
                return name
        except OSError:
            continue  # unreadable or gone: ingest reports it, not the upload
    return None


def _link_unused(source: Path, folder: Path, name: str, full: str) -> Path:
    """Hard-link `source` into `folder` as `name`, or "name-2", "name-3", ... when taken (a
    link fails instead of replacing a file); UploadError saying `full` when none is free."""
    stem, suffix = os.path.splitext(name)
    candidates = [name, *(f"{stem}-{n}{suffix}" for n in range(2, MAX_NUMBERED_NAMES + 1))]
    for candidate in candidates:
        target = folder / candidate
        try:
            os.link(source, target)
        except FileExistsError:
            continue
        return target
    raise UploadError(full)


# Where removed files go: inside the corpus, hidden, so ingest no longer reads them.
REMOVED_FOLDER = ".removed"


def remove_from_corpus(corpus_dir: Path, name: str) -> Path:
    """Move corpus file `name` into the corpus's `.removed/` folder (never deleted, under an
    unused name there); return where it went. UploadError when it is not a corpus file."""
    root = corpus_dir.resolve()
    path = root / name
    inside = path.resolve().is_relative_to(root) and not path.is_symlink()
    if not inside or not path.is_file() or name.startswith(".") or "/." in f"/{name}":
        raise UploadError(f"{name!r} is not a file of the corpus: nothing was removed.")
    removed = root / REMOVED_FOLDER
    removed.mkdir(exist_ok=True)
    full = f"{REMOVED_FOLDER}/ already holds many copies of {path.name}: empty it."
    target = _link_unused(path, removed, path.name, full)  # never over an earlier removal
    path.unlink()
    return target
