"""How sure an answer is: a calibrator over the reader's own evidence.

In the spirit of Kamath, Jia and Liang, "Selective Question Answering under Domain Shift"
(ACL 2020): a small model, fitted apart from the reader on held-out questions, reads the
reader's evidence (`rag.types.Evidence`: how much of the question the quote covers, whether
it holds what was asked, how close in meaning the passage is, by how much the best sentence
beat the next) and says how likely the answer is right. Answers above a threshold chosen on
the dev parts are "high"; the rest are "low", for the reader to check against the quote.

The weights are a logistic regression fitted by `scripts/fit_confidence.py` on the dev parts
only; `confidence.json` records what it was fitted on and the dev figures.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rag.types import Confidence, Evidence

CALIBRATOR_FILE = Path(__file__).with_name("confidence.json")


@dataclass(frozen=True)
class Calibrator:
    """A logistic regression over the evidence, and the probability that makes it "high"."""

    weights: Mapping[str, float] = field(default_factory=dict)
    bias: float = 0.0
    # Above 1 no answer is "high": the choice when no calibrator has been fitted.
    threshold: float = 2.0

    @classmethod
    def load(cls, path: Path = CALIBRATOR_FILE) -> Calibrator:
        """The fitted calibrator of `path`; without the file, one that never says "high"."""
        if not path.exists():
            return cls()
        fitted = json.loads(path.read_text(encoding="utf-8"))
        return cls(fitted["weights"], fitted["bias"], fitted["threshold"])

    def probability(self, evidence: Evidence) -> float:
        """How likely an answer resting on `evidence` is right."""
        features = evidence.features()
        z = self.bias + sum(w * features[name] for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-z))

    def level(self, evidence: Evidence | None) -> Confidence:
        """"high" or "low" for an answer; "none" without evidence (a decline)."""
        if evidence is None:
            return Confidence.NONE
        return Confidence.HIGH if self.probability(evidence) >= self.threshold else Confidence.LOW


CALIBRATOR = Calibrator.load()
