"""Turn a scraped page into clean articles: drop web clutter, split multi-article files.

Works line by line and never rewrites text: every kept line is a span of the original file,
so a citation can point at the exact characters it quotes.

A file is cut into segments at forum chrome (user name, role, join date, counters), and a
segment into articles where a headline is followed by a date line after body text has
already been seen. A line is "body" when it reads like a sentence of the story.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import Enum

from rag.dates import dates_in, estimate_published, leading_date, parse_date_line
from rag.types import Article, Span

# Lines that belong to the page, not to the story. Matched against the stripped line.
CLUTTER_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in [
        r"^\S+\.(?:png|jpe?g|gif|webp|svg|bmp)$",  # image file names
        r"^!\[[^\]]*\]\([^)]*\)$",  # markdown image
        r"^view attachment \d+$",
        r"^[\d\s.,]+$",  # counters: votes, reactions ("24,463 1,293 0")
        r"^\d+ users? (?:have|has) voted\.?$",
        r"^\d+\s*[-+x×*]\s*\d+\s*=\s*\??$",  # spam check ("6 + 9 =")
        r"^this question is for testing whether",
        r"^solve this simple math problem",
        r"^add new comment$",
        r"^(?:leave a|post a|add a) (?:comment|reply)",
        r"^you are here$",
        r"^recommended for you$",
        r"^source link\b",
        r"^powered by automated translation$",
        r"^get top stories and blog posts emailed",
        r"^(?:sign up|subscribe) (?:to|for) (?:our|the) newsletter",
        r"^(?:share|share this|share this article|print|email|tweet|top|advertisement)$",
        r"^(?:related|read more|more from)\b.{0,30}$",
        r"^.{1,80} \| page \d+ \| .{1,80}$",  # forum page title ("Iraq News | Page 13 | Site")
    ]
]

# Forum chrome: the poster's card that precedes each post.
_ROLE = re.compile(
    r"^(?:administrator|super moderator|moderator|staff member|well-known member|"
    r"new member|senior member|member|banned)$",
    re.IGNORECASE,
)
_CARD_FIELD = re.compile(r"^(?:joined|messages|reactions|points|trophy points|location)$", re.I)
_USER_NAME_MAX_WORDS = 3

# A line of the story itself: long enough, and ends like a sentence (or a quote of one).
_BODY_MIN_WORDS = 8
_SENTENCE_END = (".", "!", "?", '"', "”", "’", "'", ".)")
# A headline is short and does not end like a sentence.
_HEADLINE_MAX_WORDS = 22
# How far above a date line its headline may be (captions and bylines sit in between).
_HEADLINE_LOOKBACK = 4
_RELATIVE_DATE = re.compile(
    r"^(?:\d+|an?|one|two|three) (?:minute|hour|day|week)s? ago$|^(?:today|yesterday)$", re.I
)


class Kind(Enum):
    """What a line of a page is."""

    BLANK = "blank"
    CLUTTER = "clutter"
    CHROME = "chrome"
    DATE = "date"
    TEXT = "text"
    SNIPPET = "snippet"  # text that is not in sentences, in a file with no other story text


@dataclass
class Line:
    """One line of a file, located by offsets, with its kind."""

    start: int
    end: int
    text: str
    kind: Kind

    @property
    def words(self) -> int:
        return len(self.text.split())

    @property
    def is_body(self) -> bool:
        return self.kind is Kind.SNIPPET or (
            self.kind is Kind.TEXT
            and self.words >= _BODY_MIN_WORDS
            and self.text.endswith(_SENTENCE_END)
        )

    @property
    def is_headline(self) -> bool:
        return (
            self.kind is Kind.TEXT
            and self.words <= _HEADLINE_MAX_WORDS
            and not self.text.endswith(_SENTENCE_END)
            and not self.text.endswith(":")
        )


def is_clutter(line: str) -> bool:
    """True for a page line that is not article text (image names, forms, counters...)."""
    stripped = line.strip()
    return any(pattern.search(stripped) for pattern in CLUTTER_PATTERNS)


def split_lines(text: str) -> list[Line]:
    """Every line of `text`, stripped, with its offsets and a first guess at its kind."""
    lines: list[Line] = []
    for match in re.finditer(r"[^\n]*", text):
        raw = match.group(0)
        stripped = raw.strip()
        if not stripped:
            if match.start() != match.end() or not lines or lines[-1].end != match.start():
                lines.append(Line(match.start(), match.start(), "", Kind.BLANK))
            continue
        start = match.start() + (len(raw) - len(raw.lstrip()))
        line = Line(start, start + len(stripped), stripped, Kind.TEXT)
        if is_clutter(stripped):
            line.kind = Kind.CLUTTER
        elif parse_date_line(stripped) or _RELATIVE_DATE.match(stripped):
            line.kind = Kind.DATE
        lines.append(line)
    _mark_forum_chrome([line for line in lines if line.kind is not Kind.BLANK])
    return lines


def _mark_forum_chrome(lines: list[Line]) -> None:
    """Mark poster cards: name, role lines, and each card field with its value."""
    for i, line in enumerate(lines):
        if _ROLE.match(line.text):
            line.kind = Kind.CHROME
            before = lines[i - 1] if i else None
            if (
                before is not None
                and before.kind is not Kind.CHROME
                and before.words <= _USER_NAME_MAX_WORDS
                and not before.is_body
            ):
                before.kind = Kind.CHROME
        elif _CARD_FIELD.match(line.text) and i + 1 < len(lines):
            line.kind = Kind.CHROME
            lines[i + 1].kind = Kind.CHROME


def articles_from_text(file: str, text: str) -> list[Article]:
    """The articles in one file's text, clutter removed, each with title and date."""
    lines = [line for line in split_lines(text) if line.kind is not Kind.BLANK]
    if not any(line.is_body for line in lines):
        # No line reads as story text (a search snippet, a list cut short): the file's text
        # lines are still its one article.
        for line in lines:
            if line.kind is Kind.TEXT and line.words >= _BODY_MIN_WORDS:
                line.kind = Kind.SNIPPET
    articles = []
    for segment in _segments(lines):
        for block in _split_articles(segment):
            article = _article(file, block, text)
            if article is not None:
                articles.append(article)
    return articles


