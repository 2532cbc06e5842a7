"""Fit the extractive answerer's weights on the dev parts of the gold sets and the rewordings
of their dev items.

    python -m scripts.fit_reader starting extra rgb bbc [--write]
    python -m scripts.fit_reader starting extra rgb bbc --ablate test

The names are benchmark sets (`rag eval --set NAME`, rag/eval/sets.py); their indexes are
built under the cache folder when missing.

Each set is retrieved once per question (retrieval does not depend on these weights); then
a coordinate search takes, round by round, the one change of one weight that raises most
the objective: the mean over sets of their balanced accuracy (the mean of answer
accuracy on answerable items and abstention accuracy on unanswerable ones, where a set has
any: abstaining rightly matters as much as answering), with false abstentions on the dev
answerable items held at or below MAX_FALSE_ABSTENTION_RATE. Test parts are never read.
With --write the result goes to rag/answer/weights.json with the data it was fitted on.
With --ablate PART nothing is fitted: the shipped weights are measured on PART, then each
weight in turn set back to its hand-set default, and a table of the figures is printed.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rag.answer import extractive
from rag.answer.extractive import Weights
from rag.answer.query import Query, read_question
from rag.config import Settings
from rag.eval.gold import GoldItem, Part, load_questions, load_split, select, select_rewordings
from rag.eval.metrics import score, summarize
from rag.eval.sets import REPO, SETS, prepare
from rag.lexical import Bm25Index
from rag.types import ANY_DATE, Hit

# The largest share of answerable dev items that may abstain.
MAX_FALSE_ABSTENTION_RATE = 0.05
MAX_ROUNDS = 12
# The values each weight may take (the default, hand-set value is always among them).
GRID: dict[str, tuple[Any, ...]] = {
    "type_bonus": (0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
    "rank_weight": (0.0, 0.1, 0.2, 0.3, 0.5),
    "article_date_credit": (0.25, 0.5, 0.75, 1.0),
    "context_credit": (0.3, 0.5, 0.7),
    "neighbour_credit": (0.5, 0.7, 0.85),
    "question_penalty": (0.0, 0.2, 0.5),
    "year_conflict_penalty": (0.0, 0.2, 0.5),
    "second_ratio": (0.7, 0.8, 0.9, 1.01),
    "min_gain": (0.1, 0.2, 0.3, 1.01),
    "typed_second": (False, True),
    "max_unknown_share": (0.3, 0.5, 0.7),
    "min_named_share": (0.0, 0.5, 0.75, 1.0),
    "min_own_share": (0.0, 0.2, 0.3, 0.4, 0.5),
    "meaning_cover": (0.55, 0.6, 0.65, 0.7, 1.01),
}


@dataclass(frozen=True)
class Case:
    """One dev question, read and retrieved once, as `rag eval` asks it."""

    item: GoldItem
    query: Query
    hits: tuple[Hit, ...]
    read: int | None  # how many of the hits decide the answer (Pipeline.read_depth)


@dataclass(frozen=True)
class DevSet:
    name: str
    cases: tuple[Case, ...]
    bm25: Bm25Index
    source: dict[str, str]


def load_set(name: str, part: Part = "dev") -> DevSet:
    """Benchmark set `name` (rag/eval/sets.py; its index built when missing), the items of
    one part of its split read and retrieved."""
    prepared = prepare(name, Settings(llm="extractive"))
    pipeline = prepared.pipeline()
    items, reworded = load_questions(prepared.gold)
    split = load_split(prepared.split_file, part, [*items, *reworded])
    chosen = select(items, split=split)
    cases = []
    # The part's items and their rewordings, as `rag eval --split PART` asks them: the
    # weights must hold however a question is worded.
    for item in [*chosen, *select_rewordings(reworded, chosen, split=split)]:
        query = read_question(item.question, item.history)
        # An as-of item reads only what was published by its day, as `rag eval` asks it.
        dates = ANY_DATE.up_to(item.as_of)
        scope = pipeline.index.scope(dates) if dates.bounded else None
        hits = tuple(pipeline.search(query, scope))
        cases.append(Case(item, query, hits, pipeline.read_depth(query)))
    source = {
        "gold": _shown(prepared.gold),
        "split": _shown(prepared.split_file),
        "part": part,
    }
    return DevSet(name, tuple(cases), pipeline.index.bm25(), source)


def _shown(path: Path) -> str:
    """A path as the record shows it: relative to the repository when inside it or beside
    it (the shared benchmark data), so the record reads the same on every machine."""
    if path.is_relative_to(REPO):
        return str(path.relative_to(REPO))
    if path.is_relative_to(REPO.parent):
        return str(Path("..") / path.relative_to(REPO.parent))
    return str(path)


def measure(sets: list[DevSet], weights: Weights, min_support: float) -> dict[str, Any]:
    """Per set: share handled right, answer accuracy, abstentions (as `rag eval` counts
    them); their balanced mean; and the objective."""
    figures: dict[str, Any] = {}
    false_abstentions = answerable = 0
    for dev in sets:
        records = [
            score(case.item, extractive.answer(case.query, case.hits, dev.bm25, min_support,
                                               "", weights, case.read))  # fmt: skip
            for case in dev.cases
        ]
        summary = summarize(records)
        answerable += int(summary["answerable"])
        false_abstentions += int(summary["false_abstentions"])
        shares = [summary["answer_accuracy"]]
        if summary["unanswerable"]:
            shares.append(summary["abstention_accuracy"])
        figures[dev.name] = {
            "items": len(dev.cases),
            "correct": summary["correct"],
            "answer_accuracy": summary["answer_accuracy"],
            "abstention_accuracy": (
                summary["abstention_accuracy"] if summary["unanswerable"] else None
            ),
            "balanced": round(sum(shares) / len(shares), 4),
        }
    rate = false_abstentions / max(1, answerable)
    mean = sum(f["balanced"] for f in figures.values()) / len(figures)
    objective = mean if rate <= MAX_FALSE_ABSTENTION_RATE else mean - rate
    return {
        "objective": round(objective, 4),
        "false_abstention_rate": round(rate, 4),
        "sets": figures,
    }


def fit(sets: list[DevSet], min_support: float) -> tuple[Weights, dict[str, Any]]:
    """Steepest-ascent coordinate search from the hand-set defaults: each round tries every
    weight at each of its values and keeps the one change that raises the objective most,
    until none does (unlike taking the first change that helps, the result does not hang
    on the order of GRID). min_support is a user setting (RAG_MIN_SUPPORT) and stays as set."""
    weights = Weights()
    best = measure(sets, weights, min_support)
    print(f"start: {best['objective']:.4f} {json.dumps(best['sets'])}")
    for round_ in range(1, MAX_ROUNDS + 1):
        trials = [
            replace(weights, **{name: value})
            for name, values in GRID.items()
            for value in values
            if value != getattr(weights, name)
        ]
        found = max(((measure(sets, t, min_support), t) for t in trials),
                    key=lambda pair: pair[0]["objective"])  # fmt: skip
        if found[0]["objective"] <= best["objective"] + 1e-9:
            break
        best, weights = found
        changed = {k: v for k, v in asdict(weights).items() if v != getattr(Weights(), k)}
        print(f"round {round_}: {best['objective']:.4f} {changed}")
    return weights, best


def ablate(sets: list[DevSet], min_support: float) -> None:
    """Print the shipped weights' figures beside those with each weight set back."""
    shipped, default = extractive.WEIGHTS, Weights()
    rows = [("shipped weights", measure(sets, shipped, min_support))]
    for name, value in asdict(shipped).items():
        if value != getattr(default, name):
            label = f"{name} {value} -> {getattr(default, name)}"
            rows.append((label, measure(sets, replace(shipped, **{name: getattr(default, name)}),
                                        min_support)))  # fmt: skip
    rows.append(("all hand-set defaults", measure(sets, default, min_support)))
    names = [s.name for s in sets]
    print("| weights | " + " | ".join(f"{n} accuracy | {n} abstained" for n in names) + " |")
    print("| --- |" + " ---: |" * (2 * len(names)))
    for label, result in rows:
        cells = []
        for n in names:
            figures = result["sets"][n]
            abstained = figures["abstention_accuracy"]
            cells.append(f"{figures['answer_accuracy']:.3f}")
            cells.append("" if abstained is None else f"{abstained:.3f}")
        print(f"| {label} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", choices=sorted(SETS), help="benchmark set names")
    parser.add_argument("--write", action="store_true", help="write rag/answer/weights.json")
    parser.add_argument("--ablate", choices=["dev", "test"], help="measure, do not fit")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.ablate:
        ablate([load_set(spec, args.ablate) for spec in args.sets], Settings().min_support)
        return
    sets = [load_set(spec) for spec in args.sets]
    min_support = Settings().min_support
    weights, result = fit(sets, min_support)
    print(json.dumps({"weights": asdict(weights), **result}, indent=1))
    print(f"fitted in {time.perf_counter() - started:.0f} s")
    if args.write:
        record = {
            "about": "Weights of the extractive answerer, fitted by scripts/fit_reader.py "
            "(coordinate search over its GRID, objective: mean over sets of balanced "
            "accuracy (answers and abstentions), false abstentions at most "
            f"{MAX_FALSE_ABSTENTION_RATE:.0%}); only dev parts were read.",
            "fitted_on": [{"set": s.name, "items": len(s.cases), **s.source} for s in sets],
            "min_support": min_support,  # the setting the weights were fitted with
            "dev_figures": result,
            "weights": asdict(weights),
        }
        extractive.WEIGHTS_FILE.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
