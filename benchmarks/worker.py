"""One measurement: one pipeline at one corpus size, in a process of its own.

A process per measurement keeps warm caches from leaking between pipelines and makes the
peak memory (getrusage's ru_maxrss of this process: resident set size, ingest and queries
included) belong to one pipeline at one size. Prints one JSON object.

    python -m benchmarks.worker --system newsdesk --size 1k
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.corpus import CACHE, REPO, SEED, Document, questions, sentence_pool, write_corpus
from benchmarks.vectors import ComposedEmbedder, RealEmbedder, model_cache, sentence_vectors

if TYPE_CHECKING:
    from rag.config import Settings

# Generated files per size: (target chunks - the five articles' 55) / 1.07 chunks per file,
# the ratio measured by chunking 300 generated files with the default settings.
SIZES = {"5 files": 0, "1k": 880, "10k": 9_290, "100k": 93_400}
# The newsdesk pipeline with each embedding model it is measured with (its RAG_EMBED).
NEWSDESK_EMBEDS = {"newsdesk": "minilm", "newsdesk-int8": "minilm-int8"}
SYSTEMS = (*NEWSDESK_EMBEDS, "baseline")
# Above this many files, chunks get vectors composed from the sentence cache (vectors.py).
MODEL_EMBEDS_UP_TO = 10_000
CHANGED_SHARE = 0.01
WARM_UP_QUESTIONS = 5
COLD_START_RUNS = 3
# Fresh opens of the built index timed for the damage check's figures.
OPEN_CHECKS = 5
PROBE_QUESTION = "When did US troop levels in Iraq drop to 2,500?"
PROBE_ANSWER, PROBE_FILE = "late 2020", "002_982d4678ac49a3e8.txt"
EMBEDDED_BY_MODEL = "all-MiniLM-L6-v2 (onnxruntime)"
EMBEDDED_FROM_CACHE = "composed from cached sentence vectors (no model time)"


def _seconds(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _latency(action: Callable[[str], Any], asked: Sequence[str]) -> dict[str, float]:
    for question in asked[:WARM_UP_QUESTIONS]:
        action(question)
    times = [_seconds(partial(action, question))[0] * 1000 for question in asked]
    return {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95))}


def _raw_embedding(embedder: RealEmbedder, texts: list[str], batch_size: int) -> dict[str, float]:
    """The model alone on the pipeline's own texts, in the pipeline's batch size."""
    seconds, _ = _seconds(
        lambda: [
            embedder.embed(texts[begin : begin + batch_size])
            for begin in range(0, len(texts), batch_size)
        ]
    )
    return {"raw_embed_s": seconds, "raw_chunks_per_s": len(texts) / seconds}


# Runs the measured command and reports its peak RSS. Linux carries a process's peak RSS
# across fork and exec, so a child forked straight from this (large) worker would report
# the worker's size; forked from this small launcher, it reports its own.
_LAUNCHER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(f'maxrss_kb={usage.ru_maxrss}', file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def _child(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command as a user would: seconds to its first printed line (the launcher adds
    about 20 ms), its peak RSS in MB, and that line."""
    with tempfile.TemporaryFile(mode="w+") as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER, *command],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
            cwd=REPO,
            text=True,
        )
        assert process.stdout is not None  # stdout=PIPE
        first_line = process.stdout.readline()
        seconds = time.perf_counter() - started
        process.communicate()
        errors.seek(0)
        log = errors.read()
    if process.returncode != 0 or not first_line.strip():
        raise RuntimeError(f"{command} failed: {log[-2000:]}")
    peak_kb = int(log.rsplit("maxrss_kb=", 1)[1])
    return seconds, peak_kb / 1024, first_line.strip()


