"""Ingest and cold questions on real corpora, as whole processes, against LlamaIndex's defaults.

    .venv/bin/python -m benchmarks.real [--sets rgb bbc] [--runs 3] [--bbc-runs 1]
        [--asks 5] [--no-import-tree] [--tree DIR] [--out FILE]

Corpora are read where they lie (`Settings.bench_dir`: RGB's 969 passages and 1,808 BBC
articles, never copied into the repository). Each ingest is one process from start to exit,
imports and model load included: `rag ingest` for newsdesk, `python -m benchmarks.baseline
ingest` for LlamaIndex's default pipeline (benchmarks/baseline.py), both with the same
all-MiniLM-L6-v2 graph in onnxruntime, RAG_EMBED_THREADS=2 and batches of 32. The two
alternate (newsdesk first on even runs, the baseline first on odd ones) so that a slow spell
on a shared machine falls on both, and every run writes into a fresh temporary folder.

Then cold questions: `rag ask` (extractive, RAG_LLM=extractive) as a whole process, ASKS
times, on the five starting articles (indexed into a temporary folder first) and on the BBC
index the last newsdesk run built; and `python -X importtime` of one such question, summed
by top-level package (the import tree). Prints the figures; --out also writes them as JSON.
`--tree DIR` measures the code of another copy of the repository (`git archive` of a commit,
say) in place of this one, for both systems: they share rag.embed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.corpus import REPO
from benchmarks.worker import PROBE_QUESTION

THREADS = 2
BATCH = 32
# A question of eval/bbc/gold.jsonl (bbc001): its answer, "65 seconds", is in business-020.txt.
BBC_QUESTION = (
    "According to the Dimension Data survey, how long are callers prepared to listen to hold "
    "music before they hang up?"
)
IMPORT_TREE_TOP = 12
IMPORT_TREE_LINES = 15
SETS = ("rgb", "bbc")


# Runs the measured command and reports its CPU time and peak RSS, which are then its own:
# Linux carries a process's peak RSS across fork and exec, so a child forked from this
# (larger) process would report this one's size.
_LAUNCHER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(f'usage={usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}', file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


@dataclass(frozen=True)
class Run:
    """One whole process: wall and CPU seconds, peak resident memory, what it printed."""

    seconds: float
    cpu_seconds: float  # user + system, all threads: less swayed by a busy machine than wall
    peak_rss_mb: float
    out: str

    @property
    def said(self) -> str:
        """The last line printed."""
        lines = [line for line in self.out.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def _bench_dir() -> Path:
    from rag.config import Settings

    return Settings().bench_dir


# The copy of the repository whose code is measured (--tree); its folder goes first on
# PYTHONPATH, ahead of the editable install of this one.
_TREE = [REPO]


def _env() -> dict[str, str]:
    """The environment of every measured process: same threads, batch size and model cache."""
    env = {
        **os.environ,
        "RAG_EMBED_THREADS": str(THREADS),
        "RAG_EMBED_BATCH_SIZE": str(BATCH),
        "RAG_LLM": "extractive",
        "PYTHONPATH": str(_TREE[0]),
    }
    env.pop("RAG_EMBED", None)  # the float model for both
    return env


def _run(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run `command` to its exit: seconds, peak RSS (its own, through worker.py's small
    launcher) and the last line it printed."""
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _LAUNCHER, *command],
        capture_output=True,
        env=env or _env(),
        cwd=cwd,
        text=True,
    )
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed ({process.returncode}): {process.stderr[-2000:]}")
    cpu, peak_kb = process.stderr.rsplit("usage=", 1)[1].split()
    return Run(seconds, float(cpu), int(peak_kb) / 1024, process.stdout)


def _rag() -> str:
    return str(Path(sys.executable).parent / "rag")


def _ingest(system: str, corpus: Path, scratch: Path) -> Run:
    """One whole-process ingest of `corpus` by `system` into a new folder under `scratch`."""
    target = Path(tempfile.mkdtemp(prefix=f"{system}-", dir=scratch))
    if system == "newsdesk":
        command = [_rag(), "ingest", "--corpus", str(corpus), "--index", str(target / "index")]
    else:
        command = [sys.executable, "-m", "benchmarks.baseline", "ingest", str(corpus), str(target)]
    run = _run(command, cwd=scratch)
    return Run(run.seconds, run.cpu_seconds, run.peak_rss_mb, f"{run.out}\nindex: {target}")


