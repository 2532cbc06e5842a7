"""The manifest in SQLite: typed records in and out, saves in proportion to what changed,
all or nothing when a save is killed, and older JSON manifests moved in once."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import rag.manifest
from rag.manifest import ArticleEntry, FileEntry, Manifest, SavedArticles, version
from rag.pipeline import Pipeline
from rag.types import IndexUnavailable
from tests.conftest import REPO, copy_corpus

# A JSON manifest as the last version before SQLite wrote it: one line, files sorted,
# sections, stamps and an estimated date recorded.
CURRENT_JSON = (
    '{"fingerprint":"7003b7761e","corpus_dir":"corpus","files":{"a.txt":{"sha256":"aa",'
    '"encoding":"utf-8","articles":[{"title":"Iraq’s budget","date":"2020-05-11",'
    '"date_text":"May 11, 2020","start":54,"end":2719,"sections":[[54,211],[294,2719]],'
    '"date_evidence":null},{"title":"Undated","date":"2020-05-09","date_text":null,'
    '"start":2864,"end":4731,"sections":[[2864,4731]],"date_evidence":"On Saturday, May 9, '
    '2020, the vote was held."}],"chunks":8,"complete":true,"stamp":[4765,17956,17957]},'
    '"b.txt":{"sha256":"bb","encoding":"cp1252","articles":[],"chunks":0,"complete":false,'
    '"stamp":null}},"skipped":{"c.pdf":"unreadable PDF"},'
    '"last_indexed":"2026-11-26T13:20:43+00:00","keywords_pending":true}'
)
# The same index as written before sections, stamps and the keywords flag were recorded.
FIRST_JSON = (
    '{"fingerprint":"7003b7761e","corpus_dir":"corpus","files":{"a.txt":{"sha256":"aa",'
    '"encoding":"utf-8","articles":[{"title":"Iraq’s budget","date":"2020-05-11",'
    '"date_text":"May 11, 2020","start":54,"end":2719}],"chunks":8,"complete":true}},'
    '"skipped":{},"last_indexed":null}'
)
BUDGET = ArticleEntry(
    "Iraq’s budget", date(2020, 5, 11), "May 11, 2020", 54, 2719, ((54, 211), (294, 2719))
)
VOTE = ArticleEntry(
    "Undated", date(2020, 5, 9), None, 2864, 4731, ((2864, 4731),),
    "On Saturday, May 9, 2020, the vote was held.",
)  # fmt: skip


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "manifest-7003b7761e.sqlite3"


def saved(path: Path, files: dict[str, FileEntry]) -> Manifest:
    manifest = Manifest("7003b7761e", "corpus")
    for name, entry in files.items():
        manifest.put(name, entry)
    manifest.save(path)
    return manifest


def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL the manifest runs from now on, one statement per row written."""
    said: list[str] = []
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db: sqlite3.Connection = connect(*args, **kwargs)
        db.set_trace_callback(said.append)
        return db

    monkeypatch.setattr(sqlite3, "connect", traced)
    return said


def writes(said: list[str]) -> list[str]:
    """The rows `said` writes, as "verb table"."""
    verbs = (re.match(r"(INSERT OR REPLACE INTO|INSERT INTO|DELETE FROM) \w+", s) for s in said)
    return [verb[0] for verb in verbs if verb]


def test_a_json_manifest_is_moved_into_sqlite_once(path: Path) -> None:
    path.with_suffix(".json").write_text(CURRENT_JSON)
    manifest = Manifest.load(path, "other", "elsewhere")
    assert not path.with_suffix(".json").exists() and path.is_file()
    assert (manifest.fingerprint, manifest.corpus_dir) == ("7003b7761e", "corpus")
    assert manifest.files["a.txt"].articles == (BUDGET, VOTE)
    assert manifest.files["a.txt"].stamp == (4765, 17956, 17957)
    assert manifest.files["b.txt"] == FileEntry("bb", "cp1252")
    assert manifest.keywords_pending and manifest.skipped == {"c.pdf": "unreadable PDF"}
    assert manifest.last_indexed == "2026-11-26T13:20:43+00:00"
    assert list(manifest.complete_files()) == ["a.txt"]
    assert Manifest.load(path, "other", "elsewhere") == manifest


