"""Findings, figure specs and study results: what a study hands to the report.

A study measures; its verdict functions turn numbers into a *measured* verdict; the Finding
then judges that verdict against two checks a referee would ask for:

- a **control**: the same measurement where the claim should fail. When the control comes out
  "supported" too, the test cannot discriminate and the finding is "inconclusive".
- a **premise**: what the claim assumes (a critical point, a trained network, live units),
  measured. When it does not hold, the finding is "inconclusive" with the reason.

Every headline number carries an :class:`Interval` over independent seeds. Studies describe
their figures as :class:`FigureSpec` (a kind plus the arrays to draw), so this stage never
imports the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["supported", "refuted", "mixed", "inconclusive"]
VERDICTS: tuple[Verdict, ...] = ("supported", "refuted", "mixed", "inconclusive")


@dataclass(frozen=True)
class Interval:
    """A headline number with its ``level`` interval over ``n`` independent seeds.

    ``method`` says how it was computed: ``"t"`` (Student t over seeds), ``"bootstrap"``
    (seeds resampled), ``"holm"`` (a t interval widened for a Holm-corrected family) or
    ``"exact"`` (no sampling error: a deterministic quantity, ``lo == hi == value``).
    """

    value: float
    lo: float
    hi: float
    n: int
    level: float = 0.95
    method: str = "t"

    def above(self, threshold: float) -> bool:
        """The whole interval lies above ``threshold``."""
        return bool(self.lo > threshold)

    def below(self, threshold: float) -> bool:
        """The whole interval lies below ``threshold``."""
        return bool(self.hi < threshold)

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.value, self.lo, self.hi))

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "lo": self.lo,
            "hi": self.hi,
            "level": self.level,
            "n": self.n,
            "method": self.method,
        }


@dataclass(frozen=True)
class Control:
    """The same measurement where the claim should fail, and the verdict it gets there.

    Attributes:
        what: the control in a few words (``"dropout 0.2: masks differ per unit"``).
        verdict: the claim's verdict function applied to the control's numbers.
        numbers: the control's measured numbers.
    """

    what: str
    verdict: Verdict
    numbers: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "verdict": self.verdict, "numbers": dict(self.numbers)}


@dataclass(frozen=True)
class Premise:
    """What the claim assumes, measured.

    Attributes:
        what: the assumption in a few words (``"the narrow net is at a critical point"``).
        holds: whether the measured numbers satisfy it.
        numbers: the measured numbers (and the limits they were held to).
    """

    what: str
    holds: bool
    numbers: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "holds": bool(self.holds), "numbers": dict(self.numbers)}


def judge(
    measured: Verdict, control: Control | None, premise: Premise | None
) -> tuple[Verdict, str]:
    """The verdict a referee accepts, and why it differs from ``measured`` (``""`` if not).

    >>> judge("supported", Control("shuffled labels", "refuted"), Premise("trained", True))
    ('supported', '')
    >>> judge("supported", Control("shuffled labels", "supported"), Premise("trained", True))[0]
    'inconclusive'
    """
    if premise is None:
        return "inconclusive", "the claim's premise was not measured"
    if not premise.holds:
        return "inconclusive", f"the premise does not hold: {premise.what}"
    if control is None:
        return "inconclusive", "no control was run"
    if control.verdict == "supported" and measured in ("supported", "mixed"):
        return (
            "inconclusive",
            f"the control ({control.what}) comes out supported too: this test cannot "
            "discriminate here",
        )
    return measured, ""


@dataclass(frozen=True)
class Finding:
    """One claim put to the test.

    Attributes:
        study: the study that produced it (``"symmetry"``).
        claim: the claim in one sentence, as the seed question or answer puts it.
        measured: what the study's verdict function gives from ``numbers`` and
            ``thresholds``; never written by hand. :attr:`verdict` judges it against the
            control and the premise.
        summary: one sentence stating the key number(s) behind the verdict, generated from
            them.
        numbers: the measured values the verdict was computed from (JSON-able).
        thresholds: the thresholds the verdict function compared them against.
        figures: ids of the figures that show the evidence (report anchors).
        interval: each headline number with its interval over seeds, by name.
        control: the same measurement where the claim should fail.
        premise: what the claim assumes, measured.
    """

    study: str
    claim: str
    measured: Verdict
    summary: str
    numbers: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    figures: tuple[str, ...] = ()
    interval: Mapping[str, Interval] = field(default_factory=dict)
    control: Control | None = None
    premise: Premise | None = None

    @property
    def verdict(self) -> Verdict:
        """The verdict after the control and premise checks (see :func:`judge`)."""
        return judge(self.measured, self.control, self.premise)[0]

    @property
    def reason(self) -> str:
        """Why :attr:`verdict` differs from :attr:`measured` (``""`` when it does not)."""
        return judge(self.measured, self.control, self.premise)[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "claim": self.claim,
            "verdict": self.verdict,
            "measured_verdict": self.measured,
            "reason": self.reason,
            "summary": self.summary,
            "numbers": self.numbers,
            "thresholds": self.thresholds,
            "figures": list(self.figures),
            "interval": {k: v.to_dict() for k, v in self.interval.items()},
            "control": self.control.to_dict() if self.control else None,
            "premise": self.premise.to_dict() if self.premise else None,
        }


@dataclass(frozen=True)
class FigureSpec:
    """A figure to draw: ``kind`` is a report figure builder (``lines``, ``heatmap``,
    ``histogram``, ``table``, ``unit_grid``, ``image_grid``) and ``args`` its arguments.
    A caption or title that states an outcome must be generated from the numbers (see
    :func:`unitscope.studies._stats.worded`)."""

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
