"""The report: one self-contained HTML page (offline, no network) plus ``results.json``.

A :class:`Document` holds findings and sections of :class:`Figure` objects whose data already
hold every array they show; :func:`render_html` lays them out and a small vanilla-JS canvas
renderer (``report.js``) draws them. The page computes nothing.

>>> import numpy as np
>>> fig = heatmap("corr", np.eye(3), caption="Unit correlations; blue = positive.")
>>> html = render_html(Document("demo", sections=[Section("units", [fig])]))
>>> "http://" in html or "https://" in html
False

Figure kinds and their data contracts are listed in :data:`KINDS` and :mod:`._kinds`.
:func:`recording_document` draws the page of one recording from the numbers
:func:`unitscope.views.recording_views` computes.
"""

from __future__ import annotations

from typing import Any

from .._errors import UnitscopeError
from ._document import VERDICTS, Document, Figure, Section, check_document
from ._figures import band, heatmap, histogram, lines, table
from ._kinds import CMAPS, KINDS, check_figure
from ._pictures import image_grid, unit_grid
from ._recording_page import recording_document
from ._studies import figure_from_spec, study_document
from ._write import render_html, results_json, write_report

__all__ = [
    "CMAPS",
    "KINDS",
    "VERDICTS",
    "Document",
    "Figure",
    "Section",
    "band",
    "check_document",
    "check_figure",
    "heatmap",
    "histogram",
    "image_grid",
    "lines",
    "figure_from_spec",
    "recording_document",
    "render_html",
    "results_json",
    "study_document",
    "table",
    "unit_grid",
    "write_report",
]


def __getattr__(name: str) -> Any:
    """A clear error for a name that moved."""
    if name == "RecordingReport":
        raise UnitscopeError(
            "report.RecordingReport is gone: the report only draws. Compute the numbers with "
            "unitscope.views.recording_views(rec, ...) (or views.RecordingViewPlan for a "
            "progress bar) and draw them with report.recording_document(views)."
        )
    raise AttributeError(f"module 'unitscope.report' has no attribute {name!r}")
