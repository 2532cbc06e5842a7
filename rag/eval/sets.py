"""Named benchmark sets: `rag eval --set NAME` scores one gold file over its corpus.

A set is a gold file, a corpus folder and a split file, and for a variant the rule that builds
its own corpus and gold file from those. The RGB and BBC data are read from the setting
`bench_dir` (`../shared/bench`); their licences keep them out of the repository. Everything a
set writes (its index, a variant's corpus and gold file) goes under `cache_dir/bench/NAME`,
outside the checkout.

A variant's corpus holds copies of the files it keeps, not links: ingest refuses links that
lead out of the corpus folder, and the answerer reads cited files again when it answers.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rag.config import Settings
from rag.eval.gold import GoldItem, load_gold
from rag.types import UserError

if TYPE_CHECKING:  # loads the models' libraries; only Prepared.pipeline() needs it
    from rag.ingest import Progress
    from rag.pipeline import Pipeline

REPO = Path(__file__).resolve().parents[2]
CACHE_FOLDER = "bench"  # under Settings.cache_dir, one folder per set
UNANSWERABLE_KIND = "unanswerable"
# An RGB file that answers its question: rgbNNN_pK.txt (distractors are rgbNNN_nK.txt).
_ANSWERING = re.compile(r"(?P<id>.+)_p\d+\.txt")


class SetError(UserError):
    """A set that cannot be prepared; the message says what to fix."""


@dataclass(frozen=True)
class InRepo:
    """A path under the repository's root (gold and split files we wrote)."""

    path: str

    def resolve(self, settings: Settings) -> Path:
        """The absolute path."""
        return REPO / self.path


@dataclass(frozen=True)
class InBench:
    """A path under the setting `bench_dir` (data written by other people)."""

    path: str

    def resolve(self, settings: Settings) -> Path:
        """The absolute path."""
        return settings.bench_dir / self.path


Location = InRepo | InBench


@dataclass(frozen=True)
class Built:
    """What a variant made: its gold file and corpus folder, and how (for the report)."""

    gold: Path
    corpus: Path
    about: dict[str, Any]


class Variant(Protocol):
    """A rule that derives a set's gold file and corpus from another set's."""

    def build(self, gold: Path, corpus: Path, into: Path) -> Built:
        """Write the variant under `into` (made anew where its inputs changed)."""
        ...


@dataclass(frozen=True)
class NegativeRejection:
    """RGB's negative rejection (Chen et al., AAAI 2024): the answering passages of the ids
    listed in `ids_file` (both parts) are removed, and those items become unanswerable."""

    ids_file: InRepo

    def build(self, gold: Path, corpus: Path, into: Path) -> Built:
        """The corpus without the listed ids' rgbNNN_p*.txt, and the gold file to match."""
        path = REPO / self.ids_file.path
        listed = json.loads(path.read_text(encoding="utf-8"))
        ids = [*listed["dev"], *listed["test"]]
        built = negative_variant(gold, corpus, ids, into)
        return Built(built.gold, built.corpus, {"ids_file": self.ids_file.path, **built.about})


@dataclass(frozen=True)
class Subset:
    """The gold items' corpus cut down for CI: every file a gold item names in `source_files`
    plus `distractors` other files drawn with `random.Random(seed)`."""

    distractors: int
    seed: int

    def build(self, gold: Path, corpus: Path, into: Path) -> Built:
        """The subset corpus; the gold file is used as it is."""
        return subset_variant(gold, corpus, self.distractors, self.seed, into)


@dataclass(frozen=True)
class BenchSet:
    """A named gold file over a corpus, with its dev/test split."""

    name: str
    measures: str  # one sentence for --help and the report
    gold: Location
    corpus: Location
    split: InRepo
    variant: Variant | None = None

    def in_bench(self) -> bool:
        """Whether the set reads `bench_dir`."""
        return isinstance(self.gold, InBench) or isinstance(self.corpus, InBench)


