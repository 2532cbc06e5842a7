"""Readers' verdicts on answers, written as candidate gold items for a person to review.

Each item is a valid line of the gold format (docs/evaluation.md, "Gold file format"), so
the reviewed file runs with `rag eval` as it is:
- an answer marked good: the answer's own words are the expected answer, its cited files
  the sources (an abstention marked good: an unanswerable item);
- an answer marked wrong with a correction: the correction is the expected answer;
- an answer marked wrong without one: an unanswerable item if it was answered, so the
  reviewer decides; none if it abstained (nothing to learn from it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rag.answer.citations import strip_markers
from rag.conversations import Feedback
from rag.eval.gold import GoldItem


def candidate_items(feedback: Sequence[Feedback]) -> Iterator[GoldItem]:
    """The gold items the verdicts suggest, in the order they were given."""
    for verdict in feedback:
        answer = verdict.turn.answer
        turns = [*verdict.history, verdict.turn.question]
        common = {
            "id": f"fb-{verdict.conversation}-{verdict.n}",
            "question": verdict.turn.question,
            "turns": turns if len(turns) > 1 else [],
            "kind": "feedback-good" if verdict.good else "feedback-corrected",
        }
        sources = sorted({c.file for c in answer.citations})
        if verdict.good and answer.abstained:
            yield GoldItem.model_validate({**common, "unanswerable": True})
        elif verdict.good or verdict.correction:
            expected = " ".join(strip_markers(answer.answer).split())
            if not verdict.good:
                expected = verdict.correction
            if sources:
                yield GoldItem.model_validate(
                    {**common, "answers": [expected], "source_files": sources}
                )
        elif not answer.abstained:
            yield GoldItem.model_validate(
                {**common, "unanswerable": True, "kind": "feedback-wrong"}
            )

