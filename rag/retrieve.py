"""Hybrid retrieval: BM25 and dense similarity fused by reciprocal rank, copies collapsed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from rag.config import Settings
from rag.index import Embedder, Index, Scope
from rag.lexical import terms
from rag.types import Chunk, Hit


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum over lists of 1 / (k + rank), rank from 1."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def collapse_copies(ranked: Sequence[tuple[Chunk, float]], overlap: float, limit: int) -> list[Hit]:
    """Fold each passage into a better-ranked one whose words it nearly repeats.

    Two passages are copies when their sets of content terms overlap by at least `overlap`
    (Jaccard). A wire story republished by three sites becomes one hit that keeps all
    three files, so copies do not crowd other evidence out of the top results; the copies'
    text stays in the hit, so a fact only one version carries is not lost.
    """
    leaders: list[tuple[Chunk, set[str], float, list[Chunk]]] = []
    for chunk, score in ranked:
        words = set(terms(chunk.text))
        for _, lead_words, _, copies in leaders:
            if len(words & lead_words) >= overlap * len(words | lead_words):
                copies.append(chunk)
                break
        else:
            if len(leaders) < limit:
                leaders.append((chunk, words, score, []))
    return [Hit(chunk, score, tuple(copies)) for chunk, _, score, copies in leaders]


class Retriever:
    """Finds the passages that best match a question."""

    def __init__(self, index: Index, embedder: Embedder, settings: Settings) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings

    def search(
        self, query: str, top_k: int | None = None, scope: Scope | None = None
    ) -> list[Hit]:
        """The best `top_k` passages for `query`, copies folded together; with a date range's
        `scope`, only from the articles it lets a question read."""
        top_k = top_k or self.settings.top_k
        n = self.settings.candidates
        if scope is not None and not scope.days:
            return []
        # Both sides filter by the store's date metadata: a narrow range still fills up.
        among, days = (scope.ids, scope.days) if scope else (None, None)
        keyword = [chunk_id for chunk_id, _ in self.index.bm25().search(query, n, among)]
        similar = dict(self._dense(query, n, days))
        fused = reciprocal_rank_fusion([keyword, list(similar)], self.settings.rrf_k)
        stored = self.index.chunks([chunk_id for chunk_id, _ in fused])
        ranked = [(stored[chunk_id], score) for chunk_id, score in fused if chunk_id in stored]
        hits = collapse_copies(ranked, self.settings.duplicate_overlap, top_k)
        return [replace(hit, similarity=similar.get(hit.chunk.id)) for hit in hits]

    def search_all(
        self, queries: Sequence[str], scope: Scope | None = None, top_k: int | None = None
    ) -> list[Hit]:
        """The best `top_k` passages for several queries (the parts of one question),
        interleaved so each part keeps its best passages; one query is searched as is."""
        top_k = top_k or self.settings.top_k
        if len(queries) == 1:
            return self.search(queries[0], top_k, scope)
        found = [self.search(query, top_k, scope) for query in queries]
        merged: dict[str, Hit] = {}
        for rank in range(top_k):
            for hits in found:
                if rank < len(hits):
                    merged.setdefault(hits[rank].chunk.id, hits[rank])
        return list(merged.values())

    def _dense(self, query: str, n: int, days: Sequence[date] | None) -> list[tuple[str, float]]:
        """Ids of the `n` chunks nearest to the query's embedding, nearest first, with their
        similarity to it (of articles published on one of `days`, when given)."""
        return self.index.nearest(self.embedder.embed([query])[0], n, days)
