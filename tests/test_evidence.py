"""Putting a citation back in its passage and article, so a reader can check it."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from rag.config import Settings
from rag.evidence import (
    Level,
    Mark,
    Segment,
    gather,
    mark,
    passage_of,
    split_at_passage,
    unsupported_marks,
)
from rag.manifest import ArticleEntry, FileEntry
from rag.types import Chunk, Citation, Claim, Hit

PLAIN, PASSAGE, QUOTE, UNSUPPORTED = Level.PLAIN, Level.PASSAGE, Level.QUOTE, Level.UNSUPPORTED

TEXT = (
    "Old story\nNothing happened.\n\n"
    "Troops leave\nJanuary 2, 2020\nThe troops left Baghdad. They went home. The end."
)
SECOND = TEXT.index("Troops leave")
ARTICLES = (
    ArticleEntry("Old story", None, None, 0, SECOND - 2, ((0, SECOND - 2),)),
    ArticleEntry("Troops leave", date(2020, 1, 2), "January 2, 2020", SECOND, len(TEXT),
                 ((SECOND, len(TEXT)),)),
)  # fmt: skip
PASSAGE_START = TEXT.index("The troops")
QUOTE_START = TEXT.index("They went")
QUOTED = "They went home."


SHA = hashlib.sha256(TEXT.encode()).hexdigest()


def chunk(
    file: str = "a.txt", start: int = PASSAGE_START, end: int = len(TEXT), sha: str = SHA
) -> Chunk:
    return Chunk("c", file, sha, 1, "Troops leave", date(2020, 1, 2), start, end, TEXT[start:end])


def citation(file: str = "a.txt") -> Citation:
    return Citation(
        1, file, "Troops leave", date(2020, 1, 2), QUOTED, QUOTE_START, QUOTE_START + len(QUOTED)
    )


@pytest.mark.parametrize(
    ("text", "offset", "marks", "segments"),
    [
        ("abcdef", 0, [], [("abcdef", PLAIN)]),
        ("abcdef", 0, [(2, 4, QUOTE)], [("ab", PLAIN), ("cd", QUOTE), ("ef", PLAIN)]),
        ("abcdef", 10, [(12, 14, PASSAGE)], [("ab", PLAIN), ("cd", PASSAGE), ("ef", PLAIN)]),
        (
            "abcdef",
            0,
            [(0, 6, PASSAGE), (2, 4, QUOTE)],
            [("ab", PASSAGE), ("cd", QUOTE), ("ef", PASSAGE)],
        ),
        (
            "abcdef",
            0,
            [(2, 4, QUOTE), (0, 6, PASSAGE)],
            [("ab", PASSAGE), ("cd", QUOTE), ("ef", PASSAGE)],
        ),
        ("abcdef", 10, [(5, 12, QUOTE)], [("ab", QUOTE), ("cdef", PLAIN)]),  # starts before
        ("abcdef", 0, [(4, 99, QUOTE)], [("abcd", PLAIN), ("ef", QUOTE)]),  # ends after
        ("abcdef", 0, [(7, 9, QUOTE)], [("abcdef", PLAIN)]),  # outside the text
        ("", 0, [(0, 1, QUOTE)], []),
    ],
)
def test_mark(
    text: str, offset: int, marks: list[Mark], segments: list[tuple[str, Level]]
) -> None:
    assert mark(text, offset, marks) == tuple(Segment(t, level) for t, level in segments)


def test_passage_of_finds_the_quoted_chunk_or_its_copy() -> None:
    other = chunk(start=0, end=SECOND - 2)
    copy = chunk(file="b.txt")
    hits = [Hit(other, 0.9), Hit(chunk(file="c.txt"), 0.8, (copy,))]
    assert passage_of(citation("b.txt"), hits) == copy
    assert passage_of(citation("a.txt"), hits) is None
    assert passage_of(citation("a.txt"), [Hit(chunk(), 0.5)]) == chunk()


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Settings, FileEntry]:
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    return Settings(corpus_dir=tmp_path), FileEntry(SHA, articles=ARTICLES, complete=True)


def test_gather_marks_the_quote_in_its_passage_and_article(
    corpus: tuple[Settings, FileEntry],
) -> None:
    settings, entry = corpus
    evidence = gather([citation()], [Hit(chunk(), 0.5)], entry, settings)
    assert evidence.problem is None
    assert evidence.article_title == "Troops leave"
    assert evidence.passage == (
        Segment("The troops left Baghdad. ", PLAIN),
        Segment(QUOTED, QUOTE),
        Segment(" The end.", PLAIN),
    )
    assert evidence.article == (
        Segment("Troops leave\nJanuary 2, 2020\n", PLAIN),
        Segment("The troops left Baghdad. ", PASSAGE),
        Segment(QUOTED, QUOTE),
        Segment(" The end.", PASSAGE),
    )
    assert "Nothing happened" not in "".join(s.text for s in evidence.article)


def test_gather_without_the_passage_still_marks_the_quote(
    corpus: tuple[Settings, FileEntry],
) -> None:
    settings, entry = corpus
    evidence = gather([citation()], [], entry, settings)
    assert evidence.passage == (Segment(QUOTED, QUOTE),)
    assert [s for s in evidence.article if s.level] == [Segment(QUOTED, QUOTE)]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("edit", "changed since it was indexed: re-index"),
        ("delete", "gone or changed since it was indexed: re-index"),
        ("unindexed", "no longer indexed: re-index"),
    ],
)
def test_gather_says_when_the_file_no_longer_matches_the_index(
    corpus: tuple[Settings, FileEntry], change: str, problem: str
) -> None:
    settings, entry = corpus
    path = settings.corpus_dir / "a.txt"
    if change == "edit":
        path.write_text("Inserted line.\n" + TEXT, encoding="utf-8")
    elif change == "delete":
        path.unlink()
    evidence = gather(
        [citation()], [Hit(chunk(), 0.5)], None if change == "unindexed" else entry, settings
    )
    assert problem in (evidence.problem or "")
    assert evidence.article == ()
    assert evidence.passage[1] == Segment(QUOTED, QUOTE), "the indexed passage is still shown"


def test_a_file_edited_and_re_indexed_since_the_answer_is_not_marked(
    corpus: tuple[Settings, FileEntry],
) -> None:
    # The answer quoted an older version of the file (its passage records that version's
    # hash); the index has the new one. Marking the old offsets in the new text would
    # highlight the wrong characters ("Al|i Hamid"): the card says what happened instead.
    settings, entry = corpus
    older = chunk(sha=hashlib.sha256(b"the version the answer quoted").hexdigest())
    evidence = gather([citation()], [Hit(older, 0.5)], entry, settings)
    assert "changed since this answer was made" in (evidence.problem or "")
    assert evidence.article == ()
    assert evidence.passage[1] == Segment(QUOTED, QUOTE), "the quoted passage is still shown"


def test_gather_refuses_a_file_name_leading_out_of_the_corpus(
    corpus: tuple[Settings, FileEntry], tmp_path: Path
) -> None:
    settings, entry = corpus
    outside = tmp_path.parent / "outside.txt"
    outside.write_text(TEXT, encoding="utf-8")
    evidence = gather([citation("../outside.txt")], [], entry, settings)
    assert evidence.problem is not None
    assert evidence.article == ()


@pytest.mark.parametrize(
    ("text", "claims", "marks"),
    [
        ("A. B.", [Claim("A.", (1,), True), Claim("B.", (2,), True)], []),
        (
            "A [1]. B [unsupported].",
            [Claim("A.", (1,), True), Claim("B.", (), False)],
            [(7, 23, UNSUPPORTED)],
        ),
        ("Said “no.” [2] Next.", [Claim("Said “no.”", (), False)], [(0, 14, UNSUPPORTED)]),
        (
            "Same. Same.",
            [Claim("Same.", (1,), True), Claim("Same.", (), False)],
            [(6, 11, UNSUPPORTED)],
        ),
        (
            "A [1, 2]. B [unsupported].",
            [Claim("A.", (1, 2), True), Claim("B.", (), False)],
            [(10, 26, UNSUPPORTED)],
        ),
        # Only citation markers belong to a sentence, not any bracketed words after it.
        ("A. B [sic].", [Claim("B", (), False)], [(3, 4, UNSUPPORTED)]),
        ("Reworded.", [Claim("Not in the text.", (), False)], []),
        ("X.", [Claim("...", (), False)], []),
        ("X.", [], []),
    ],
)
def test_unsupported_marks(text: str, claims: list[Claim], marks: list[Mark]) -> None:
    assert unsupported_marks(text, claims) == marks


def test_the_whole_article_leaves_out_the_page_clutter_between_its_parts(indexed) -> None:
    answer = indexed.ask("When did US troop levels in Iraq drop to 2,500?")
    citation = answer.citations[0]
    entry = indexed.index.manifest().files[citation.file]
    evidence = gather([citation], answer.hits, entry, indexed.settings)
    article = "".join(segment.text for segment in evidence.article)
    assert evidence.problem is None
    assert article.startswith("The Associated Press\n\nAn Iraqi F-16 Fighting Falcon")
    # The date line and the image file name sat between the byline and the story.
    assert "21 hours ago" not in article and "1617629543300.png" not in article
    assert citation.quote in article


def test_a_whole_article_is_cut_at_the_line_where_its_passage_starts() -> None:
    segments = (
        Segment("Headline text.\nFirst paragraph.\nSecond ", Level.PLAIN),
        Segment("paragraph with ", Level.PASSAGE),
        Segment("the quote", Level.QUOTE),
        Segment(".\nLast paragraph.", Level.PLAIN),
    )
    before, rest = split_at_passage(segments)
    assert "".join(s.text for s in before) == "Headline text.\nFirst paragraph.\n"
    assert rest[0] == Segment("Second ", Level.PLAIN)
    assert "".join(s.text for s in before + rest) == "".join(s.text for s in segments)
    # Nothing marked: all of it is "before"; marked from the start: nothing is.
    assert split_at_passage(segments[:1]) == (segments[:1], ())
    assert split_at_passage(segments[1:]) == ((), segments[1:])
