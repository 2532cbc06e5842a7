"""Tests for reading a question (rag.answer.query), what the extractive answerer counts as
holding the kind of thing asked for, and rag.sentences."""

from __future__ import annotations

import pytest

from rag.answer.extractive import holds
from rag.answer.query import (
    Want,
    names_its_subject,
    read_part,
    read_question,
    split_question,
    wanted,
    weighted_terms,
)
from rag.sentences import sentence_spans, split_keeping_text

# ---------------------------------------------------------------------------------------------
# wanted


@pytest.mark.parametrize(
    ("question", "want"),
    [
        ("When did the rockets hit Balad?", Want.DATE),
        ("What date did the talks take place?", Want.DATE),
        ("What year did US forces return to Iraq?", Want.DATE),
        ("In what year was Saadi demoted?", Want.DATE),
        ("On which day did Zarif arrive?", Want.DATE),
        ("How many people were killed in the protests?", Want.NUMBER),
        ("How much did the Pentagon spend?", Want.NUMBER),
        ("What was the death toll?", Want.NUMBER),
        ("Who is the Pentagon press secretary?", Want.PERSON),
        ("whom did Kadhimi meet?", Want.PERSON),
        ("Which spokesman threatened to attack US forces?", Want.PERSON),
        ("Which Iraqi official confirmed the attack?", Want.PERSON),
        ("What is the name of the Badr spokesman?", Want.PERSON),
        ("Which air base was hit by rockets?", Want.NAME),
        ("Which militia was blamed?", Want.NAME),
        ("Why do the groups oppose US troops?", Want.ANY),
        ("What did Zarif say about Iraq?", Want.ANY),
        ("Where did the rockets land?", Want.PLACE),
        ("By what date must the deal close?", Want.DATE),
        ("What was the budget of the film?", Want.NUMBER),
        ("In which city is the game set?", Want.PLACE),
        ("Which lawyer leads the defence?", Want.PERSON),
    ],
)
def test_wanted(question: str, want: Want) -> None:
    assert wanted(question) is want


@pytest.mark.parametrize(
    "question",
    [
        "What was the official reason for the raid?",
        "What did the spokesman say about the withdrawal?",
    ],
)
def test_wanted_a_role_word_alone_does_not_ask_for_a_person(question: str) -> None:
    assert wanted(question) is Want.ANY


@pytest.mark.parametrize(
    ("typed", "want"),
    [
        # Instructions and noun phrases: the kind is in the head noun.
        ("bt chief exec", Want.PERSON),
        ("tell me who runs the port", Want.PERSON),
        ("name the bassist the band asked to leave", Want.PERSON),
        ("city council leader name", Want.PERSON),
        ("date of the rocket attack at the airport", Want.DATE),
        ("bridge opening year", Want.DATE),
        ("net profit q4 2004", Want.NUMBER),
        ("court where the singer got bail", Want.PLACE),
        ("tv station name", Want.NAME),
        ("protest slogan", Want.ANY),
        # A string of nouns ends with its head; past a head of no kind, only "of" says one.
        ("mac mini on sale date", Want.DATE),
        ("name of the city the game is set in", Want.PLACE),
        ("party office raided by police after a protester was killed", Want.ANY),
        # A question after a clause, or after a preposition.
        ("the £100m investment, which plant", Want.PLACE),
        ("For which season do the club hope to move?", Want.ANY),
        ("how big was the division's budget", Want.NUMBER),
    ],
)
def test_wanted_however_it_is_typed(typed: str, want: Want) -> None:
    assert wanted(typed) is want


@pytest.mark.parametrize(
    ("question", "counted"),
    [
        ("How many US troops were in Iraq?", {"us", "troop"}),
        ("us troop numbers in 2018", {"us", "troop"}),
        ("number of us forces in iraq during the visit", {"us", "forc"}),
        ("kessington vote total", {"kessington", "vote"}),
        ("how many were later demolished", None),
    ],
)
def test_what_a_question_counts(question: str, counted: set[str] | None) -> None:
    found = read_part(question).counted
    assert (set(found) if found is not None else None) == counted


def test_a_question_naming_what_it_counts_asks_for_a_figure() -> None:
    # Its timeline lists figures, not every sentence that mentions troops.
    assert read_part("how did us troop numbers change").want is Want.NUMBER
    assert read_part("how did the protests change").want is Want.ANY


@pytest.mark.parametrize(
    ("question", "role"),
    [
        ("eastvale health trust chief executive", "executive"),
        ("Who is the Basra police chief?", "chief"),
        ("Who is the Badr spokesman?", "spokesman"),
        ("When did the rockets hit Balad?", None),
    ],
)
def test_the_role_asked_for_is_the_last_noun_of_a_compound(question: str, role: str) -> None:
    assert read_part(question).role == role


