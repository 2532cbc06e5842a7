"""Evaluation reports: a folder per run with summary JSON, per-item JSONL, Markdown and a chart.

A run folder holds `summary.json`, `items.jsonl`, `report.md` and `chart.png` (and, with a
baseline, `baseline-items.jsonl`); `latest.json` in the results folder (setting `results_dir`,
default `eval/results`) points at the newest one, which is what the app's evaluation page shows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.eval.metrics import EvalRecord, breakdown, rewording_figures, summarize
from rag.types import UserError

LATEST = "latest.json"
# The figures shown in the Markdown table and the chart, in this order.
HEADLINE = [
    "hit_at_1", "hit_at_5", "mrr", "recall_at_5", "answer_accuracy", "answer_f1",
    "lead_accuracy", "cited_accuracy", "citation_precision", "citation_recall",
    "abstention_accuracy", "abstention_precision", "false_abstention_rate",
    "high_confidence_accuracy", "high_confidence_coverage",
]  # fmt: skip
TIMES = ["latency_p50_ms", "latency_p95_ms", "first_text_p50_ms"]


@dataclass(frozen=True)
class Run:
    """One evaluation run, ours and optionally the baseline's, ready to be written."""

    records: Sequence[EvalRecord]
    meta: dict[str, Any]
    baseline: Sequence[EvalRecord] | None = None
    reworded: Sequence[EvalRecord] = ()  # the rewordings file's items, scored apart

    def summary(self) -> dict[str, Any]:
        """Everything `summary.json` holds."""
        data: dict[str, Any] = {
            **self.meta,
            "summary": summarize(self.records),
            "by_kind": breakdown(self.records),
        }
        if self.reworded:
            data["rewordings"] = rewording_figures(self.records, self.reworded)
        if self.baseline is not None:
            data["baseline"] = {
                "summary": summarize(self.baseline),
                "by_kind": breakdown(self.baseline),
            }
        return data


