"""Named benchmark sets: variant builders on tiny fake bench folders, and `rag eval --set`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.config import Settings
from rag.eval.gold import load_gold, load_split
from rag.eval.sets import (
    CI_DISTRACTORS,
    CI_SEED,
    SETS,
    SetError,
    negative_variant,
    prepare,
    subset_variant,
)
from tests.conftest import REPO

BENCH = Settings().bench_dir
needs_bench = pytest.mark.skipif(
    not BENCH.is_dir(), reason=f"no benchmark data at {BENCH} (set RAG_BENCH_DIR)"
)


def write_gold(path: Path, items: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def write_files(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(f"Text of {name}.\n")


def names(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


@pytest.fixture
def tiny_rgb(tmp_path: Path) -> tuple[Path, Path]:
    """Three questions: rgb001 with two answering passages, rgb010 whose id starts like it."""
    corpus = tmp_path / "rgb" / "corpus"
    write_files(corpus, ["rgb001_p0.txt", "rgb001_p1.txt", "rgb001_n0.txt", "rgb010_p0.txt",
                         "rgb010_n0.txt", "rgb100_p0.txt"])  # fmt: skip
    gold = write_gold(tmp_path / "rgb" / "gold.jsonl", [
        {"id": "rgb001", "question": "Who won?", "answers": ["A"],
         "source_files": ["rgb001_p0.txt", "rgb001_p1.txt"], "kind": "person"},
        {"id": "rgb010", "question": "When?", "answers": ["2020"],
         "source_files": ["rgb010_p0.txt"]},
        {"id": "rgb100", "question": "Where?", "answers": ["Here"],
         "source_files": ["rgb100_p0.txt"]},
    ])  # fmt: skip
    return gold, corpus


def test_negative_variant_drops_exactly_the_answering_passages_of_the_listed_ids(
    tiny_rgb: tuple[Path, Path], tmp_path: Path
) -> None:
    gold, corpus = tiny_rgb
    built = negative_variant(gold, corpus, ["rgb001"], tmp_path / "variant")
    assert names(built.corpus) == {"rgb001_n0.txt", "rgb010_p0.txt", "rgb010_n0.txt",
                                   "rgb100_p0.txt"}  # fmt: skip
    assert built.about == {"files": 4, "removed_files": 2, "unanswerable_ids": 1}
    assert not any(path.is_symlink() for path in built.corpus.iterdir())
    items = {item.id: item for item in load_gold(built.gold, names(built.corpus))}
    declined = items["rgb001"]
    assert declined.unanswerable and declined.kind == "unanswerable"
    assert (declined.answers, declined.answers_all, declined.source_files) == ((), (), ())
    assert declined.question == "Who won?"
    originals = {item.id: item for item in load_gold(gold)}
    assert items["rgb010"] == originals["rgb010"] and items["rgb100"] == originals["rgb100"]


def test_negative_variant_rebuilt_with_other_ids_restores_and_keeps_unchanged_copies(
    tiny_rgb: tuple[Path, Path], tmp_path: Path
) -> None:
    gold, corpus = tiny_rgb
    into = tmp_path / "variant"
    negative_variant(gold, corpus, ["rgb001"], into)
    kept = (into / "corpus" / "rgb100_p0.txt").stat()
    built = negative_variant(gold, corpus, ["rgb010"], into)
    assert names(built.corpus) == {"rgb001_p0.txt", "rgb001_p1.txt", "rgb001_n0.txt",
                                   "rgb010_n0.txt", "rgb100_p0.txt"}  # fmt: skip
    # Not copied again: the index keeps trusting its size and times.
    assert (built.corpus / "rgb100_p0.txt").stat().st_ino == kept.st_ino
    unanswerable = [item.id for item in load_gold(built.gold) if item.unanswerable]
    assert unanswerable == ["rgb010"]


def test_negative_variant_refuses_an_id_not_in_the_gold_file(
    tiny_rgb: tuple[Path, Path], tmp_path: Path
) -> None:
    gold, corpus = tiny_rgb
    with pytest.raises(SetError, match=r"ids \['rgb999'\] of the negative-rejection list"):
        negative_variant(gold, corpus, ["rgb001", "rgb999"], tmp_path / "variant")


def test_negative_variant_refuses_an_id_without_answering_passages(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_files(corpus, ["rgb001_n0.txt", "rgb002_p0.txt"])
    gold = write_gold(tmp_path / "gold.jsonl", [
        {"id": "rgb001", "question": "Who?", "unanswerable": True},
        {"id": "rgb002", "question": "What?", "answers": ["B"], "source_files": ["rgb002_p0.txt"]},
    ])  # fmt: skip
    with pytest.raises(SetError, match=r"no answering passage \(ID_pK.txt\) of \['rgb001'\]"):
        negative_variant(gold, corpus, ["rgb001"], tmp_path / "variant")


def test_subset_keeps_every_gold_source_file_and_draws_the_same_distractors(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    write_files(corpus, [f"sport-{n:03d}.txt" for n in range(40)])
    gold = write_gold(tmp_path / "gold.jsonl", [
        {"id": "a", "question": "Who?", "answers": ["X"],
         "source_files": ["sport-003.txt", "sport-017.txt"]},
        {"id": "b", "question": "Where?", "answers": ["Y"], "source_files": ["sport-039.txt"]},
        {"id": "c", "question": "Why?", "unanswerable": True},
    ])  # fmt: skip
    first = subset_variant(gold, corpus, 5, 1, tmp_path / "one")
    kept = names(first.corpus)
    assert {"sport-003.txt", "sport-017.txt", "sport-039.txt"} <= kept
    assert len(kept) == 8
    assert first.gold == gold
    assert first.about == {"files": 8, "gold_source_files": 3, "distractors": 5, "seed": 1}
    assert names(subset_variant(gold, corpus, 5, 1, tmp_path / "two").corpus) == kept
    assert names(subset_variant(gold, corpus, 5, 2, tmp_path / "three").corpus) != kept
    everything = subset_variant(gold, corpus, 100, 1, tmp_path / "four")
    assert everything.about["distractors"] == 37  # all the others, when fewer than asked


@pytest.fixture
def fake_bench(tmp_path: Path) -> Path:
    """A bench folder shaped like ../shared/bench: RGB's 100 ids with two answering passages
    and one distractor each, and the BBC files our gold names plus 400 others."""
    bench = tmp_path / "bench"
    ids = [f"rgb{n:03d}" for n in range(100)]
    write_files(bench / "rgb" / "corpus",
                [f"{i}_{part}.txt" for i in ids for part in ("p0", "p1", "n0")])  # fmt: skip
    write_gold(bench / "rgb" / "gold.jsonl", [
        {"id": i, "question": f"Question {i}?", "answers": ["yes"],
         "source_files": [f"{i}_p0.txt", f"{i}_p1.txt"]} for i in ids
    ])  # fmt: skip
    sources = {f for item in load_gold(REPO / "eval/bbc/gold.jsonl") for f in item.source_files}
    write_files(bench / "bbc" / "corpus", [*sources, *(f"other-{n}.txt" for n in range(400))])
    return bench


def test_rgb_negative_set_declines_the_listed_ids_and_keeps_the_split(
    fake_bench: Path, tmp_path: Path
) -> None:
    prepared = prepare("rgb-negative", Settings(bench_dir=fake_bench, cache_dir=tmp_path / "c"))
    root = tmp_path / "c" / "bench" / "rgb-negative"
    assert prepared.settings.corpus_dir == root / "corpus"
    assert prepared.settings.index_path == root / "index"
    assert prepared.gold == root / "gold.jsonl"
    assert prepared.split_file == REPO / "eval/rgb/split.json"
    listed = json.loads((REPO / "eval/rgb/negative.json").read_text())
    removed = {f"{i}_{p}.txt" for i in listed["dev"] + listed["test"] for p in ("p0", "p1")}
    assert len(removed) == 80
    assert names(root / "corpus") == names(fake_bench / "rgb" / "corpus") - removed
    items = load_gold(prepared.gold)
    test = load_split(prepared.split_file, "test", items)
    in_test = [item for item in items if item.id in test.ids]
    assert sorted(i.id for i in in_test if i.unanswerable) == sorted(listed["test"])
    assert sum(not i.unanswerable for i in in_test) == 30
    assert prepared.meta()["name"] == "rgb-negative"
    assert prepared.meta()["removed_files"] == 80


def test_bbc_ci_set_holds_every_gold_source_file_and_the_sampled_distractors(
    fake_bench: Path, tmp_path: Path
) -> None:
    prepared = prepare("bbc-ci", Settings(bench_dir=fake_bench, cache_dir=tmp_path / "c"))
    sources = {f for item in load_gold(prepared.gold) for f in item.source_files}
    kept = names(prepared.settings.corpus_dir)
    assert sources <= kept
    assert len(kept) == len(sources) + CI_DISTRACTORS
    assert prepared.about["seed"] == CI_SEED
    assert prepared.gold == REPO / "eval/bbc/gold.jsonl"


@pytest.mark.parametrize("name", [name for name, s in SETS.items() if s.in_bench()])
def test_a_set_refuses_a_missing_bench_folder_naming_the_setting(
    name: str, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(SetError) as error:
        prepare(name, Settings(bench_dir=missing, cache_dir=tmp_path / "c"))
    assert str(missing) in str(error.value) and "RAG_BENCH_DIR" in str(error.value)
    assert not (tmp_path / "c").exists()


def test_a_set_refuses_a_cache_inside_the_checkout(tmp_path: Path) -> None:
    with pytest.raises(SetError, match="RAG_CACHE_DIR"):
        prepare("extra", Settings(cache_dir=REPO / "cache", bench_dir=tmp_path))
    assert not (REPO / "cache").exists()


def test_an_unknown_set_names_the_sets(tmp_path: Path) -> None:
    names = "rgb, rgb-negative, bbc, bbc-ci, starting, extra"
    with pytest.raises(SetError, match=f"the sets are {names}"):
        prepare("rgb-positive", Settings(cache_dir=tmp_path))


@needs_bench
def test_the_real_sets_are_built_as_the_readme_states(model_cache: Path) -> None:
    settings = Settings(cache_dir=model_cache)
    negative = prepare("rgb-negative", settings).about
    assert (negative["files"], negative["removed_files"], negative["unanswerable_ids"]) == (
        852, 117, 40,
    )  # fmt: skip
    subset = prepare("bbc-ci", settings).about
    assert (subset["files"], subset["gold_source_files"], subset["distractors"]) == (432, 132, 300)


# --- the CLI ----------------------------------------------------------------------------


@pytest.fixture
def env(model_cache: Path, tmp_path: Path) -> dict[str, str]:
    """The session's scratch cache (shared with the gates in tests/test_gold.py, so each set
    is ingested once) and a scratch results folder."""
    return {"RAG_CACHE_DIR": str(model_cache), "RAG_RESULTS_DIR": str(tmp_path / "results")}


def only_run(results: Path) -> dict[str, object]:
    (folder,) = [path for path in results.iterdir() if path.is_dir()]
    summary: dict[str, object] = json.loads((folder / "summary.json").read_text())
    assert "Set `" in (folder / "report.md").read_text()
    return summary


def test_eval_set_builds_the_index_in_the_cache_and_records_the_set(
    env: dict[str, str], model_cache: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(main, ["eval", "--set", "extra", "--split", "test"], env=env)
    assert result.exit_code == 0, result.output
    assert "items: 18 (" in result.stdout and "test part of" in result.stdout
    assert "Set `extra`: eval/extra/gold.jsonl over the ten files" in result.stdout
    assert "Reading extra" in result.stderr  # the ingest's progress bar
    summary = only_run(tmp_path / "results")
    assert summary["set"]["name"] == "extra"  # type: ignore[index]
    assert summary["split"]["part"] == "test"  # type: ignore[index]
    assert (model_cache / "bench" / "extra" / "index").is_dir()
    assert not (REPO / "eval" / "extra" / "corpus" / ".newsdesk").exists()


@needs_bench
def test_eval_set_rgb_negative_scores_the_held_out_negatives_and_answerables(
    env: dict[str, str], tmp_path: Path
) -> None:
    args = ["eval", "--set", "rgb-negative", "--split", "test", "--json"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert (figures["items"], figures["answerable"], figures["unanswerable"]) == (50, 30, 20)
    recorded = only_run(tmp_path / "results")["set"]
    assert recorded["files"] == 852 and recorded["ids_file"] == "eval/rgb/negative.json"  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval"], "Give either a gold file (GOLD) or a benchmark set (--set NAME)."),
        (["eval", "eval/gold.jsonl", "--set", "extra"], "Give either a gold file"),
        (["eval", "--set", "extra", "--corpus", "corpus"], "--set chooses the corpus"),
        (["eval", "--set", "nope"], "'nope' is not one of 'rgb', 'rgb-negative'"),
    ],
)
def test_eval_set_usage_errors(env: dict[str, str], args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2
    assert message in result.stderr


def test_eval_set_without_the_bench_folder_says_where_and_which_setting(
    env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "no-bench"
    args = ["eval", "--set", "rgb", "--split", "test"]
    result = CliRunner().invoke(main, args, env={**env, "RAG_BENCH_DIR": str(missing)})
    assert result.exit_code == 1
    assert f"Error: the benchmark data are not at {missing}" in result.stderr
    assert "set RAG_BENCH_DIR" in result.stderr and "Traceback" not in result.output
