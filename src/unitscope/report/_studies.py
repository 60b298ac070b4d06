"""Studies to a report: findings first, then one section of figures per study."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._errors import UnitscopeError, unknown_name
from ..studies import FigureSpec, StudyResult
from ._document import Document, Figure, Section
from ._figures import heatmap, histogram, lines, table
from ._pictures import image_grid, unit_grid

BUILDERS: dict[str, Callable[..., Figure]] = {
    "lines": lines,
    "heatmap": heatmap,
    "histogram": histogram,
    "table": table,
    "image_grid": image_grid,
    "unit_grid": unit_grid,
}


def figure_from_spec(spec: FigureSpec) -> Figure:
    """Build the report figure a study described."""
    if spec.kind not in BUILDERS:
        raise unknown_name("figure kind", spec.kind, BUILDERS)
    try:
        return BUILDERS[spec.kind](spec.id, caption=spec.caption, title=spec.title, **spec.args)
    except TypeError as err:
        raise UnitscopeError(f"figure {spec.id!r} ({spec.kind}): {err}.") from None


def study_document(
    results: Sequence[StudyResult],
    *,
    title: str = "unitscope: why do hidden units differ?",
    extra: Sequence[Section] = (),
    meta: dict[str, Any] | None = None,
) -> Document:
    """One page for several studies: every finding at the top, a section per study (its
    question as the introduction, failed parts listed), then ``extra`` sections."""
    sections = []
    for r in results:
        intro = r.question
        if r.failures:
            intro += " Parts that failed: " + "; ".join(r.failures)
        sections.append(Section(r.title, [figure_from_spec(s) for s in r.figures], intro))
    findings = [f for r in results for f in r.findings]
    info = {
        "studies": ", ".join(r.name for r in results),
        "time": f"{sum(r.elapsed_s for r in results):.1f} s",
        **(meta or {}),
    }
    return Document(title, findings, [*sections, *extra], info)
