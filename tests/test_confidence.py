"""The confidence calibrator: its arithmetic, the shipped fit, and confidence on answers."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path

import pytest

from rag.answer.confidence import CALIBRATOR_FILE, Calibrator
from rag.pipeline import Pipeline
from rag.types import Confidence, Evidence

EVIDENCE = Evidence(
    support=1.0, own_share=0.5, holds_kind=True, typed=True, nearest=0.6, quoted=0.6,
    margin=0.2, top=True, unknown_share=0.0, rival_margin=0.2, agreement=False, values=2.0,
    terms=4.0, second=False,
)  # fmt: skip


@pytest.mark.parametrize(
    ("weights", "bias", "threshold", "level"),
    [
        ({"terms": 1.0}, -3.0, 0.7, Confidence.HIGH),  # sigmoid(1) = 0.73
        ({"terms": 1.0}, -3.0, 0.75, Confidence.LOW),
        ({"own_share": 2.0, "values": -1.0}, 1.0, 0.6, Confidence.LOW),  # z = 0: p = 0.5
        ({}, 0.0, 0.5, Confidence.HIGH),  # p = 0.5 reaches a threshold of 0.5
    ],
)
def test_level_from_probability(
    weights: dict[str, float], bias: float, threshold: float, level: Confidence
) -> None:
    calibrator = Calibrator(weights, bias, threshold)
    z = bias + sum(w * EVIDENCE.features()[n] for n, w in weights.items())
    assert calibrator.probability(EVIDENCE) == pytest.approx(1 / (1 + math.exp(-z)))
    assert calibrator.level(EVIDENCE) is level


def test_a_decline_has_no_confidence_and_no_fit_never_says_high() -> None:
    assert Calibrator({"terms": 9.0}, 0.0, 0.5).level(None) is Confidence.NONE
    unfitted = Calibrator.load(Path("/nonexistent/confidence.json"))
    assert unfitted.level(EVIDENCE) is Confidence.LOW


def test_the_shipped_fit_weighs_evidence_fields_and_was_fitted_on_dev() -> None:
    fitted = json.loads(CALIBRATOR_FILE.read_text(encoding="utf-8"))
    assert set(fitted["weights"]) <= {f.name for f in fields(Evidence)}
    assert 0.0 < fitted["threshold"] < 1.0
    assert "only dev parts" in fitted["about"]
    assert fitted["dev_figures"]["high_accuracy"] >= 0.9


def test_answers_carry_confidence_and_declines_none(indexed: Pipeline) -> None:
    answered = indexed.ask("When did US troop levels in Iraq drop to 2,500?")
    assert answered.evidence is not None
    assert answered.confidence in (Confidence.HIGH, Confidence.LOW)
    assert answered.to_dict()["confidence"] == str(answered.confidence)
    assert answered.to_dict()["evidence"]["terms"] == answered.evidence.terms
    declined = indexed.ask("What is the population of Basra?")
    assert (declined.confidence, declined.evidence) == (Confidence.NONE, None)