def _segments(lines: list[Line]) -> list[list[Line]]:
    """Runs of lines between forum chrome blocks."""
    segments: list[list[Line]] = [[]]
    for line in lines:
        if line.kind is Kind.CHROME:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append(line)
    return [segment for segment in segments if segment]


def _split_articles(lines: list[Line]) -> list[list[Line]]:
    """Cut a segment where a headline and a date line follow body text."""
    starts = [0]
    seen_body = False
    for i, line in enumerate(lines):
        if line.is_body and i >= starts[-1]:
            seen_body = True
        if line.kind is Kind.DATE and seen_body and _has_body(lines[i + 1 :]):
            headline = _headline_above(lines, i, floor=starts[-1])
            if headline is not None:
                starts.append(headline)
                seen_body = False
    return [lines[a:b] for a, b in zip(starts, starts[1:] + [len(lines)], strict=True)]


def _has_body(lines: list[Line]) -> bool:
    return any(line.is_body for line in lines)


def _headline_above(lines: list[Line], date_index: int, floor: int) -> int | None:
    """Index of the headline a date line belongs to, if one sits just above it."""
    for j in range(date_index - 1, max(floor, date_index - 1 - _HEADLINE_LOOKBACK), -1):
        if lines[j].is_body:
            return None
        if lines[j].is_headline:
            headline = j
            # A headline may sit above a caption or byline: take the topmost one in reach.
            while headline - 1 > floor and lines[headline - 1].is_headline:
                headline -= 1
            return headline
    return None


def _article(file: str, lines: list[Line], text: str) -> Article | None:
    """Title, date and kept sections of one article's lines; None if it has no text."""
    first_body = next((i for i, line in enumerate(lines) if line.is_body), None)
    if first_body is None:
        return None
    header = lines[:first_body]
    # A headline with no words ("#" alone in Markdown) cannot name the article.
    headlines = (line for line in header if line.is_headline and _clean_title(line.text))
    title_line = next(headlines, None)
    title = _clean_title(title_line.text) if title_line else _fallback_title(lines[first_body])
    date_line = next((line for line in header if line.kind is Kind.DATE), None)
    parsed = parse_date_line(date_line.text) if date_line else None
    date_text = date_line.text if date_line else None
    if parsed is None and (stamp := leading_date(lines[first_body].text)):
        # "Nov 12, 2020 ... The season premiere ...": a search result or wire copy opens
        # with the date it was published; the stamp stays in the text.
        parsed, date_text = stamp, stamp[1]

    def kept(line: Line) -> bool:
        if line is title_line or line is date_line:
            return False
        if line.kind is Kind.DATE:
            # A date line after the story with no story after it is the page's own date.
            return any(later.is_body for later in lines[lines.index(line) + 1 :])
        # A headline repeated in the page is dropped; a title taken from the text is not.
        repeats_title = title_line is not None and _clean_title(line.text) == title
        return line.kind in (Kind.TEXT, Kind.SNIPPET) and not repeats_title

    sections = tuple(_sections([line for line in lines if kept(line)], lines, text))
    evidence = None
    if parsed is None and (estimate := _estimated_date(sections)):
        parsed, evidence = estimate, estimate[1]
    return Article(
        file=file,
        title=title,
        date=parsed[0] if parsed else None,
        date_text=date_text,
        sections=sections,
        date_evidence=evidence,
    )


def _estimated_date(sections: tuple[Span, ...]) -> tuple[date, str] | None:
    """An undated article's date estimated from its own sentences, with the one it rests on."""
    if not any(dates_in(s.text) for s in sections):
        return None  # no full date anywhere: no sentence to find, so none is split out
    from rag.sentences import sentence_spans  # its nltk import waits until an article needs it

    return estimate_published(
        [s.text[start:end] for s in sections for start, end in sentence_spans(s.text)]
    )


def _sections(kept: list[Line], lines: list[Line], text: str) -> list[Span]:
    """Merge kept lines into spans, breaking wherever a dropped line sat in between."""
    position = {id(line): i for i, line in enumerate(lines)}
    runs: list[list[Line]] = []
    for line in kept:
        if runs and position[id(line)] == position[id(runs[-1][-1])] + 1:
            runs[-1].append(line)
        else:
            runs.append([line])
    # Kept lines in one run are consecutive among the non-blank lines, so only whitespace
    # lies between them: the span is the file's own text, untouched.
    return [Span(run[0].start, run[-1].end, text[run[0].start : run[-1].end]) for run in runs]


def _clean_title(text: str) -> str:
    return text.lstrip("#").strip()


def _fallback_title(line: Line) -> str:
    words = line.text.split()
    return " ".join(words[:12]) + (" ..." if len(words) > 12 else "")
