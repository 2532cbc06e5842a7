"""The index notices when it is damaged, refuses questions saying what to run, and heals.

Each test damages a private copy of the session's index (its store folder, its sqlite file,
its keyword index or its manifest) the way a user might, then checks `rag status`, a refused
question, and that `rag ingest` makes it equal to a fresh build again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.index import Index, IndexUnavailable, Verdict
from rag.pipeline import Pipeline
from rag.store import Store
from rag.types import Chunk, UserError
from tests.conftest import REPO, TROOPS_FILE, copy_corpus

TROOPS_QUESTION = "When did US troop levels in Iraq drop to 2,500?"


@pytest.fixture
def damaged(indexed: Pipeline, tmp_path: Path) -> Path:
    """A copy of the session's corpus and index folders (the index at tmp_path / "index"),
    not yet opened by this process: Chroma caches an open store per folder."""
    source = indexed.settings
    shutil.copytree(source.corpus_dir, tmp_path / "corpus")
    shutil.copytree(source.index_path, tmp_path / "index")
    return tmp_path


def pipeline_for(root: Path, make_settings) -> Pipeline:
    return Pipeline(make_settings(root / "corpus", index_dir=root / "index"))


def stored(pipeline: Pipeline) -> dict[str, str]:
    """Every chunk in the store: id -> text."""
    got = pipeline.index.collection.get(include=["documents"])
    return dict(zip(got["ids"], got["documents"], strict=True))


def cli(root: Path, cache: Path, *args: str) -> tuple[int, str]:
    """`rag *args` on the copy, as a user runs it (its own process): exit code and output."""
    env = {**os.environ, "RAG_CORPUS_DIR": str(root / "corpus"),
           "RAG_INDEX_DIR": str(root / "index"), "RAG_CACHE_DIR": str(cache)}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "rag", *args], env=env, cwd=REPO,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def assert_healed(pipeline: Pipeline, indexed: Pipeline) -> None:
    """The index equals a fresh build and answers the 2,500 question with its citation."""
    assert pipeline.index.health().verdict == Verdict.OK
    assert stored(pipeline) == stored(indexed)
    assert sorted(pipeline.index.bm25().ids) == sorted(indexed.index.bm25().ids)
    answer = pipeline.ask(TROOPS_QUESTION)
    assert "late 2020" in answer.answer
    assert TROOPS_FILE in {citation.file for citation in answer.citations}


def test_deleted_store_folder_is_refused_then_restored(
    damaged: Path, indexed: Pipeline, make_settings
) -> None:
    shutil.rmtree(damaged / "index" / "chroma")
    pipeline = pipeline_for(damaged, make_settings)
    health = pipeline.index.health()
    assert str(health) == "repairable: 55 chunks missing from the store"
    assert (health.manifest_chunks, health.store_chunks, health.keyword_chunks) == (55, 0, 55)
    with pytest.raises(IndexUnavailable, match=r"55 chunks missing .*Run `rag ingest`"):
        pipeline.ask(TROOPS_QUESTION)

    report = pipeline.ingest()
    assert report.repair.lines() == [
        "restored 55 chunks missing from the store (5 files re-embedded)"
    ]
    assert report.chunks_embedded == 55 and not report.updated
    assert_healed(Pipeline(pipeline.settings), indexed)


def test_truncated_sqlite_is_named_without_a_traceback_and_rebuilt(
    damaged: Path, indexed: Pipeline, make_settings, model_cache: Path
) -> None:
    sqlite = damaged / "index" / "chroma" / "chroma.sqlite3"
    os.truncate(sqlite, sqlite.stat().st_size // 3)
    for command in (["status"], ["ask", TROOPS_QUESTION], ["ingest"]):
        code, output = cli(damaged, model_cache, *command)
        assert "Traceback" not in output, output
        assert "database disk image is malformed" in output, output
        assert "run `rag ingest --rebuild`" in output, output
        assert code == (0 if command == ["status"] else 1)
    code, output = cli(damaged, model_cache, "ingest", "--rebuild")
    assert code == 0 and "5 added" in output, output
    assert not list(damaged.glob("index.*")), "the staging and old folders are gone"
    assert_healed(pipeline_for(damaged, make_settings), indexed)


def test_deleted_keyword_index_is_refused_then_rebuilt(
    damaged: Path, indexed: Pipeline, make_settings
) -> None:
    for folder in (damaged / "index").glob("bm25-*"):
        shutil.rmtree(folder)
    pipeline = pipeline_for(damaged, make_settings)
    assert str(pipeline.index.health()) == "repairable: the keyword index is missing or unreadable"
    with pytest.raises(IndexUnavailable, match="keyword index is missing"):
        pipeline.ask(TROOPS_QUESTION)
    report = pipeline.ingest()
    assert report.repair.lines() == ["rebuilt the keyword index"] and report.chunks_embedded == 0
    assert_healed(Pipeline(pipeline.settings), indexed)


def test_deleted_manifest_is_refused_then_rebuilt(
    damaged: Path, indexed: Pipeline, make_settings
) -> None:
    for manifest in (damaged / "index").glob("manifest-*.sqlite3"):
        manifest.unlink()
    pipeline = pipeline_for(damaged, make_settings)
    assert "manifest" in str(pipeline.index.health())
    with pytest.raises(IndexUnavailable, match="manifest .* is missing"):
        pipeline.ask(TROOPS_QUESTION)
    report = pipeline.ingest()
    assert len(report.added) == 5 and report.repair.stray_chunks == 55
    assert_healed(Pipeline(pipeline.settings), indexed)


def _remove_store(index: Path) -> None:
    shutil.rmtree(index / "chroma")


def _empty_store(index: Path) -> None:
    for path in (index / "chroma").iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _cut_database(index: Path) -> None:
    os.truncate(index / "chroma" / "chroma.sqlite3", 4096)


def _remove_keywords(index: Path) -> None:
    for folder in index.glob("bm25-*"):
        shutil.rmtree(folder)


def _rewrite_keywords(index: Path) -> None:
    for kept in index.glob("bm25-*/newsdesk.json"):
        kept.write_text(kept.read_text().replace('"ids": [', '"ids": ["stray", '))


@pytest.mark.parametrize(
    "damage", [_remove_store, _empty_store, _cut_database, _remove_keywords, _rewrite_keywords]
)
def test_damage_in_place_breaks_the_seal_an_unchanged_ingest_trusts(
    damaged: Path, make_settings, damage: Callable[[Path], None]
) -> None:
    """An ingest skips checking the store and the keyword index while their files are as
    the last ingest left them (`Index.seal`): each damage of the table above changes them."""
    pipeline = pipeline_for(damaged, make_settings)
    pipeline.ingest()  # the copy's files are new: checked in full, then sealed
    sealed = pipeline.index.manifest().sealed
    assert sealed == pipeline.index.seal() is not None
    damage(damaged / "index")
    assert pipeline.index.seal() != sealed


def test_status_shows_health_and_real_counts(damaged: Path) -> None:
    shutil.rmtree(damaged / "index" / "chroma")
    env = {"RAG_CORPUS_DIR": str(damaged / "corpus"), "RAG_INDEX_DIR": str(damaged / "index")}
    result = CliRunner().invoke(main, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    state = json.loads(result.output)
    assert state["health"] == "repairable: 55 chunks missing from the store"
    assert (state["chunks"], state["store_chunks"], state["keyword_chunks"]) == (55, 0, 55)


def test_failed_rebuild_leaves_the_old_index_as_it_was(
    damaged: Path, indexed: Pipeline, make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Index, "_embed_and_store", disk_full)
    with pytest.raises(UserError, match="No space left"):
        pipeline_for(damaged, make_settings).rebuild()
    assert not list(damaged.glob("index.*"))
    monkeypatch.undo()
    assert_healed(pipeline_for(damaged, make_settings), indexed)


def test_status_text_names_the_verdict(damaged: Path) -> None:
    shutil.rmtree(damaged / "index" / "chroma")
    env = {"RAG_CORPUS_DIR": str(damaged / "corpus"), "RAG_INDEX_DIR": str(damaged / "index")}
    result = CliRunner().invoke(main, ["status"], env=env)
    assert "health:       repairable: 55 chunks missing from the store" in result.output
    assert "store:        0 chunks; keyword index: 55 chunks" in result.output


def test_unreadable_file_is_skipped_with_its_reason_and_the_rest_indexed(
    tmp_path: Path, indexed: Pipeline, make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = copy_corpus(tmp_path / "corpus")
    locked = corpus / "004_a2aa68af86f12e80.txt"
    locked.chmod(0)
    if os.geteuid() == 0:
        # Root reads a file whatever its permission bits, so the refusal a user would get
        # is raised where the file is read, as the kernel raises it for them.
        real_read = Path.read_bytes

        def read_bytes(path: Path) -> bytes:
            if path == locked.resolve():
                raise PermissionError(13, "Permission denied", str(path))
            return real_read(path)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)
    pipeline = Pipeline(make_settings(corpus))
    report = pipeline.ingest()
    assert [(file.name, file.reason) for file in report.skipped] == [
        (locked.name, "cannot be read (Permission denied)")
    ]
    assert len(report.added) == 4 and locked.name not in report.added
    assert pipeline.index.health().verdict == Verdict.OK
    assert pipeline.index.manifest().skipped == {locked.name: "cannot be read (Permission denied)"}
    fresh = indexed.index.collection.get(include=["documents", "metadatas"])
    others = zip(fresh["ids"], fresh["documents"], fresh["metadatas"], strict=True)
    # The other four files are indexed exactly as in a fresh build of the whole corpus.
    assert stored(pipeline) == {
        key: text for key, text, meta in others if meta["file"] != locked.name
    }
    answer = pipeline.ask(TROOPS_QUESTION)
    assert "late 2020" in answer.answer

    monkeypatch.undo()
    locked.chmod(0o644)
    again = pipeline.ingest()
    assert again.added == [locked.name] and not again.skipped
    assert_healed(Pipeline(pipeline.settings), indexed)


def test_file_removed_while_the_corpus_is_read_is_skipped(
    tmp_path: Path, make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file listed, then deleted before it is read (no simulation: it is really gone)."""
    import rag.ingest

    corpus = copy_corpus(tmp_path / "corpus")
    gone = corpus / "004_a2aa68af86f12e80.txt"
    listed = list(rag.ingest.discover(corpus))
    gone.unlink()
    monkeypatch.setattr(rag.ingest, "discover", lambda folder: iter(listed))
    report = Pipeline(make_settings(corpus)).ingest()
    assert [(file.name, file.reason) for file in report.skipped] == [
        (gone.name, "cannot be read (No such file or directory)")
    ]
    assert len(report.added) == 4


