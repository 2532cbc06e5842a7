"""Embeddings served by Ollama (`RAG_EMBED=ollama:MODEL`), against the stand-in server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.embed import EmbedError, OllamaEmbedder
from rag.pipeline import Pipeline
from tests.ollama_stub import EMBED_DIM, OllamaStub, embedding


def test_vectors_are_normalised_in_input_order_and_batched(model_cache: Path) -> None:
    texts = ["Dock workers ended the strike.", "Floods hit Mosul.", "Dock workers ended it."]
    with OllamaStub() as stub:
        embedder = OllamaEmbedder(stub.url, "nomic-embed-text", 5.0, model_cache, batch_size=2)
        embedder.warm_up()
        vectors = embedder.embed(texts)
        assert [len(r.body["input"]) for r in stub.requests if r.path == "/api/embed"] == [1, 2, 1]
    assert (embedder.name, embedder.dim) == ("ollama:nomic-embed-text", EMBED_DIM)
    assert vectors.shape == (3, EMBED_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    expected = np.asarray(embedding(texts[1]))
    np.testing.assert_allclose(vectors[1], expected / np.linalg.norm(expected), rtol=1e-5)
    assert embedder.embed([]).shape == (0, EMBED_DIM)
    # Chunks are sized in the same word pieces as with the embedded model.
    assert embedder.count_tokens("Hello, world!") == 4


def test_a_model_not_pulled_says_which_command_fixes_it(model_cache: Path) -> None:
    with OllamaStub(models=["llama3.2:3b"]) as stub:
        embedder = OllamaEmbedder(stub.url, "nomic-embed-text", 5.0, model_cache)
        with pytest.raises(EmbedError, match="run `ollama pull nomic-embed-text`"):
            embedder.warm_up()


def test_ollama_embeddings_get_their_own_index(tmp_path: Path, make_settings) -> None:  # noqa: ANN001
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "port.txt").write_text(
        "Port strike ends in Basra\n\nMay 2, 2022\n\n"
        "Dock workers in Basra ended a nine-day strike on Monday after the port authority "
        "agreed to raise their wages by 15 percent.\n"
    )
    (corpus / "flood.txt").write_text(
        "Floods hit Mosul\n\nMarch 3, 2021\n\n"
        "Heavy rain flooded parts of Mosul on Sunday, forcing 300 families from their homes.\n"
    )
    with OllamaStub() as stub:
        ollama = make_settings(corpus, embed="ollama:nomic-embed-text", ollama_host=stub.url)
        minilm = make_settings(corpus)
        assert ollama.fingerprint != minilm.fingerprint
        pipeline = Pipeline(ollama)
        report = pipeline.ingest()
        assert report.chunks_embedded == 2
        answer = pipeline.ask("How long did the dock strike in Basra last?")
        assert "/api/embed" in stub.paths()
    assert pipeline.index.status().collection == f"newsdesk-{ollama.fingerprint}"
    assert answer.citations[0].file == "port.txt"
    assert "nine-day" in answer.answer
    assert Pipeline(minilm).index.status().chunks == 0, "the MiniLM index is separate, still empty"


@pytest.mark.parametrize("value", ["ollama:", "nomic-embed-text", "openai:x"])
def test_unknown_embedding_settings_are_refused(make_settings, tmp_path: Path, value: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="ollama:MODEL"):
        make_settings(tmp_path, embed=value)
