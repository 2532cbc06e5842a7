"""The extractive answerer on tiny hand-made passages: which sentence it quotes, and why it
abstains, with exact expected results (no index, no model)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date

import pytest

from rag.answer.extractive import (
    WEIGHTS_FILE,
    Reason,
    Weights,
    answer,
    article_leads,
    extract,
    holds,
    notes,
    with_subjects,
)
from rag.answer.prompts import CANNOT_ANSWER
from rag.answer.query import Want, read_question
from rag.lexical import Bm25Index
from rag.sentences import split_sentences
from rag.types import AnswerStream, Chunk, Hit, Mode

PORT = (
    "Port strike ends in Basra\n\n"
    "Dock workers in Basra ended their strike on Monday. "
    "About 4,000 workers had walked out over pay. "
    "Harbour master Ali Hamid said ships would dock again."
)
FLOOD = (
    "Floods close Umm Qasr\n\n"
    "Heavy rain flooded the docks of Umm Qasr. "
    "The port authority said shipping would stay suspended for four days."
)
FILES = {"port.txt": PORT, "flood.txt": FLOOD}
DATES = {"port.txt": date(2022, 5, 2), "flood.txt": date(2021, 3, 3)}


def chunk(file: str) -> Chunk:
    text = FILES[file]
    start = text.index("\n\n") + 2
    title = text[: start - 2]
    return Chunk(f"{file}#0", file, "sha", 0, title, DATES[file], start, len(text), text[start:])


HITS = [Hit(chunk("port.txt"), 1.0), Hit(chunk("flood.txt"), 0.5)]
# Background documents give the idf of common words a realistic spread.
BM25 = Bm25Index.build(
    ["port", "flood", "other"],
    [
        chunk("port.txt").indexed_text,
        chunk("flood.txt").indexed_text,
        "Elections were held. Gdansk shipyard workers voted.",
    ],
)


def ask(question: str, history: tuple[str, ...] = ()):  # noqa: ANN201 - the Answer
    return answer(read_question(question, history), HITS, BM25, 0.5, "offline")


def test_a_number_question_quotes_the_sentence_with_the_count() -> None:
    result = ask("How many workers walked out in Basra?")
    assert not result.abstained and result.mode is Mode.EXTRACTIVE
    assert result.answer.startswith("About 4,000 workers had walked out over pay.")
    first = result.citations[0]
    assert (first.n, first.file, first.date) == (1, "port.txt", date(2022, 5, 2))
    quote = "About 4,000 workers had walked out over pay."
    assert PORT[first.start : first.end] == first.quote == quote


def test_a_person_question_quotes_the_name_beside_the_role() -> None:
    result = ask("Who is the harbour master in Basra?")
    assert "Ali Hamid" in result.answer
    assert result.citations[0].quote.startswith("Harbour master Ali Hamid")


def test_a_relative_day_is_resolved_after_the_verbatim_quote() -> None:
    result = ask("When did the dock workers in Basra end their strike?")
    assert result.answer.startswith(
        "Dock workers in Basra ended their strike on Monday. (Monday = May 2, 2022) [1]"
    )


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("Who won the football league in Madrid?", Reason.UNKNOWN_WORDS),
        ("How many days did the elections last?", Reason.NOT_COVERED),
        ("How many ships docked in Basra after the strike?", Reason.NO_NUMBER),
        # "today" says when, never what about: nothing is asked
        ("how are you doing today", Reason.NOTHING_TO_SEARCH),
    ],
)
def test_abstains_with_the_reason(question: str, reason: Reason) -> None:
    found = extract(read_question(question), HITS, BM25, 0.5, Weights())
    assert found.abstained and found.reason is reason and found.sentences == ()
    assert found.off_topic is (reason is not Reason.NO_NUMBER)
    result = answer(read_question(question), HITS, BM25, 0.5, "offline", Weights())
    assert (result.answer, result.citations, result.abstained) == (CANNOT_ANSWER, (), True)


def test_a_passage_close_in_meaning_passes_the_coverage_gate_whatever_its_words() -> None:
    # Few of the question's words are in the passages: declined for coverage unless a
    # passage is at least meaning_cover close to it (the port story, at 1.0).
    question = read_question("How many days did the elections last?")
    weights = Weights(meaning_cover=0.6)
    close = [Hit(hit.chunk, hit.score, similarity=0.9) for hit in HITS]
    distant = [Hit(hit.chunk, hit.score, similarity=0.55) for hit in HITS]
    assert extract(question, distant, BM25, 0.5, weights).reason is Reason.NOT_COVERED
    assert extract(question, close, BM25, 0.5, Weights()).reason is Reason.NOT_COVERED
    found = extract(question, close, BM25, 0.5, weights)
    assert found.reason is Reason.ANSWERED
    assert [s.text for s in found.sentences] == [
        "The port authority said shipping would stay suspended for four days."
    ]


def test_a_year_in_the_question_rules_out_stories_dated_otherwise() -> None:
    # The flood story is dated 2021: asked about 2022, it is not quoted.
    found = extract(read_question("How long was shipping suspended in Umm Qasr in 2022?"),
                    HITS, BM25, 0.5)  # fmt: skip
    assert all(s.chunk.file != "flood.txt" for s in found.sentences)
    found = extract(read_question("How long was shipping suspended in Umm Qasr in 2021?"),
                    HITS, BM25, 0.5)  # fmt: skip
    assert [s.chunk.file for s in found.sentences][:1] == ["flood.txt"]


def test_a_question_asking_two_things_is_answered_part_by_part() -> None:
    found = extract(
        read_question("Who is the harbour master in Basra, and how long was shipping suspended "
                      "in Umm Qasr?"),
        HITS, BM25, 0.5,
    )  # fmt: skip
    assert found.reason is Reason.PART_BY_PART
    assert {s.chunk.file for s in found.sentences} == {"port.txt", "flood.txt"}


def test_the_stream_gives_its_answer_once_consumed_and_never_a_stale_one() -> None:
    def pieces():  # noqa: ANN202 - a generator returning the answer
        yield "About "
        yield "4,000."
        return ask("How many workers walked out in Basra?")

    stream = AnswerStream(pieces())
    assert "".join(stream) == "About 4,000."
    assert stream.answer.answer.startswith("About 4,000 workers")
    # Read before iterating: the rest is consumed first.
    assert AnswerStream(pieces()).answer.citations[0].file == "port.txt"


# ---------------------------------------------------------------------------------------------
# Weights: each tunable changes the choice it is meant to change


def test_the_shipped_weights_are_read_from_their_file(tmp_path) -> None:  # noqa: ANN001
    assert Weights.load(tmp_path / "missing.json") == Weights()
    saved = tmp_path / "weights.json"
    saved.write_text(json.dumps({"weights": {"type_bonus": 2.0, "rank_weight": 0.0}}))
    assert Weights.load(saved) == Weights(type_bonus=2.0, rank_weight=0.0)
    assert set(json.loads(WEIGHTS_FILE.read_text())["weights"]) <= set(asdict(Weights()))


def test_names_the_question_gives_must_be_in_the_quoted_passage() -> None:
    # Gdansk is known to the index but named in neither retrieved passage.
    query = read_question("How many workers walked out in Basra and Gdansk?")
    lenient = extract(query, HITS, BM25, 0.3, Weights(min_named_share=0.0))
    strict = extract(query, HITS, BM25, 0.3, Weights(min_named_share=1.0))
    assert not lenient.abstained
    assert strict.abstained and strict.reason is Reason.NOT_ABOUT


def test_the_quoted_sentence_must_itself_say_what_is_asked() -> None:
    # Of the port story, only its title says "port".
    query = read_question("How many workers at the port in Basra walked out?")
    assert not extract(query, HITS, BM25, 0.3, Weights(min_own_share=0.0)).abstained
    strict = extract(query, HITS, BM25, 0.3, Weights(min_own_share=0.9))
    assert strict.abstained and strict.reason is Reason.NOT_SAID


def test_a_strong_type_bonus_prefers_the_sentence_holding_the_kind_asked_for() -> None:
    query = read_question("When did the dock workers walk out over pay in Basra?")
    # The walk-out sentence covers the question best but holds no date; the article's date
    # counts for "when", so with the bonus dominant the dated article still answers.
    found = extract(query, HITS, BM25, 0.5, Weights(type_bonus=2.0))
    assert found.sentences and found.sentences[0].chunk.file == "port.txt"


def test_a_quote_that_opens_with_a_pronoun_comes_with_the_sentence_naming_whom() -> None:
    text = "Band news\n\nThe singer Gary Lightbody spoke on Monday. He said the bassist had left."
    start = text.index("\n\n") + 2
    told = Chunk("band.txt#0", "band.txt", "sha", 0, "Band news", None, start, len(text),
                 text[start:])  # fmt: skip
    sentences = split_sentences(0, told)
    quoted = with_subjects([sentences[1]])
    assert [s.text for s in quoted] == [
        "The singer Gary Lightbody spoke on Monday.",
        "He said the bassist had left.",
    ]
    assert with_subjects([sentences[0]]) == (sentences[0],), "a named subject needs nothing"


def test_a_when_answer_names_the_article_it_dates_by_once() -> None:
    # Two quoted sentences of one article with no date of their own: the article's date is
    # what answers "when", and saying it after each would only repeat it.
    query = read_question("When did the workers walk out and the ships dock again?")
    port = [s for s in split_sentences(0, chunk("port.txt")) if "4,000" in s.text
            or "Harbour master" in s.text]  # fmt: skip
    sentences = [*port, split_sentences(1, chunk("flood.txt"))[-1]]
    added = notes(sentences, Want.DATE, query)
    heading = "Port strike ends in Basra (May 2, 2022)"
    assert added[:2] == [f" (from {heading})", ""]
    assert added[2] == " (from Floods close Umm Qasr (March 3, 2021))", "another article: named"
    # Asked about now, each article's date is given once too.
    now = notes(sentences, Want.ANY, read_question("How many workers are striking now?"))
    assert now == [" (as of May 2, 2022)", "", " (as of March 3, 2021)"]


# Two stories: one about the subject asked, one with the figure asked for.
AIRLINE = (
    "Ryanair results\n\n"
    "Ryanair said its quarterly passenger numbers rose by a fifth. "
    "The airline expects fuel costs to rise next year."
)
SPORTS = (
    "Nike results\n\n"
    "The global sports giant said it posted a quarterly profit of $261.9m. "
    "Its shares rose in New York."
)


def story(file: str, text: str, day: date | None) -> Chunk:
    start = text.index("\n\n") + 2
    title, body = text[: start - 2], text[start:]
    return Chunk(f"{file}#0", file, "sha", 0, title, day, start, len(text), body)


def test_another_storys_figure_is_never_quoted_as_the_subjects() -> None:
    airline = story("ryanair.txt", AIRLINE, date(2005, 2, 1))
    sports = story("nike.txt", SPORTS, date(2005, 3, 1))
    bm25 = Bm25Index.build(["a", "b"], [airline.indexed_text, sports.indexed_text])
    query = read_question("What was Ryanair's quarterly profit?")
    found = answer(query, [Hit(airline, 1.0), Hit(sports, 0.9)], bm25, 0.5, "")
    quoted = [claim.text for claim in found.claims]
    # Nike's sentence does not answer about Ryanair by itself: it is not quoted after
    # Ryanair's, where it would read as Ryanair's profit.
    assert not any("261.9m" in text for text in quoted[1:])
    if len({c.file for c in found.citations}) > 1:
        assert "From “Ryanair results”" in found.answer and "From “Nike results”" in found.answer


def test_two_stories_quoted_are_each_named_before_their_sentences() -> None:
    day = date(2021, 4, 7)
    first = story("a.txt", "Troops cut\n\nTroop levels fell. They were cut to 2,500.", day)
    second = story("b.txt", "Iraq talks\n\nAbout 2,500 US troops remain in Iraq.", day)
    one, two = split_sentences(0, first)
    [three] = split_sentences(1, second)
    assert article_leads([one, two]) == ["", ""]  # one article: nothing to tell apart
    assert article_leads([one, two, three]) == [
        "From “Troops cut” (April 7, 2021): ", "", "From “Iraq talks” (April 7, 2021): ",
    ]  # fmt: skip


def test_a_question_only_a_caption_answers_is_declined() -> None:
    captioned = (
        "Troops fire artillery near Mosul\n\n"
        "US soldiers of the 82nd Airborne Division fire artillery east of Mosul. "
        "(AP/File photo)\n"
        "Officials gave no further details on Sunday."
    )
    start = captioned.index("\n\n") + 2
    passage = Chunk("c.txt#0", "c.txt", "sha", 0, "Troops fire artillery near Mosul", None,
                    start, len(captioned), captioned[start:])  # fmt: skip
    index = Bm25Index.build(["c", "other"], [passage.indexed_text, "Elections were held."])
    query = read_question("airborne division firing artillery near mosul")
    result = answer(query, [Hit(passage, 1.0)], index, 0.5, "offline")
    # Neither the caption, nor its credit, nor the sentence beside it on the caption's words.
    assert result.abstained
    assert "photo" not in result.answer and "Officials" not in result.answer


def test_a_sentence_saying_when_itself_leads_one_dated_by_its_article() -> None:
    # The dated article ranks first, but its sentence says nothing of when: quoted first, it
    # would read as if its article's date answered the question.
    dated = story("talks.txt", "Iraq talks\n\nAbout 2,500 US troops remain in Iraq.",
                  date(2021, 4, 7))  # fmt: skip
    undated = story("rockets.txt", "Rockets hit base\n\nIn late 2020, US troop levels in "
                    "Iraq were reduced to 2,500.", None)  # fmt: skip
    background = "Elections were held. Gdansk shipyard workers voted."
    bm25 = Bm25Index.build(["a", "b", "c"], [dated.indexed_text, undated.indexed_text, background])
    query = read_question("when did US troops drop to 2,500?")
    # "drop" is a word neither article uses; both passages are close to it in meaning.
    hits = [Hit(dated, 1.0, similarity=0.6), Hit(undated, 0.9, similarity=0.6)]
    found = answer(query, hits, bm25, 0.5, "")
    quoted = [claim.text for claim in found.claims]
    assert len(quoted) == 2
    assert quoted[0].startswith("In late 2020")


def test_a_question_word_is_found_at_the_start_of_a_longer_one() -> None:
    # "chairs" is stemmed "chair", "chairman" stays "chairman": the question's word begins
    # the article's, and counts as found there.
    text = ("Qwest bid\n\nQwest lawyer Anna Berg said it paid regulators $250m in October. "
            "Qwest chairman Richard Notebaert sent a letter to the board on Thursday.")  # fmt: skip
    qwest = story("qwest.txt", text, date(2005, 2, 4))
    # Another article uses "chair" itself, as in any larger corpus.
    background = "Elections were held. A new chair of the council was named."
    bm25 = Bm25Index.build(["a", "b"], [qwest.indexed_text, background])
    found = answer(read_question("who chairs qwest"), [Hit(qwest, 1.0)], bm25, 0.5, "")
    assert not found.abstained
    assert "Richard Notebaert" in found.claims[0].text


def test_a_photo_caption_is_never_quoted_as_the_report() -> None:
    # Captions describe a picture, often years older than the story; its figure is no answer.
    text = (
        "Troops stay\n\n"
        "FILE - In this 2017 file photo, 300 US soldiers in Iraq stand beside a launcher.\n"
        "About 2,500 US troops remain in the country, the Pentagon said on Wednesday.\n"
        "Marines of a US unit in Iraq train Iraqi soldiers near Mosul. (AP Photo/File)"
    )
    troops = story("troops.txt", text, date(2021, 4, 7))
    background = "Elections were held. Gdansk shipyard workers voted."
    bm25 = Bm25Index.build(["a", "b"], [troops.indexed_text, background])
    query = read_question("how many us soldiers are in iraq")
    found = answer(query, [Hit(troops, 1.0, similarity=0.6)], bm25, 0.5, "")
    quoted = " ".join(claim.text for claim in found.claims)
    assert "2,500" in quoted
    assert "300" not in quoted and "Marines" not in quoted


def test_an_age_is_no_count_of_what_is_asked() -> None:
    part = read_question("2018 protests how many dead").whole
    assert part.counted == frozenset({"dead"})
    said = "A civilian around 20 years old was shot dead, a medical source said."
    assert not holds(said, Want.NUMBER, part)
    assert holds("Some 20 people were shot dead, a medical source said.", Want.NUMBER, part)


def test_a_name_of_an_organisation_is_no_person() -> None:
    who = read_question("Who took over from Amit Yoran?").whole
    said = "Amit Yoran was director of the National Cyber Security Division."
    assert not holds(said, Want.PERSON, who)
    assert holds("Andy Purdy took over from Amit Yoran.", Want.PERSON, who)
    # "whose" asks for an owner, and a company is one.
    whose = read_question("whose texas refinery fire sent gasoline futures up").whole
    assert holds("The fire at the BP Texas City refinery spread.", Want.PERSON, whose)


def test_a_quote_that_begins_inside_a_quotation_comes_with_its_opening() -> None:
    text = (
        "Badr urges withdrawal\n\n"
        "“The two governments should coordinate a full withdrawal. US presence will be "
        "cause for polarisation,” Badr spokesman Kareem Nuri said."
    )
    opening, rest = split_sentences(0, story("badr.txt", text, date(2018, 2, 7)))
    assert rest.text.startswith("US presence")
    assert with_subjects([rest]) == (opening, rest)
    assert with_subjects([opening]) == (opening,)
