"""Tests for rag.clean (clutter, article splitting on the real corpus) and rag.read (decoding)."""

from __future__ import annotations

import codecs
import hashlib
from datetime import date
from pathlib import Path

import pytest

from rag.clean import articles_from_text, is_clutter
from rag.read import decode, html_to_text, read_source
from rag.types import Skipped, SourceFile

CORPUS = Path(__file__).parent.parent / "corpus"
MB = 1_000_000

# ---------------------------------------------------------------------------------------------
# (a) is_clutter


@pytest.mark.parametrize(
    "line",
    [
        "1589235127300.png",
        "photo.JPG",
        "banner.webp",
        "View attachment 15039",
        "0",
        "12,324",
        "24,463 1,293 0",
        "20 users have voted.",
        "1 user has voted",
        "6 + 9 =",
        "This question is for testing whether or not you are a human visitor and to prevent "
        "automated spam submissions.",
        "Solve this simple math problem and enter the result. E.g. for 1+3, enter 4.",
        "Add new comment",
        "Recommended For You",
        "Source Link:",
        "You are here",
        "Powered by automated translation",
        "Get top stories and blog posts emailed to you each day.",
        "Iraq News & Discussions | Page 13 | World Defense",
        "Top",
        "  Top  ",  # surrounding whitespace does not matter
        "Related",
    ],
)
def test_clutter(line: str) -> None:
    assert is_clutter(line)


@pytest.mark.parametrize(
    "line",
    [
        "Maj. Gen. Tahseen al-Khafaji said the rockets landed outside Balad air base after midday.",
        "About 2,500 U.S. troops remain in Iraq helping the ISF combat the IS, according to the "
        "Pentagon.",
        "Iran-backed groups urge full US withdrawal from Iraq",  # a headline
        "Iraq News & Discussions",  # the forum's heading without the "| Page n |" title shape
        "With reporting by AFP, AP, and dpa",
        "Top officials met in Baghdad.",  # starts with a clutter word, but is a sentence
        "The Associated Press",
        "a photo.png in the middle of a line",
        "Nov 17, 2017",
    ],
)
def test_not_clutter(line: str) -> None:
    assert not is_clutter(line)


# ---------------------------------------------------------------------------------------------
# (b) Article splitting on the real corpus
#
# Expected values read off the files by hand: (title, date, date_text, a sentence near the start
# of the body, how the article's text ends).

EXPECTED: dict[str, list[tuple[str, date | None, str | None, str, str]]] = {
    "000_3457b9917c9ed967.txt": [
        (
            "Iran-backed groups urge full US withdrawal from Iraq",
            date(2018, 2, 6),
            "Updated 06 February 2018",
            "BAGHDAD: Two major Iraqi Shiite groups backed by Iran are demanding",
            "there is concern about surviving fighters returning to insurgency tactics.",
        ),
        (
            "One dead in new protests in southern Iraq: medical source",
            date(2018, 7, 20),
            "Updated 20 July 2018",
            "Diwaniyah, Iraq: A man was killed Friday",
            "Demonstrators also surrounded the home of Nasiriyah's governor where security "
            "forces responded with tear gas.",
        ),
    ],
    "001_7dc582d85285662e.txt": [
        (
            "Iran-backed groups urge complete US withdrawal from Iraq",
            None,
            None,
            # This file writes some spaces as no-break spaces (U+00A0).
            "Two Iraqi groups backed by Iran are demanding all US\u00a0forces leave Iraq",
            "there is concern about fighters returning to insurgency tactics.",
        ),
    ],
    "002_982d4678ac49a3e8.txt": [
        (
            "Iraq Targets Iran-Aligned Militia Over Shooting Death Of Protester",
            date(2020, 5, 11),
            "May 11, 2020",
            "Iraqi security forces have raided the office of an Iran-aligned party",
            "With reporting by AFP, AP, and dpa",
        ),
        (
            "Iran's Zarif In Baghdad As Iraq Seeks To Balance Regional Ties",
            date(2020, 7, 19),
            "July 19, 2020 16:30 GMT",
            "Iran's foreign minister has held a series of meetings",
            "With reporting by AFP, AP, dpa, and Reuters",
        ),
        (
            "Iran-Backed Militia Behind Irbil Rocket Attack, Says Iraqi Kurdish Security Agency",
            date(2020, 9, 30),
            "September 30, 2020",
            "A suspected Iran-backed militia launched at least six rockets",
            "at a military base in the northern Iraqi city of Kirkuk.",
        ),
        (
            "U.S. Says It 'Can't Tolerate' Attacks By Iranian-Backed Militias In Iraq",
            None,
            None,
            "Washington has warned that it will not tolerate attacks",
            "With reporting by Reuters and AFP",
        ),
        (
            "Rockets hit near Iraq base housing US trainers, no one hurt",
            None,
            "21 hours ago",
            "BAGHDAD — Two rockets landed Sunday near an Iraqi air base",
            "an Iraqi militia leader in Baghdad in January 2020.",
        ),
        (
            "United States, Iraq reach agreement on plans to withdraw U.S. combat troops",
            date(2021, 4, 7),
            "April 7, 2021",
            "April 7 (UPI) -- The United States and Iraq on Wednesday reached an agreement",
            "said Kirby, using an alternate abbreviation for the terror group.",
        ),
    ],
    "003_aada9badebe01919.txt": [
        (
            "Iran-backed Iraqi groups urge full US withdrawal, hardliners threaten attacks",
            date(2018, 2, 7),
            "By Reuters - Feb 07,2018 - Last updated at Feb 07,2018",
            "BAGHDAD — Two Iraqi Shiite groups backed by Iran are demanding",
            "The group continues to carry out attacks and bombings across the country, "
            "including in Baghdad.",
        ),
    ],
    "004_a2aa68af86f12e80.txt": [
        (
            "Pro-Iran groups welcome US vow to end Iraq combat operations",
            None,
            None,
            "BAGHDAD: Several powerful pro-Iran groups in Iraq on Tuesday welcomed",
            "who was later killed by a US drone strike in Iraq.",
        ),
    ],
}