def test_disk_full_mid_ingest_ends_in_one_line_and_a_rerun_completes(
    tmp_path: Path,
    indexed: Pipeline,
    make_settings,
    model_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store's second write fails as a full disk does (ENOSPC), injected at the store
    boundary: the command ends with one line, and a re-run embeds only the files the first
    write did not complete, and completes the index."""
    copy_corpus(tmp_path / "corpus")
    real_add = Store.add
    writes: list[list[Chunk]] = []

    def add(store: Store, chunks: Any, vectors: Any) -> None:
        writes.append(list(chunks))
        if len(writes) == 2:
            raise OSError(28, "No space left on device")
        real_add(store, chunks, vectors)

    monkeypatch.setattr(Store, "add", add)
    env = {"RAG_CORPUS_DIR": str(tmp_path / "corpus"), "RAG_INDEX_DIR": str(tmp_path / "index"),
           "RAG_CACHE_DIR": str(model_cache), "RAG_STORE_BATCH_SIZE": "10"}  # fmt: skip
    result = CliRunner().invoke(main, ["ingest"], env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "No space" in lines[0] and "run the same command again" in lines[0]
    assert "Traceback" not in result.output

    # The files whose chunks all went in with the first write are recorded as stored.
    sizes = {name: entry.chunks for name, entry in indexed.index.manifest().files.items()}
    first = Counter(chunk.file for chunk in writes[0])
    kept = sorted(name for name, stored in first.items() if stored == sizes[name])
    assert kept, "the first write completes a file"
    complete = pipeline_for(tmp_path, make_settings).index.manifest().complete_files()
    assert sorted(complete) == kept

    monkeypatch.undo()
    result = CliRunner().invoke(main, ["ingest"], env=env)
    assert result.exit_code == 0, result.output
    missing = sum(sizes.values()) - sum(sizes[name] for name in kept)
    assert missing < sum(sizes.values())
    assert f"; {missing} chunks embedded." in result.output, result.output
    assert_healed(pipeline_for(tmp_path, make_settings), indexed)


# Bytes any one file of the index may grow to in the test below: the store's sqlite file
# passes it while the five articles are stored (it ends near 850 kB).
FILE_SIZE_LIMIT = 200_000


def test_file_size_limit_mid_ingest_ends_in_one_line_and_a_rerun_completes(
    tmp_path: Path, indexed: Pipeline, make_settings, model_cache: Path
) -> None:
    """A real write failure: `rag ingest` runs under RLIMIT_FSIZE (SIGXFSZ ignored, so writes
    past the limit fail with EFBIG, as they fail with ENOSPC on a full disk)."""
    import resource
    import signal

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))

    copy_corpus(tmp_path / "corpus")
    env = {**os.environ, "RAG_CORPUS_DIR": str(tmp_path / "corpus"),
           "RAG_INDEX_DIR": str(tmp_path / "index"), "RAG_CACHE_DIR": str(model_cache)}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "rag", "ingest"], env=env, cwd=REPO, preexec_fn=limited,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output
    assert "check that the disk has space, then run the same command again" in errors[0]

    code, output = cli(tmp_path, model_cache, "ingest")
    assert code == 0, output
    assert_healed(pipeline_for(tmp_path, make_settings), indexed)
