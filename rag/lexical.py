"""Words as the keyword side sees them, and the persisted BM25 index (bm25s).

The same `terms()` feeds the BM25 index, the query, and the extractive answerer's sentence
scoring, so "withdrawal" in a question meets "withdraw" in a passage everywhere.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

_WORD = re.compile(r"[a-z0-9]+(?:[.,'’][a-z0-9]+)*")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves said says say told tell according""".split()
)


@lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202 - PyStemmer has no type hints
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens; numbers keep their separators ("2,500", "u.s")."""
    return _WORD.findall(text.lower().replace("’", "'"))


def terms(text: str) -> list[str]:
    """Stemmed content words of `text`, in order, stopwords removed."""
    # "2,500" and "2500", "U.S." and "US" are the same term.
    kept = [re.sub(r"[.,]", "", w) for w in words(text) if w not in STOPWORDS]
    return _stemmer().stemWords(kept)


class Bm25Index:
    """BM25 over chunk texts, saved beside the vector index and loaded once per process."""

    def __init__(self, ids: list[str], model, document_frequency: dict[str, int]) -> None:  # noqa: ANN001
        self.ids = ids
        self._model = model
        self._df = document_frequency

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> Bm25Index:
        """Index `texts`, remembering which chunk id each one is."""
        import bm25s

        tokens = [terms(text) or ["\0"] for text in texts]
        model = bm25s.BM25()
        model.index(tokens, show_progress=False)
        df = Counter(term for doc in tokens for term in set(doc))
        return cls(list(ids), model, dict(df))

    def save(self, folder: Path) -> None:
        """Write the index to `folder`, replacing any older copy only once complete."""
        staging = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        self._model.save(str(staging))
        (staging / "newsdesk.json").write_text(json.dumps({"ids": self.ids, "df": self._df}))
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(staging, folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> Bm25Index:
        """Read an index written by `save`."""
        import bm25s

        meta = json.loads((folder / "newsdesk.json").read_text())
        return cls(meta["ids"], bm25s.BM25.load(str(folder)), meta["df"])

    def __len__(self) -> int:
        return len(self.ids)

    def document_frequency(self, term: str) -> int:
        """How many chunks contain a stemmed term."""
        return self._df.get(term, 0)

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency of a stemmed term (high for rare or unseen)."""
        n, df = len(self.ids), self._df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Up to `k` (chunk id, score) pairs, best first; only chunks sharing a term."""
        known = [t for t in terms(query) if t in self._df]
        if not known or not self.ids:
            return []
        docs, scores = self._model.retrieve(
            [known], k=min(k, len(self.ids)), show_progress=False, n_threads=1
        )
        return [
            (self.ids[int(doc)], float(score))
            for doc, score in zip(np.asarray(docs)[0], np.asarray(scores)[0], strict=True)
            if score > 0
        ]
