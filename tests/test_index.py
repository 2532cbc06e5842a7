"""The index follows the corpus: incremental by content hash, separate per settings, locked."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

import rag.ingest
from rag.index import IndexUnavailable, Plan
from rag.lexical import Bm25Index
from rag.manifest import FileEntry, Manifest
from rag.pipeline import Pipeline
from rag.store import Store, chunk_from_record
from rag.types import Chunk, ParsedFile, SourceFile
from tests.conftest import TROOPS_FILE, copy_corpus


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return copy_corpus(tmp_path / "corpus")


def stored_ids(pipeline: Pipeline) -> set[str]:
    return set(pipeline.index.collection.get(include=[])["ids"])


def files_in_index(pipeline: Pipeline) -> set[str]:
    return {m["file"] for m in pipeline.index.collection.get(include=["metadatas"])["metadatas"]}


def test_reingest_embeds_only_what_changed(corpus: Path, make_settings) -> None:
    pipeline = Pipeline(make_settings(corpus))
    first = pipeline.ingest()
    assert len(first.added) == 5 and first.chunks_embedded == 55
    before = stored_ids(pipeline)

    again = pipeline.ingest()
    assert (again.added, again.updated, again.removed, again.chunks_embedded) == ([], [], [], 0)
    assert len(again.unchanged) == 5
    assert stored_ids(pipeline) == before

    changed = corpus / "004_a2aa68af86f12e80.txt"
    old_count = pipeline.index.manifest().files[changed.name].chunks
    changed.write_text(changed.read_text() + "\nA new closing sentence was added to the story.\n")
    third = pipeline.ingest()
    assert third.updated == ["004_a2aa68af86f12e80.txt"] and third.added == []
    assert third.chunks_embedded == pipeline.index.manifest().files[changed.name].chunks
    assert len(stored_ids(pipeline)) == 55 - old_count + third.chunks_embedded


def test_settled_unchanged_files_are_not_read_again(
    corpus: Path, make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rag.read._SETTLED_NS", 0)  # as if the files were copied long ago
    (corpus / ".hidden").mkdir()
    (corpus / ".hidden" / "linked.txt").write_text(LINKED_STORY)
    (corpus / "link.txt").symlink_to(corpus / ".hidden" / "linked.txt")
    pipeline = Pipeline(make_settings(corpus))
    pipeline.ingest()
    read: list[str] = []
    reader = rag.ingest.read_corpus_file

    def spy(*args):  # noqa: ANN002, ANN202
        read.append(args[1])
        return reader(*args)

    monkeypatch.setattr(rag.ingest, "read_corpus_file", spy)

    again = pipeline.ingest()
    assert again.chunks_embedded == 0 and len(again.unchanged) == 6
    assert read == ["link.txt"]  # a link is always read: its target may change behind it
    # ... and the files not read get no record of their own, only their names.
    files = rag.ingest.read_corpus(pipeline.settings, pipeline.index.manifest().files, len)
    assert set(files.parsed) == {"link.txt"} and len(files.unread) == 5

    # Same size and the old modification time put back: the change time still shows it.
    path = corpus / TROOPS_FILE
    before = path.stat()
    path.write_text(path.read_text().replace("2,500", "2,600"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    (corpus / ".hidden" / "linked.txt").write_text(LINKED_STORY.replace("Tuesday", "Friday"))
    read.clear()
    third = pipeline.ingest()
    assert sorted(read) == [TROOPS_FILE, "link.txt"]
    assert third.updated == [TROOPS_FILE, "link.txt"]
    assert "2,600" in pipeline.ask("When did US troop levels in Iraq drop to 2,600?").answer


def test_files_changed_moments_ago_are_hashed_on_the_next_ingest(
    corpus: Path, make_settings
) -> None:
    pipeline = Pipeline(make_settings(corpus))
    pipeline.ingest()
    # The files were copied just now: a change within the clock's resolution could
    # still keep their size and times, so they are not vouched for by them yet.
    assert [entry.stamp for entry in pipeline.index.manifest().files.values()] == [None] * 5


LINKED_STORY = (
    "Council approves new bridge\n\nThe city council approved a new bridge over the river "
    "on Tuesday. Construction will begin in the spring and cost 40 million dollars.\n"
)


def assert_keyword_index_is_a_fresh_build(pipeline: Pipeline) -> None:
    """The saved BM25 index scores every query as one built from scratch from the store."""
    stored = pipeline.index.collection.get(include=["documents", "metadatas"])
    chunks = [
        chunk_from_record(*record)
        for record in zip(stored["ids"], stored["documents"], stored["metadatas"], strict=True)
    ]
    fresh = Bm25Index.build([c.id for c in chunks], [c.indexed_text for c in chunks])
    saved = Bm25Index.load(pipeline.index._bm25_path)
    assert sorted(saved.ids) == sorted(fresh.ids)
    for query in ("troops Iraq 2,500", "Mosul restaurant tax", "bridge council river", "drone"):
        assert dict(saved.search(query, 100)) == pytest.approx(dict(fresh.search(query, 100)))


def test_keyword_index_follows_changes_stemming_only_new_chunks(
    corpus: Path, make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(corpus)
    Pipeline(settings).ingest()
    read_back: list[list[str]] = []
    reader = Store.chunks_of

    def spy(store: Store, files: dict[str, int]):  # noqa: ANN202
        read_back.append(list(files))
        return reader(store, files)

    monkeypatch.setattr(Store, "chunks_of", spy)
    (corpus / TROOPS_FILE).write_text((corpus / TROOPS_FILE).read_text() + "\nA drone flew.\n")
    (corpus / "004_a2aa68af86f12e80.txt").unlink()
    (corpus / "bridge.txt").write_text(LINKED_STORY)
    pipeline = Pipeline(settings)
    report = pipeline.ingest()
    assert (report.updated, report.removed, report.added) == (
        [TROOPS_FILE],
        ["004_a2aa68af86f12e80.txt"],
        ["bridge.txt"],
    )
    assert read_back == [[]]  # nothing read back from the store
    assert_keyword_index_is_a_fresh_build(pipeline)

    # An index saved without its term table (an older version) is filled from the store.
    (pipeline.index._bm25_path / "terms.json").unlink()
    (corpus / "bridge.txt").write_text(LINKED_STORY.replace("Tuesday", "Friday"))
    pipeline = Pipeline(settings)
    assert pipeline.ingest().updated == ["bridge.txt"]
    assert read_back[-1] == sorted(set(pipeline.index.manifest().files) - {"bridge.txt"})
    assert_keyword_index_is_a_fresh_build(pipeline)
    assert "Friday" in pipeline.ask("When did the council approve the bridge?").answer

    # A damaged table is rebuilt the same way.
    (pipeline.index._bm25_path / "terms.npz").write_bytes(b"not an archive")
    (corpus / "bridge.txt").write_text(LINKED_STORY.replace("Tuesday", "Monday"))
    pipeline = Pipeline(settings)
    assert pipeline.ingest().updated == ["bridge.txt"]
    assert read_back[-1] == read_back[-2]
    assert_keyword_index_is_a_fresh_build(pipeline)


def test_deleted_file_leaves_the_index(corpus: Path, make_settings) -> None:
    pipeline = Pipeline(make_settings(corpus))
    pipeline.ingest()
    (corpus / TROOPS_FILE).unlink()
    report = pipeline.ingest()
    assert report.removed == [TROOPS_FILE]
    assert TROOPS_FILE not in files_in_index(pipeline)
    assert pipeline.index.status().files == 4
    answer = pipeline.ask("When did US troop levels in Iraq drop to 2,500?")
    assert all(TROOPS_FILE not in hit.files for hit in answer.hits)


def test_new_file_becomes_answerable(corpus: Path, make_settings) -> None:
    pipeline = Pipeline(make_settings(corpus))
    pipeline.ingest()
    (corpus / "flood.md").write_text(
        "# Floods close the port of Umm Qasr\n\nMarch 3, 2022\n\n"
        "Heavy rain flooded the docks of Umm Qasr on Tuesday, and the port authority said "
        "shipping would stay suspended for four days while pumps cleared the water.\n"
    )
    report = pipeline.ingest()
    assert report.added == ["flood.md"]
    answer = pipeline.ask("How many days will shipping stay suspended at Umm Qasr?")
    assert "four days" in answer.answer
    assert answer.citations[0].file == "flood.md"
    assert answer.citations[0].date == date(2022, 3, 3)


def test_other_chunking_settings_get_their_own_collection(corpus: Path, make_settings) -> None:
    default = Pipeline(make_settings(corpus))
    default.ingest()
    other = Pipeline(make_settings(corpus, chunk_size=96, chunk_overlap=16))
    assert other.settings.fingerprint != default.settings.fingerprint
    assert other.index.collection_name != default.index.collection_name
    assert other.index.status().files == 0  # nothing reused from the other fingerprint
    report = other.ingest()
    assert len(report.added) == 5
    assert other.index.status().chunks > default.index.status().chunks
    assert default.index.status().chunks == 55  # the first index is untouched


def test_a_second_ingest_is_told_to_wait(corpus: Path, make_settings) -> None:
    pipeline = Pipeline(make_settings(corpus))
    with pipeline.index.lock(), pytest.raises(IndexUnavailable, match="Another ingest"):
        Pipeline(make_settings(corpus)).ingest()


def test_asking_before_ingest_says_what_to_do(corpus: Path, make_settings) -> None:
    with pytest.raises(IndexUnavailable, match="run `rag ingest` first"):
        Pipeline(make_settings(corpus)).ask("Who is Kataib Hezbollah's spokesman?")


def test_bad_files_are_skipped_with_reasons_and_the_rest_indexed(
    corpus: Path, make_settings
) -> None:
    (corpus / "empty.txt").write_text("")
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (corpus / "notes.pdf").write_bytes(b"%PDF-1.4")
    (corpus / "chrome.txt").write_text("Recommended For You\n1589235127300.png\n")
    (corpus / ".hidden.txt").write_text("A hidden file is never read by the ingest step at all.")
    report = Pipeline(make_settings(corpus)).ingest()
    reasons = {s.name: s.reason for s in report.skipped}
    assert set(reasons) == {"empty.txt", "image.txt", "notes.pdf", "chrome.txt"}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["image.txt"]
    assert "unreadable PDF" in reasons["notes.pdf"]
    assert "no article text" in reasons["chrome.txt"]
    assert len(report.added) == 5


def test_latin1_file_is_read_and_answerable(corpus: Path, make_settings) -> None:
    (corpus / "latin.txt").write_bytes(
        "Café owners protest in Mosul\n\nJune 2, 2022\n\n"
        "Owners of the Café Nour in Mosul closed their doors on Sunday to protest against a "
        "new tax of 12 percent on restaurant bills.\n".encode("cp1252")
    )
    pipeline = Pipeline(make_settings(corpus))
    pipeline.ingest()
    answer = pipeline.ask("How big is the new tax on restaurant bills in Mosul?")
    assert "12 percent" in answer.answer
    assert pipeline.index.manifest().files["latin.txt"].encoding == "cp1252"


def test_an_unchanged_ingest_opens_neither_store_nor_keywords_and_writes_nothing(
    corpus: Path, make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rag.read._SETTLED_NS", 0)  # stamps are recorded at once
    settings = make_settings(corpus)
    Pipeline(settings).ingest()  # the first ingest seals the index it leaves whole
    index = Pipeline(settings).index
    manifest = index._manifest_path
    sealed = index.manifest().sealed
    assert sealed == index.seal() is not None
    before = (index.version(), manifest.stat().st_mtime_ns)

    def untouched(*args):  # noqa: ANN002, ANN202
        raise AssertionError("an unchanged ingest needs neither store nor keyword index")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "collection", property(untouched))  # Chroma is not opened
        patch.setattr(Bm25Index, "load", untouched)
        report = Pipeline(settings).ingest()
    assert (report.chunks_embedded, len(report.unchanged)) == (0, 5)
    assert (index.version(), manifest.stat().st_mtime_ns) == before

    # A changed file unseals the index while it is changed and seals it again after.
    (corpus / TROOPS_FILE).write_text((corpus / TROOPS_FILE).read_text() + "\nA drone flew.\n")
    assert Pipeline(settings).ingest().updated == [TROOPS_FILE]
    assert index.manifest().sealed == index.seal() != sealed  # a new keyword index


def test_a_killed_ingest_resumes_without_losing_or_doubling_chunks(
    corpus: Path, make_settings
) -> None:
    # Store each batch as it is embedded, so the kill leaves some chunks stored.
    settings = make_settings(corpus, embed_batch_size=8, store_batch_size=8)
    pipeline = Pipeline(settings)
    real = pipeline.embedder

    class DiesOnThirdBatch:
        name, dim, count_tokens = real.name, real.dim, real.count_tokens
        batches = 0

        def embed(self, texts):  # noqa: ANN001, ANN202
            self.batches += 1
            if self.batches == 3:
                raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-ingest
            return real.embed(texts)

    pipeline.__dict__["embedder"] = DiesOnThirdBatch()  # replaces the cached_property
    with pytest.raises(KeyboardInterrupt):
        pipeline.ingest()
    assert 0 < len(stored_ids(pipeline)) < 55  # two batches made it into the store
    assert pipeline.index.manifest().sealed is None  # the next ingest checks in full

    resumed = Pipeline(settings).ingest()
    assert resumed.chunks_embedded > 0 and not resumed.removed
    fresh = Pipeline(settings)
    assert len(stored_ids(fresh)) == fresh.index.status().chunks == 55
    assert_keyword_index_is_a_fresh_build(fresh)


def test_an_ingest_killed_before_its_keyword_update_is_finished_by_the_next(
    corpus: Path, make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(corpus)
    Pipeline(settings).ingest()
    (corpus / TROOPS_FILE).write_text((corpus / TROOPS_FILE).read_text() + "\nA drone flew.\n")

    def killed(table):  # noqa: ANN001, ANN202
        raise KeyboardInterrupt  # all chunks stored and saved, the BM25 index not yet updated

    with monkeypatch.context() as patch:
        patch.setattr(Bm25Index, "from_table", killed)
        with pytest.raises(KeyboardInterrupt):
            Pipeline(settings).ingest()
    resumed = Pipeline(settings)
    report = resumed.ingest()
    assert report.chunks_embedded == 0 and not report.changed  # every file was stored
    assert_keyword_index_is_a_fresh_build(resumed)


# -- the sync plan, without a store -------------------------------------------------------


def _parsed(name: str, sha: str, chunks: int = 1) -> ParsedFile:
    source = SourceFile(name, "", sha, "utf-8")
    piece = Chunk(f"{name}-id", name, sha, 0, "Title", None, 0, 1, "x")
    return ParsedFile(source, (), (piece,) * chunks)


@pytest.mark.parametrize(
    ("known", "read", "embed", "added", "updated", "removed", "dropped"),
    [
        ({}, {"b": "1", "a": "1"}, ["b", "a"], ["b", "a"], [], [], []),  # corpus order kept
        ({"a": ("1", True)}, {"a": "1"}, [], [], [], [], []),
        ({"a": ("1", True)}, {"a": "2"}, ["a"], [], ["a"], [], ["a"]),
        ({"a": ("1", False)}, {"a": "1"}, ["a"], [], ["a"], [], ["a"]),  # interrupted
        ({"a": ("1", True), "z": ("1", True)}, {}, [], [], [], ["a", "z"], ["a", "z"]),
        (
            {"c": ("1", True), "a": ("1", False), "b": ("1", True)},
            {"a": "1", "b": "1", "d": "1"},
            ["a", "d"], ["d"], ["a"], ["c"], ["a", "c"],
        ),  # fmt: skip
    ],
)
def test_plan(
    known: dict[str, tuple[str, bool]],
    read: dict[str, str],
    embed: list[str],
    added: list[str],
    updated: list[str],
    removed: list[str],
    dropped: list[str],
) -> None:
    files = {name: FileEntry(sha, complete=done) for name, (sha, done) in known.items()}
    manifest = Manifest("fp", "corpus", files)
    plan = Plan.of(manifest, {name: _parsed(name, sha) for name, sha in read.items()})
    assert (plan.embed, plan.added, plan.updated, plan.removed) == (embed, added, updated, removed)
    assert plan.dropped == dropped
    assert plan.unchanged == sorted(set(read) - set(embed))
    assert plan.changes == bool(embed or removed)
