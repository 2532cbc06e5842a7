"""The evaluation page: the latest `rag eval` results, and (for editors and admins) a button to
run the gold set."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not a dependency
import streamlit as st

import ui
from rag.eval.feedback import candidate_items
from rag.eval.report import HEADLINE, latest
from rag.eval.run import run
from rag.markdown import escape

# The gold set the button runs, relative to the folder the app runs in.
GOLD_FILE = Path("eval/gold.jsonl")
# The CI minimums of the shipped gold set, marked on the chart when it is the run's.
THRESHOLDS_FILE = Path("eval/thresholds.json")
# The figures shown for each kind of question.
BY_KIND = ["items", "answer_accuracy", "cited_accuracy", "hit_at_1", "false_abstention_rate",
           "high_confidence_accuracy"]  # fmt: skip
# Where `rag eval` writes its runs by default (setting results_dir, env RAG_RESULTS_DIR).
RESULTS_DIR = ui.settings().results_dir

st.set_page_config(layout="wide")  # tables of many metrics and long questions
st.title("Evaluation")
st.caption(f"How well newsdesk answers the hand-written questions in `{GOLD_FILE}`.")
allowed = ui.visitor()


def run_button() -> None:
    """Run the gold set with the app's settings, with a progress bar."""
    if not GOLD_FILE.is_file():
        st.warning(f"There is no `{GOLD_FILE}` here: start the app from the repository folder.")
        return
    if not st.button(
        f"Run the evaluation ({GOLD_FILE})", icon=":material/play_arrow:", key="run_eval"
    ):
        return
    with ui.guard("running the evaluation"):
        bar = st.progress(0.0, "Starting...")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total, f"Question {done} of {total}")

        run(GOLD_FILE, ui.pipeline(ui.settings()), progress, RESULTS_DIR)
        bar.empty()


# A run takes minutes and replaces the results everyone sees: editors and admins start it.
if allowed.can_edit:
    run_button()

# The feedback quotes the questions of everyone's conversations: with accounts, for admins.
with ui.guard("collecting the readers' feedback"):
    given = ui.conversations(ui.settings()).feedback() if allowed.sees_all else []
    suggested = [item.model_dump_json(exclude_defaults=True) for item in candidate_items(given)]
    if suggested:
        st.download_button(
            f"Readers' feedback as {len(suggested)} candidate gold items",
            "".join(f"{line}\n" for line in suggested), "feedback-gold.jsonl",
            mime="application/jsonl", key="export_feedback", icon=":material/download:",
            on_click="ignore", help="Thumbs up and down given in the chat, in the gold format, "
            "for a person to review into a gold file (as `rag feedback export` writes them).",
        )  # fmt: skip

folder = latest(RESULTS_DIR)
if folder is None or not (folder / "summary.json").is_file():
    if not allowed.can_edit:
        how = "an editor or an admin can run the evaluation here"
    elif GOLD_FILE.is_file():
        how = f"press the button above, or run `rag eval {GOLD_FILE}`"
    else:  # the warning above says why there is no button
        how = "run `rag eval GOLD.jsonl` with a gold file of your own"
    st.info(f"No evaluation results in {RESULTS_DIR} yet: {how}.")
    st.stop()

report = json.loads((folder / "summary.json").read_text())
overall = report["summary"]
model = f" ({report['model']})" if report.get("model") else ""
run_settings = report.get("settings", {})
st.caption(
    escape(
        f"Run of {report['date']} on {report.get('gold_file', 'an unnamed gold file')} · mode "
        f"{report['mode']}{model} · passages per answer {run_settings.get('top_k', '?')} · "
        f"embedding {run_settings.get('embed', '?')} · settings {report['fingerprint']} · "
        f"corpus {report['corpus_hash']} · {folder.name}"
    )
)

st.subheader("Metrics")
# Every figure over all questions, then the main ones by kind of question, a kind to a row:
# one column per kind would run past the page's edge.
st.dataframe(pd.DataFrame({"all questions": overall}).round(3), width="stretch")
by_kind = pd.DataFrame(report["by_kind"]).T
shown_by_kind = [name for name in BY_KIND if name in by_kind.columns]
st.dataframe(by_kind[shown_by_kind].round(3), width="stretch")