def corpus_hash(file_hashes: dict[str, str]) -> str:
    """One hash for the corpus an evaluation ran on (file names and contents)."""
    joined = "\n".join(f"{name}\0{sha}" for name, sha in sorted(file_hashes.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def run_name(meta: dict[str, Any]) -> str:
    """Folder name of a run: time, settings fingerprint and mode, so runs never collide."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{meta['fingerprint']}-{meta['mode']}"


def write(run: Run, results_dir: Path) -> Path:
    """Write a run's files into a new folder under `results_dir`; return the folder."""
    name = run_name(run.meta)
    folder, copy = results_dir / name, 1
    while folder.exists():  # two runs in one second
        copy += 1
        folder = results_dir / f"{name}-{copy}"
    folder.mkdir(parents=True)
    summary = run.summary()
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    _write_items(folder / "items.jsonl", [*run.records, *run.reworded])
    if run.baseline is not None:
        _write_items(folder / "baseline-items.jsonl", run.baseline)
    (folder / "report.md").write_text(markdown(summary))
    chart(summary, folder / "chart.png")
    (results_dir / LATEST).write_text(json.dumps({"path": str(folder)}))
    return folder


def _write_items(path: Path, records: Sequence[EvalRecord]) -> None:
    path.write_text("".join(json.dumps(record_json(r), ensure_ascii=False) + "\n" for r in records))


def record_json(record: EvalRecord) -> dict[str, Any]:
    """One line of `items.jsonl` (and of `rag eval --out`)."""
    answer = record.answer.to_dict()
    return {
        "id": record.item.id,
        "kind": record.item.kind,
        "rewording_of": record.item.rewording_of,
        "question": record.item.question,
        "turns": list(record.item.turns),
        "answer": answer["answer"],
        "abstained": answer["abstained"],
        "confidence": answer["confidence"],
        "mode": answer["mode"],
        "searched_for": answer["searched_for"],
        "citations": answer["citations"],
        "hits": [
            {"file": h["file"], "also_in": h["also_in"], "score": h["score"]}
            for h in answer["hits"]
        ],
        "correct": record.correct,
        "cited_correctly": record.cited_correctly,
        "gold_rank": record.gold_rank,
        "recall": round(record.recall, 4),
        "f1": round(record.f1, 4),
        "citations_correct": record.citations_correct,
        "gold_source_files": list(record.item.source_files),
        "timings_ms": answer["timings_ms"],
        "first_text_ms": None if record.first_text_ms is None else round(record.first_text_ms, 1),
        "judge_faithfulness": record.judge_faithfulness,
        "judge_correct": record.judge_correct,
    }


def markdown(summary: dict[str, Any]) -> str:
    """The run as a Markdown report: settings, headline table, per-kind table."""
    ours = summary["summary"]
    base = summary.get("baseline", {}).get("summary")
    split = summary.get("split")
    lines = [
        f"# Evaluation of {summary['gold_file']}",
        "",
        f"{ours['items']} items ({ours['answerable']} answerable, {ours['unanswerable']} "
        f"unanswerable); mode `{summary['mode']}`"
        + (f", model `{summary['model']}`" if summary.get("model") else "")
        + (f"; {split['part']} part of `{split['file']}`" if split else "")
        + f"; settings `{summary['fingerprint']}`; corpus `{summary['corpus_hash']}`; "
        f"{summary['date']}.",
        "",
        *([set_line(summary["set"]), ""] if summary.get("set") else []),
        "| metric | newsdesk | " + ("LlamaIndex default | difference |" if base else ""),
        "| --- | ---: | " + ("---: | ---: |" if base else ""),
    ]
    for name in HEADLINE + TIMES:
        row = f"| {name} | {_fmt(ours[name])} |"
        if base:
            row += f" {_fmt(base[name])} | {_fmt(ours[name] - base[name], signed=True)} |"
        lines.append(row)
    lines += ["", "## By kind", "", "| kind | items | correct | answer_accuracy | hit_at_1 | "
              "citation_precision | abstention_accuracy |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for kind, figures in summary["by_kind"].items():
        lines.append(
            f"| {kind} | {figures['items']} | {_fmt(figures['correct'])} | "
            f"{_fmt(figures['answer_accuracy'])} | "
            f"{_fmt(figures['hit_at_1'])} | {_fmt(figures['citation_precision'])} | "
            f"{_fmt(figures['abstention_accuracy'])} |"
        )
    if "rewordings" in summary:
        lines += ["", "## Rewordings", "", "| figure | value |", "| --- | ---: |"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in summary["rewordings"].items()]
    return "\n".join(lines) + "\n"


# What set_line() leaves out: said elsewhere in the report, or too long for one line.
_SET_PLACES = ("name", "measures", "gold", "index")


def set_line(bench_set: dict[str, Any]) -> str:
    """One line naming the benchmark set a run used (rag/eval/sets.py), what it measures and
    how its corpus was made (the files of a subset, its seed)."""
    details = ", ".join(f"{k} {v}" for k, v in bench_set.items() if k not in _SET_PLACES)
    return f"Set `{bench_set['name']}`: {bench_set['measures']}; {details}."


def _fmt(value: float, signed: bool = False) -> str:
    if isinstance(value, int) and not signed:
        return str(value)
    text = f"{value:+.3f}" if signed else f"{value:.3f}"
    return text


def chart(summary: dict[str, Any], path: Path) -> None:
    """A PNG: headline metrics (ours beside the baseline) and answer accuracy per kind."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt

    ours = summary["summary"]
    base = summary.get("baseline", {}).get("summary")
    kinds = {k: v for k, v in summary["by_kind"].items() if not k.startswith("(")}
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.4 if base else 0.8
    positions = range(len(HEADLINE))
    left.bar([p - (width / 2 if base else 0) for p in positions], [ours[m] for m in HEADLINE],
             width, label="newsdesk", color="#2f6f9f")  # fmt: skip
    if base:
        left.bar([p + width / 2 for p in positions], [base[m] for m in HEADLINE], width,
                 label="LlamaIndex default", color="#c8884a")  # fmt: skip
    left.set_xticks(list(positions), HEADLINE, rotation=40, ha="right", fontsize=8)
    left.set_ylim(0, 1.05)
    left.set_title("Headline metrics")
    left.legend(fontsize=8)
    right.barh(list(kinds), [v["correct"] for v in kinds.values()], color="#2f6f9f")
    right.set_xlim(0, 1.05)
    right.set_title("Share correct by kind (newsdesk)")
    right.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latest(results_dir: Path) -> Path | None:
    """The folder of the newest run, if any."""
    pointer = results_dir / LATEST
    if not pointer.exists():
        return None
    return Path(json.loads(pointer.read_text())["path"])


def compare(old_summary: Path, new_folder: Path) -> list[str]:
    """Lines describing what changed from an earlier run: metrics, then items that flipped."""
    if not old_summary.is_file():
        raise UserError(f"{old_summary} does not exist: pass the summary.json of an earlier run.")
    old = json.loads(old_summary.read_text())
    new = json.loads((new_folder / "summary.json").read_text())
    lines = ["metric                     old      new     change"]
    for name in HEADLINE + TIMES:
        if name in old["summary"]:
            a, b = old["summary"][name], new["summary"][name]
            lines.append(f"{name:<24} {a:>7.3f}  {b:>7.3f}  {b - a:>+8.3f}")
    before = _items(old_summary.parent / "items.jsonl")
    after = _items(new_folder / "items.jsonl")
    for item_id in sorted(set(before) & set(after)):
        was, now = before[item_id]["correct"], after[item_id]["correct"]
        if was != now:
            change = "right -> wrong" if was else "wrong -> right"
            lines.append(f"{change}: {item_id} {after[item_id]['question']!r}")
    return lines


def _items(path: Path) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        raise UserError(f"{path} is missing: --compare needs the items.jsonl beside summary.json.")
    return {r["id"]: r for r in map(json.loads, path.read_text().splitlines()) if r}
