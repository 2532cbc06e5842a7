"""Article text and answers as Streamlit Markdown that shows exactly their characters.

Streamlit renders Markdown plus directives of its own (`:red[...]`, `:smile:`,
`:material/home:`), so text from the corpus would otherwise become links, images, formulas
or icons. Every ASCII punctuation character is backslash-escaped, which CommonMark renders
as the character itself, and HTML is never enabled. Highlights and citation markers are the
only Markdown this module adds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from rag.answer.citations import MARKER
from rag.evidence import Level, Segment

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# Indentation at the start of a line would turn it into a code block.
_INDENT = re.compile(r"\n[ \t]+")
# `code` in messages: Markdown shows a code span's characters as they are.
_CODE = re.compile(r"(`[^`\n]+`)")
HARD_BREAK = "  \n"
# Streamlit's Markdown turns "--" into a dash even when each hyphen is escaped; an invisible
# word joiner between them keeps them two hyphens, as the article wrote them.
WORD_JOINER = "\u2060"
_DOUBLE_HYPHEN = re.compile(r"-(?=-)")
# A citation's card: its anchor on the page, and what hovering its marker shows.
Source = tuple[str, str]
STYLES = {
    Level.PASSAGE: "blue-background",
    Level.QUOTE: "orange-background",
    Level.UNSUPPORTED: "red-background",
}


def escape(text: str) -> str:
    """Markdown that renders as `text`, keeping its line breaks."""
    text = _DOUBLE_HYPHEN.sub("-" + WORD_JOINER, text)
    return _PUNCTUATION.sub(r"\\\1", _INDENT.sub("\n", text)).replace("\n", HARD_BREAK)


def message(text: str) -> str:
    """A message (notice, error) as Markdown: escaped, but its `commands` shown as code."""
    pieces = _CODE.split(text)
    return "".join(piece if i % 2 else escape(piece) for i, piece in enumerate(pieces))


def _styled(markdown: str, style: str, bold: bool = False) -> str:
    # A directive cannot span a line break, so each line is wrapped on its own.
    return HARD_BREAK.join(
        f":{style}[{_bold(line) if bold else line}]" if line.strip() else line
        for line in markdown.split(HARD_BREAK)
    )


def _bold(line: str) -> str:
    """`line` in bold; the spaces around it stay outside the markers, where bold allows them."""
    core = line.strip()
    start = line.index(core)
    return f"{line[:start]}**{core}**{line[start + len(core):]}"


def highlight(segments: Iterable[Segment]) -> str:
    """Segments as Markdown, the cited passage and the quote in their highlight colours; the
    quote is also in bold, so it is not told apart by colour alone."""
    parts, line_start = [], True
    for segment in segments:
        text = segment.text.lstrip(" \t") if line_start else segment.text
        markdown = escape(text)
        if segment.level:
            markdown = _styled(markdown, STYLES[segment.level], segment.level is Level.QUOTE)
        parts.append(markdown)
        # Still at a line's start when only spaces follow the last line break (or nothing).
        last_line = text.rsplit("\n", 1)[-1]
        line_start = not last_line.strip(" \t") and ("\n" in text or line_start)
    return "".join(parts)


def with_markers(text: str, sources: Mapping[int, Source] | None = None) -> str:
    """Answer text as Markdown with its citation markers shown as badges, one per number;
    with `sources`, each badge is a link to its source card, with the card's title and date
    on hover."""
    markdown = ""
    # split() alternates text and a marker's captured numbers: text, "1", text, "2, 3", text.
    for i, piece in enumerate(MARKER.split(text)):
        if i % 2 == 0:
            markdown += escape(piece)
            continue
        for number in (int(n) for n in piece.split(",")):
            # A badge directive needs a space before it ("2,500[1]" has none).
            space = " " if markdown and not markdown[-1].isspace() else ""
            badge = f":blue-badge[\\[{number}\\]]"
            if sources and number in sources:
                anchor, hover = sources[number]
                badge = f'[{badge}](#{anchor} "{escape(hover)}")'
            markdown += space + badge
    return markdown


def answer_markdown(
    segments: Iterable[Segment], sources: Mapping[int, Source] | None = None
) -> str:
    """An answer cut into segments as Markdown: citation markers as badges (links to their
    `sources` when given), sentences that failed the support check (UNSUPPORTED) on a red
    background."""
    return "".join(
        _styled(with_markers(s.text, sources), STYLES[s.level])
        if s.level
        else with_markers(s.text, sources)
        for s in segments
    )
