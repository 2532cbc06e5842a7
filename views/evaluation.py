"""The evaluation page: the latest `rag eval` results, and a button to run the gold set."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not a dependency
import streamlit as st

import ui
from rag.eval.report import HEADLINE, latest
from rag.eval.run import run
from rag.markdown import escape

# The gold set the button runs, relative to the folder the app runs in.
GOLD_FILE = Path("eval/gold.jsonl")
# Where `rag eval` writes its runs by default (setting results_dir, env RAG_RESULTS_DIR).
RESULTS_DIR = ui.settings().results_dir

st.set_page_config(layout="wide")  # tables of many metrics and long questions
st.title("Evaluation")
st.caption(f"How well newsdesk answers the hand-written questions in `{GOLD_FILE}`.")

if not GOLD_FILE.is_file():
    st.warning(f"There is no `{GOLD_FILE}` here: start the app from the repository folder.")
elif st.button(f"Run the evaluation ({GOLD_FILE})", icon=":material/play_arrow:", key="run_eval"):
    with ui.guard("running the evaluation"):
        bar = st.progress(0.0, "Starting...")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total, f"Question {done} of {total}")

        run(GOLD_FILE, ui.pipeline(ui.settings()), progress, RESULTS_DIR)
        bar.empty()

folder = latest(RESULTS_DIR)
if folder is None or not (folder / "summary.json").is_file():
    st.info(
        f"No evaluation results in {RESULTS_DIR} yet: press the button above, or run "
        f"`rag eval {GOLD_FILE}`."
    )
    st.stop()

report = json.loads((folder / "summary.json").read_text())
overall = report["summary"]
model = f" ({report['model']})" if report.get("model") else ""
st.caption(
    escape(
        f"Run of {report['date']} · mode {report['mode']}{model} · settings "
        f"{report['fingerprint']} · corpus {report['corpus_hash']} · {folder.name}"
    )
)

st.subheader("Metrics")
metrics = pd.DataFrame({"all": overall, **report["by_kind"]})
st.dataframe(metrics.round(3), width="stretch")
st.bar_chart(
    pd.Series({name: overall[name] for name in HEADLINE if name in overall}, name="score"),
    horizontal=True,
)

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
    column_config={"passed": st.column_config.CheckboxColumn(width="small")},
)
