"""Every evaluation metric on a small example computed by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.eval.gold import GoldItem
from rag.eval.metrics import breakdown, rewording_figures, score, summarize, token_f1
from rag.types import Answer, Chunk, Citation, Hit, Mode


def chunk(file: str) -> Chunk:
    return Chunk(f"id-{file}", file, "", 0, file, None, 0, 1, "text")


def answer(text: str, files: list[str], citations: list[Citation], abstained: bool = False,
           total_ms: float = 10.0) -> Answer:  # fmt: skip
    hits = tuple(Hit(chunk(f), 1.0) for f in files)
    return Answer(question="q", answer=text, abstained=abstained, mode=Mode.EXTRACTIVE,
                  citations=tuple(citations), hits=hits, searched_for="q",
                  timings_ms={"total": total_ms})  # fmt: skip


def cite(n: int, file: str, quote: str, also_in: tuple[str, ...] = ()) -> Citation:
    return Citation(n, file, file, None, quote, 0, len(quote), also_in)


TROOPS = GoldItem(id="a", question="When did troops drop to 2,500?", answers=("late 2020",),
                  source_files=("002.txt",), kind="date")  # fmt: skip
SPOKESMAN = GoldItem(id="b", question="Who speaks for Badr?", answers=("Kareem Nuri",),
                     source_files=("000.txt", "001.txt"), kind="person")  # fmt: skip
CHIEF = GoldItem(id="c", question="Who is Basra's police chief?", answers=("Rashid Fleih",),
                 source_files=("002.txt",), kind="person")  # fmt: skip
TWO_PMS = GoldItem(id="d", question="Who were the two prime ministers?",
                   answers_all=(("Abadi",), ("Kadhimi",)), source_files=("000.txt", "004.txt"),
                   kind="multi",
                   turns=("Earlier question?", "Who were the two prime ministers?"))  # fmt: skip
WORLD_CUP = GoldItem(id="u", question="Who won the World Cup?", unanswerable=True,
                     kind="unanswerable")  # fmt: skip


@pytest.fixture
def records():
    return [
        # Right answer, right citation; the gold file is ranked 1.
        score(TROOPS, answer("In late 2020 troops fell to 2,500. [1]", ["002.txt", "000.txt"],
              [cite(1, "002.txt", "In late 2020 troops fell to 2,500.")]), first_text_ms=5.0),
        # Right answer but the citation is from a file that is not gold: a citation error.
        score(SPOKESMAN, answer("Badr spokesman Kareem Nuri said. [1]", ["003.txt", "001.txt"],
              [cite(1, "003.txt", "Badr spokesman Kareem Nuri said.")]), first_text_ms=7.0),
        # Abstention on an answerable question; the gold file is ranked 2.
        score(CHIEF, answer("I cannot answer.", ["004.txt", "002.txt"], [], abstained=True),
              first_text_ms=1.0),
        # Needs both names; has one; two citations, one correct (its copy is gold).
        score(TWO_PMS, answer("Abadi said so. [1] Nobody else. [2]", ["003.txt"],
              [cite(1, "003.txt", "Abadi said so.", also_in=("000.txt",)),
               cite(2, "004.txt", "Nobody else.")]), first_text_ms=3.0),
        # Unanswerable and abstained: right.
        score(WORLD_CUP, answer("I cannot answer.", ["001.txt"], [], abstained=True,
              total_ms=30.0)),
    ]  # fmt: skip


def test_per_item_figures(records) -> None:
    troops, spokesman, chief, two_pms, world_cup = records
    assert (troops.correct, troops.gold_rank, troops.citations_correct) == (True, 1, 1)
    assert troops.cited_correctly
    assert (spokesman.correct, spokesman.gold_rank, spokesman.citations_correct) == (True, 2, 0)
    assert not spokesman.cited_correctly  # right answer, wrong file cited
    assert spokesman.recall == 0.5  # 001 found, 000 not
    assert (chief.correct, chief.gold_rank, chief.f1) == (False, 2, 0.0)
    assert two_pms.correct is False and two_pms.citations_correct == 1
    assert two_pms.recall == 0.0  # the hits hold 003 only; its citation's copy is not a hit
    assert world_cup.correct


def test_summary_figures(records) -> None:
    summary = summarize(records)
    # Answerable: troops, spokesman, chief, two_pms (4). Unanswerable: world cup (1).
    assert (summary["answerable"], summary["unanswerable"]) == (4, 1)
    # Gold ranks 1, 2, 2, None -> hit@1 1/4; hit@5 3/4; MRR (1 + 1/2 + 1/2 + 0) / 4 = 0.5.
    assert summary["hit_at_1"] == 0.25
    assert summary["hit_at_5"] == 0.75
    assert summary["mrr"] == 0.5
    # Recall of gold files in the hits: 1, 1/2, 1, 0 -> 2.5 / 4 = 0.625.
    assert summary["recall_at_5"] == 0.625
    # Correct: troops, spokesman -> 2/4; correctly cited: troops only -> 1/4.
    assert summary["answer_accuracy"] == 0.5
    assert summary["cited_accuracy"] == 0.25
    # Answered answerable: troops, spokesman, two_pms with 1 + 1 + 2 = 4 citations, of which
    # correct: 1 + 0 + 1 -> precision 2/4; answers with a correct citation: 2 of 3.
    assert summary["citation_precision"] == 0.5
    assert summary["citation_recall"] == 0.6667
    # Abstained: chief (answerable), world cup (unanswerable).
    assert summary["abstention_accuracy"] == 1.0  # recall on unanswerable items: 1/1
    assert summary["abstention_precision"] == 0.5  # 1 of the 2 abstentions was right
    assert summary["false_abstentions"] == 1
    assert summary["false_abstention_rate"] == 0.25
    # Latencies 10, 10, 10, 10, 30 -> p50 10, p95 30; first text 1, 3, 5, 7 -> p50 5.
    assert (summary["latency_p50_ms"], summary["latency_p95_ms"]) == (10.0, 30.0)
    assert summary["first_text_p50_ms"] == 5.0


def test_the_share_of_model_answers_set_aside(records) -> None:
    assert (summarize(records)["model_answers"], summarize(records)["set_aside_rate"]) == (0, 0.0)
    troops, spokesman, chief, two_pms, world_cup = records
    by_model = {"model": "llama3.2:3b"}
    set_aside = {**by_model, "mode": Mode.EXTRACTIVE, "fallback_reason": "set aside"}
    # Written by the model: troops and spokesman shown; two_pms set aside; chief set aside
    # and the quoted answer then declined; the world cup declined before the model was asked.
    changed = [
        replace(troops, answer=replace(troops.answer, mode=Mode.OLLAMA, **by_model)),
        replace(spokesman, answer=replace(spokesman.answer, mode=Mode.OPENAI, **by_model)),
        replace(chief, answer=replace(chief.answer, **set_aside)),
        replace(two_pms, answer=replace(two_pms.answer, **set_aside)),
        replace(world_cup, answer=replace(world_cup.answer, mode=Mode.OLLAMA, **by_model)),
    ]
    summary = summarize(changed)
    assert (summary["model_answers"], summary["set_aside_rate"]) == (4, 0.5)


def test_answer_f1(records) -> None:
    # "In late 2020 troops fell to 2,500." vs "late 2020": 2 common tokens of 7 predicted
    # (in late 2020 troops fell to 2500) and 2 gold -> P 2/7, R 1, F1 = 2*(2/7)/(9/7) = 4/9.
    assert records[0].f1 == pytest.approx(4 / 9)
    summary = summarize(records)
    # Citation markers are not answer words.
    spokesman_f1 = token_f1("Badr spokesman Kareem Nuri said.", "Kareem Nuri")
    two_pms_f1 = token_f1("Abadi said so. Nobody else.", "Abadi Kadhimi")
    assert summary["answer_f1"] == round((4 / 9 + spokesman_f1 + 0 + two_pms_f1) / 4, 4)


def test_lead_accuracy_counts_answers_right_on_their_first_sentence(records) -> None:
    # The troops and spokesman answers hold their gold answer in the sentence before [1];
    # the chief was declined; the two prime ministers' answer is wrong as a whole.
    assert [r.lead_correct for r in records[:4]] == [True, True, False, False]
    second = score(TROOPS, answer("Troops were cut. [1] In late 2020 troops fell to 2,500. [2]",
                                  ["002.txt"], []))  # fmt: skip
    assert second.correct and not second.lead_correct
    assert summarize(records)["lead_accuracy"] == 0.5


def test_answer_f1_ignores_every_marker() -> None:
    marked = answer("In late 2020 [1, 2] troops fell [unsupported] to 2,500. [3]", ["002.txt"], [])
    plain = answer("In late 2020 troops fell to 2,500.", ["002.txt"], [])
    assert score(TROOPS, marked).f1 == score(TROOPS, plain).f1 == pytest.approx(4 / 9)


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("late 2020", "late 2020", 1.0),
        ("The late 2020", "late 2020", 1.0),  # articles do not count
        ("2020", "late 2020", 2 / 3),  # P 1, R 1/2
        ("nothing here", "late 2020", 0.0),
        ("", "late 2020", 0.0),
    ],
)
def test_token_f1(prediction: str, reference: str, expected: float) -> None:
    assert token_f1(prediction, reference) == pytest.approx(expected)


def test_breakdown_by_kind_and_follow_ups(records) -> None:
    groups = breakdown(records)
    assert groups["person"]["answerable"] == 2 and groups["person"]["answer_accuracy"] == 0.5
    assert groups["(follow-ups)"]["items"] == 1
    assert groups["(single questions)"]["items"] == 4
    assert groups["unanswerable"]["abstention_accuracy"] == 1.0


def test_rewordings_are_scored_beside_their_originals() -> None:
    def item(id_: str, **fields: object) -> GoldItem:
        return GoldItem.model_validate({"id": id_, "question": "q", **fields})

    right = {"answers": ["2,500"], "source_files": ["a.txt"]}
    original = score(item("q1", **right), answer("2500 troops", ["a.txt"], []))
    reworded = [
        score(item("q1-r1", rewording_of="q1", kind="rewording", **right),
              answer("I cannot answer", ["a.txt"], [], abstained=True)),
        score(item("q1-r2", rewording_of="q1", kind="rewording", **right),
              answer("2,500", ["a.txt"], [])),
        # Asked after an unrelated question: right only when searched on its own.
        score(item("q1-s1", rewording_of="q1", kind="topic_switch", turns=["x", "q"], **right),
              answer("2,500", ["a.txt"], [])),
        # Declined, but with passages shown: wrong for an off-topic question.
        score(item("off1", unanswerable=True, kind="off_topic"),
              answer("I cannot answer", ["a.txt"], [], abstained=True)),
        score(item("off2", unanswerable=True, kind="off_topic"),
              answer("I cannot answer", [], [], abstained=True)),
    ]  # fmt: skip
    assert [r.correct for r in reworded] == [False, True, True, False, True]
    assert rewording_figures([original], reworded) == {
        "reworded": 2,
        "reworded_accuracy": 0.5,
        "original_accuracy": 1.0,
        "reworded_declined": 0.5,
        "topic_switches": 1,
        "topic_switch_accuracy": 1.0,
        "off_topic": 2,
        "off_topic_declined": 0.5,
    }
    merged = score(item("q1-s2", rewording_of="q1", kind="topic_switch", turns=["x", "q"], **right),
                   replace(answer("2,500", ["a.txt"], []), searched_for="x q"))  # fmt: skip
    assert not merged.correct