def _cold_start(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    runs = [_child(command, env) for _ in range(COLD_START_RUNS)]
    return {
        "cold_start_s": float(np.median([seconds for seconds, _, _ in runs])),
        "cold_start_runs_s": [seconds for seconds, _, _ in runs],
        "cold_start_peak_rss_mb": max(peak for _, peak, _ in runs),
        "cold_start_output": runs[-1][2],
    }


def _stand_in(size: str, real: RealEmbedder, pool: list[str]) -> ComposedEmbedder | None:
    if SIZES[size] <= MODEL_EMBEDS_UP_TO:
        return None
    return ComposedEmbedder(real, pool, sentence_vectors(real, pool))


def _open_check(settings: Settings) -> dict[str, float]:
    """What opening the index costs before a question: loading the keyword index (which
    answering needs anyway) and the damage check on top of it (store count and a sample of
    ids against the keyword index), in a fresh Index as a new process would make it;
    medians of OPEN_CHECKS."""
    from rag.index import Index

    loads, checks = [], []
    for _ in range(OPEN_CHECKS):
        index = Index(settings)
        seconds, bm25 = _seconds(index._load_bm25)
        loads.append(seconds * 1000)
        seconds, problem = _seconds(partial(index._problem_on_open, bm25))
        assert problem is None, problem
        checks.append(seconds * 1000)
    return {"keyword_load_ms": statistics.median(loads), "open_check_ms": statistics.median(checks)}


def measure_newsdesk(
    size: str,
    corpus: Path,
    generated: list[Document],
    pool: list[str],
    system: str = "newsdesk",
) -> dict[str, Any]:
    from rag.config import Settings
    from rag.ingest import Chunker, discover, read_corpus_file
    from rag.pipeline import Pipeline
    from rag.types import SourceFile

    run = CACHE / "runs" / f"{system}-{size.replace(' ', '')}"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(corpus, run / "corpus")  # a private copy: 1% of it gets changed below
    settings = Settings(
        corpus_dir=run / "corpus",
        index_dir=run / "index",
        cache_dir=model_cache(),
        embed=NEWSDESK_EMBEDS[system],
    )
    real = Pipeline(settings).embedder
    stand_in = _stand_in(size, real, pool)

    def pipeline() -> Pipeline:
        # A fresh pipeline per step, as in a new process, but with the model already loaded
        # (fills the cached_property): model load is in the cold-start and CLI figures.
        fresh = Pipeline(settings)
        fresh.__dict__["embedder"] = stand_in or real
        return fresh

    result: dict[str, Any] = {"embedding": EMBEDDED_FROM_CACHE if stand_in else EMBEDDED_BY_MODEL}
    if stand_in is None:
        chunker = Chunker(settings.chunk_size, settings.chunk_overlap, real.count_tokens)
        sources = [
            read_corpus_file(settings.corpus_dir, name, Path(path), 10**9)
            for name, path in discover(settings.corpus_dir)
        ]
        texts = [  # the files ingest would skip are not embedded by it either
            chunk.indexed_text
            for source in sources
            if isinstance(source, SourceFile)
            for chunk in chunker.parse(source).chunks
        ]
        result |= _raw_embedding(real, texts, settings.embed_batch_size)

    seconds, report = _seconds(pipeline().ingest)
    result |= {
        "files": len(report.added),
        "chunks": report.chunks_embedded,
        "ingest_s": seconds,
        "ingest_chunks_per_s": report.chunks_embedded / seconds,
    }
    seconds, again = _seconds(pipeline().ingest)
    assert again.chunks_embedded == 0, again
    result["reingest_unchanged_s"] = seconds
    env = {**os.environ, "RAG_CACHE_DIR": str(model_cache()), "RAG_EMBED": settings.embed}
    rag = str(Path(sys.executable).parent / "rag")
    where = ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_path)]
    result["reingest_unchanged_cli_s"] = _child([rag, "ingest", *where], env)[0]

    names = [doc.name for doc in generated] or [path.name for path in sorted(corpus.glob("*.txt"))]
    changed = random.Random(SEED).sample(names, math.ceil(len(names) * CHANGED_SHARE))
    for name in changed:
        with (settings.corpus_dir / name).open("a") as file:
            file.write(f"\n{pool[0]}\n")
    changer = pipeline()
    seconds, report = _seconds(changer.ingest)
    manifest = changer.index.manifest()  # the keyword index update inside that ingest:
    bm25_seconds, _ = _seconds(lambda: changer.index._update_bm25(manifest, []))
    result |= {
        "reingest_changed_s": seconds,
        "changed_files": len(report.updated),
        "changed_chunks": report.chunks_embedded,
        "bm25_rebuild_s": bm25_seconds,
    }

    result |= _open_check(settings)
    warm = Pipeline(settings)  # the real model embeds the questions at every size
    asked = questions(generated)
    result["retrieve"] = _latency(warm.retriever.search, asked)
    result["answer"] = _latency(warm.ask, asked)
    probe = warm.ask(PROBE_QUESTION)
    result["probe_ok"] = PROBE_ANSWER in probe.answer and probe.citations[0].file == PROBE_FILE

    result |= _cold_start([rag, "ask", PROBE_QUESTION, *where], env)
    return result


def measure_baseline(
    size: str, corpus: Path, generated: list[Document], pool: list[str]
) -> dict[str, Any]:
    from benchmarks import baseline
    from rag.embed import MiniLMEmbedder

    run = CACHE / "runs" / f"baseline-{size.replace(' ', '')}"
    shutil.rmtree(run, ignore_errors=True)
    real = MiniLMEmbedder(model_cache())
    real.warm_up()
    stand_in = _stand_in(size, real, pool)
    model = baseline.embed_model(stand_in or real)

    result: dict[str, Any] = {"embedding": EMBEDDED_FROM_CACHE if stand_in else EMBEDDED_BY_MODEL}
    if stand_in is None:
        result |= _raw_embedding(real, baseline.embed_texts(corpus), baseline.EMBED_BATCH_SIZE)
    seconds, index = _seconds(lambda: baseline.ingest(corpus, run / "chroma", model))
    chunks = index.vector_store.client.count()
    result |= {
        "files": len(list(corpus.glob("*.txt"))),
        "chunks": chunks,
        "ingest_s": seconds,
        "ingest_chunks_per_s": chunks / seconds,
    }

    warm = baseline.open_index(run / "chroma", baseline.embed_model(real))
    asked = questions(generated)
    result["retrieve"] = _latency(warm.as_retriever().retrieve, asked)
    result["answer"] = _latency(baseline.query_engine(warm).query, asked)
    probe = warm.as_retriever().retrieve(PROBE_QUESTION)
    result["probe_ok"] = any(PROBE_ANSWER in hit.node.get_content() for hit in probe)

    env = {**os.environ, "RAG_CACHE_DIR": str(model_cache())}
    command = [
        sys.executable,
        "-m",
        "benchmarks.baseline",
        "ask",
        str(run / "chroma"),
        PROBE_QUESTION,
    ]
    result |= _cold_start(command, env)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--system", choices=SYSTEMS, required=True)
    parser.add_argument("--size", choices=list(SIZES), required=True)
    args = parser.parse_args()
    pool, _ = sentence_pool()
    corpus = CACHE / "corpora" / args.size.replace(" ", "")
    generated = write_corpus(corpus, SIZES[args.size], pool)
    measure = (
        measure_baseline
        if args.system == "baseline"
        else partial(measure_newsdesk, system=args.system)
    )
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    result = measure(args.size, corpus, generated, pool)
    # The machine may be shared: a load average above the 2 cores means other work competed.
    result |= {
        "system": args.system,
        "size": args.size,
        "wall_s": time.perf_counter() - started,
        "load_avg_1min": [load_before, os.getloadavg()[0]],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
