"""Findings: a claim, the numbers measured for it, and a verdict computed from those numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["supported", "refuted", "mixed", "inconclusive"]


@dataclass(frozen=True)
class Finding:
    """One claim put to the test.

    Attributes:
        study: the study that produced it (``"symmetry"``).
        claim: the claim in one sentence, as the seed question or answer puts it.
        verdict: computed by the study's verdict function from ``numbers`` and ``thresholds``;
            never written by hand.
        summary: one sentence stating the key number(s) behind the verdict.
        numbers: the measured values the verdict was computed from (JSON-able).
        thresholds: the thresholds the verdict function compared them against.
        figures: ids of the figures that show the evidence (report anchors).
    """

    study: str
    claim: str
    verdict: Verdict
    summary: str
    numbers: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    figures: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "claim": self.claim, "verdict": self.verdict,
                "summary": self.summary, "numbers": self.numbers,
                "thresholds": self.thresholds, "figures": list(self.figures)}
