"""The regression gates: gold sets answered offline must meet eval/thresholds.json.

The first gate is the shipped gold set over the five articles; the others (`gates`) are the
test parts of the named benchmark sets (rag/eval/sets.py), each set ingested once per session
into the session's scratch cache, never into the checkout or the user's cache.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from rag.config import Settings
from rag.eval.gold import load_gold, load_questions, load_split, select
from rag.eval.metrics import summarize
from rag.eval.run import evaluate
from rag.eval.sets import SETS, prepare
from rag.ingest import discover
from rag.pipeline import Pipeline
from tests.conftest import REPO

THRESHOLDS = json.loads((REPO / "eval" / "thresholds.json").read_text())
GATES: list[dict[str, Any]] = THRESHOLDS["gates"]


def crossed(summary: dict[str, Any], gate: dict[str, Any]) -> str:
    """The figures of `summary` below the gate's minimums or above its maximums."""
    too_low = {k: summary[k] for k, floor in gate["min"].items() if summary[k] < floor}
    too_high = {k: summary[k] for k, cap in gate.get("max", {}).items() if summary[k] > cap}
    if not too_low and not too_high:
        return ""
    return f"below minimum: {too_low}; above maximum: {too_high}"


def test_gold_set_meets_the_thresholds(indexed: Pipeline) -> None:
    gold = REPO / THRESHOLDS["gold_file"]
    items = load_gold(gold, [name for name, _ in discover(indexed.settings.corpus_dir)])
    assert len(items) >= 40
    assert sum(item.unanswerable for item in items) >= 5
    assert sum(bool(item.turns) for item in items) >= 4
    summary = summarize(evaluate(items, indexed.stream))
    assert not crossed(summary, THRESHOLDS), crossed(summary, THRESHOLDS)


@pytest.mark.parametrize("kind", ["timeline", "as_of"])
def test_every_timeline_and_as_of_item_passes(indexed: Pipeline, kind: str) -> None:
    # These items check features, not the reader's generalization: each must pass.
    items = select(load_gold(REPO / THRESHOLDS["gold_file"]), kind=kind)
    assert len(items) >= 2
    records = evaluate(items, indexed.stream)
    assert [r.item.id for r in records if not r.correct] == []


@pytest.mark.slow
@pytest.mark.parametrize("gate", GATES, ids=[f"{g['set']}-{g['split']}" for g in GATES])
def test_benchmark_set_meets_its_gate(gate: dict[str, Any], model_cache: Path) -> None:
    # The sets' indexes go under the session's model cache: the CLI tests of --set
    # (tests/test_bench_sets.py) use the same folder, so each set is ingested once.
    settings = Settings(cache_dir=model_cache)
    if SETS[gate["set"]].in_bench() and not settings.bench_dir.is_dir():
        pytest.skip(f"no benchmark data at {settings.bench_dir} (set RAG_BENCH_DIR)")
    started = time.perf_counter()
    prepared = prepare(gate["set"], settings)
    pipeline = prepared.pipeline()
    ingested = time.perf_counter() - started
    items, reworded = load_questions(prepared.gold)
    split = load_split(prepared.split_file, gate["split"], [*items, *reworded])
    summary = summarize(evaluate(select(items, split=split), pipeline.stream))
    took = f"ingest {ingested:.0f} s, answers {time.perf_counter() - started - ingested:.0f} s"
    assert not crossed(summary, gate), f"{gate['set']} {gate['split']}: {crossed(summary, gate)}"
    gated = {k: round(summary[k], 3) for k in {**gate["min"], **gate.get("max", {})}}
    print(f"{gate['set']} {gate['split']}: {took}; {gated}")  # shown with pytest -s


def test_every_gate_names_a_set_a_part_and_known_figures() -> None:
    figures = set(summarize([]))
    for gate in GATES:
        assert gate["set"] in SETS and gate["split"] in ("dev", "test")
        named = {*gate["min"], *gate.get("max", {})}
        for bound in ("min", "max"):
            named |= set(gate.get("target", {}).get(bound, {}))
        assert named <= figures, f"{gate['set']}: unknown figures {named - figures}"
