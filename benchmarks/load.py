"""Concurrent asks against a real `rag serve` on loopback, with an ingest running meanwhile.

    .venv/bin/python -m benchmarks.load [--clients 20] [--rounds 5] [--no-ingest] [--out FILE]

Starts `rag serve` over a temporary, indexed copy of the five starting articles, with an
account and its token (so every request goes through the token check), warms it with one
question, then runs ROUNDS rounds in which CLIENTS clients each ask one question at the same
time (questions of eval/gold.jsonl, in turn). Unless --no-ingest, an editor uploads a new
article during the first round, so the asks meet an ingest. Prints the latency of every ask
(p50, p95, max), the p95/p50 ratio, asks per second and the number of errors; --out also
writes them as JSON. Bounded: at most CLIENTS asks are in flight at once, all on loopback.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from benchmarks.corpus import REPO
from rag.cli import main as rag
from rag.config import Settings
from rag.pipeline import Pipeline
from tests.browser import free_port, server_process
from tests.conftest import copy_corpus

GOLD = REPO / "eval" / "gold.jsonl"
NEW_ARTICLE = (
    b"Harbour wall rebuilt\n\nThe harbour wall at Pellmouth was rebuilt in 2024 at a cost of "
    b"3 million pounds, the port authority said on Monday.\n"
)


def questions() -> list[str]:
    """The answerable one-turn questions of the starting gold set."""
    items = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line]
    return [i["question"] for i in items if not i.get("unanswerable") and not i.get("turns")]


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def run(clients: int, rounds: int, ingest: bool) -> dict[str, Any]:
    """Serve, load, and measure; the figures."""
    asked = questions()
    with tempfile.TemporaryDirectory(prefix="newsdesk-load-") as folder:
        root = Path(folder)
        corpus = copy_corpus(root / "corpus")
        env = {
            "RAG_CORPUS_DIR": str(corpus),
            "RAG_INDEX_DIR": str(root / "index"),
            "RAG_DATA_DIR": str(root / "data"),
            "RAG_LLM": "extractive",
        }
        Pipeline(Settings(corpus_dir=corpus, index_dir=root / "index")).ingest()
        runner = CliRunner()
        for role in ("admin", "reader", "editor"):  # the first account must be an admin
            made = runner.invoke(
                rag, ["users", "add", role, "--role", role, "--password-stdin"],
                env=env, input=f"load-{role}-pw\n",
            )  # fmt: skip
            assert made.exit_code == 0, made.output
        tokens = {
            role: runner.invoke(rag, ["users", "token", role], env=env).output.split()[-1]
            for role in ("reader", "editor")
        }
        port = free_port()
        command = [sys.executable, "-m", "rag", "serve", "--port", str(port)]
        with server_process(command, port, env, root / "serve.log") as url:
            client = httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {tokens['reader']}"},
                timeout=120, limits=httpx.Limits(max_connections=clients),
            )  # fmt: skip
            client.post("/v1/ask", json={"question": asked[0]}).raise_for_status()  # warm-up

            def one(n: int) -> tuple[float, int]:
                started = time.perf_counter()
                status = client.post("/v1/ask", json={"question": asked[n % len(asked)]})
                return time.perf_counter() - started, status.status_code

            results: list[tuple[float, int]] = []
            ingest_status = None
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=clients + 1) as pool:
                for round_ in range(rounds):
                    uploading = None
                    if ingest and round_ == 0:
                        uploading = pool.submit(
                            httpx.post, f"{url}/v1/documents",
                            files={"file": ("harbour.txt", NEW_ARTICLE, "text/plain")},
                            headers={"Authorization": f"Bearer {tokens['editor']}"}, timeout=120,
                        )  # fmt: skip
                    base = round_ * clients
                    results += pool.map(one, range(base, base + clients))
                    if uploading is not None:
                        ingest_status = uploading.result().status_code
            elapsed = time.perf_counter() - started
            client.close()
    seconds = [s for s, _ in results]
    errors = sum(status != 200 for _, status in results)
    p50, p95 = statistics.median(seconds), percentile(seconds, 0.95)
    return {
        "clients": clients,
        "rounds": rounds,
        "asks": len(results),
        "errors": errors,
        "p50_ms": round(p50 * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
        "p95_over_p50": round(p95 / p50, 2),
        "asks_per_second": round(len(results) / elapsed, 1),
        "ingest_status": ingest_status,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20, help="asks in flight at once")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of CLIENTS asks")
    parser.add_argument("--no-ingest", action="store_true", help="no upload during round 1")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    figures = run(args.clients, args.rounds, not args.no_ingest)
    for name, value in figures.items():
        print(f"{name:16} {value}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
