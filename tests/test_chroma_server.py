"""Server mode: the index and end-to-end checks against a real `chroma run` on a loopback port.

The server is started once for this module and killed at teardown. Only the `chroma`
executable being absent skips these tests; it ships with chromadb, so CI always runs them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.index import IndexUnavailable
from rag.pipeline import Pipeline
from tests.conftest import REPO, TROOPS_FILE, copy_corpus

HOST = "127.0.0.1"
SERVER_START_TIMEOUT_S = 30
SERVER_STOP_TIMEOUT_S = 10
HEARTBEAT_POLL_S = 0.1
TROOPS_QUESTION = "When did US troop levels in Iraq drop to 2,500?"
# What the embedded store holds for the five articles (tests/test_index.py, test_cli.py).
REAL_CORPUS_COUNTS = {"files": 5, "articles": 11, "chunks": 55}
FLOOD_ARTICLE = (
    "# Floods close the port of Umm Qasr\n\nMarch 3, 2022\n\n"
    "Heavy rain flooded the docks of Umm Qasr on Tuesday, and the port authority said "
    "shipping would stay suspended for four days while pumps cleared the water.\n"
)


def _chroma_executable() -> str | None:
    # The venv's bin folder is not on PATH when pytest runs as `venv/bin/python -m pytest`.
    beside_python = Path(sys.executable).parent / "chroma"
    return str(beside_python) if beside_python.is_file() else shutil.which("chroma")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_heartbeat(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    url = f"http://{HOST}:{port}/api/v2/heartbeat"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`chroma run` exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(HEARTBEAT_POLL_S)
    pytest.fail(f"`chroma run` gave no heartbeat in {SERVER_START_TIMEOUT_S} s:\n{log.read_text()}")


def start_server(executable: str, data: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`chroma run` on `data` at HOST:`port`, once it answers its heartbeat."""
    with log.open("a") as output:
        process = subprocess.Popen(
            [executable, "run", "--path", str(data), "--host", HOST, "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    try:
        _wait_for_heartbeat(process, port, log)
    except BaseException:
        stop_server(process)
        raise
    return process


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real Chroma server on a free loopback port, for this module only."""
    executable = _chroma_executable()
    if executable is None:
        pytest.skip("the `chroma` executable (installed with chromadb) is missing")
    root = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    process = start_server(executable, root / "data", port, root / "server.log")
    try:
        yield HOST, port
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def on_server(chroma_server: tuple[str, int], model_cache: Path):
    """Settings for a corpus folder whose vectors live on the test server."""
    host, port = chroma_server

    def make(corpus: Path):  # noqa: ANN202 - returns Settings
        from rag.config import Settings

        return Settings(
            corpus_dir=corpus,
            index_dir=corpus.parent / "index",
            cache_dir=model_cache,
            chroma_host=host,
            chroma_port=port,
        )

    return make


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, on_server) -> Pipeline:
    """The five real articles ingested once into the server (read-only for the tests)."""
    corpus = copy_corpus(tmp_path_factory.mktemp("served") / "corpus")
    pipeline = Pipeline(on_server(corpus))
    report = pipeline.ingest()
    assert len(report.added) == 5 and report.chunks_embedded == REAL_CORPUS_COUNTS["chunks"]
    return pipeline


def server_collection(chroma_server: tuple[str, int], name: str):  # noqa: ANN201
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    host, port = chroma_server
    client = chromadb.HttpClient(
        host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    return client.get_collection(name)


def counts(pipeline: Pipeline) -> dict[str, int]:
    status = pipeline.index.status()
    return {"files": status.files, "articles": status.articles, "chunks": status.chunks}


def test_vectors_live_on_the_server_not_in_the_index_folder(
    served: Pipeline, chroma_server: tuple[str, int]
) -> None:
    stored = server_collection(chroma_server, served.index.collection_name)
    assert stored.count() == REAL_CORPUS_COUNTS["chunks"]
    assert not (served.settings.index_path / "chroma").exists()
    # The manifest and BM25 index stay local, named like the collection they describe.
    key = served.index.collection_name.removeprefix("newsdesk-")
    assert (served.settings.index_path / f"manifest-{key}.sqlite3").is_file()
    assert (served.settings.index_path / f"bm25-{key}").is_dir()


def test_status_counts_equal_the_embedded_store(served: Pipeline, indexed: Pipeline) -> None:
    assert counts(served) == REAL_CORPUS_COUNTS == counts(indexed)


def test_question_is_answered_with_its_citation(served: Pipeline) -> None:
    answer = served.ask(TROOPS_QUESTION)
    assert not answer.abstained
    assert "late 2020" in answer.answer
    assert answer.citations[0].file == TROOPS_FILE


def test_reingest_embeds_nothing_then_only_the_changed_file(tmp_path: Path, on_server) -> None:
    corpus = copy_corpus(tmp_path / "corpus")
    Pipeline(on_server(corpus)).ingest()

    again = Pipeline(on_server(corpus)).ingest()  # a fresh process would start like this
    assert (again.added, again.updated, again.removed, again.chunks_embedded) == ([], [], [], 0)

    changed = corpus / "004_a2aa68af86f12e80.txt"
    changed.write_text(changed.read_text() + "\nA new closing sentence was added to the story.\n")
    pipeline = Pipeline(on_server(corpus))
    third = pipeline.ingest()
    assert third.updated == [changed.name] and third.added == third.removed == []
    assert third.chunks_embedded == pipeline.index.manifest().files[changed.name].chunks
    assert pipeline.index.collection.count() == pipeline.index.status().chunks


def test_two_corpora_on_one_server_stay_apart(
    tmp_path: Path, on_server, served: Pipeline, chroma_server: tuple[str, int]
) -> None:
    flood_corpus = tmp_path / "flood" / "corpus"
    flood_corpus.mkdir(parents=True)
    (flood_corpus / "flood.md").write_text(FLOOD_ARTICLE)
    flood = Pipeline(on_server(flood_corpus))
    assert flood.settings.fingerprint == served.settings.fingerprint  # same settings...
    assert flood.index.collection_name != served.index.collection_name  # ...own collection
    flood.ingest()

    assert counts(flood)["files"] == 1
    assert {hit.chunk.file for hit in flood.retriever.search(TROOPS_QUESTION)} == {"flood.md"}
    assert server_collection(chroma_server, served.index.collection_name).count() == 55
    assert served.ask(TROOPS_QUESTION).citations[0].file == TROOPS_FILE


def test_environment_variables_switch_the_cli_to_the_server(
    served: Pipeline, chroma_server: tuple[str, int]
) -> None:
    host, port = chroma_server
    result = CliRunner().invoke(
        main,
        ["status", "--json", "--corpus", str(served.settings.corpus_dir),
         "--index", str(served.settings.index_path)],
        env={"RAG_CHROMA_HOST": host, "RAG_CHROMA_PORT": str(port),
             "RAG_CACHE_DIR": str(served.settings.cache_dir)},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    state = json.loads(result.output)
    assert state["collection"] == served.index.collection_name
    assert {key: state[key] for key in REAL_CORPUS_COUNTS} == REAL_CORPUS_COUNTS


def cli(settings, *args: str, stdin: str = "") -> tuple[int, str]:  # noqa: ANN001 - Settings
    """`rag *args` in its own process, as a user runs it, given `stdin`: exit code and all
    output."""
    env = {**os.environ, "RAG_CORPUS_DIR": str(settings.corpus_dir),
           "RAG_INDEX_DIR": str(settings.index_path), "RAG_CACHE_DIR": str(settings.cache_dir),
           "RAG_CHROMA_HOST": settings.chroma_host,
           "RAG_CHROMA_PORT": str(settings.chroma_port)}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "rag", *args], env=env, cwd=REPO, input=stdin,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_server_stopped_then_restarted_empty_is_named_then_restored(
    tmp_path: Path, model_cache: Path, indexed: Pipeline
) -> None:
    from rag.config import Settings

    executable = _chroma_executable()
    if executable is None:
        pytest.skip("the `chroma` executable (installed with chromadb) is missing")
    port = _free_port()
    log = tmp_path / "server.log"
    settings = Settings(
        corpus_dir=copy_corpus(tmp_path / "corpus"), index_dir=tmp_path / "index",
        cache_dir=model_cache, chroma_host=HOST, chroma_port=port,
    )  # fmt: skip
    address = f"{HOST}:{port}"
    process = start_server(executable, tmp_path / "first", port, log)
    try:
        assert Pipeline(settings).ingest().chunks_embedded == REAL_CORPUS_COUNTS["chunks"]
    finally:
        stop_server(process)

    # The server is down: each command gives one line naming it and what to check, never a
    # traceback, and no counts that only the local manifest vouches for.
    for command, stdin in (
        (["ask", TROOPS_QUESTION], ""),
        (["chat"], f"{TROOPS_QUESTION}\n\n"),
        (["status"], ""),
        (["status", "--json"], ""),
    ):
        code, output = cli(settings, *command, stdin=stdin)
        lines = output.strip().splitlines()
        assert code == 1 and len(lines) == 1, (command, output)
        assert lines[0].startswith(f"Error: The Chroma server at {address} cannot be reached ")
        assert lines[0].endswith("check that the server is up (`chroma run`), then try again.")

    # Restarted on an empty data folder: the chunks are missing, questions are refused.
    process = start_server(executable, tmp_path / "empty", port, log)
    try:
        code, output = cli(settings, "ask", TROOPS_QUESTION)
        assert code == 1 and "Traceback" not in output, output
        assert "55 chunks missing from the store" in output, output
        assert "cannot answer" not in output, output

        code, output = cli(settings, "ingest")
        assert code == 0, output
        assert "restored 55 chunks missing from the store" in output, output

        healed = Pipeline(settings)
        assert healed.index.health().verdict == "ok"
        got = healed.index.collection.get(include=["documents"])
        fresh = indexed.index.collection.get(include=["documents"])
        assert dict(zip(got["ids"], got["documents"], strict=True)) == dict(
            zip(fresh["ids"], fresh["documents"], strict=True)
        )
        answer = healed.ask(TROOPS_QUESTION)
        assert "late 2020" in answer.answer
        assert TROOPS_FILE in {citation.file for citation in answer.citations}
    finally:
        stop_server(process)


def test_another_corpus_in_the_collection_is_refused_then_cleaned(
    tmp_path: Path, on_server, chroma_server: tuple[str, int]
) -> None:
    """Two machines whose index folders have the same path share one server's collection:
    here the flood article's chunks are copied into this corpus's collection."""
    pipeline = Pipeline(on_server(copy_corpus(tmp_path / "ours" / "corpus")))
    pipeline.ingest()
    flood_corpus = tmp_path / "theirs" / "corpus"
    flood_corpus.mkdir(parents=True)
    (flood_corpus / "flood.md").write_text(FLOOD_ARTICLE)
    other = Pipeline(on_server(flood_corpus))
    other.ingest()
    theirs = server_collection(chroma_server, other.index.collection_name).get(
        include=["documents", "metadatas", "embeddings"]
    )
    foreign = len(theirs["ids"])
    server_collection(chroma_server, pipeline.index.collection_name).add(
        ids=theirs["ids"], documents=theirs["documents"], metadatas=theirs["metadatas"],
        embeddings=theirs["embeddings"],
    )  # fmt: skip

    reopened = Pipeline(pipeline.settings)
    with pytest.raises(IndexUnavailable, match=f"{foreign} stored chunks the index does not list"):
        reopened.ask(TROOPS_QUESTION)
    assert str(reopened.index.health()) == (
        f"repairable: {foreign} stored chunks the manifest does not list"
    )
    report = reopened.ingest()
    assert report.repair.lines() == [f"removed {foreign} stored chunks the manifest did not list"]
    healed = Pipeline(pipeline.settings)
    assert counts(healed) == REAL_CORPUS_COUNTS
    assert healed.index.collection.count() == REAL_CORPUS_COUNTS["chunks"]
    answer = healed.ask(TROOPS_QUESTION)
    assert "late 2020" in answer.answer
    assert {citation.file for citation in answer.citations} == {TROOPS_FILE}
