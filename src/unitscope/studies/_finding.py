"""Findings, figure specs and study results: what a study hands to the report.

A study measures; its verdict functions turn numbers into verdicts; the report draws. Studies
describe their figures as :class:`FigureSpec` (a kind plus the arrays to draw), so this stage
never imports the report.
"""

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
        return {
            "study": self.study,
            "claim": self.claim,
            "verdict": self.verdict,
            "summary": self.summary,
            "numbers": self.numbers,
            "thresholds": self.thresholds,
            "figures": list(self.figures),
        }


@dataclass(frozen=True)
class FigureSpec:
    """A figure to draw: ``kind`` is a report figure builder (``lines``, ``heatmap``,
    ``histogram``, ``table``, ``unit_grid``, ``image_grid``) and ``args`` its arguments."""

    id: str
    kind: str
    caption: str
    args: dict[str, Any]
    title: str = ""


@dataclass
class StudyResult:
    """What one study produced.

    Attributes:
        name: the study's registry name.
        title: a heading for the report.
        question: the question it answers, in one or two sentences (report intro).
        findings: the verdicts.
        figures: the figures, in order.
        numbers: every measured number (JSON-able), also written to ``findings.json``.
        failures: parts that failed, one line each (the rest is still reported).
        elapsed_s: wall time.
    """

    name: str
    title: str
    question: str
    findings: list[Finding] = field(default_factory=list)
    figures: list[FigureSpec] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "question": self.question,
            "findings": [f.to_dict() for f in self.findings],
            "numbers": self.numbers,
            "failures": self.failures,
            "elapsed_s": round(self.elapsed_s, 3),
        }
