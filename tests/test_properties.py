"""Properties that must hold for any input: cleaning, dates, chunk offsets, answer matching."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.clean import articles_from_text, is_clutter
from rag.dates import find_date
from rag.eval.metrics import contains
from rag.ingest import Chunker
from rag.sentences import sentence_spans, split_keeping_text
from rag.types import SourceFile

WORDS = st.sampled_from(
    "the troops left Baghdad on Monday said official rockets 2,500 U.S. Kadhimi port "
    "strike Basra protest council budget water".split()
)
SENTENCE = st.builds(
    lambda words, end: " ".join(words).capitalize() + end,
    st.lists(WORDS, min_size=3, max_size=25),
    st.sampled_from([".", "?", "!", '."', ""]),
)
CLUTTER = st.sampled_from(
    ["1589235127300.png", "Recommended For You", "6 + 9 =", "Add new comment", "0",
     "Administrator", "Joined", "Nov 17, 2017", "Source Link:", "24,463 1,293 0"]
)  # fmt: skip
LINE = st.one_of(SENTENCE, CLUTTER, st.just(""), st.text(max_size=40))
PAGE = st.lists(LINE, max_size=40).map("\n".join)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(PAGE)
def test_cleaning_keeps_exact_spans_and_drops_clutter(text: str) -> None:
    for article in articles_from_text("f.txt", text):
        assert article.title
        for section in article.sections:
            assert text[section.start : section.end] == section.text
            for line in section.text.splitlines():
                assert not is_clutter(line)


@FAST
@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2049, 12, 31)), st.integers(0, 4))
def test_written_dates_are_read_back(day: date, style: int) -> None:
    written = [
        f"{day:%B} {day.day}, {day.year}",
        f"Updated {day:%d %B %Y}",
        f"{day:%b} {day:%d},{day.year}",
        f"{day:%A} {day.day} {day:%B %Y}",
        day.isoformat(),
    ][style]
    found = find_date(f"Posted: {written} 16:30 GMT")
    assert found is not None and found[0] == day


@FAST
@given(st.text(max_size=300))
def test_dates_never_raise_and_are_real_dates(text: str) -> None:
    found = find_date(text)
    assert found is None or (isinstance(found[0], date) and found[1] in text)


@FAST
@given(st.lists(SENTENCE, min_size=1, max_size=60), st.integers(8, 60))
def test_chunks_are_exact_spans_of_the_file(sentences: list[str], size: int) -> None:
    # Numbered, so no stretch of text repeats: pieces are found by their text, and where
    # text repeats exactly any copy is an equally exact span (asserted first below).
    body = "\n".join(f"{n} {sentence}" for n, sentence in enumerate(sentences))
    text = f"A headline about the port\n\nMay 2, 2022\n\n{body}\n"
    chunker = Chunker(size, size // 4, lambda piece: len(piece.split()))
    source = SourceFile("f.txt", text, "sha", "utf-8")
    parsed = chunker.parse(source)
    for chunk in parsed.chunks:
        assert text[chunk.start : chunk.end] == chunk.text
    if parsed.articles:
        kept = {i for a in parsed.articles for s in a.sections for i in range(s.start, s.end)}
        covered = {i for c in parsed.chunks for i in range(c.start, c.end)}
        assert {i for i in kept if not text[i].isspace()} <= covered


@FAST
@given(st.lists(st.one_of(SENTENCE, st.sampled_from(["", " ", "\n"])), max_size=14),
       st.integers(8, 60))  # fmt: skip
def test_a_section_is_split_as_llama_index_splits_it(pieces: list[str], size: int) -> None:
    # Sections that fit in a chunk skip the splitter (and its import); either way the
    # passages must be what llama-index's splitter makes of the section.
    from llama_index.core.node_parser import SentenceSplitter

    text = " ".join(pieces)
    chunker = Chunker(size, size // 4, lambda piece: len(piece.split()))
    splitter = SentenceSplitter(
        chunk_size=size,
        chunk_overlap=size // 4,
        paragraph_separator="\n\n",
        tokenizer=lambda piece: piece.split(),
        chunking_tokenizer_fn=split_keeping_text,
    )
    expected = [piece for piece in splitter.split_text(text) if piece]
    assert chunker.split(text) == expected


@FAST
@given(st.text(max_size=400))
def test_sentences_cover_the_text_in_order(text: str) -> None:
    spans = sentence_spans(text)
    assert all(a < b for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:], strict=False))
    assert "".join(split_keeping_text(text)) == text


@FAST
@given(st.lists(WORDS, min_size=1, max_size=12), st.lists(WORDS, max_size=12),
       st.lists(WORDS, max_size=12))  # fmt: skip
def test_an_alias_is_found_wherever_it_is_quoted(alias, before, after) -> None:
    answer = " ".join([*before, *alias, *after])
    assert contains(answer, " ".join(alias))
    assert contains(answer.upper() + ".", " ".join(alias).lower())