def _chunks(out: str) -> int:
    """Chunks embedded, from what either ingest prints ("... 967 chunks embedded.",
    "969 chunks")."""
    found = re.search(r"^(?:.*; )?(\d+) chunks", out, re.MULTILINE)
    return int(found.group(1)) if found else -1


def _spread(values: Sequence[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": list(values),
    }


def compare_ingest(name: str, corpus: Path, runs: int, scratch: Path) -> dict[str, Any]:
    """`runs` alternated whole-process ingests of `corpus` by newsdesk and the baseline."""
    times: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    out: dict[str, list[str]] = defaultdict(list)
    peaks: dict[str, list[float]] = defaultdict(list)
    for number in range(runs):
        order = ("newsdesk", "baseline") if number % 2 == 0 else ("baseline", "newsdesk")
        for system in order:
            run = _ingest(system, corpus, scratch)
            times[system].append(run.seconds)
            cpu[system].append(run.cpu_seconds)
            out[system].append(run.out)
            peaks[system].append(run.peak_rss_mb)
            print(
                f"  {name} run {number + 1} {system}: {run.seconds:.1f} s wall, "
                f"{run.cpu_seconds:.1f} s CPU, {_chunks(run.out)} chunks",
                flush=True,
            )
    ours, theirs = times["newsdesk"], times["baseline"]
    return {
        "corpus": str(corpus),
        "files": sum(1 for _ in corpus.iterdir()),
        "newsdesk_s": _spread(ours),
        "baseline_s": _spread(theirs),
        "newsdesk_cpu_s": _spread(cpu["newsdesk"]),
        "baseline_cpu_s": _spread(cpu["baseline"]),
        "newsdesk_chunks": _chunks(out["newsdesk"][-1]),
        "baseline_chunks": _chunks(out["baseline"][-1]),
        "peak_rss_mb": {system: max(values) for system, values in peaks.items()},
        "advantage": statistics.median(theirs) / statistics.median(ours),
        "advantage_per_run": [b / n for n, b in zip(ours, theirs, strict=True)],
        "last_index": out["newsdesk"][-1].rsplit("index: ", 1)[1].strip() + "/index",
    }


def cold_asks(corpus: Path, index: Path, question: str, asks: int, scratch: Path) -> dict[str, Any]:
    """`asks` whole-process `rag ask` runs (extractive) on an index already built."""
    command = [_rag(), "ask", question, "--corpus", str(corpus), "--index", str(index)]
    _run(command, cwd=scratch)  # once unmeasured: the first read of the files into the page cache
    runs = [_run(command, cwd=scratch) for _ in range(asks)]
    return {
        "question": question,
        "seconds": _spread([run.seconds for run in runs]),
        "answer": runs[-1].said[:160],
    }


def import_tree(corpus: Path, index: Path, question: str, scratch: Path) -> dict[str, Any]:
    """`python -X importtime` of one cold question: cumulative import time by top-level
    package, and the total, in seconds."""
    command = [
        sys.executable, "-X", "importtime", "-m", "rag", "ask", question,
        "--corpus", str(corpus), "--index", str(index),
    ]  # fmt: skip
    process = subprocess.run(command, capture_output=True, text=True, env=_env(), cwd=scratch)
    if process.returncode != 0:
        raise RuntimeError(f"importtime run failed: {process.stderr[-2000:]}")
    ranked = sorted(imports_by_package(process.stderr).items(), key=lambda item: -item[1])
    return {
        "total_s": sum(seconds for _, seconds in ranked),
        "top": ranked[:IMPORT_TREE_TOP],
        "tree": import_tree_lines(process.stderr)[:IMPORT_TREE_LINES],
    }


def imports_by_package(importtime: str) -> dict[str, float]:
    """Seconds of import by top-level package, from `python -X importtime`'s stderr.

    Lines read "import time: self [us] | cumulative | imported package", nested imports
    indented under the one that caused them; only unindented lines are summed, so each
    import counts once, under the package first imported."""
    by_package: dict[str, float] = defaultdict(float)
    for line in importtime.splitlines():
        found = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if found:
            by_package[found.group(2).split(".")[0]] += int(found.group(1)) / 1e6
    return dict(by_package)


def import_tree_lines(importtime: str, depth: int = 2) -> list[tuple[int, str, float]]:
    """The imports nested at most `depth` deep, as (depth, module, cumulative seconds),
    largest first: which of the first imports brings in the heavy ones."""
    found = (
        re.match(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S.*)$", line)
        for line in importtime.splitlines()
    )
    rows = [
        (len(match.group(2)) // 2, match.group(3), int(match.group(1)) / 1e6)
        for match in found
        if match and len(match.group(2)) // 2 <= depth
    ]
    return sorted(rows, key=lambda row: -row[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--runs", type=int, default=3, help="alternated runs per system (RGB)")
    parser.add_argument("--bbc-runs", type=int, default=1, help="runs per system for BBC")
    parser.add_argument("--asks", type=int, default=5, help="cold `rag ask` processes per index")
    parser.add_argument("--no-import-tree", action="store_true")
    parser.add_argument("--tree", type=Path, default=REPO, help="the code to measure")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    _TREE[0] = args.tree.resolve()

    bench = _bench_dir()
    started, load_before = datetime.now(UTC), os.getloadavg()
    results: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "threads": THREADS,
        "batch": BATCH,
        "tree": str(_TREE[0]),
    }
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
        scratch = Path(tmp)
        for name in args.sets:
            runs = args.runs if name == "rgb" else args.bbc_runs
            print(f"{name}: {runs} alternated whole-process ingests per system")
            results[name] = compare_ingest(name, bench / name / "corpus", runs, scratch)

        starting = _TREE[0] / "corpus"
        five = scratch / "five-index"
        _run([_rag(), "ingest", "--corpus", str(starting), "--index", str(five)], cwd=scratch)
        results["ask_5_files"] = cold_asks(starting, five, PROBE_QUESTION, args.asks, scratch)
        if "bbc" in results:
            bbc_index = Path(results["bbc"]["last_index"])
            bbc_corpus = bench / "bbc" / "corpus"
            results["ask_bbc"] = cold_asks(bbc_corpus, bbc_index, BBC_QUESTION, args.asks, scratch)
        if not args.no_import_tree:
            results["import_tree"] = import_tree(starting, five, PROBE_QUESTION, scratch)
    results["load_avg_1min"] = [load_before[0], os.getloadavg()[0]]
    results["wall_s"] = (datetime.now(UTC) - started).total_seconds()
    print(report(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


def report(results: dict[str, Any]) -> str:
    """The figures as text: medians with min-max, and the ratios."""

    def spread(figure: dict[str, Any]) -> str:
        return f"{figure['median']:.2f} s ({figure['min']:.2f}-{figure['max']:.2f})"

    lines = [f"{results['machine']}; started {results['started']}; load {results['load_avg_1min']}"]
    for name in SETS:
        if name not in results:
            continue
        got = results[name]
        lines.append(
            f"{name} ingest, {got['files']} files, {len(got['newsdesk_s']['runs'])} runs each: "
            f"newsdesk {spread(got['newsdesk_s'])}, {got['newsdesk_chunks']} chunks; "
            f"LlamaIndex defaults {spread(got['baseline_s'])}, {got['baseline_chunks']} chunks; "
            f"newsdesk {got['advantage']:.2f}x faster (per run: "
            + ", ".join(f"{ratio:.2f}x" for ratio in got["advantage_per_run"])
            + f"); CPU newsdesk {spread(got['newsdesk_cpu_s'])}, "
            f"LlamaIndex defaults {spread(got['baseline_cpu_s'])}"
        )
    for key, label in (("ask_5_files", "5 files"), ("ask_bbc", "BBC")):
        if key in results:
            got = results[key]
            lines.append(
                f"cold `rag ask` ({label}, extractive), {len(got['seconds']['runs'])} processes: "
                f"median {spread(got['seconds'])}"
            )
    if "import_tree" in results:
        tree = results["import_tree"]
        lines.append(f"imports of a cold `rag ask`: {tree['total_s']:.2f} s; by top-level package:")
        lines += [f"  {package:<24} {seconds:.3f} s" for package, seconds in tree["top"]]
        lines.append("largest imports (nesting depth, module, cumulative seconds):")
        lines += [
            f"  {depth} {'  ' * depth}{name:<40} {sec:.3f} s" for depth, name, sec in tree["tree"]
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