@pytest.mark.parametrize(
    ("question", "own"),
    [
        ("How old was Dan O'Herlihy when he died?", True),
        ("how old was dan o'herlihy when he died", True),
        ("Why did Abadi say he still needed US forces?", True),
        ("Which TV channel did he speak to?", False),
        ("What is his job?", False),
        ("What were the protesters there demanding?", False),
        ("What hit the Green Zone a few hours after he landed?", False),
        ("How many members of the group did his officers arrest?", False),
        ("How many were there then?", False),
    ],
)
def test_a_question_names_its_own_subject(question: str, own: bool) -> None:
    assert names_its_subject(question) is own
    history = ["What did the Fed decide?", "What did Nike earn?"]
    # A follow-up leans on the last question only: the one before it stood on its own too.
    assert read_question(question, history).context == (() if own else ("What did Nike earn?",))


# ---------------------------------------------------------------------------------------------
# holds

AL_KHAFAJI = "Maj. Gen. Tahseen al-Khafaji said the rockets landed outside Balad air base."


@pytest.mark.parametrize(
    ("sentence", "want", "question", "expected"),
    [
        # DATE
        ("The rockets landed on Sunday, April 4.", Want.DATE, "When did the rockets land?", True),
        ("In 2014 the troops returned.", Want.DATE, "When did the troops return?", True),
        ("The rockets landed outside Balad.", Want.DATE, "When did the rockets land?", False),
        ("In 2014 the troops returned.", Want.DATE, "Did the troops return in 2014?", False),
        # NUMBER
        ("The latest death brings to nine the number of people killed.", Want.NUMBER,
         "How many people were killed?", True),
        ("About 2,500 U.S. troops remain in Iraq.", Want.NUMBER,
         "How many troops remain in Iraq?", True),
        ("About 2,500 U.S. troops remain in Iraq.", Want.NUMBER,
         "How many of the 2,500 troops remain in Iraq?", False),  # only number already asked
        ("The troops remain in Iraq.", Want.NUMBER, "How many troops remain in Iraq?", False),
        # PERSON: a new full name, not one the question already names
        ("Pentagon press secretary John Kirby told reporters there was no agreement.",
         Want.PERSON, "Who is the Pentagon press secretary?", True),
        ("Iranian Foreign Minister Mohammad Javad Zarif met Fuad Hussein.", Want.PERSON,
         "Who did Zarif meet in Baghdad?", True),
        ("Mohammad Javad Zarif arrived in Baghdad.", Want.PERSON,
         "Who did Zarif meet in Baghdad?", False),
        ("The minister arrived in Baghdad.", Want.PERSON, "Who arrived in Baghdad?", False),
        (AL_KHAFAJI, Want.PERSON, "Who said the rockets landed?", True),
        # PERSON with a role in the question: the sentence must name that role
        (AL_KHAFAJI, Want.PERSON, "Which general said the rockets landed?", True),  # "Gen."
        (AL_KHAFAJI, Want.PERSON, "Who is the US ambassador?", False),
        ("Kadhimi told 25 foreign emissaries, including the U.S. ambassador.", Want.PERSON,
         "Who is the US ambassador?", False),  # the role, but no name
        ("Badr spokesman Kareem Nuri said.", Want.PERSON, "badr spokesperson name", True),
        ("Badr chairwoman Amal Nuri said.", Want.PERSON, "Who is the Badr chairman?", True),
        # the name belongs to the role word nearest it
        ("The bassist left, lead singer Gary Lightbody said.", Want.PERSON,
         "name the bassist who left", False),
        ("Bassist Mark McClelland left, the band said.", Want.PERSON,
         "name the bassist who left", True),
        # a role given to a name the question does not give is someone else's; a word of
        # nationality or faith only describes the holder
        ("Badr spokesman Kareem Nuri said.", Want.PERSON, "kataib hezbollah spokesman", False),
        ("Its spokesman, Jaafar Al-Husseini, told Al-Mayadeen TV.", Want.PERSON,
         "kataib hezbollah spokesman", True),
        ("Roderick Lindblom, one of Ms Clarkson's lawyers, said so.", Want.PERSON,
         "phil spector's lawyer", False),
        ("Influential Shiite cleric Moqtada Al-Sadr welcomed the move.", Want.PERSON,
         "which shia cleric welcomed the move", True),
        ("Badr spokesman Kareem Nuri said.", Want.PERSON, "Who is the spokesman?", True),
        # a number counts what the question counts only when a word of it stands near
        ("Two major groups backed by Iran are demanding all US forces leave Iraq.", Want.NUMBER,
         "how many us troops in iraq in 2018", False),
        ("US forces, who number more than 5,000, had begun reducing their numbers.",
         Want.NUMBER, "how many us troops in iraq in 2018", True),
        # "chief executive" is an executive: the nearest role word to the name is the asked one
        ("Its chief executive, Dr Samuel Adeyemi, said the trust would grow.", Want.PERSON,
         "health trust chief executive", True),
        # PLACE: named after a word of location or before a noun for a place
        ("The ceremony was held at the Luna Park fairground in Sydney.", Want.PLACE,
         "where were the awards held", True),
        ("The Cowley factory is increasingly being put to good use.", Want.PLACE,
         "which plant", True),
        ("After the new Mini was launched, German car maker BMW announced new investment.",
         Want.PLACE, "bmw investment to build more minis, which plant", False),
        # NAME: a capitalised word beyond the first
        ("The rockets landed outside Balad air base.", Want.NAME, "Which air base was hit?", True),
        ("The rockets landed outside the air base.", Want.NAME, "Which air base was hit?", False),
        # ANY
        ("Anything at all.", Want.ANY, "Why?", True),
    ],
)  # fmt: skip
def test_holds(sentence: str, want: Want, question: str, expected: bool) -> None:
    assert holds(sentence, want, read_part(question)) is expected