# Sentences from the middle of stories that cleaning must keep.
MUST_SURVIVE = {
    "000_3457b9917c9ed967.txt": [
        "Brig. Gen. Jonathan Braga, said in a statement on Monday.",
        "Diwaniyah, Iraq: A man was killed Friday",
    ],
    "001_7dc582d85285662e.txt": ["The Pentagon\u00a0says\u00a0it has about 5,300 troops in Iraq"],
    "002_982d4678ac49a3e8.txt": [
        "In late 2020, U.S. troop levels in Iraq was reduced to 2,500",
        "Maj. Gen. Tahseen al-Khafaji said the rockets landed outside Balad air base",
        "About 2,500 U.S. troops remain in Iraq helping the ISF combat the IS",
        "Kadhimi also promoted Lieutenant General Abdul Wahab al-Saadi",
    ],
    "003_aada9badebe01919.txt": ["including in Baghdad."],
    "004_a2aa68af86f12e80.txt": ["influential Shiite cleric Moqtada Al-Sadr also welcomed"],
}

# Page furniture of the corpus that no article text may contain.
FORBIDDEN = [
    "Administrator",
    "Staff member",
    "Joined",
    "Messages",
    "Reactions",
    "Khafee",
    "12,324",
    ".png",
    "View attachment",
    "6 + 9",
    "Recommended For You",
    "Source Link",
    "users have voted",
    "Add new comment",
    "You are here",
    "Powered by automated translation",
    "Get top stories",
    "Iraq News & Discussions",
    "Thursday 21 February 2019",  # the page's own date after the story
]


