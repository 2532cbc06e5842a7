"""Shared fixtures: the real corpus, a real embedded Chroma, the real embedding model."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir

from rag.config import Settings
from rag.pipeline import Pipeline

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
TROOPS_FILE = "002_982d4678ac49a3e8.txt"
WIRE_COPIES = {"000_3457b9917c9ed967.txt", "001_7dc582d85285662e.txt", "003_aada9badebe01919.txt"}


# Hypothesis keeps its examples and caches in a folder of its own; by default that is
# `.hypothesis` in the checkout, which tests never write into.
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "newsdesk-hypothesis"))
hypothesis_settings.register_profile("newsdesk", database=None)
hypothesis_settings.load_profile("newsdesk")


@pytest.fixture(scope="session", autouse=True)
def offline_by_default() -> Iterator[None]:
    """Tests answer extractively unless they ask for Ollama (pointed at the stand-in in
    tests/ollama_stub.py): a real Ollama running on this machine must not change results."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAG_LLM", "extractive")
        yield


@pytest.fixture(scope="session", autouse=True)
def results_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Evaluation reports written by any test (in process or by a `rag` subprocess) go to a
    folder of this session, never to the checkout's eval/results."""
    folder = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAG_RESULTS_DIR", str(folder))
        yield folder


@pytest.fixture(autouse=True)
def conversations_apart(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test keeps the app's conversations in a folder of its own, so one test's
    conversations never show in another's sidebar (nor in the session's shared index)."""
    folder = tmp_path_factory.mktemp("conversations")
    monkeypatch.setenv("RAG_DATA_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the built ONNX graph, shared by all tests (never the user's home)."""
    return tmp_path_factory.mktemp("model-cache")


def copy_corpus(target: Path) -> Path:
    """A private copy of the five articles that a test may change."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(CORPUS.glob("*.txt")):
        shutil.copy(path, target / path.name)
    return target


@pytest.fixture
def make_settings(model_cache: Path):
    """Settings for a corpus folder, with the index beside it and the shared model cache."""

    def make(corpus: Path, **overrides: Any) -> Settings:  # any Settings fields
        defaults = {"index_dir": corpus.parent / "index", "cache_dir": model_cache}
        return Settings(corpus_dir=corpus, **{**defaults, **overrides})

    return make


@pytest.fixture(scope="session")
def indexed(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Pipeline:
    """A pipeline over the real five articles, ingested once for the session (read-only)."""
    root = tmp_path_factory.mktemp("indexed")
    settings = Settings(
        corpus_dir=copy_corpus(root / "corpus"), index_dir=root / "index", cache_dir=model_cache
    )
    pipeline = Pipeline(settings)
    pipeline.ingest()
    return pipeline
