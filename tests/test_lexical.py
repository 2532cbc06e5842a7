"""Tests for rag.lexical: the terms every keyword stage shares, and the BM25 index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.lexical import Bm25Index, TermRow, TermTable, terms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What did the spokesman say about the withdrawal?", ["spokesman", "withdraw"]),
        ("it is what it is", []),  # only stopwords
        ("", []),
        ("The U.S. troops", ["us", "troop"]),
        ("US troops", ["us", "troop"]),
        ("U.S.-led coalition", ["us", "led", "coalit"]),
        ("2,500 troops", ["2500", "troop"]),
        ("2500", ["2500"]),
        ("Hezbollah's leader", ["hezbollah", "leader"]),
        ("Hezbollah’s leader", ["hezbollah", "leader"]),  # curly apostrophe
        ("Iran-backed militias", ["iran", "back", "militia"]),
        ("ROCKETS Rocket rockets", ["rocket", "rocket", "rocket"]),  # case, plural; order kept
    ],
)
def test_terms(text: str, expected: list[str]) -> None:
    assert terms(text) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("withdrawal", "withdraw"),
        ("withdrawing", "withdraw"),
        ("U.S.", "US"),
        ("2,500", "2500"),
        ("Hezbollah's", "Hezbollah"),
        ("protesters", "protests"),
    ],
)
def test_same_term(a: str, b: str) -> None:
    assert terms(a) == terms(b)
    assert len(terms(a)) == 1


# Four one-sentence chunks. Their terms (stemmed, stopwords dropped):
#   d1: rocket hit balad air base north baghdad                      (7 terms)
#   d2: protest basra demand job electr                               (5 terms)
#   d3: pentagon 2500 us troop remain iraq                            (6 terms)
#   d4: us troop left air base rocket hit convoy near border          (10 terms)
# Average length 7. Document frequency 2: rocket, hit, air, base, us, troop; every other term 1.
DOCS = {
    "d1": "Rockets hit Balad air base north of Baghdad.",
    "d2": "Protesters in Basra demanded jobs and electricity.",
    "d3": "The Pentagon said 2,500 U.S. troops remain in Iraq.",
    "d4": "U.S. troops left the air base after rockets hit the convoy near the border.",
}

# Ranking by BM25 reasoning (only chunks sharing a term are returned):
RANKINGS = [
    # d1 and d4 both hold "air" and "base" once, with the same idf: the shorter d1 wins.
    ("air base", ["d1", "d4"]),
    # d1 holds the rare "balad" (df 1) and "rocket"; d4 only "rocket".
    ("Balad rockets", ["d1", "d4"]),
    # "2,500" is the term "2500", only in d3, which also holds "troop"; d4 holds "troop" only.
    ("2,500 troops", ["d3", "d4"]),
    # d4 matches all four terms (us troop hit rocket); d3 (us troop) and d1 (hit rocket) match
    # two terms of equal idf once each, and d3 (6 terms) is shorter than d1 (7 terms).
    ("US troops hit by rockets", ["d4", "d3", "d1"]),
    ("Did protesters demand electricity?", ["d2"]),
]


@pytest.fixture(scope="module")
def index() -> Bm25Index:
    return Bm25Index.build(list(DOCS), list(DOCS.values()))


@pytest.mark.parametrize(("query", "expected"), RANKINGS)
def test_search_ranking(index: Bm25Index, query: str, expected: list[str]) -> None:
    results = index.search(query, k=10)
    assert [doc for doc, _ in results] == expected
    scores = [score for _, score in results]
    assert all(score > 0 for score in scores)
    assert scores == sorted(scores, reverse=True)


def test_search_respects_k(index: Bm25Index) -> None:
    assert [doc for doc, _ in index.search("US troops hit by rockets", k=2)] == ["d4", "d3"]


def test_search_among_some_chunks_ranks_only_those(index: Bm25Index) -> None:
    # A date range keeps the keyword side to the chunks the store dates within it; k counts
    # among them, so a narrow range still fills its results.
    query = "US troops hit by rockets"
    assert [doc for doc, _ in index.search(query, k=2, among={"d1", "d2"})] == ["d1"]
    assert [doc for doc, _ in index.search(query, k=2, among={"d3", "d1"})] == ["d3", "d1"]
    assert index.search(query, k=2, among=set()) == []


@pytest.mark.parametrize("query", ["Mosul", "what is the", "", "Who was in Mosul?"])
def test_search_without_a_known_term_returns_nothing(index: Bm25Index, query: str) -> None:
    assert index.search(query, k=10) == []


def test_unknown_terms_do_not_change_the_result(index: Bm25Index) -> None:
    assert index.search("Balad Mosul Kirkuk", k=10) == index.search("Balad", k=10)


def test_document_frequency(index: Bm25Index) -> None:
    assert len(index) == 4
    assert index.document_frequency("balad") == 1
    assert index.document_frequency("rocket") == 2
    assert index.document_frequency("us") == 2
    assert index.document_frequency("2500") == 1
    assert index.document_frequency("mosul") == 0
    assert index.document_frequency("rockets") == 0  # takes stemmed terms only


def test_idf_is_higher_for_rarer_terms(index: Bm25Index) -> None:
    assert index.idf("mosul") > index.idf("balad") > index.idf("rocket") > 0
    # BM25's idf: log(1 + (N - df + 0.5) / (df + 0.5)) with N = 4.
    assert index.idf("rocket") == pytest.approx(0.6931471805599453)  # log(2)
    assert index.idf("mosul") == pytest.approx(2.302585092994046)  # log(10)


def test_save_load_round_trip(index: Bm25Index, tmp_path: Path) -> None:
    folder = tmp_path / "bm25"
    index.save(folder)
    loaded = Bm25Index.load(folder)
    assert loaded.ids == index.ids
    assert len(loaded) == 4
    for query, expected in RANKINGS:
        assert loaded.search(query, k=10) == index.search(query, k=10)
        assert [doc for doc, _ in loaded.search(query, k=10)] == expected
    for term in ["balad", "rocket", "us", "mosul"]:
        assert loaded.document_frequency(term) == index.document_frequency(term)
        assert loaded.idf(term) == index.idf(term)


def test_save_replaces_an_existing_index(index: Bm25Index, tmp_path: Path) -> None:
    folder = tmp_path / "bm25"
    other = Bm25Index.build(["x1", "x2"], ["Kirkuk airport was closed.", "Mosul was retaken."])
    other.save(folder)
    (folder / "stale-file").write_text("left over")
    assert Bm25Index.load(folder).search("Kirkuk", k=5)[0][0] == "x1"

    index.save(folder)

    loaded = Bm25Index.load(folder)
    assert loaded.ids == ["d1", "d2", "d3", "d4"]
    assert loaded.search("Kirkuk", k=5) == []
    assert [doc for doc, _ in loaded.search("Balad rockets", k=5)] == ["d1", "d4"]
    assert not (folder / "stale-file").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bm25"]  # no .tmp / .old left


def test_empty_text_is_indexable() -> None:
    # A chunk with no content words still takes a slot, so ids and documents stay aligned.
    index = Bm25Index.build(["empty", "real"], ["it is what it is", "Balad air base"])
    assert [doc for doc, _ in index.search("Balad", k=5)] == ["real"]


def test_term_table_keeps_current_files_and_round_trips(tmp_path: Path) -> None:
    table = TermTable.empty().add(
        [
            TermRow("a1", "a.txt", "sha-a", "Rockets hit Balad air base."),
            TermRow("b1", "b.txt", "sha-b", "Mosul was retaken."),
            TermRow("b2", "b.txt", "sha-b", "Kirkuk airport was closed."),
        ]
    )
    kept = table.keep({"a.txt": "sha-a", "b.txt": "sha-b-changed"})
    assert (kept.ids, kept.files, kept.shas) == (["a1"], ["a.txt"], {"a.txt": "sha-a"})
    assert [kept.vocab[i] for i in kept.term_ids] == ["rocket", "hit", "balad", "air", "base"]
    assert "mosul" in kept.vocab  # terms of dropped rows linger until compacted
    assert kept.compacted().vocab == ["rocket", "hit", "balad", "air", "base"]

    table.save(tmp_path)
    loaded = TermTable.load(tmp_path)
    assert loaded is not None
    assert (loaded.ids, loaded.files, loaded.shas, loaded.vocab) == (
        table.ids,
        table.files,
        table.shas,
        table.vocab,
    )
    assert loaded.term_ids.tolist() == table.term_ids.tolist()
    assert loaded.offsets.tolist() == table.offsets.tolist()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda folder: (folder / "terms.json").unlink(), id="missing"),
        pytest.param(lambda folder: (folder / "terms.npz").write_bytes(b"junk"), id="not-npz"),
        pytest.param(lambda folder: (folder / "terms.json").write_text("{"), id="bad-json"),
        pytest.param(
            lambda folder: (folder / "terms.json").write_text(
                json.dumps({"ids": ["a1"], "names": ["a.txt"], "shas": {}, "vocab": []})
            ),
            id="rows-disagree",
        ),
    ],
)
def test_a_damaged_term_table_loads_as_none(tmp_path: Path, damage) -> None:  # noqa: ANN001
    rows = [TermRow("a1", "a.txt", "s", "Balad"), TermRow("a2", "a.txt", "s", "Mosul")]
    TermTable.empty().add(rows).save(tmp_path)
    assert TermTable.load(tmp_path) is not None
    damage(tmp_path)
    assert TermTable.load(tmp_path) is None
