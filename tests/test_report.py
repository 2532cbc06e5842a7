"""Report folders: files written, Markdown and chart, the latest pointer, comparisons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.eval.gold import GoldItem, select
from rag.eval.metrics import score
from rag.eval.report import Run, compare, corpus_hash, latest, markdown, write
from rag.types import Answer, Mode, UserError

META = {"gold_file": "gold.jsonl", "date": "2026-01-01T00:00:00+00:00", "fingerprint": "abc",
        "mode": "extractive", "model": None, "corpus_hash": "h"}  # fmt: skip
ITEM = GoldItem(id="a", question="Q?", answers=("late 2020",), source_files=("f.txt",), kind="date")


def answered(text: str) -> Answer:
    return Answer(question="Q?", answer=text, abstained=False, mode=Mode.EXTRACTIVE,
                  citations=(), hits=(), searched_for="Q?", timings_ms={"total": 1.0})


def test_write_makes_every_file_and_points_latest_at_it(tmp_path: Path) -> None:
    run = Run([score(ITEM, answered("in late 2020"))], META, [score(ITEM, answered("no"))])
    folder = write(run, tmp_path)
    assert {p.name for p in folder.iterdir()} == {
        "summary.json", "items.jsonl", "baseline-items.jsonl", "report.md", "chart.png"
    }  # fmt: skip
    assert latest(tmp_path) == folder
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["summary"]["answer_accuracy"] == 1.0
    assert summary["baseline"]["summary"]["answer_accuracy"] == 0.0
    assert summary["fingerprint"] == "abc" and "date" in summary["by_kind"]
    assert (folder / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (folder / "report.md").read_text()
    assert "| answer_accuracy | 1.000 | 0.000 | +1.000 |" in report


def test_markdown_without_baseline_has_one_column() -> None:
    summary = Run([score(ITEM, answered("late 2020"))], META).summary()
    text = markdown(summary)
    assert "| answer_accuracy | 1.000 |" in text
    assert "LlamaIndex" not in text


def test_compare_lists_metric_changes_and_flipped_items(tmp_path: Path) -> None:
    old = write(Run([score(ITEM, answered("no idea"))], META), tmp_path / "old")
    new = write(Run([score(ITEM, answered("late 2020"))], META), tmp_path / "new")
    lines = compare(old / "summary.json", new)
    assert any(line.startswith("answer_accuracy") and line.endswith("+1.000") for line in lines)
    assert "wrong -> right: a 'Q?'" in lines


def test_compare_needs_an_existing_summary(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        compare(tmp_path / "nope.json", tmp_path)


def test_corpus_hash_changes_with_any_file() -> None:
    assert corpus_hash({"a": "1", "b": "2"}) == corpus_hash({"b": "2", "a": "1"})
    assert corpus_hash({"a": "1", "b": "2"}) != corpus_hash({"a": "1", "b": "3"})


def test_select_by_ids_kind_and_limit() -> None:
    items = [GoldItem(id=f"q{i}", question="Q?", answers=("x",), source_files=("f",),
                      kind="date" if i % 2 else "fact") for i in range(6)]  # fmt: skip
    assert [i.id for i in select(items, ["q2", "q4"])] == ["q2", "q4"]
    assert [i.id for i in select(items, kind="date")] == ["q1", "q3", "q5"]
    assert [i.id for i in select(items, kind="date", limit=2)] == ["q1", "q3"]
    with pytest.raises(UserError, match="no gold item has id q9"):
        select(items, ["q9"])
    with pytest.raises(UserError, match="kind 'nope'"):
        select(items, kind="nope")