def test_a_json_manifest_from_before_sections_and_stamps_is_moved_too(path: Path) -> None:
    path.with_suffix(".json").write_text(FIRST_JSON)
    entry = Manifest.load(path, "7003b7761e", "corpus").files["a.txt"]
    # The article's outer span stands for its one section; no stamp means "read it again".
    assert entry.articles[0].sections == ((54, 2719),)
    assert entry.stamp is None and entry.complete
    assert not Manifest.load(path, "7003b7761e", "corpus").keywords_pending


def test_a_move_that_fails_half_way_leaves_the_json_to_move_again(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path.with_suffix(".json").write_text(CURRENT_JSON)
    with monkeypatch.context() as patch:
        patch.setattr(rag.manifest, "_head", lambda manifest: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            Manifest.load(path, "7003b7761e", "corpus")
    assert path.with_suffix(".json").exists()
    assert version(path) == "never saved"  # the database holds nothing yet
    assert len(Manifest.load(path, "7003b7761e", "corpus").files) == 2
    assert not path.with_suffix(".json").exists()


def test_two_processes_opening_an_old_index_at_once_move_it_once(path: Path) -> None:
    path.with_suffix(".json").write_text(CURRENT_JSON)
    with ThreadPoolExecutor(4) as pool:  # each load has its own connection, as a process has
        loaded = list(pool.map(lambda _: Manifest.load(path, "fp", "corpus"), range(4)))
    assert all(manifest == loaded[0] for manifest in loaded)
    assert len(loaded[0].files) == 2 and not path.with_suffix(".json").exists()


def test_no_manifest_is_an_empty_one_and_reading_creates_nothing(path: Path) -> None:
    assert Manifest.load(path, "fp", "corpus") == Manifest("fp", "corpus")
    assert version(path) == "never saved" and not path.exists()


def test_typed_records_come_back_as_saved(path: Path) -> None:
    manifest = saved(path, {
        "a.txt": FileEntry("aa", "utf-8", (BUDGET, VOTE), 8, True, (4765, 17956, 17957)),
        "b.txt": FileEntry("bb", "cp1252"),
    })  # fmt: skip
    manifest.skipped = {"c.pdf": "unreadable PDF"}
    manifest.save(path)
    loaded = Manifest.load(path, "fp", "corpus")
    assert loaded == manifest
    # Articles are read from their row only when asked for, and equal the tuple saved.
    assert isinstance(loaded.files["a.txt"].articles, SavedArticles)
    assert list(loaded.files["a.txt"].articles) == [BUDGET, VOTE]
    assert loaded.files["a.txt"].articles[1:] == (VOTE,)


def test_a_save_writes_only_the_files_that_changed(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved(path, {name: FileEntry(name, articles=(BUDGET,), chunks=1) for name in "abcd"})
    manifest = Manifest.load(path, "fp", "corpus")
    said = statements(monkeypatch)
    manifest.put("b", FileEntry("b2", articles=(VOTE,), chunks=1, complete=True))
    manifest.remove("c")
    manifest.save(path)
    assert writes(said) == [
        "INSERT INTO manifest", "INSERT OR REPLACE INTO files", "DELETE FROM files"
    ]  # fmt: skip
    said.clear()
    manifest.save(path)  # nothing changed since: only the one row of the index's fields
    assert writes(said) == ["INSERT INTO manifest"]
    again = Manifest.load(path, "fp", "corpus")
    assert again == manifest and sorted(again.files) == ["a", "b", "d"]
    assert again.files["b"].articles == (VOTE,) and again.files["a"].articles == (BUDGET,)


def test_each_save_changes_the_version(path: Path) -> None:
    manifest = saved(path, {"a": FileEntry("a")})
    first = version(path)
    manifest.save(path)
    assert version(path) != first != "never saved"


# A save killed (SIGKILL: no clean-up runs) while it writes the 50th of 100 changed files.
KILLED_SAVE = """
import os, signal, sqlite3, sys
from pathlib import Path
import rag.manifest
from rag.manifest import FileEntry, Manifest

path = Path(sys.argv[1])
manifest = Manifest.load(path, "fp", "corpus")
for number in range(100):
    manifest.put(f"new{number}", FileEntry("sha"))
manifest.remove("a")
connect, rows = sqlite3.connect, []

def traced(*args, **kwargs):
    db = connect(*args, **kwargs)
    def seen(statement):
        rows.append(statement)
        if sum(s.startswith("INSERT OR REPLACE") for s in rows) == 50:
            os.kill(os.getpid(), signal.SIGKILL)
    db.set_trace_callback(seen)
    return db

rag.manifest.sqlite3.connect = traced
manifest.save(path)
"""


def test_a_save_killed_half_way_leaves_the_last_saved_manifest(path: Path) -> None:
    before = saved(path, {"a": FileEntry("a", articles=(BUDGET,), chunks=1, complete=True)})
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_SAVE, str(path)], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert path.with_name(path.name + "-journal").exists()  # the write was cut short
    assert Manifest.load(path, "fp", "corpus") == before


def test_a_full_disk_is_said_as_one(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = saved(path, {"a": FileEntry("a")})
    connect = sqlite3.connect

    def small(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db: sqlite3.Connection = connect(*args, **kwargs)
        db.execute("PRAGMA max_page_count = 4")  # SQLite's own "database or disk is full"
        return db

    monkeypatch.setattr(sqlite3, "connect", small)
    manifest.put("b", FileEntry("b", articles=(BUDGET,) * 200))
    with pytest.raises(OSError, match="could not be written") as raised:
        manifest.save(path)
    assert raised.value.errno == 28  # ENOSPC: the pipeline says to free space
    monkeypatch.undo()
    assert sorted(Manifest.load(path, "fp", "corpus").files) == ["a"]


def test_a_damaged_manifest_is_named_with_its_fix(path: Path) -> None:
    path.write_bytes(b"not a database, whatever its name says" * 100)
    with pytest.raises(IndexUnavailable, match="cannot be read .* run `rag ingest --rebuild`"):
        Manifest.load(path, "fp", "corpus")
    assert version(path) == "unreadable"


def legacy_json(manifest: Manifest) -> str:
    """`manifest` as the JSON file of the version before SQLite."""
    files = {
        name: {
            "sha256": entry.sha256,
            "encoding": entry.encoding,
            "articles": [rag.manifest._article_to_json(article) for article in entry.articles],
            "chunks": entry.chunks,
            "complete": entry.complete,
            "stamp": list(entry.stamp) if entry.stamp else None,
        }
        for name, entry in manifest.files.items()
    }
    return json.dumps({
        "fingerprint": manifest.fingerprint, "corpus_dir": manifest.corpus_dir, "files": files,
        "skipped": manifest.skipped, "last_indexed": manifest.last_indexed,
        "keywords_pending": manifest.keywords_pending,
    })  # fmt: skip


def test_an_index_of_the_json_version_is_kept_not_rebuilt(tmp_path: Path, make_settings) -> None:
    settings = make_settings(copy_corpus(tmp_path / "corpus"))
    built = Pipeline(settings)
    built.ingest()
    before = built.index.status()
    path = built.index._manifest_path
    path.with_suffix(".json").write_text(legacy_json(built.index.manifest()))
    path.unlink()
    report = Pipeline(settings).ingest()
    assert (report.chunks_embedded, len(report.unchanged), report.repair.lines()) == (0, 5, [])
    assert not path.with_suffix(".json").exists()
    assert Pipeline(settings).index.status() == before