# ---------------------------------------------------------------------------------------------
# split_question


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("Who is the Badr spokesman, and which group threatened US forces?",
         ["Who is the Badr spokesman", "which group threatened US forces?"]),
        ("Who directed the raid and which group was targeted?",
         ["Who directed the raid", "which group was targeted?"]),
        ("Who is the Badr spokesman?", ["Who is the Badr spokesman?"]),
        ("Why did Iraq and Iran meet?", ["Why did Iraq and Iran meet?"]),  # "and" + no wh-word
        # typed: ", and the ...", "compare X with Y", two noun phrases each saying its kind
        ("tell me the group whose guard shot him, and the party whose office was raided",
         ["tell me the group whose guard shot him", "the party whose office was raided"]),
        ("compare the river's march peak with the old record at the gauge",
         ["the river's march peak", "the old record at the gauge"]),
        ("compare us troop numbers in february 2018 with april 2021",
         ["us troop numbers in february 2018", "us troop numbers in april 2021"]),
        ("V Festival venues and Leeds festival location",
         ["V Festival venues", "Leeds festival location"]),
        ("protests in basra and baghdad", ["protests in basra and baghdad"]),  # no kinds
        ("how many homes were evacuated and flooded",
         ["how many homes were evacuated and flooded"]),
    ],
)  # fmt: skip
def test_split_question(question: str, parts: list[str]) -> None:
    assert split_question(question) == parts


# ---------------------------------------------------------------------------------------------
# weighted_terms


@pytest.mark.parametrize(
    ("question", "history", "weights"),
    [
        # The clause from "when" on says which moment is meant: half weight. "many" is a frame word.
        ("How many troops did the Pentagon report when the groups demanded a withdrawal?", [],
         {"troop": 1.0, "pentagon": 1.0, "report": 1.0, "group": 0.5, "demand": 0.5,
          "withdraw": 0.5}),
        # A leading "When" is the question word, not a time clause.
        ("When did the rockets hit Balad?", [], {"rocket": 1.0, "hit": 1.0, "balad": 1.0}),
        # Frame words ("name", "job") say nothing about the subject.
        ("What is the name of the Badr spokesman?", [], {"badr": 1.0, "spokesman": 1.0}),
        ("What is his job?", ["Who is the Badr spokesman?"], {"badr": 0.5, "spokesman": 0.5}),
        # Earlier turns count half; a term also in the question keeps full weight.
        ("Which base was hit?", ["When did rockets hit Balad air base?"],
         {"base": 1.0, "hit": 1.0, "rocket": 0.5, "balad": 0.5, "air": 0.5}),
    ],
)  # fmt: skip
def test_weighted_terms(question: str, history: list[str], weights: dict[str, float]) -> None:
    assert weighted_terms(question, history) == weights


# ---------------------------------------------------------------------------------------------
# rag.sentences


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def test_titles_do_not_end_a_sentence() -> None:
    text = "Maj. Gen. Tahseen al-Khafaji said the rockets landed. U.S. troops were there."
    assert sentences(text) == [
        "Maj. Gen. Tahseen al-Khafaji said the rockets landed.",
        "U.S. troops were there.",
    ]


