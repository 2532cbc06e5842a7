"""The regression gate: the shipped gold set, answered offline, must meet eval/thresholds.json."""

from __future__ import annotations

import json

from rag.eval.gold import load_gold
from rag.eval.metrics import summarize
from rag.eval.run import evaluate
from rag.ingest import discover
from rag.pipeline import Pipeline
from tests.conftest import REPO

THRESHOLDS = json.loads((REPO / "eval" / "thresholds.json").read_text())


def test_gold_set_meets_the_thresholds(indexed: Pipeline) -> None:
    gold = REPO / THRESHOLDS["gold_file"]
    items = load_gold(gold, [name for name, _ in discover(indexed.settings.corpus_dir)])
    assert len(items) >= 40
    assert sum(item.unanswerable for item in items) >= 5
    assert sum(bool(item.turns) for item in items) >= 4
    summary = summarize(evaluate(items, indexed.stream))
    too_low = {k: summary[k] for k, floor in THRESHOLDS["min"].items() if summary[k] < floor}
    too_high = {k: summary[k] for k, cap in THRESHOLDS["max"].items() if summary[k] > cap}
    assert not too_low and not too_high, f"below minimum: {too_low}; above maximum: {too_high}"
