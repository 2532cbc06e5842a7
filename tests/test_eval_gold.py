"""Answer matching, gold ranks, and reading gold and split files."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.eval.gold import GoldError, GoldItem, load_gold, load_questions, load_split, select
from rag.eval.metrics import TIMELINE_KIND, contains, gold_rank, is_correct, normalize
from rag.types import Answer, Chunk, DateBasis, Hit, Mode, TimelineEntry, UserError
from tests.conftest import REPO

# ---------------------------------------------------------------------------------------------
# normalize / contains


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kareem Nuri", "kareem nuri"),
        ("  KAREEM   Nuri. ", "kareem nuri"),
        ("al-Kadhimi", "al kadhimi"),
        ("Iran's Zarif", "iran zarif"),  # a possessive is dropped
        ("Ali Hamid’s team", "ali hamid team"),
        ("don't", "dont"),
        ("U.S. troops", "us troops"),
        ("2,500", "2500"),  # separators inside a number are dropped
        ("5.3 million", "53 million"),
        ("“quoted”, (AP)", "quoted ap"),
        ("", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("answer", "alias", "expected"),
    [
        ("Badr spokesman Kareem Nuri said so.", "kareem nuri", True),  # case
        ("Badr spokesman Kareem Nuri said so.", "Nuri said.", True),  # punctuation
        ("Prime Minister Mustafa al-Kadhimi", "al Kadhimi", True),
        ("About 2,500 U.S. troops remain.", "2,500", True),
        ("About 2,500 U.S. troops remain.", "u.s.", True),
        ("At least 100 rockets", "10", False),  # whole words: 10 is not 100
        ("At least 10 rockets", "10", True),
        ("Kadhimi met Zarif", "Kadhimi met Zarif", True),
        ("Baghdad", "Bagh", False),
        ("Kareem Nuri", "Nuri Kareem", False),  # order matters
        ("Director Garry Marshall's Pretty Woman", "Garry Marshall", True),
        # Separators inside numbers and abbreviations are dropped: the spellings meet.
        ("About 2,500 U.S. troops remain.", "2500", True),
        ("About 2,500 U.S. troops remain.", "US", True),
    ],
)
def test_contains(answer: str, alias: str, expected: bool) -> None:
    assert contains(answer, alias) is expected


@pytest.mark.parametrize(
    ("answer", "alias"),
    [("About 2,500 U.S. troops remain.", "500"), ("Damage of 5.3 million dollars", "3 million")],
)
def test_contains_does_not_match_part_of_a_number(answer: str, alias: str) -> None:
    assert not contains(answer, alias)


# ---------------------------------------------------------------------------------------------
# is_correct


def answer(text: str = "", abstained: bool = False, hits: list[Hit] | None = None) -> Answer:
    return Answer(
        question="q",
        answer=text,
        abstained=abstained,
        mode=Mode.EXTRACTIVE,
        citations=(),
        hits=tuple(hits or ()),
        searched_for="q",
    )


CANNOT = "I cannot answer that from the articles."
SPOKESMAN = GoldItem(id="s", question="Who?", answers=("Kareem Nuri", "Nuri"), source_files=("a",))
BOTH = GoldItem(
    id="b",
    question="Who and where?",
    answers_all=(("Kareem Nuri",), ("Baghdad", "the Iraqi capital")),
    source_files=("a",),
)
NONE = GoldItem(id="n", question="Who won the 1990 World Cup?", unanswerable=True)


@pytest.mark.parametrize(
    ("item", "reply", "expected"),
    [
        (SPOKESMAN, answer("Badr spokesman Kareem Nuri said [1]."), True),
        (SPOKESMAN, answer("It was Nuri [1]."), True),  # any alternative
        (SPOKESMAN, answer("Jaafar Al-Husseini [1]."), False),
        (SPOKESMAN, answer("Kareem Nuri", abstained=True), False),  # abstained: never correct
        (BOTH, answer("Kareem Nuri spoke in Baghdad."), True),
        (BOTH, answer("Kareem Nuri spoke in the Iraqi capital."), True),  # second alternative
        (BOTH, answer("Kareem Nuri spoke."), False),  # one group missing
        (BOTH, answer("He spoke in Baghdad."), False),
        (NONE, answer(CANNOT, abstained=True), True),
        (NONE, answer("West Germany won it."), False),
    ],
)
def test_is_correct(item: GoldItem, reply: Answer, expected: bool) -> None:
    assert is_correct(item, reply) is expected


AS_OF = GoldItem(
    id="a", question="How many now?", as_of=date(2019, 6, 30), answers=("5,000",),
    answers_not=("2,500",), source_files=("a",),
)  # fmt: skip
HISTORY = GoldItem(
    id="t", question="How many?", answers_all=(("5,000",), ("2,500",)), source_files=("a",),
    kind=TIMELINE_KIND,
)  # fmt: skip


def entry(day: date, text: str) -> TimelineEntry:
    return TimelineEntry(day, str(day), "day", DateBasis.ARTICLE, text, (1,))


def test_an_answer_holding_a_figure_it_must_not_is_wrong() -> None:
    assert is_correct(AS_OF, answer("More than 5,000 troops [1]."))
    assert not is_correct(AS_OF, answer("More than 5,000, now 2,500 troops [1]."))


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ((entry(date(2018, 2, 6), "5,000"), entry(date(2021, 4, 7), "2,500")), True),
        ((entry(date(2021, 4, 7), "2,500"), entry(date(2018, 2, 6), "5,000")), False),  # order
        ((), False),  # the values alone, not as a timeline
    ],
)
def test_a_timeline_item_needs_a_timeline_in_date_order(
    entries: tuple[TimelineEntry, ...], expected: bool
) -> None:
    reply = replace(answer("5,000 then 2,500 [1]."), timeline=entries)
    assert is_correct(HISTORY, reply) is expected


# ---------------------------------------------------------------------------------------------
# gold_rank


def chunk(file: str, n: int = 0) -> Chunk:
    return Chunk(
        id=f"{file}#{n}",
        file=file,
        file_sha256="0" * 64,
        article=0,
        title="Title",
        date=None,
        start=0,
        end=4,
        text="text",
    )


def test_gold_rank_is_the_first_hit_from_a_gold_file() -> None:
    item = GoldItem(id="x", question="Q?", answers=("a",), source_files=("gold.txt", "also.txt"))
    hits = [
        Hit(chunk("other.txt"), 0.9),
        Hit(chunk("also.txt"), 0.8),
        Hit(chunk("gold.txt"), 0.7),
    ]
    assert gold_rank(item, answer(hits=hits)) == 2


def test_gold_rank_counts_a_copy_from_a_gold_file() -> None:
    item = GoldItem(id="x", question="Q?", answers=("a",), source_files=("gold.txt",))
    hits = [
        Hit(chunk("other.txt"), 0.9),
        Hit(chunk("wire.txt"), 0.8, copies=(chunk("copy.txt"), chunk("gold.txt"))),
        Hit(chunk("gold.txt"), 0.7),
    ]
    assert gold_rank(item, answer(hits=hits)) == 2


def test_gold_rank_none_when_no_hit_carries_a_gold_file() -> None:
    item = GoldItem(id="x", question="Q?", answers=("a",), source_files=("gold.txt",))
    hits = [Hit(chunk("other.txt"), 0.9, copies=(chunk("copy.txt"),))]
    assert gold_rank(item, answer(hits=hits)) is None
    assert gold_rank(item, answer(hits=[])) is None


# ---------------------------------------------------------------------------------------------
# load_gold

CORPUS_FILES = ["000.txt", "002.txt"]
GOOD_1 = {"id": "q1", "question": "Who is the Badr spokesman?", "answers": ["Kareem Nuri"],
          "source_files": ["000.txt"]}  # fmt: skip
GOOD_2 = {"id": "q2", "question": "Who won the 1990 World Cup?", "unanswerable": True}


def gold_file(tmp_path: Path, third: str) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps(GOOD_1) + "\n" + json.dumps(GOOD_2) + "\n" + third + "\n")
    return path


def line(**fields: object) -> str:
    return json.dumps({"id": "q3", "question": "How many troops?", **fields})


@pytest.mark.parametrize(
    ("third", "problem"),
    [
        ('{"id": "q3", "question": ', "not valid JSON"),
        ('["q3", "How many troops?"]', "must be a JSON object"),
        (line(answers=["2,500"], source_files=["002.txt"], answer="2,500"),
         "unknown field(s) ['answer']"),
        (json.dumps({"id": "q3", "answers": ["2,500"], "source_files": ["002.txt"]}),
         "field 'question' must be a non-empty string"),
        (line(question="  ", answers=["2,500"], source_files=["002.txt"]),
         "field 'question' must be a non-empty string"),
        (json.dumps({"question": "Q?", "answers": ["2,500"], "source_files": ["002.txt"]}),
         "field 'id' must be a non-empty string"),
        (json.dumps({"id": 3, "question": "Q?", "answers": ["2,500"], "source_files": ["002.txt"]}),
         "field 'id' must be a non-empty string"),
        (line(answers=["2,500"], source_files=["002.txt"], unanswerable="no"),
         "'unanswerable' must be true or false"),
        (line(answers=["2,500"], source_files=["002.txt"], kind=3), "'kind' must be a string"),
        (line(answers=["2,500"], answers_all=[["2,500"]], source_files=["002.txt"]),
         "give exactly one of 'answers' or 'answers_all'"),
        (line(source_files=["002.txt"]), "give exactly one of 'answers' or 'answers_all'"),
        (line(unanswerable=True, answers=["2,500"]), "an unanswerable item has no answers"),
        (line(answers=["2,500"], source_files=[]), "'source_files' must list the files"),
        (line(answers=["2,500"]), "'source_files' must list the files"),
        (line(answers=["2,500"], source_files=["nope.txt"]),
         "source_files names ['nope.txt'], not in the corpus"),
        (line(answers=[""], source_files=["002.txt"]), "'answers' must be a list of strings"),
        (line(answers_all=[[]], source_files=["002.txt"]), "'answers_all' elements must be"),
        (json.dumps({**GOOD_1, "question": "Another question?"}), "id 'q1' is used twice"),
        (line(answers=["5,000"], source_files=["002.txt"], as_of="June 2019"),
         "'as_of' must be a date written YYYY-MM-DD"),
        (line(answers=["5,000"], source_files=["002.txt"], answers_not="2,500"),
         "'answers_not' must be a list of strings"),
        (line(answers=["2,500"], source_files=["002.txt"], turns=["Hi?", "Something else?"]),
         "'turns' must be strings ending with the question itself"),
    ],
)
def test_load_gold_names_the_line_and_the_problem(tmp_path: Path, third: str, problem: str) -> None:
    path = gold_file(tmp_path, third)
    with pytest.raises(GoldError) as error:
        load_gold(path, CORPUS_FILES)
    message = str(error.value)
    assert "gold.jsonl:3: " in message
    assert problem in message


def test_every_problem_of_a_line_is_named_at_once(tmp_path: Path) -> None:
    path = gold_file(tmp_path, line(answers=[""], source_files=["002.txt"], kind=3, answer="x"))
    with pytest.raises(GoldError) as error:
        load_gold(path, CORPUS_FILES)
    assert str(error.value) == (
        f"{path}:3: unknown field(s) ['answer']; allowed: ['answers', 'answers_all', "
        "'answers_not', 'as_of', 'id', 'kind', 'question', 'rewording_of', 'source_files', "
        "'turns', "
        "'unanswerable']; "
        "'answers' must be a list of strings; 'kind' must be a string"
    )


def test_gold_error_is_a_user_error() -> None:
    assert issubclass(GoldError, UserError)


def test_gold_items_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        setattr(SPOKESMAN, "question", "Who else?")  # noqa: B010 - mypy knows it is read-only


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps(GOOD_1) + "\n\n\n" + json.dumps(GOOD_1) + "\n")
    with pytest.raises(GoldError, match=r"gold\.jsonl:4: id 'q1' is used twice"):
        load_gold(path)


def test_any_source_file_is_accepted_without_a_corpus_list(tmp_path: Path) -> None:
    path = gold_file(tmp_path, line(answers=["2,500"], source_files=["nope.txt"]))
    assert [item.id for item in load_gold(path)] == ["q1", "q2", "q3"]


def test_empty_gold_file(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text("\n  \n")
    with pytest.raises(GoldError, match="no questions"):
        load_gold(path)


def test_valid_gold_file(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    records = [
        GOOD_1,
        GOOD_2,
        {
            "id": "q3",
            "question": "And where did he speak?",
            "answers_all": ["Baghdad", ["Monday", "on Monday"]],
            "source_files": ["000.txt", "002.txt"],
            "turns": ["Who is the Badr spokesman?", "And where did he speak?"],
            "kind": "follow-up",
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert load_gold(path, CORPUS_FILES) == [
        GoldItem(
            id="q1",
            question="Who is the Badr spokesman?",
            answers=("Kareem Nuri",),
            source_files=("000.txt",),
        ),
        GoldItem(id="q2", question="Who won the 1990 World Cup?", unanswerable=True),
        GoldItem(
            id="q3",
            question="And where did he speak?",
            answers_all=(("Baghdad",), ("Monday", "on Monday")),  # a string is a 1-tuple
            source_files=("000.txt", "002.txt"),
            turns=("Who is the Badr spokesman?", "And where did he speak?"),
            kind="follow-up",
        ),
    ]
    assert load_gold(path)[2].history == ("Who is the Badr spokesman?",)


# ---------------------------------------------------------------------------------------------
# split files

SPLIT = {"about": "by hand", "seed": 3, "dev": ["q1"], "test": ["q2", "q3"]}


def split_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "split.json"
    path.write_text(text)
    return path


def three_items(tmp_path: Path) -> list[GoldItem]:
    return load_gold(gold_file(tmp_path, line(answers=["2,500"], source_files=["002.txt"])))


def test_a_split_selects_the_ids_of_its_part(tmp_path: Path) -> None:
    items = three_items(tmp_path)
    path = split_file(tmp_path, json.dumps(SPLIT))
    dev, test = load_split(path, "dev", items), load_split(path, "test", items)
    assert [item.id for item in select(items, split=dev)] == ["q1"]
    assert [item.id for item in select(items, split=test)] == ["q2", "q3"]
    assert [item.id for item in select(items, limit=1, split=test)] == ["q2"]
    assert test.meta() == {"file": str(path), "part": "test", "seed": 3, "ids": 2}
    with pytest.raises(GoldError, match="no gold item selected"):
        select(items, ["q1"], split=test)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (json.dumps({**SPLIT, "dev": ["q1", "q9"]}), "ids ['q9'] are not in the gold file"),
        (json.dumps({**SPLIT, "dev": ["q1", "q2"]}),
         "ids ['q2'] are in both dev and test; the parts must not overlap"),
        (json.dumps({**SPLIT, "test": ["q2", "q2"]}), "test lists ['q2'] more than once"),
        (json.dumps({**SPLIT, "seed": "three"}), "seed: Input should be a valid integer"),
        (json.dumps({**SPLIT, "train": []}), "train: Extra inputs are not permitted"),
        (json.dumps({k: v for k, v in SPLIT.items() if k != "about"}), "about: Field required"),
        ('{"about": ', "file: Invalid JSON"),
    ],
)
def test_split_file_problems_name_the_file(tmp_path: Path, text: str, problem: str) -> None:
    items = three_items(tmp_path)
    path = split_file(tmp_path, text)
    with pytest.raises(GoldError) as error:
        load_split(path, "dev", items)
    assert str(error.value).startswith(f"{path}: ")
    assert problem in str(error.value)


def test_a_missing_split_file_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(GoldError, match="split.json does not exist: .* --split-file FILE"):
        load_split(tmp_path / "split.json", "dev", three_items(tmp_path))


@pytest.mark.parametrize("folder", ["eval", "eval/extra", "eval/bbc"])
def test_each_shipped_split_holds_every_gold_id_once(folder: str) -> None:
    items, reworded = load_questions(REPO / folder / "gold.jsonl")
    path = REPO / folder / "split.json"
    every = [*items, *reworded]
    dev, test = load_split(path, "dev", every), load_split(path, "test", every)
    assert not dev.ids & test.ids
    own = {item.id for item in every if item.rewording_of is None}  # a rewording has its item's
    assert dev.ids | test.ids == own
