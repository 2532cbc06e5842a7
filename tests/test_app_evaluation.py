"""The evaluation page, run in-process by AppTest: it shows the latest `rag eval` report and
runs the gold set. The app runs in a scratch folder holding `eval/`, as it would in a clone."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.ipc  # type: ignore[import-untyped]  # no stubs
import pytest
from streamlit.testing.v1 import AppTest

from rag.markdown import escape
from rag.pipeline import Pipeline
from tests.conftest import REPO, TROOPS_FILE

APP = str(REPO / "app.py")
PAGE = "views/evaluation.py"
TIMEOUT = 60
METRICS = {
    "items": 3, "answerable": 2, "unanswerable": 1, "hit_at_1": 1.0, "hit_at_5": 1.0,
    "mrr": 1.0, "answer_accuracy": 0.5, "abstention_accuracy": 1.0, "false_abstentions": 0,
    "citation_precision": 0.5,
}  # fmt: skip
ITEMS = [
    {"id": "q1", "kind": "date", "question": "When did troops drop to 2,500?",
     "answer": "In late 2020 [1]", "abstained": False, "correct": True, "hits": [],
     "citations": [{"n": 1, "file": TROOPS_FILE, "quote": "In late 2020"}]},
    {"id": "q2", "kind": "person", "question": "Who spoke?", "answer": "Nobody [1]",
     "abstained": False, "correct": False, "hits": [],
     "citations": [{"n": 1, "file": "000_3457b9917c9ed967.txt", "quote": "Nobody"}]},
    {"id": "q3", "kind": "unanswerable", "question": "Who won the cup?",
     "answer": "I cannot answer this from the articles.", "abstained": True, "correct": True,
     "hits": [], "citations": []},
]  # fmt: skip
GOLD = [
    {"id": "g1", "kind": "date", "question": "When did US troop levels in Iraq drop to 2,500?",
     "answers": ["2020"], "source_files": [TROOPS_FILE]},
    {"id": "g2", "kind": "unanswerable", "question": "Who won the 2018 FIFA World Cup?",
     "unanswerable": True},
]  # fmt: skip


@pytest.fixture
def workdir(indexed: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch folder as the app's working directory, the shared index in RAG_* variables."""
    settings = indexed.settings
    monkeypatch.setenv("RAG_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_path))
    monkeypatch.setenv("RAG_CACHE_DIR", str(settings.cache_dir))
    monkeypatch.setenv("RAG_LLM", "extractive")
    # The page's default results folder (eval/results) then lies inside the scratch folder.
    monkeypatch.delenv("RAG_RESULTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_report(results: Path) -> Path:
    """A report folder as `rag eval` writes it into `results`, and latest.json pointing at it."""
    folder = results / "20260101-000000-abc-extractive"
    folder.mkdir(parents=True)
    summary = {
        "summary": METRICS,
        "by_kind": {"date": METRICS, "person": METRICS, "unanswerable": METRICS},
        "fingerprint": "abc", "mode": "extractive", "model": None, "corpus_hash": "c0ffee",
        "date": "2026-01-01T00:00:00+00:00", "gold_file": "eval/gold.jsonl",
    }  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "items.jsonl").write_text("".join(json.dumps(item) + "\n" for item in ITEMS))
    (results / "latest.json").write_text(json.dumps({"path": str(folder)}))
    return folder


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_without_results_the_page_says_how_to_make_them(workdir: Path) -> None:
    at = open_page()
    [info] = at.main.info
    assert "No evaluation results" in info.value and "`rag eval GOLD.jsonl`" in info.value
    assert "button" not in info.value, "no button to press without a gold file"
    [warning] = at.main.warning
    assert "There is no `eval/gold.jsonl` here" in warning.value
    assert not at.main.button, "nothing to run without a gold file"


def test_the_latest_report_is_shown_as_tables_and_a_chart(workdir: Path) -> None:
    folder = write_report(workdir / "eval" / "results")
    at = open_page()
    assert any(escape(folder.name) in c.value and "mode extractive" in c.value for c in at.caption)
    metrics, by_kind, questions = at.main.dataframe
    table = metrics.value
    assert list(table.columns) == ["all questions"]
    assert table.loc["answer_accuracy", "all questions"] == 0.5
    assert "citation_precision" in table.index, "metrics beyond the contract too"
    kinds = by_kind.value
    assert list(kinds.index) == ["date", "person", "unanswerable"], "a kind to a row"
    assert "answer_accuracy" in kinds.columns and "items" in kinds.columns
    assert at.get("vega_lite_chart"), "the bar chart"
    rows = questions.value
    assert list(rows["passed"]) == [True, False, True]
    assert list(rows["citations"]) == [f"[1] {TROOPS_FILE}", "[1] 000_3457b9917c9ed967.txt", ""]
    assert rows["answer"][0] == "In late 2020 [1]"

    at.toggle[0].set_value(True).run()
    assert list(at.main.dataframe[2].value["id"]) == ["q2"]


def test_the_page_reads_the_results_dir_setting(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = workdir / "elsewhere"
    monkeypatch.setenv("RAG_RESULTS_DIR", str(results))
    folder = write_report(results)
    at = open_page()
    assert any(escape(folder.name) in c.value for c in at.caption)
    assert not (workdir / "eval").exists()


def test_the_gold_set_runs_from_the_page(workdir: Path) -> None:
    write_report(workdir / "eval" / "results")
    gold = workdir / "eval" / "gold.jsonl"
    gold.write_text("".join(json.dumps(item) + "\n" for item in GOLD))
    at = open_page()
    at.button(key="run_eval").click().run()
    assert not at.exception and not at.error
    latest = json.loads((workdir / "eval" / "results" / "latest.json").read_text())["path"]
    assert Path(latest).name != "20260101-000000-abc-extractive", "a new run folder"
    metrics, _, questions = at.main.dataframe
    assert metrics.value.loc["items", "all questions"] == 2
    assert list(questions.value["id"]) == ["g1", "g2"]
    assert list(questions.value["passed"]) == [True, True]


def test_the_page_keeps_the_sidebar_panels(workdir: Path) -> None:
    at = open_page()
    subheaders = [s.value for s in at.sidebar.subheader]
    assert "Settings" in subheaders and "Corpus" in subheaders


def test_the_chart_has_plain_labels_values_minimums_and_the_baseline(workdir: Path) -> None:
    folder = write_report(workdir / "eval" / "results")
    summary = json.loads((folder / "summary.json").read_text())
    summary["baseline"] = {"summary": {**METRICS, "answer_accuracy": 0.25}}
    (folder / "summary.json").write_text(json.dumps(summary))
    (workdir / "eval" / "thresholds.json").write_text(
        json.dumps({"gold_file": "eval/gold.jsonl", "min": {"answer_accuracy": 0.4}})
    )
    at = open_page()
    (chart,) = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    values = pyarrow.ipc.open_stream(chart.proto.data.data).read_all().to_pylist()
    rows = {row["metric"]: row for row in values}
    assert rows["Answer accuracy"] == {
        "metric": "Answer accuracy", "newsdesk": 0.5, "baseline": 0.25, "CI minimum": 0.4
    }
    assert {"Hit@1", "MRR", "Hit@5"} <= set(rows)
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks == ["bar", "text", "circle", "tick"]  # values on bars, baseline, minimums
    assert any(escape("Red ticks: CI minimum.") in c.value for c in at.caption)
    assert any(escape("eval/gold.jsonl") in c.value and "passages per answer" in c.value
               for c in at.caption)  # fmt: skip
