"""Saving uploaded files into the corpus: safe names, type and size checks, no overwrites."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.ingest import discover
from rag.uploads import MAX_STEM_CHARS, UploadError, remove_from_corpus, safe_name, save_upload

ARTICLE = b"Troops left Baghdad on Monday.\n\nThe ministry confirmed the move.\n"
LIMIT = 1000


@pytest.mark.parametrize(
    ("uploaded", "saved"),
    [
        ("report.txt", "report.txt"),
        ("Report.TXT", "Report.txt"),
        ("notes.md", "notes.md"),
        ("page.html", "page.html"),
        ("page.htm", "page.htm"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/etc/cron.d/job.txt", "job.txt"),
        ("C:\\Users\\me\\Desktop\\story.txt", "story.txt"),
        ("..\\..\\story.md", "story.md"),
        (".hidden.txt", "hidden.txt"),
        ("...story.txt", "story.txt"),
        ("my story (final).txt", "my_story_final.txt"),
        ("a;rm -rf ~;b.txt", "a_rm_-rf_b.txt"),
        ("Übersicht März.md", "Übersicht_März.md"),
        ("  spaced.txt  ", "spaced.txt"),
        ("x" * 300 + ".txt", "x" * MAX_STEM_CHARS + ".txt"),
    ],
)
def test_names_are_made_safe(uploaded: str, saved: str) -> None:
    assert safe_name(uploaded) == saved


@pytest.mark.parametrize(
    ("uploaded", "message"),
    [
        ("../../etc/passwd", "not an article file"),
        ("report.docx", "not an article file"),
        ("archive.tar.gz", "not an article file"),
        ("script.txt.exe", "not an article file"),
        ("README", "not an article file"),
        ("", "not an article file"),
        ("folder/", "not an article file"),
        ("story.txt.", "not an article file"),
        (".txt", "no usable name"),
        ("...txt", "no usable name"),
        ("../.txt", "no usable name"),
        ("???.md", "no usable name"),
    ],
)
def test_unusable_names_are_refused_with_what_to_do(uploaded: str, message: str) -> None:
    with pytest.raises(UploadError, match=message) as raised:
        safe_name(uploaded)
    assert "upload" in str(raised.value) or "rename" in str(raised.value)


def test_saves_into_the_corpus_where_ingest_finds_it(tmp_path: Path) -> None:
    path = save_upload(tmp_path, "../../outside.txt", ARTICLE, LIMIT)
    assert path == tmp_path.resolve() / "outside.txt"
    assert path.read_bytes() == ARTICLE
    assert not (tmp_path.parent.parent / "outside.txt").exists()
    assert [name for name, _ in discover(tmp_path)] == ["outside.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside.txt"], "staging file left"


def test_a_name_clash_gets_a_numbered_name_and_never_overwrites(tmp_path: Path) -> None:
    first = save_upload(tmp_path, "story.txt", ARTICLE, LIMIT)
    second = save_upload(tmp_path, "story.txt", b"Another story.\n", LIMIT)
    third = save_upload(tmp_path, "/tmp/story.txt", b"A third story.\n", LIMIT)
    assert [first.name, second.name, third.name] == ["story.txt", "story-2.txt", "story-3.txt"]
    assert first.read_bytes() == ARTICLE
    assert second.read_bytes() == b"Another story.\n"


def test_a_file_already_in_the_corpus_is_refused_under_any_name(tmp_path: Path) -> None:
    (tmp_path / "wire").mkdir()
    first = save_upload(tmp_path / "wire", "story.txt", ARTICLE, LIMIT)
    already = r"'copy\.txt' is already in the corpus as wire/story\.txt: nothing was added"
    with pytest.raises(UploadError, match=already):
        save_upload(tmp_path, "copy.txt", ARTICLE, LIMIT)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["story.txt", "wire"]
    assert first.read_bytes() == ARTICLE
    # The same size is not enough: other bytes are another article.
    other = bytes(reversed(ARTICLE.strip())) + b"\n"
    assert save_upload(tmp_path, "copy.txt", other, LIMIT).name == "copy.txt"


def test_a_link_in_the_way_is_not_followed(tmp_path: Path) -> None:
    corpus, outside = tmp_path / "corpus", tmp_path / "outside.txt"
    corpus.mkdir()
    outside.write_bytes(b"keep me")
    (corpus / "story.txt").symlink_to(outside)
    saved = save_upload(corpus, "story.txt", ARTICLE, LIMIT)
    assert saved.name == "story-2.txt"
    assert outside.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("data", "limit", "message"),
    [
        (b"", LIMIT, r"cannot be indexed \(empty file\): upload an article with text"),
        (b" \n\t\n", LIMIT, r"cannot be indexed \(empty file\)"),
        (b"x" * (LIMIT + 1), LIMIT, "above the 0.001 MB limit: split it or raise RAG_MAX_FILE_MB"),
        (b"\x00\x01\x02binary\x00" * 10, LIMIT, r"cannot be indexed \(binary file, not text\)"),
        (bytes(range(1, 32)) * 10, LIMIT, r"cannot be indexed \(binary file, not text\)"),
    ],
)
def test_bad_contents_are_refused_and_nothing_is_written(
    tmp_path: Path, data: bytes, limit: int, message: str
) -> None:
    with pytest.raises(UploadError, match=message):
        save_upload(tmp_path, "story.txt", data, limit)
    assert list(tmp_path.iterdir()) == [], "neither the file nor its staging copy is left"


def test_a_file_at_the_limit_is_accepted(tmp_path: Path) -> None:
    assert save_upload(tmp_path, "story.txt", b"a" * LIMIT, LIMIT).stat().st_size == LIMIT


def test_a_missing_corpus_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(UploadError, match="does not exist"):
        save_upload(tmp_path / "nope", "story.txt", ARTICLE, LIMIT)


def test_a_wrong_type_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(UploadError, match="upload one of .htm, .html, .markdown, .md, .pdf, .txt"):
        save_upload(tmp_path, "evil.sh", b"#!/bin/sh\n", LIMIT)
    assert os.listdir(tmp_path) == []


def test_a_pdf_with_text_is_accepted_and_a_fake_one_refused(tmp_path: Path) -> None:
    from tests.test_pdf import FLOOD_PDF

    assert save_upload(tmp_path, "flood.pdf", FLOOD_PDF, 10**6).name == "flood.pdf"
    with pytest.raises(UploadError, match=r"cannot be indexed \(unreadable PDF"):
        save_upload(tmp_path, "fake.pdf", b"%PDF-1.4 nothing else", 10**6)
    assert [p.name for p in tmp_path.iterdir()] == ["flood.pdf"]


def test_a_removed_file_is_moved_aside_never_deleted(tmp_path: Path) -> None:
    first = save_upload(tmp_path, "story.txt", ARTICLE, LIMIT)
    moved = remove_from_corpus(tmp_path, "story.txt")
    assert moved == tmp_path.resolve() / ".removed" / "story.txt"
    assert moved.read_bytes() == ARTICLE and not first.exists()
    assert [name for name, _ in discover(tmp_path)] == [], "ingest no longer reads it"
    save_upload(tmp_path, "story.txt", ARTICLE, LIMIT)  # a removed file is no duplicate
    assert remove_from_corpus(tmp_path, "story.txt").name == "story-2.txt"


@pytest.mark.parametrize("name", ["missing.txt", "../outside.txt", ".removed/story.txt", "."])
def test_only_a_corpus_file_can_be_removed(tmp_path: Path, name: str) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (tmp_path / "outside.txt").write_bytes(ARTICLE)
    with pytest.raises(UploadError, match="is not a file of the corpus: nothing was removed"):
        remove_from_corpus(corpus, name)
    assert (tmp_path / "outside.txt").exists()