def corpus_text(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


def corpus_articles(name: str):  # noqa: ANN201
    return articles_from_text(name, corpus_text(name))


def all_articles() -> list[tuple[str, int]]:
    return [(name, i) for name, expected in EXPECTED.items() for i in range(len(expected))]


def test_expected_table_covers_the_whole_corpus() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.txt")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_read_source_gives_the_file_text_of_each_corpus_file(name: str) -> None:
    source = read_source(CORPUS / name, name, 20 * MB)
    assert isinstance(source, SourceFile)
    assert source.encoding == "utf-8"
    assert source.text == corpus_text(name)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_article_count_titles_and_dates(name: str) -> None:
    articles = corpus_articles(name)
    assert [(a.title, a.date, a.date_text) for a in articles] == [
        (title, day, date_text) for title, day, date_text, _, _ in EXPECTED[name]
    ]
    assert all(a.file == name for a in articles)


@pytest.mark.parametrize(("name", "index"), all_articles())
def test_article_body_starts_and_ends_where_the_story_does(name: str, index: int) -> None:
    article = corpus_articles(name)[index]
    _, _, _, opening, ending = EXPECTED[name][index]
    assert opening in article.text
    assert article.text.endswith(ending)


# ---------------------------------------------------------------------------------------------
# (c) Every article of every file: exact spans, no clutter, body kept, header dropped


@pytest.mark.parametrize(("name", "index"), all_articles())
def test_sections_are_exact_spans_of_the_file(name: str, index: int) -> None:
    text = corpus_text(name)
    article = corpus_articles(name)[index]
    assert article.sections
    for section in article.sections:
        assert 0 <= section.start < section.end <= len(text)
        assert section.text == text[section.start : section.end]
        assert section.text == section.text.strip()
    # In file order, not overlapping.
    bounds = [(s.start, s.end) for s in article.sections]
    pairs = zip(bounds, bounds[1:], strict=False)
    assert all(a_end < b_start for (_, a_end), (b_start, _) in pairs)
    assert article.text == "\n\n".join(s.text for s in article.sections)


def test_articles_of_a_file_do_not_overlap() -> None:
    articles = corpus_articles("002_982d4678ac49a3e8.txt")
    assert all(a.end < b.start for a, b in zip(articles, articles[1:], strict=False))


@pytest.mark.parametrize(("name", "index"), all_articles())
def test_no_clutter_survives(name: str, index: int) -> None:
    article = corpus_articles(name)[index]
    assert [line for line in article.text.splitlines() if is_clutter(line)] == []
    assert [word for word in FORBIDDEN if word in article.text] == []


@pytest.mark.parametrize(("name", "index"), all_articles())
def test_title_and_date_lines_are_not_article_text(name: str, index: int) -> None:
    article = corpus_articles(name)[index]
    lines = [line.strip() for line in article.text.splitlines()]
    assert article.title not in lines
    if article.date_text is not None:
        assert article.date_text not in lines


@pytest.mark.parametrize("name", sorted(MUST_SURVIVE))
def test_body_sentences_survive(name: str) -> None:
    text = "\n".join(a.text for a in corpus_articles(name))
    for sentence in MUST_SURVIVE[name]:
        assert sentence in text


def test_a_dated_tweet_inside_a_post_stays_in_the_post() -> None:
    # "— Government of Iraq ... May 11, 2020" looks like a date line but sits mid-story.
    first = corpus_articles("002_982d4678ac49a3e8.txt")[0]
    assert "(@IraqiGovt) May 11, 2020" in first.text
    assert "Protesters in Baghdad, Basra, and other cities" in first.text


def test_repeated_title_inside_the_page_is_dropped() -> None:
    # 000 prints each headline twice (above the photo and above the story).
    text = corpus_text("000_3457b9917c9ed967.txt")
    title = "Iran-backed groups urge full US withdrawal from Iraq"
    assert text.count(title) == 2
    assert title not in corpus_articles("000_3457b9917c9ed967.txt")[0].text


# ---------------------------------------------------------------------------------------------
# (d) rag.read: decode() and read_source()


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        ("Baghdad — café".encode(), "Baghdad — café", "utf-8"),
        (codecs.BOM_UTF8 + "Baghdad — café".encode(), "Baghdad — café", "utf-8-sig"),
        ("Baghdad — café".encode("utf-16-le"), None, None),  # no BOM: NULs, not text
        (codecs.BOM_UTF16_LE + "Baghdad — café".encode("utf-16-le"), "Baghdad — café", "utf-16"),
        (codecs.BOM_UTF16_BE + "Baghdad — café".encode("utf-16-be"), "Baghdad — café", "utf-16"),
        # Windows-1252: 0x93/0x94 are curly quotes there (control codes in Latin-1).
        (b"caf\xe9 \x93quoted\x94", "café “quoted”", "cp1252"),
        # 0x81 is undefined in Windows-1252: Latin-1 takes any byte.
        (b"caf\xe9 \x81", "café \x81", "latin-1"),
        (b"one\r\ntwo\rthree\n", "one\ntwo\nthree\n", "utf-8"),
        (b"caf\xe9\r\n", "café\n", "cp1252"),
        (b"", "", "utf-8"),
    ],
)
def test_decode(data: bytes, text: str | None, encoding: str | None) -> None:
    expected = None if text is None else (text, encoding)
    assert decode(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04\x00\x00binary",  # a NUL byte
        bytes(range(1, 32)) * 3 + b"abc",  # mostly control characters
        b"%PDF-1.4\n" + bytes([1, 2, 3, 4, 5, 6]) * 10,
    ],
)
def test_decode_refuses_binary(data: bytes) -> None:
    assert decode(data) is None