RGB_GOLD, RGB_CORPUS = InBench("rgb/gold.jsonl"), InBench("rgb/corpus")
RGB_SPLIT = InRepo("eval/rgb/split.json")
BBC_GOLD, BBC_CORPUS = InRepo("eval/bbc/gold.jsonl"), InBench("bbc/corpus")
BBC_SPLIT = InRepo("eval/bbc/split.json")
# 300 distractors beside the 132 files the BBC gold items name: about 1,800 chunks to embed,
# where the whole 1,808-file corpus has about 7,400.
CI_DISTRACTORS = 300
CI_SEED = 12  # the number of the issue that asked for the subset; any fixed seed would do

SETS: dict[str, BenchSet] = {
    s.name: s
    for s in (
        BenchSet(
            "rgb",
            "RGB's English fact questions (Chen et al., AAAI 2024) over the whole pool of "
            "969 passages, close distractors included",
            RGB_GOLD, RGB_CORPUS, RGB_SPLIT,
        ),
        BenchSet(
            "rgb-negative",
            "RGB's negative rejection: the answering passages of the 40 questions in "
            "eval/rgb/negative.json are removed, so those must be declined and the rest answered",
            RGB_GOLD, RGB_CORPUS, RGB_SPLIT, NegativeRejection(InRepo("eval/rgb/negative.json")),
        ),
        BenchSet(
            "bbc",
            "our BBC questions (eval/bbc/gold.jsonl) over all 1,808 BBC articles",
            BBC_GOLD, BBC_CORPUS, BBC_SPLIT,
        ),
        BenchSet(
            "bbc-ci",
            f"our BBC questions over the files they name plus {CI_DISTRACTORS} other BBC "
            f"articles drawn with seed {CI_SEED} (for CI: a quarter of the corpus)",
            BBC_GOLD, BBC_CORPUS, BBC_SPLIT, Subset(CI_DISTRACTORS, CI_SEED),
        ),
        BenchSet(
            "starting",
            "eval/gold.jsonl over the five starting articles of corpus/",
            InRepo("eval/gold.jsonl"), InRepo("corpus"), InRepo("eval/split.json"),
        ),
        BenchSet(
            "extra",
            "eval/extra/gold.jsonl over the ten files of eval/extra/corpus",
            InRepo("eval/extra/gold.jsonl"), InRepo("eval/extra/corpus"),
            InRepo("eval/extra/split.json"),
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Prepared:
    """A set ready to run: its gold and split files, and settings pointing at its corpus and
    at its index under the cache folder."""

    name: str
    gold: Path
    split_file: Path
    settings: Settings
    about: dict[str, Any]

    def meta(self) -> dict[str, Any]:
        """How `summary.json` records the set."""
        return {
            "name": self.name,
            "gold": str(self.gold),
            "corpus": str(self.settings.corpus_dir),
            "index": str(self.settings.index_path),
            **self.about,
        }

    def pipeline(self, progress: Progress | None = None) -> Pipeline:
        """A pipeline over the set, its index first brought up to date (embedding only what
        is missing or changed; nothing when the index is current)."""
        from rag.pipeline import Pipeline

        pipeline = Pipeline(self.settings)
        pipeline.ingest(progress)
        return pipeline


def prepare(name: str, settings: Settings) -> Prepared:
    """The set called `name`, its variant built when it has one (the index is not touched)."""
    chosen = SETS.get(name)
    if chosen is None:
        raise SetError(f"no benchmark set {name!r}; the sets are {', '.join(SETS)}")
    if chosen.in_bench() and not settings.bench_dir.is_dir():
        raise SetError(
            f"the benchmark data are not at {settings.bench_dir} (expected: the shared/bench "
            "folder beside the repository's folder); set RAG_BENCH_DIR to the folder that "
            "holds rgb/ and bbc/."
        )
    root = settings.cache_dir.resolve() / CACHE_FOLDER / chosen.name
    if root.is_relative_to(REPO):
        raise SetError(
            f"{root} is inside the repository checkout {REPO}, where benchmark indexes and "
            "copies must not go: set RAG_CACHE_DIR to a folder outside it."
        )
    gold, corpus = chosen.gold.resolve(settings), chosen.corpus.resolve(settings)
    for path in (gold, corpus):
        if not path.exists():
            raise SetError(f"{path} is missing: set {chosen.name!r} needs it ({chosen.measures}).")
    about: dict[str, Any] = {"measures": chosen.measures}
    if chosen.variant is not None:
        built = chosen.variant.build(gold, corpus, root)
        gold, corpus, about = built.gold, built.corpus, {**about, **built.about}
    set_settings = settings.model_copy(update={"corpus_dir": corpus, "index_dir": root / "index"})
    return Prepared(chosen.name, gold, chosen.split.resolve(settings), set_settings, about)


def negative_variant(gold: Path, corpus: Path, ids: Sequence[str], into: Path) -> Built:
    """`into`/corpus: every corpus file but the answering passages (ID_pK.txt) of `ids`;
    `into`/gold.jsonl: the gold file with those items unanswerable, the others as they were."""
    files = _corpus_files(corpus)
    items = load_gold(gold, files)
    unknown = sorted(set(ids) - {item.id for item in items})
    if unknown:
        raise SetError(f"ids {unknown} of the negative-rejection list are not in {gold}")
    removed = {}  # file name to the id it answers
    for name in files:
        match = _ANSWERING.fullmatch(name)
        if match and match["id"] in ids:
            removed[name] = match["id"]
    without = sorted(set(ids) - set(removed.values()))
    if without:
        raise SetError(f"{corpus} has no answering passage (ID_pK.txt) of {without}")
    kept = {name: path for name, path in files.items() if name not in removed}
    out = into / "gold.jsonl"
    _write_gold(out, [_declined(item) if item.id in ids else item for item in items])
    load_gold(out, kept)  # every answerable item must still have its files
    _mirror(kept, into / "corpus")
    return Built(
        out,
        into / "corpus",
        {"files": len(kept), "removed_files": len(removed), "unanswerable_ids": len(set(ids))},
    )


def subset_variant(gold: Path, corpus: Path, distractors: int, seed: int, into: Path) -> Built:
    """`into`/corpus: every file the gold items name, and `distractors` other corpus files
    drawn with `random.Random(seed).sample` from the others in sorted order."""
    files = _corpus_files(corpus)
    needed = sorted({name for item in load_gold(gold, files) for name in item.source_files})
    others = sorted(set(files) - set(needed))
    drawn = random.Random(seed).sample(others, min(distractors, len(others)))
    _mirror({name: files[name] for name in needed + drawn}, into / "corpus")
    return Built(
        gold,
        into / "corpus",
        {
            "files": len(needed) + len(drawn),
            "gold_source_files": len(needed),
            "distractors": len(drawn),
            "seed": seed,
        },
    )


def _corpus_files(corpus: Path) -> dict[str, Path]:
    from rag.ingest import discover  # loads BM25's libraries: only building a variant needs it

    return {name: Path(path) for name, path in discover(corpus)}


def _declined(item: GoldItem) -> GoldItem:
    """`item` as a question the corpus cannot answer."""
    return GoldItem(
        id=item.id, question=item.question, turns=item.turns, unanswerable=True,
        kind=UNANSWERABLE_KIND,
    )  # fmt: skip


def _write_gold(path: Path, items: Sequence[GoldItem]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [item.model_dump_json(exclude_defaults=True) + "\n" for item in items]
    path.write_text("".join(lines), encoding="utf-8")


def _mirror(files: Mapping[str, Path], folder: Path) -> None:
    """Make `folder` hold copies of exactly `files` (name to source): files no longer
    wanted are deleted, and only missing or changed ones are copied (with their times, so an
    unchanged copy keeps its place in the index)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in set(_corpus_files(folder)) - set(files):
        (folder / name).unlink()
    for name, source in files.items():
        target = folder / name
        if not _same(source, target):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _same(source: Path, target: Path) -> bool:
    """Whether `target` is an earlier copy of `source` (size and modification time)."""
    if not target.is_file() or target.is_symlink():
        return False
    a, b = source.stat(), target.stat()
    return (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)
