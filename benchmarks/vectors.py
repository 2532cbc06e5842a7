"""Chunk vectors composed from cached sentence vectors, for the 100,000-chunk index.

Embedding 100,000 chunks takes hours on 2 cores, and query latency only needs an index of
that size with vectors shaped like real ones. So every pool sentence is embedded once (by
the real model, cached on disk), and a chunk's vector is the normalised mean of the vectors
of the pool sentences it contains. Text that holds no pool sentence (a question, say) is
embedded by the real model. The pipelines under test run unchanged; only their embedding
model is this stand-in, so the ingest time it gives is the pipeline's overhead alone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.corpus import CACHE
from rag.embed import MiniLMEmbedder, OllamaEmbedder, Vectors

RealEmbedder = MiniLMEmbedder | OllamaEmbedder

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def sentence_vectors(embedder: RealEmbedder, sentences: list[str]) -> Vectors:
    """Vectors of `sentences` by the real model, computed once and cached by content."""
    key = hashlib.sha256("\n".join(sentences).encode()).hexdigest()[:12]
    path = CACHE / f"sentence-vectors-{embedder.name}-{key}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    vectors = embedder.embed(sentences)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


class ComposedEmbedder:
    """Looks like the real embedder; composes vectors of pool text from the cache."""

    def __init__(self, real: RealEmbedder, sentences: list[str], vectors: Vectors) -> None:
        self.real = real
        self.name, self.dim = real.name, real.dim
        self._rows = {sentence: row for row, sentence in enumerate(sentences)}
        self._vectors = vectors
        self.composed = 0
        self.embedded = 0

    def count_tokens(self, text: str) -> int:
        return self.real.count_tokens(text)

    def warm_up(self) -> None:
        self.real.warm_up()

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        unknown = []
        for i, text in enumerate(texts):
            rows = [
                self._rows[piece]
                for line in text.splitlines()
                for piece in _SENTENCE_BREAK.split(line.strip())
                if piece in self._rows
            ]
            if rows:
                mean = self._vectors[rows].mean(axis=0)
                out[i] = mean / np.linalg.norm(mean)
            else:
                unknown.append(i)
        if unknown:
            out[unknown] = self.real.embed([texts[i] for i in unknown])
        self.composed += len(texts) - len(unknown)
        self.embedded += len(unknown)
        return out


def model_cache() -> Path:
    """Where the benchmark keeps the built ONNX graph of the embedding model."""
    return CACHE / "model"
