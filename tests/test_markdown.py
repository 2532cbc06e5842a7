"""Corpus text as Streamlit Markdown: shown literally, highlights and markers added by code."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.evidence import Level, Segment
from rag.markdown import WORD_JOINER, answer_markdown, escape, highlight, message, with_markers

PLAIN, PASSAGE, QUOTE, UNSUPPORTED = Level.PLAIN, Level.PASSAGE, Level.QUOTE, Level.UNSUPPORTED

# CommonMark: a backslash before ASCII punctuation stands for the character itself.
_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


@pytest.mark.parametrize(
    ("text", "markdown"),
    [
        ("plain words", "plain words"),
        ("*bold* _em_", r"\*bold\* \_em\_"),
        ("![x](http://127.0.0.1/a.png)", r"\!\[x\]\(http\:\/\/127\.0\.0\.1\/a\.png\)"),
        ("<script>alert(1)</script>", r"\<script\>alert\(1\)\<\/script\>"),
        (":smile: :red[x] :material/home:", r"\:smile\: \:red\[x\] \:material\/home\:"),
        ("$x^2$ costs $5", r"\$x\^2\$ costs \$5"),
        ("# not a heading", r"\# not a heading"),
        ("1. not a list", r"1\. not a list"),
        ("line one\nline two", "line one  \nline two"),
        ("para\n\n    not code", "para  \n  \nnot code"),
        ("Iraq’s “militias” — 2,500", r"Iraq’s “militias” — 2\,500"),
        # Two hyphens stay two hyphens, not a dash (an invisible word joiner between them).
        ("a -- b", "a \\-\u2060\\- b"),
    ],
)
def test_escape(text: str, markdown: str) -> None:
    assert escape(text) == markdown


@given(st.text(alphabet=string.printable + "äß’—"))
def test_escaped_text_reads_back_as_the_text_and_leaves_no_markup(text: str) -> None:
    markdown = escape(text)
    assert re.search(r"(?<!\\)[!-/:-@\[-`{-~]", _UNESCAPE.sub("", markdown)) is None
    expected = re.sub(r"\n[ \t]+", "\n", text)
    shown = _UNESCAPE.sub(r"\1", markdown).replace("  \n", "\n").replace(WORD_JOINER, "")
    assert shown == expected


@pytest.mark.parametrize(
    ("segments", "markdown"),
    [
        ([Segment("all plain", PLAIN)], "all plain"),
        (
            [Segment("Before ", PLAIN), Segment("the quote.", QUOTE), Segment(" After", PLAIN)],
            "Before :orange-background[**the quote\\.**] After",
        ),
        (
            [Segment("a ", PLAIN), Segment("passage ", PASSAGE), Segment("quote", QUOTE)],
            "a :blue-background[passage ]:orange-background[**quote**]",
        ),
        (
            [Segment("one\ntwo", QUOTE)],
            ":orange-background[**one**]  \n:orange-background[**two**]",
        ),
        (
            [Segment("a ", PLAIN), Segment(" spaced quote ", QUOTE)],
            "a :orange-background[ **spaced quote** ]",
        ),
        (
            [Segment("end of line\n", PLAIN), Segment("    indented [x]", PASSAGE)],
            "end of line  \n:blue-background[indented \\[x\\]]",
        ),
    ],
)
def test_highlight(segments: list[Segment], markdown: str) -> None:
    assert highlight(segments) == markdown


@pytest.mark.parametrize(
    ("answer", "markdown"),
    [
        ("No markers.", r"No markers\."),
        ("Troops left in 2020. [1]", r"Troops left in 2020\. :blue-badge[\[1\]]"),
        ("A [1] and B [12].", r"A :blue-badge[\[1\]] and B :blue-badge[\[12\]]\."),
        ("2,500[1][2]", r"2\,500 :blue-badge[\[1\]] :blue-badge[\[2\]]"),
        ("A [2, 3].", r"A :blue-badge[\[2\]] :blue-badge[\[3\]]\."),
        ("[3] first", r":blue-badge[\[3\]] first"),
        ("Claimed. [unsupported]", r"Claimed\. \[unsupported\]"),
        ("Not a marker: [a] [1a]", r"Not a marker\: \[a\] \[1a\]"),
    ],
)
def test_citation_markers_become_badges(answer: str, markdown: str) -> None:
    assert with_markers(answer) == markdown


def test_unsupported_claims_are_marked_red_keeping_their_markers() -> None:
    segments = [Segment("Fine. [1] ", PLAIN), Segment("Made up. [unsupported]", UNSUPPORTED)]
    assert answer_markdown(segments) == (
        r"Fine\. :blue-badge[\[1\]] :red-background[Made up\. \[unsupported\]]"
    )


@pytest.mark.parametrize(
    ("text", "markdown"),
    [
        ("Start it with `ollama serve`.", r"Start it with `ollama serve`\."),
        (
            "No index in /tmp/my_corpus: run `rag ingest`.",
            r"No index in \/tmp\/my\_corpus\: run `rag ingest`\.",
        ),
        ("A lone ` tick *here*", r"A lone \` tick \*here\*"),
        ("`a` and `b_c`", "`a` and `b_c`"),
    ],
)
def test_messages_keep_their_commands_as_code(text: str, markdown: str) -> None:
    assert message(text) == markdown
