"""Answer every gold item and score it; write the run's report folder."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.eval.gold import GoldItem, Split, load_gold
from rag.eval.judge import Judge
from rag.eval.metrics import EvalRecord, score
from rag.eval.report import Run, corpus_hash, write
from rag.ingest import discover
from rag.types import ANY_DATE, AnswerStream, DateRange

if TYPE_CHECKING:  # the pipeline loads the models' libraries; run() is given one ready-made
    from rag.config import Settings
    from rag.pipeline import Pipeline

# `stream(question, history, dates, as_of)`, e.g. `Pipeline.stream`: the answer's text pieces,
# then `.answer`.
Streamer = Callable[[str, Sequence[str], DateRange, date | None], AnswerStream]
Progress = Callable[[int, int], None]  # (questions done, questions in all)


def evaluate(
    items: Sequence[GoldItem],
    stream: Streamer,
    progress: Progress | None = None,
    judge: Judge | None = None,
) -> list[EvalRecord]:
    """Run every gold item through `stream`, with the LLM judge's verdict on each answer when
    a judge is given."""
    records = []
    for done, item in enumerate(items, start=1):
        records.append(_answered(item, stream, judge))
        if progress:
            progress(done, len(items))
    return records


def _answered(item: GoldItem, stream: Streamer, judge: Judge | None) -> EvalRecord:
    """One item asked, timed to its first piece of text, scored and judged."""
    started = time.perf_counter()
    first_text_ms = None
    answer = stream(item.question, item.history, ANY_DATE, item.as_of)
    for piece in answer:
        if piece and first_text_ms is None:
            first_text_ms = (time.perf_counter() - started) * 1000
    record = score(item, answer.answer, first_text_ms)
    if judge is None:
        return record
    verdict = judge.verdict(item, answer.answer)
    return replace(record, judge_faithfulness=verdict.faithfulness, judge_correct=verdict.correct)


def run(
    gold_path: Path,
    pipeline: Pipeline,
    progress: Progress | None = None,
    results_dir: Path | None = None,
    baseline: bool = False,
    items: Sequence[GoldItem] | None = None,
    judge_model: str | None = None,
    split: Split | None = None,
    bench_set: dict[str, Any] | None = None,
    reworded: Sequence[GoldItem] = (),
) -> Path:
    """Evaluate `pipeline` (and optionally the LlamaIndex baseline) on a gold file and write
    the report folder (see rag/eval/report.py) under `results_dir` (default: the setting
    `results_dir`); return that folder. `bench_set` is what summary.json records of the named
    set run, if any (`Prepared.meta()` in rag/eval/sets.py); `reworded` are items of its
    rewordings file, scored apart from the gold items."""
    settings = pipeline.settings
    if items is None:
        items = load_gold(gold_path, [name for name, _ in discover(settings.corpus_dir)])
    judge = _judge(settings, judge_model)
    total = len(items) * (2 if baseline else 1) + len(reworded)
    records = evaluate(items, pipeline.stream, _offset(progress, 0, total), judge)
    step = _offset(progress, len(items), total)
    reworded_records = evaluate(reworded, pipeline.stream, step, judge)
    baseline_records = None
    if baseline:
        # Imported here: llama-index takes seconds to load and only --baseline needs it.
        from rag.eval.baseline import Baseline

        reference = Baseline(settings.corpus_dir, pipeline.embedder)
        step = _offset(progress, len(items) + len(reworded), total)
        baseline_records = evaluate(items, reference.stream, step, judge)
    meta = _meta(gold_path, pipeline, records, judge_model, split, bench_set)
    scored = Run(records, meta, baseline_records, reworded_records)
    return write(scored, results_dir or settings.results_dir)


def _judge(settings: Settings, model: str | None) -> Judge | None:
    """The LLM judge, checked before any question is asked, when a judge model is named."""
    if not model:
        return None
    judge = Judge(settings, model)
    judge.check()
    return judge


def _offset(progress: Progress | None, done_before: int, total: int) -> Progress | None:
    """`progress` for one of the run's passes: counts continue from the earlier passes."""
    if progress is None:
        return None
    return lambda done, _: progress(done_before + done, total)


def _meta(
    gold_path: Path,
    pipeline: Pipeline,
    records: Sequence[EvalRecord],
    judge_model: str | None,
    split: Split | None,
    bench_set: dict[str, Any] | None,
) -> dict[str, Any]:
    """What `summary.json` says about the run besides its figures."""
    settings = pipeline.settings
    modes = Counter(str(r.answer.mode) for r in records)
    hashes = {name: entry.sha256 for name, entry in pipeline.index.manifest().files.items()}
    return {
        "gold_file": str(gold_path),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "fingerprint": settings.fingerprint,
        "mode": modes.most_common(1)[0][0],
        "model": next((r.answer.model for r in records if r.answer.model), None),
        "corpus_hash": corpus_hash(hashes),
        # Where files are kept is not how the answers were made.
        "settings": settings.model_dump(
            mode="json", exclude={"cache_dir", "results_dir", "bench_dir"}
        ),
        "judge": judge_model,
        "split": split.meta() if split else None,
        "set": bench_set,
    }