def label(metric: str) -> str:
    """A metric's name for people: "hit_at_1" as "Hit@1", "answer_accuracy" as "Answer
    accuracy"."""
    return metric.replace("_at_", "@").replace("_", " ").capitalize().replace("Mrr", "MRR")


def chart_rows() -> list[dict[str, object]]:
    """One row per headline metric: newsdesk's figure, the baseline's and the CI minimum
    (for the shipped gold set) where there are any."""
    gates = json.loads(THRESHOLDS_FILE.read_text()) if THRESHOLDS_FILE.is_file() else {}
    gated = str(report.get("gold_file", "")).endswith(gates.get("gold_file", "\0"))
    minimums = gates.get("min", {}) if gated else {}
    base = report.get("baseline", {}).get("summary", {})
    return [
        {"metric": label(name), "newsdesk": round(overall[name], 3),
         "baseline": base.get(name), "CI minimum": minimums.get(name)}
        for name in HEADLINE if name in overall
    ]  # fmt: skip


rows = chart_rows()
layers: list[dict[str, object]] = [
    {"mark": {"type": "bar", "color": "#1f5fa8"},
     "encoding": {"x": {"field": "newsdesk", "type": "quantitative", "title": "score",
                        "scale": {"domain": [0, 1]}}}},
    {"mark": {"type": "text", "align": "left", "dx": 4, "color": "#1a1a1a"},
     "encoding": {"x": {"field": "newsdesk", "type": "quantitative"},
                  "text": {"field": "newsdesk", "type": "quantitative", "format": ".2f"}}},
]  # fmt: skip
for field, mark in (("baseline", "circle"), ("CI minimum", "tick")):
    if any(row[field] is not None for row in rows):
        layers.append({
            "mark": {"type": mark, "color": "#b3261e" if field == "CI minimum" else "#555555",
                     "size": 18 if mark == "tick" else 60, "thickness": 3},
            "encoding": {"x": {"field": field, "type": "quantitative"},
                         "tooltip": [{"field": "metric"}, {"field": field}]},
        })  # fmt: skip
st.vega_lite_chart(
    {
        "data": {"values": rows},
        "encoding": {"y": {"field": "metric", "type": "nominal", "sort": None, "title": None,
                           "axis": {"labelLimit": 300}}},
        "layer": layers,
        "height": {"step": 26},
    },  # fmt: skip
    width="stretch",
)
MARKS = (("baseline", "dots"), ("CI minimum", "red ticks"))
legend = [f"{kind.capitalize()}: {name}." for name, kind in MARKS
          if any(row[name] is not None for row in rows)]  # fmt: skip
st.caption(escape(" ".join(["Bars: newsdesk, with its value.", *legend])))

st.subheader("Questions")
items = pd.read_json(folder / "items.jsonl", lines=True)
only_wrong = st.toggle("Only wrong answers")
shown = items[~items["correct"]] if only_wrong else items
st.dataframe(
    pd.DataFrame(
        {
            "passed": shown["correct"],
            "id": shown["id"],
            "kind": shown["kind"],
            "question": shown["question"],
            "answer": shown["answer"],
            "citations": shown["citations"].map(
                lambda cited: ", ".join(f"[{c['n']}] {c['file']}" for c in cited)
            ),
        }
    ),
    hide_index=True,
    width="stretch",
    # Long texts cut at the cell's edge (each reads whole on hover or by widening its column),
    # so the table fits the page.
    column_config={
        "passed": st.column_config.CheckboxColumn(width=60),
        "id": st.column_config.TextColumn(width=70),
        "kind": st.column_config.TextColumn(width=90),
        "question": st.column_config.TextColumn(width=230),
        "answer": st.column_config.TextColumn(width=230),
        "citations": st.column_config.TextColumn(width=120),
    },
)
