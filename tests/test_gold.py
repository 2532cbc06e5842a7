"""The shipped gold set, answered by the offline default, must stay above the bar."""

from __future__ import annotations

from rag.eval import evaluate, load_gold, summarize
from rag.ingest import discover
from rag.pipeline import Pipeline
from tests.conftest import REPO

GOLD = REPO / "eval" / "gold.jsonl"


def test_gold_set_meets_the_bar(indexed: Pipeline) -> None:
    items = load_gold(GOLD, [name for name, _ in discover(indexed.settings.corpus_dir)])
    assert len(items) >= 40
    assert sum(item.unanswerable for item in items) >= 5
    assert sum(bool(item.turns) for item in items) >= 4
    summary = summarize(evaluate(items, indexed.ask))
    assert summary.hit_at_1 >= 0.95, summary
    assert summary.answer_accuracy >= 0.90, summary
    assert summary.abstention_accuracy == 1.0, summary
    assert summary.false_abstentions <= 1, summary