def test_brig_gen_stays_in_one_sentence() -> None:
    text = (
        "The coalition's director of operations, Brig. Gen. Jonathan Braga, said in a statement "
        "on Monday. Braga said the coalition would stay."
    )
    assert sentences(text) == [
        "The coalition's director of operations, Brig. Gen. Jonathan Braga, said in a statement "
        "on Monday.",
        "Braga said the coalition would stay.",
    ]


def test_title_without_a_space_stays_in_one_sentence() -> None:
    # punkt alone ends a sentence after "Maj.Gen."; sentence_spans() joins it back.
    text = "Maj.Gen. Tahseen al-Khafaji said the rockets landed. U.S. troops were there."
    assert sentences(text) == [
        "Maj.Gen. Tahseen al-Khafaji said the rockets landed.",
        "U.S. troops were there.",
    ]


def test_month_abbreviation_does_not_end_a_sentence() -> None:
    text = "The strike came on Jan. 3 near Baghdad airport. Soleimani was killed."
    assert sentences(text) == [
        "The strike came on Jan. 3 near Baghdad airport.",
        "Soleimani was killed.",
    ]


def test_line_breaks_end_a_sentence() -> None:
    text = "Qassim Abdul-Zahra, The Associated Press\nThe talks began in June.\n\nThey go on."
    assert sentences(text) == [
        "Qassim Abdul-Zahra, The Associated Press",
        "The talks began in June.",
        "They go on.",
    ]


def test_no_sentences_in_blank_text() -> None:
    assert sentence_spans("") == []
    assert sentence_spans(" \n\n ") == []


KEEPING_TEXT_CASES = [
    "Maj. Gen. Tahseen al-Khafaji said the rockets landed. U.S. troops were there.",
    "He said so. She agreed!  Then?\n\n  Indented line.  ",
    "  Leading spaces. And a trailing newline.\n",
    "One sentence without a full stop",
    "",
    "   ",
]


@pytest.mark.parametrize("text", KEEPING_TEXT_CASES)
def test_split_keeping_text_concatenates_back(text: str) -> None:
    pieces = split_keeping_text(text)
    assert "".join(pieces) == text
    assert len(pieces) == max(1, len(sentence_spans(text)))


def test_split_keeping_text_pieces() -> None:
    text = "Maj. Gen. Tahseen al-Khafaji said the rockets landed. U.S. troops were there.\nNext."
    assert split_keeping_text(text) == [
        "Maj. Gen. Tahseen al-Khafaji said the rockets landed. ",
        "U.S. troops were there.\n",
        "Next.",
    ]


# ---------------------------------------------------------------------------------------------
# read_question: the question read once for every stage


def test_a_follow_up_is_read_with_the_turn_it_points_back_to() -> None:
    query = read_question("Which TV channel did he speak to?", ["Who is the Badr spokesman?"])
    assert query.context == ("Who is the Badr spokesman?",)
    assert query.searched_for == "Who is the Badr spokesman? Which TV channel did he speak to?"
    (part,) = query.parts
    assert part.want is Want.NAME
    assert part.weights["spokesman"] == 0.5 and part.weights["channel"] == 1.0


def test_a_chain_of_follow_ups_is_read_back_to_the_question_it_began_with() -> None:
    spokesman = ["Who is the Badr spokesman?", "Which TV channel did he speak to?"]
    history = ["What did the Fed decide?", *spokesman]
    query = read_question("What did he say there?", history)
    assert query.context == tuple(spokesman)


def test_a_question_that_stands_alone_ignores_the_history() -> None:
    query = read_question("When did rockets hit Balad?", ["Who is the Badr spokesman?"])
    assert query.context == () and query.searched_for == "When did rockets hit Balad?"


def test_the_parts_of_a_compound_question_are_read_apart() -> None:
    query = read_question("Who is the Badr spokesman, and how many troops left in 2020?")
    first, second = query.parts
    assert (first.want, first.role) == (Want.PERSON, "spokesman")
    assert (second.want, second.years, second.counted) == (
        Want.NUMBER, frozenset({"2020"}), frozenset({"troop", "left"})
    )  # fmt: skip
    # The second part may refer to the first: its terms come with half weight.
    assert second.weights["badr"] == 0.5
    assert query.whole.text == query.question and len(query.search_texts) == 2


def test_the_two_times_of_a_between_question_do_not_lean_on_each_other() -> None:
    query = read_question("How many US troops were in Iraq between 2018 and 2021?")
    assert [p.years for p in query.parts] == [frozenset({"2018"}), frozenset({"2021"})]
    assert all(w == 1.0 for p in query.parts for w in p.weights.values())
