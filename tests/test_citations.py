"""Checking the [n] markers of generated answers against two tiny hand-made articles, with the
real embedding model."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from rag.answer.citations import UNSUPPORTED_MARK
from rag.answer.context import numbered_context
from rag.answer.prompts import CANNOT_ANSWER
from rag.answer.verify import check_answer
from rag.embed import MiniLMEmbedder
from rag.types import Chunk, Hit

PORT_FILE = (
    "Port strike ends in Basra\n\nMay 2, 2022\n\n"
    "Dock workers in Basra ended a nine-day strike on Monday after the port authority agreed "
    "to raise their wages by 15 percent. The union leader, Ali Hassan, said the deal would hold "
    "until next year. Ships had waited offshore for a week."
)
FLOOD_FILE = (
    "Floods hit Mosul\n\nMarch 3, 2021\n\n"
    "Heavy rain flooded parts of Mosul on Sunday, forcing 300 families from their homes. "
    "Officials said two bridges were closed."
)
FILES = {"port.txt": PORT_FILE, "flood.txt": FLOOD_FILE}
SIMILARITY = 0.4  # the default of Settings.claim_min_similarity


def chunk(file: str, title: str, day: str) -> Chunk:
    text = FILES[file]
    start = text.index("\n\n", text.index(day)) + 2
    return Chunk(f"{file}#0", file, "sha", 0, title, day_iso(day), start, len(text), text[start:])


def day_iso(day: str) -> date:
    return {
        "May 2, 2022": date(2022, 5, 2),
        "May 3, 2022": date(2022, 5, 3),
        "March 3, 2021": date(2021, 3, 3),
    }[day]


HITS = [
    Hit(chunk("port.txt", "Port strike ends in Basra", "May 2, 2022"), 1.0),
    Hit(chunk("flood.txt", "Floods hit Mosul", "March 3, 2021"), 0.5),
]
FIRST = (
    "Dock workers in Basra ended a nine-day strike on Monday after the port authority agreed "
    "to raise their wages by 15 percent."
)
LAST = "Ships had waited offshore for a week."


@pytest.fixture(scope="module")
def embed(model_cache: Path):  # noqa: ANN201 - a bound method
    return MiniLMEmbedder(model_cache).embed


# (reply, checked answer text, supported flag per sentence, cited numbers kept, dropped numbers)
CASES = [
    pytest.param(
        "Dock workers in Basra ended a nine-day strike [1].",
        "Dock workers in Basra ended a nine-day strike [1].",
        [True], [1], (), id="valid",
    ),
    pytest.param(
        "Dock workers in Basra ended a nine-day strike [1][9].",
        "Dock workers in Basra ended a nine-day strike [1].",
        [True], [1], (9,), id="out-of-range-dropped",
    ),
    pytest.param(
        "Dock workers in Basra ended a nine-day strike, and 300 families fled their homes [1, 2].",
        "Dock workers in Basra ended a nine-day strike, and 300 families fled their homes [1][2].",
        [True], [1, 2], (), id="comma-list-each-passage-needed",
    ),
    pytest.param(
        "Dock workers in Basra ended a nine-day strike [2, 1].",
        "Dock workers in Basra ended a nine-day strike [1].",
        [True], [1], (), id="comma-list-unrelated-passage-cut",
    ),
    pytest.param(
        "The strike in Basra ended. [1] Ships waited offshore for a week. [1]",
        "The strike in Basra ended. [1] Ships waited offshore for a week. [1]",
        [True, True], [1], (), id="markers-after-the-full-stop",
    ),
    pytest.param(
        "Dock workers in Basra ended a nine-day strike.",
        f"Dock workers in Basra ended a nine-day strike {UNSUPPORTED_MARK}.",
        [False], [], (), id="missing-citation",
    ),
    pytest.param(
        "Dock workers in Basra ended a nine-day strike [7].",
        f"Dock workers in Basra ended a nine-day strike {UNSUPPORTED_MARK}.",
        [False], [], (7,), id="only-out-of-range",
    ),
    pytest.param(
        "Dock workers in Basra ended a strike after 12 days [1].",
        f"Dock workers in Basra ended a strike after 12 days {UNSUPPORTED_MARK}.",
        [False], [], (), id="number-not-in-passage",
    ),
    pytest.param(
        "The strike in Umm Qasr ended [1].",
        f"The strike in Umm Qasr ended {UNSUPPORTED_MARK}.",
        [False], [], (), id="name-not-in-passage",
    ),
    pytest.param(
        "The government praised everyone for their patience [1].",
        f"The government praised everyone for their patience {UNSUPPORTED_MARK}.",
        [False], [], (), id="meaning-not-in-passage",
    ),
    pytest.param(
        "The strike in Basra ended on May 2, 2022 [1]. The deal holds until 2023 [1].",
        "The strike in Basra ended on May 2, 2022 [1]. The deal holds until 2023 [1].",
        [True, True], [1], (), id="relative-dates-resolved-count-as-support",
    ),
    pytest.param(
        "Dock workers in Basra ended a nine-day strike [1]. Heavy rain flooded Mosul [1][2].",
        "Dock workers in Basra ended a nine-day strike [1]. Heavy rain flooded Mosul [2].",
        [True, True], [1, 2], (), id="unrelated-passage-cut-from-a-sentence",
    ),
    pytest.param(
        "Basra's dock strike ended [1]. Oil prices doubled [2].",
        f"Basra's dock strike ended [1]. Oil prices doubled {UNSUPPORTED_MARK}.",
        [True, False], [1], (), id="mixed",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("reply", "text", "supported", "cited", "dropped"), CASES)
def test_check_answer(embed, reply: str, text: str, supported, cited, dropped) -> None:  # noqa: ANN001
    checked = check_answer(reply, HITS, embed, SIMILARITY)
    assert checked.text == text
    assert [claim.supported for claim in checked.claims] == supported
    assert [c.n for c in checked.citations] == cited
    assert checked.dropped == dropped
    assert not checked.abstained
    for claim in checked.claims:
        assert (claim.problem is None) == claim.supported
        assert "[" not in claim.text, "claims are stored without their markers"


def test_every_citation_quotes_its_file_exactly(embed) -> None:  # noqa: ANN001
    reply = (
        "The strike in Basra ended [1]. Ships waited offshore for a week [1]. Mosul flooded [2]."
    )
    checked = check_answer(reply, HITS, embed, SIMILARITY)
    first, second = checked.citations
    # Two sentences cite [1]: its quote runs from the first supporting sentence to the last.
    assert first.quote.startswith(FIRST) and first.quote.endswith(LAST)
    assert (first.file, first.title, first.date) == (
        "port.txt",
        "Port strike ends in Basra",
        date(2022, 5, 2),
    )
    assert (
        second.quote
        == "Heavy rain flooded parts of Mosul on Sunday, forcing 300 families from their homes."
    )
    for citation in checked.citations:
        assert FILES[citation.file][citation.start : citation.end] == citation.quote


def test_unsupported_claims_say_why(embed) -> None:  # noqa: ANN001
    reply = "Dock workers ended a 12-day strike [1]. The deal was signed [9]. It rained."
    problems = [c.problem for c in check_answer(reply, HITS, embed, SIMILARITY).claims]
    assert problems == [
        "12 not in [1]",
        "cites only [9], but the context held passages [1] to [2]",
        "cites no passage",
    ]


@pytest.mark.parametrize(
    "reply",
    [
        CANNOT_ANSWER,
        f"{CANNOT_ANSWER} The passages are about a strike and a flood.",
        f"{CANNOT_ANSWER[:-1]} [1].",
        "",
        "[1]",
    ],
)
def test_cannot_answer_reply_abstains(embed, reply: str) -> None:  # noqa: ANN001
    checked = check_answer(reply, HITS, embed, SIMILARITY)
    assert checked.abstained
    assert (checked.text, checked.claims, checked.citations) == (CANNOT_ANSWER, [], [])


def test_note_lists_what_the_check_changed(embed) -> None:  # noqa: ANN001
    reply = "Dock workers in Basra ended a nine-day strike [1][9]. Oil prices doubled [2]."
    note = check_answer(reply, HITS, embed, SIMILARITY).note(len(HITS))
    assert note == (
        "Removed citation [9]: the model was given passages [1] to [2] only. 1 of 2 sentences "
        f"marked {UNSUPPORTED_MARK}: no cited passage supports them; do not rely on them."
    )
    assert check_answer("Basra's dock strike ended [1].", HITS, embed, SIMILARITY).note(2) == ""


def test_numbered_context_gives_number_file_title_date_and_resolved_dates() -> None:
    context = numbered_context(HITS)
    assert context.startswith(
        "[1] file: port.txt | title: Port strike ends in Basra | published: May 2, 2022\n"
        "Dock workers in Basra ended a nine-day strike on Monday (= May 2, 2022) after"
    )
    assert "until next year (= 2023)." in context
    assert (
        "\n\n[2] file: flood.txt | title: Floods hit Mosul | published: March 3, 2021\n" in context
    )
    assert "Mosul on Sunday (= February 28, 2021)," in context


# A second version of the port story, folded into passage [1] as a copy: one sentence repeats
# the first version, one adds a fact the first version lacks.
COPY_FILE = (
    "Basra port strike over\n\nMay 3, 2022\n\n"
    "Dock workers in Basra ended a nine-day strike on Monday after the port authority agreed "
    "to raise their wages by 15 percent. Exports of dates resumed on Tuesday."
)
FILES["copy.txt"] = COPY_FILE
ADDED = "Exports of dates resumed on Tuesday."
WITH_COPY = [
    Hit(HITS[0].chunk, 1.0, (chunk("copy.txt", "Basra port strike over", "May 3, 2022"),)),
    HITS[1],
]


def test_a_folded_copy_adds_only_what_the_passage_lacks() -> None:
    first = numbered_context(WITH_COPY).split("\n\n[2]")[0]
    assert first.endswith(
        "\nAlso in copy.txt (published May 3, 2022): Exports of dates resumed on Tuesday "
        "(= May 3, 2022)."
    )
    assert first.count("ended a nine-day strike") == 1


def test_a_claim_only_a_copy_holds_is_supported_and_quoted_from_the_copy(embed) -> None:  # noqa: ANN001
    checked = check_answer("Exports of dates resumed on Tuesday [1].", WITH_COPY, embed, SIMILARITY)
    assert [claim.supported for claim in checked.claims] == [True]
    [citation] = checked.citations
    assert (citation.n, citation.file, citation.quote) == (1, "copy.txt", ADDED)
    assert COPY_FILE[citation.start : citation.end] == ADDED
    assert citation.also_in == ("port.txt",)


# A claim close in meaning to its passage but reversing a fact, or moving a figure or date
# from elsewhere in the passage, is not supported.
@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("The port authority agreed to cut the dock workers' wages by 15 percent [1].",
         "says 'cut' where the source says 'raise' in [1]"),
        ("The port authority agreed to raise the dock workers' wages by 20 percent [1].",
         "20 not in [1]"),
        ("Ships had waited offshore for 15 days [1].", "15 not said with it in [1]"),
        ("Heavy rain flooded parts of Mosul on Sunday, forcing 300 families from their homes "
         "in May [2].", "May not in [2]"),
        ("Dock workers in Basra ended a nine-day strike on March 3 [1].", "3, March not in [1]"),
    ],
)  # fmt: skip
def test_reversed_facts_and_changed_figures_are_caught(embed, reply: str, problem: str) -> None:  # noqa: ANN001
    (claim,) = check_answer(reply, HITS, embed, SIMILARITY).claims
    assert (claim.supported, claim.problem) == (False, problem)


@pytest.mark.parametrize(
    "reply",
    [
        "The port authority agreed to raise the dock workers' wages by 15 percent [1].",
        "Heavy rain flooded parts of Mosul, forcing 300 families from their homes [2].",
        "Dock workers in Basra ended their nine-day strike on May 2, 2022 [1].",
    ],
)
def test_faithful_claims_stay_supported(embed, reply: str) -> None:  # noqa: ANN001
    (claim,) = check_answer(reply, HITS, embed, SIMILARITY).claims
    assert (claim.supported, claim.problem) == (True, None)
