"""The document a report renders: findings at the top, then sections of figures.

Studies and the CLI fill a :class:`Document`; :func:`unitscope.report.render_html` lays it
out. Every figure already holds the arrays it shows (see :mod:`._kinds` for the contract of
each kind), so rendering computes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import UnitscopeError

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,127}$")
VERDICTS = ("supported", "refuted", "mixed", "inconclusive")


@dataclass(frozen=True)
class Figure:
    """One picture with the numbers it is drawn from.

    Attributes:
        id: anchor name, unique in the document (letters, digits, ``_.:-``; starts with a
            letter). Findings link to figures by id.
        kind: ``heatmap``, ``lines``, ``histogram``, ``unit_grid``, ``image_grid`` or
            ``table``; see :data:`unitscope.report.KINDS`.
        caption: what the figure shows and how to read it (plain text).
        data: the arrays and labels of the kind's contract.
        title: a short heading.
    """

    id: str
    kind: str
    caption: str
    data: Mapping[str, Any]
    title: str = ""


@dataclass(frozen=True)
class Section:
    """A titled group of figures with an optional introduction (plain text)."""

    title: str
    figures: Sequence[Figure] = ()
    intro: str = ""


@dataclass(frozen=True)
class Document:
    """Everything one report page shows.

    Attributes:
        title: the page title.
        findings: :class:`~unitscope.studies._finding.Finding` objects or their ``to_dict()``
            form; shown first, each linking to its figures.
        sections: the figures, in order.
        meta: provenance shown under the title (dataset, model, seeds, ...), name -> value.
    """

    title: str
    findings: Sequence[Any] = ()
    sections: Sequence[Section] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def figures(self) -> list[Figure]:
        """All figures, in page order."""
        return [f for s in self.sections for f in s.figures]


def finding_dict(finding: Any) -> dict[str, Any]:
    """A finding as a dict with the keys the report reads; refuses malformed ones."""
    raw = finding.to_dict() if hasattr(finding, "to_dict") else finding
    if not isinstance(raw, Mapping):
        raise UnitscopeError(
            f"a finding must be a Finding or a dict, got {type(finding).__name__}."
        )
    missing = [k for k in ("claim", "verdict") if k not in raw]
    if missing:
        raise UnitscopeError(f"finding {raw!r:.60} lacks {missing}.")
    if raw["verdict"] not in VERDICTS:
        raise UnitscopeError(f"finding verdict must be one of {VERDICTS}, got {raw['verdict']!r}.")
    return {
        "study": str(raw.get("study", "")),
        "claim": str(raw["claim"]),
        "verdict": raw["verdict"],
        "summary": str(raw.get("summary", "")),
        "numbers": dict(raw.get("numbers", {})),
        "thresholds": dict(raw.get("thresholds", {})),
        "figures": [str(f) for f in raw.get("figures", ())],
        "measured_verdict": raw.get("measured_verdict", raw["verdict"]),
        "reason": str(raw.get("reason") or ""),
        "interval": dict(raw.get("interval") or {}),
        "control": dict(raw["control"]) if raw.get("control") else None,
        "premise": dict(raw["premise"]) if raw.get("premise") else None,
    }


def check_document(doc: Document) -> list[dict[str, Any]]:
    """Validate ids, kinds, data and links; return the findings as dicts.

    Raises:
        UnitscopeError: a bad or duplicate figure id, an unknown kind, data that break the
            kind's contract, or a finding that links to a figure the document lacks.
    """
    from ._kinds import check_figure

    seen: set[str] = set()
    for fig in doc.figures():
        if not isinstance(fig.id, str) or not _ID.match(fig.id):
            raise UnitscopeError(
                f"figure id {fig.id!r} is not a valid anchor: use letters, digits and _.:- and "
                "start with a letter."
            )
        if fig.id in seen:
            raise UnitscopeError(f"figure id {fig.id!r} is used twice; ids must be unique.")
        seen.add(fig.id)
        check_figure(fig)
    findings = [finding_dict(f) for f in doc.findings]
    for f in findings:
        for ref in f["figures"]:
            if ref not in seen:
                raise UnitscopeError(
                    f"finding {f['claim'][:50]!r} links to figure {ref!r}, which is not in the "
                    "document."
                )
    return findings
