"""rag.embed runs a call's texts through the model in groups of similar length: the vectors
are those of one padded batch, in the caller's order (no timing here; see benchmarks/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.embed import ROWS_PER_RUN, MiniLMEmbedder
from tests.conftest import CORPUS

# Today's vectors are those of one run per 32 texts; groups must stay within float rounding.
ATOL = 1e-5


def _passages() -> list[str]:
    """40 texts from one word to a few hundred words, in no order of length."""
    words = " ".join(path.read_text() for path in sorted(CORPUS.glob("*.txt"))).split()
    sizes = [1, 300, 7, 45, 160, 2, 90, 25, 210, 12] * 4
    texts, at = [], 0
    for size in sizes:
        texts.append(" ".join(words[at : at + size]))
        at += size
    return texts


@pytest.mark.parametrize(("batch_size", "rows"), [(32, ROWS_PER_RUN), (4, 4), (1, 1)])
def test_runs_are_never_larger_than_the_batch(tmp_path: Path, batch_size: int, rows: int) -> None:
    assert MiniLMEmbedder(tmp_path, batch_size=batch_size)._run_rows == rows


def test_grouped_runs_give_the_vectors_of_whole_batches(model_cache: Path) -> None:
    texts = _passages()
    grouped = MiniLMEmbedder(model_cache, threads=2, batch_size=32)
    whole = MiniLMEmbedder(model_cache, threads=2, batch_size=32)
    whole._run_rows = len(texts)  # one padded run of every text, as before groups
    assert grouped._run_rows == ROWS_PER_RUN < len(texts)
    vectors = grouped.embed(texts)
    assert np.abs(vectors - whole.embed(texts)).max() < ATOL
    # Rows come back in the caller's order: each is its own text's vector.
    alone = np.vstack([grouped.embed([text]) for text in texts[:10]])
    assert np.abs(vectors[:10] - alone).max() < ATOL
