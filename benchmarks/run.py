"""Benchmark newsdesk against LlamaIndex's default pipeline at four corpus sizes.

    .venv/bin/python -m benchmarks.run [--sizes "5 files" 1k 10k 100k]
        [--systems newsdesk newsdesk-int8 baseline] [--out FILE]

Each (pipeline, size) runs in its own process (benchmarks/worker.py); newsdesk-int8 is
newsdesk with the int8 embedding model (RAG_EMBED=minilm-int8). Prints a table with the
targets of issue 7 marked pass/fail and writes every figure to JSON. Corpora, indexes and
cached vectors live in benchmarks/.cache/ (not in git). The full run of all three systems
took 27 minutes on 2 cores with the caches filled, most of it the embedding model at 10,000
chunks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks.corpus import REPO, sentence_pool
from benchmarks.worker import SIZES, SYSTEMS

DEFAULT_OUT = REPO / "benchmarks" / "results.json"

# Figures of one system at one size (the JSON object a worker prints), by size and system.
Results = dict[str, dict[str, dict[str, Any]]]


def _near_raw_throughput(ours: dict[str, Any], _: Any) -> bool:
    return bool(ours["ingest_chunks_per_s"] >= 0.8 * ours["raw_chunks_per_s"])


def _quick_cold_start(ours: dict[str, Any], _: Any) -> bool:
    return bool(ours["cold_start_s"] < 2.5)


# Issue 7's targets and the int8 model's: (what, size it is judged at, system judged,
# passes(that system's figures, baseline's)).
TARGETS: list[tuple[str, str, str, Any]] = [
    (
        "ingest >= 80% of raw model throughput",
        "1k",
        "newsdesk",
        _near_raw_throughput,
    ),
    (
        "ingest >= 80% of raw model throughput",
        "10k",
        "newsdesk",
        _near_raw_throughput,
    ),
    (
        "unchanged re-ingest < 2 s (in process)",
        "10k",
        "newsdesk",
        lambda ours, _: ours["reingest_unchanged_s"] < 2,
    ),
    (
        "unchanged re-ingest < 2 s (`rag ingest` process)",
        "10k",
        "newsdesk",
        lambda ours, _: ours["reingest_unchanged_cli_s"] < 2,
    ),
    (
        "warm retrieval p95 < 50 ms",
        "100k",
        "newsdesk",
        lambda ours, _: ours["retrieve"]["p95_ms"] < 50,
    ),
    (
        "warm extractive answer p95 < 150 ms",
        "100k",
        "newsdesk",
        lambda ours, _: ours["answer"]["p95_ms"] < 150,
    ),
    (
        "`rag ask` cold start < 2.5 s",
        "5 files",
        "newsdesk",
        _quick_cold_start,
    ),
    (
        "`rag ask` cold start < 2.5 s",
        "100k",
        "newsdesk",
        _quick_cold_start,
    ),
    (
        "ingest >= 1.5x faster than baseline (same files)",
        "1k",
        "newsdesk",
        lambda ours, base: base["ingest_s"] >= 1.5 * ours["ingest_s"],
    ),
    (
        "int8: ingest >= 3x faster than baseline (same files)",
        "1k",
        "newsdesk-int8",
        lambda ours, base: base["ingest_s"] >= 3 * ours["ingest_s"],
    ),
]

# Table rows: (label, how to read the figure from a worker's result, unit format).
ROWS: list[tuple[str, Any, str]] = [
    ("files", lambda r: r["files"], "{:,}"),
    ("chunks", lambda r: r["chunks"], "{:,}"),
    ("raw model, chunks/s", lambda r: r.get("raw_chunks_per_s"), "{:.1f}"),
    ("ingest, chunks/s", lambda r: r["ingest_chunks_per_s"], "{:.1f}"),
    (
        "ingest / raw model",
        lambda r: r.get("raw_chunks_per_s") and r["ingest_chunks_per_s"] / r["raw_chunks_per_s"],
        "{:.2f}",
    ),
    ("ingest wall time, s", lambda r: r["ingest_s"], "{:.1f}"),
    ("re-ingest unchanged, s (in process)", lambda r: r.get("reingest_unchanged_s"), "{:.2f}"),
    (
        "re-ingest unchanged, s (`rag ingest`)",
        lambda r: r.get("reingest_unchanged_cli_s"),
        "{:.2f}",
    ),
    ("re-ingest 1% files changed, s", lambda r: r.get("reingest_changed_s"), "{:.2f}"),
    ("  of which BM25 update, s", lambda r: r.get("bm25_rebuild_s"), "{:.2f}"),
    ("keyword index load on open, ms", lambda r: r.get("keyword_load_ms"), "{:.1f}"),
    ("damage check on open, ms", lambda r: r.get("open_check_ms"), "{:.1f}"),
    (
        "retrieval p50 / p95, ms",
        lambda r: (r["retrieve"]["p50_ms"], r["retrieve"]["p95_ms"]),
        "{:.1f} / {:.1f}",
    ),
    (
        "full answer p50 / p95, ms",
        lambda r: (r["answer"]["p50_ms"], r["answer"]["p95_ms"]),
        "{:.1f} / {:.1f}",
    ),
    ("cold start to first answer, s", lambda r: r["cold_start_s"], "{:.2f}"),
    ("peak RSS ingest+queries, MB", lambda r: r["peak_rss_mb"], "{:.0f}"),
    ("peak RSS cold start, MB", lambda r: r["cold_start_peak_rss_mb"], "{:.0f}"),
]


# Rows whose newsdesk/baseline ratio means nothing (counts, or already a ratio).
_NO_RATIO = ("files", "chunks", "ingest / raw model")


def _cell(value: Any, form: str) -> str:
    if value is None:
        return "n/a"
    return form.format(*value) if isinstance(value, tuple) else form.format(value)


def _ratio(ours: Any, base: Any, label: str) -> str:
    if label in _NO_RATIO:
        return ""
    if isinstance(ours, tuple) and isinstance(base, tuple):  # latencies: compare the p95
        ours, base = ours[-1], base[-1]
    if not isinstance(ours, int | float) or not isinstance(base, int | float) or not ours:
        return ""
    # Ratios read "how many times better than the baseline": higher is better either way.
    higher_is_better = label.endswith("chunks/s")
    ratio = ours / base if higher_is_better else base / ours
    return f"{ratio:.2f}x"


def table(results: Results) -> str:
    """Markdown: one block of rows per size; newsdesk, baseline, newsdesk's advantage, then
    newsdesk-int8 and its advantage when it was measured."""
    int8 = any("newsdesk-int8" in by_system for by_system in results.values())
    lines = [
        "| size | figure | newsdesk | LlamaIndex default | newsdesk advantage |"
        + (" newsdesk int8 | int8 advantage |" if int8 else ""),
        "| --- | --- | ---: | ---: | ---: |" + (" ---: | ---: |" if int8 else ""),
    ]
    for size in [size for size in SIZES if size in results]:
        ours, base = results[size].get("newsdesk"), results[size].get("baseline")
        quantized = results[size].get("newsdesk-int8")
        for label, read, form in ROWS:
            mine = read(ours) if ours else None
            theirs = read(base) if base and _applies_to_baseline(label) else None
            cells = [_cell(mine, form), _cell(theirs, form), _ratio(mine, theirs, label)]
            if int8:
                fast = read(quantized) if quantized else None
                cells += [_cell(fast, form), _ratio(fast, theirs, label)]
            lines.append(f"| {size} | {label} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _applies_to_baseline(label: str) -> bool:
    # The default pipeline has no incremental path: re-running it embeds everything again.
    return not label.startswith(("re-ingest", "  of which"))


def verdicts(results: Results) -> list[dict[str, Any]]:
    out = []
    for what, size, system, passes in TARGETS:
        by_system = results.get(size, {})
        if system not in by_system or ("baseline" in what and "baseline" not in by_system):
            continue
        ok = bool(passes(by_system[system], by_system.get("baseline")))
        out.append({"target": what, "size": size, "system": system, "pass": ok})
    return out


def _machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    packages = ("llama-index-core", "chromadb", "onnxruntime", "bm25s", "numpy")
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "packages": {name: version(name) for name in packages},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--update", action="store_true", help="keep the other figures already in --out"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    _, sources = sentence_pool()
    results: Results = {}
    report: dict[str, Any]
    if args.update and args.out.exists():
        results = json.loads(args.out.read_text())["results"]
    for size in args.sizes:
        for system in args.systems:
            print(f"running {system} at {size} ...", file=sys.stderr, flush=True)
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.worker", "--system", system, "--size", size],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                sys.exit(f"{system} at {size} failed:\n{done.stderr[-3000:]}")
            results.setdefault(size, {})[system] = json.loads(done.stdout.splitlines()[-1])
            # Written after every measurement, so a stopped run keeps what it measured.
            report = {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "duration_s": time.perf_counter() - started,
                "machine": _machine(),
                "memory_measure": "getrusage ru_maxrss (peak resident set size) of each process",
                "sentence_sources": sources,
                "results": results,
                "targets": verdicts(results),
            }
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=1))
    print(table(results))
    print()
    for verdict in report["targets"]:
        mark = "PASS" if verdict["pass"] else "FAIL"
        print(f"{mark}  {verdict['target']} ({verdict['size']})")
    print(f"\n{report['duration_s'] / 60:.1f} min; figures in {args.out}")


if __name__ == "__main__":
    main()