@pytest.mark.parametrize(
    "bom_and_codec",
    [
        pytest.param(
            (codecs.BOM_UTF8, "utf-8"),
        ),
        pytest.param(
            (codecs.BOM_UTF16_LE, "utf-16-le"),
        ),
    ],
)
def test_decode_normalises_crlf_after_a_bom(bom_and_codec: tuple[bytes, str]) -> None:
    bom, codec = bom_and_codec
    decoded = decode(bom + "one\r\ntwo".encode(codec))
    assert decoded is not None
    assert decoded[0] == "one\ntwo"


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_read_source_text_file(tmp_path: Path) -> None:
    data = b"Rockets hit Balad.\r\nNo one was hurt.\r\n"
    source = read_source(write(tmp_path / "a.txt", data), "a.txt", MB)
    assert source == SourceFile(
        "a.txt", "Rockets hit Balad.\nNo one was hurt.\n", hashlib.sha256(data).hexdigest(), "utf-8"
    )


@pytest.mark.parametrize("suffix", [".txt", ".md", ".markdown", ".TXT"])
def test_read_source_accepts_text_suffixes(tmp_path: Path, suffix: str) -> None:
    source = read_source(write(tmp_path / f"a{suffix}", b"text"), "a", MB)
    assert isinstance(source, SourceFile)
    assert source.text == "text"


def test_read_source_windows_1252_file(tmp_path: Path) -> None:
    source = read_source(write(tmp_path / "w.txt", b"caf\xe9 \x93quoted\x94"), "w.txt", MB)
    assert isinstance(source, SourceFile)
    assert (source.text, source.encoding) == ("café “quoted”", "cp1252")


def test_read_source_utf16_file(tmp_path: Path) -> None:
    data = codecs.BOM_UTF16_LE + "Zarif in Baghdad".encode("utf-16-le")
    source = read_source(write(tmp_path / "u.txt", data), "u.txt", MB)
    assert isinstance(source, SourceFile)
    assert (source.text, source.encoding) == ("Zarif in Baghdad", "utf-16")


@pytest.mark.parametrize(
    ("data", "word"),
    [
        (b"\x00\x01\x02binary\x00", "binary"),
        (b"", "empty"),
        (b"  \n\t\r\n  ", "empty"),
        (codecs.BOM_UTF8, "empty"),
    ],
)
def test_read_source_skips_binary_and_empty(tmp_path: Path, data: bytes, word: str) -> None:
    result = read_source(write(tmp_path / "x.txt", data), "x.txt", MB)
    assert isinstance(result, Skipped)
    assert result.name == "x.txt"
    assert word in result.reason


@pytest.mark.parametrize("suffix", [".docx", ".odt"])
def test_read_source_skips_unsupported_type(tmp_path: Path, suffix: str) -> None:
    result = read_source(write(tmp_path / f"report{suffix}", b"some text"), "report", MB)
    assert isinstance(result, Skipped)
    assert suffix in result.reason
    assert "unsupported" in result.reason


def test_read_source_skips_file_without_suffix(tmp_path: Path) -> None:
    result = read_source(write(tmp_path / "README", b"some text"), "README", MB)
    assert isinstance(result, Skipped)
    assert "(none)" in result.reason


def test_read_source_skips_file_over_the_size_limit(tmp_path: Path) -> None:
    result = read_source(write(tmp_path / "big.txt", b"a" * 1_200_000), "big.txt", MB)
    assert isinstance(result, Skipped)
    assert "1.2 MB" in result.reason
    assert "1 MB limit" in result.reason
    assert "RAG_MAX_FILE_MB" in result.reason


def test_read_source_accepts_a_file_exactly_at_the_limit(tmp_path: Path) -> None:
    result = read_source(write(tmp_path / "edge.txt", b"a" * 100), "edge.txt", 100)
    assert isinstance(result, SourceFile)


PAGE = """<!doctype html>
<html><head><title>Rockets hit Balad</title>
<style>p { color: red }</style>
<script>var tracking = "do not index";</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<h1>Rockets hit Balad</h1>
<p>Two rockets landed   near the base &amp; no one was hurt.</p>
<p>Officials said the talks<br>would go on.</p>
<footer>Copyright 2021 Example News</footer>
</body></html>"""

PAGE_TEXT = (
    "Rockets hit Balad\n\n"
    "Rockets hit Balad\n\n"
    "Two rockets landed near the base & no one was hurt.\n\n"
    "Officials said the talks\n\nwould go on."
)


