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
:class:`RecordingReport` builds a whole document from one recording.
"""

from __future__ import annotations

from ._document import VERDICTS, Document, Figure, Section, check_document
from ._figures import band, heatmap, histogram, lines, table
from ._kinds import CMAPS, KINDS, check_figure
from ._pictures import image_grid, quantize_range, quantize_signed, unit_grid
from ._recording_page import RecordingReport, recording_document
from ._studies import figure_from_spec, study_document
from ._write import render_html, results_json, write_report

__all__ = [
    "CMAPS",
    "KINDS",
    "VERDICTS",
    "Document",
    "Figure",
    "RecordingReport",
    "Section",
    "band",
    "check_document",
    "check_figure",
    "heatmap",
    "histogram",
    "image_grid",
    "lines",
    "quantize_range",
    "quantize_signed",
    "figure_from_spec",
    "recording_document",
    "render_html",
    "results_json",
    "study_document",
    "table",
    "unit_grid",
    "write_report",
]