def test_html_to_text() -> None:
    text = html_to_text(PAGE)
    for furniture in ["color", "tracking", "do not index", "Home", "World", "Copyright"]:
        assert furniture not in text
    assert "Two rockets landed near the base & no one was hurt." in text.splitlines()
    assert "&amp;" not in text
    assert text == PAGE_TEXT


SITE_TITLE = "<title>Rockets hit Balad | Gulf Wire</title>"
STORY = "Two rockets landed near the base and no one was hurt, officials said on Sunday."
BODY = f"<p>{STORY}</p>"


@pytest.mark.parametrize(
    ("head", "body", "title"),
    [
        (f'{SITE_TITLE}<meta property="og:title" content="Two rockets hit Balad air base">',
         f"<h1>Rockets hit Balad air base</h1>{BODY}", "Two rockets hit Balad air base"),
        (SITE_TITLE, f"<h1>Rockets hit <em>Balad</em> air base</h1>{BODY}",
         "Rockets hit Balad air base"),
        (SITE_TITLE, BODY, "Rockets hit Balad | Gulf Wire"),  # nothing better than <title>
    ],
)  # fmt: skip
def test_an_html_article_is_titled_by_its_own_headline(head: str, body: str, title: str) -> None:
    page = f"<html><head>{head}</head><body>{body}</body></html>"
    (article,) = articles_from_text("page.html", html_to_text(page))
    assert article.title == title
    assert article.text.endswith(STORY)
    assert "Gulf Wire" not in article.text


@pytest.mark.parametrize("suffix", [".html", ".htm"])
def test_read_source_extracts_html(tmp_path: Path, suffix: str) -> None:
    source = read_source(write(tmp_path / f"page{suffix}", PAGE.encode()), "page", MB)
    assert isinstance(source, SourceFile)
    assert source.text == PAGE_TEXT
    assert source.sha256 == hashlib.sha256(PAGE.encode()).hexdigest()


def test_read_source_skips_html_with_no_visible_text(tmp_path: Path) -> None:
    page = b"<html><script>var x = 1;</script><nav>Home</nav></html>"
    result = read_source(write(tmp_path / "blank.html", page), "blank.html", MB)
    assert isinstance(result, Skipped)
    assert result.reason == "no text in the page"


@pytest.mark.parametrize(
    ("text", "day"),
    [
        # One sentence, no headline: the sentence is the article (it was dropped as its title).
        ("Season 3 of Netflix series The Crown premiered on November 17, 2019.", None),
        # No line in sentences at all (a search snippet): its text is the article.
        ("Who's making Assassin's Creed: Crew List ; Director. Justin Kurzel ; Screenwriters",
         None),
        # A date stamp opening the text is the article's date; the text keeps it.
        ("Nov 12, 2020 ... Grey's Anatomy season 17 will premiere on Thursday, Nov. 12.",
         date(2020, 11, 12)),
        ("12 May 2019 - Ministers met in Basra to agree the new port budget on Sunday.",
         date(2019, 5, 12)),
        # A wire dateline: the place, the date, the agency.
        ("LONDON, 14 March 2024 (Reuters) - Shares in the lender rose after it cut jobs.",
         date(2024, 3, 14)),
        ("NEW YORK (AP), March 14, 2024 — The city council approved the budget on Thursday.",
         date(2024, 3, 14)),
    ],
)  # fmt: skip
def test_a_file_without_a_headline_keeps_its_text(text: str, day: date | None) -> None:
    (article,) = articles_from_text("snippet.txt", text + "\n")
    assert (article.text, article.date) == (text, day)
    assert text.startswith(article.title.removesuffix(" ...")), "titled by its first words"


def test_a_date_inside_the_first_sentence_is_not_a_stamp() -> None:
    (article,) = articles_from_text("a.txt", "May 2, 2022 was the day the long strike ended.\n")
    assert article.date is None
    sentence = "In London, May 2, 2022 - the day it ended - was wet.\n"
    (article,) = articles_from_text("b.txt", sentence)
    assert article.date is None, "a phrase before the date is not a dateline's place"


def test_a_headed_article_takes_its_dateline_date_as_stated() -> None:
    text = (
        "Lender cuts jobs\n\nLONDON, 14 March 2024 (Reuters) - Shares in the lender rose "
        "after it said it would cut 2,000 jobs. It said on 1 March 2024 that it would.\n"
    )
    (article,) = articles_from_text("upload.txt", text)
    assert (article.date, article.date_evidence) == (date(2024, 3, 14), None), "stated"
