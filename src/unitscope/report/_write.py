"""Render a Document to one self-contained HTML page and write it with its results.json."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .._files import atomic_write_texts
from ._document import Document, check_document
from ._html import page
from ._results import results


def render_html(doc: Document) -> str:
    """The report page as text: self-contained, no network references, works from file://.

    Raises:
        UnitscopeError: a figure breaks its kind's contract or a finding links nowhere.
    """
    return page(doc, check_document(doc))


def results_json(doc: Document) -> dict[str, Any]:
    """Every number of the document (what ``results.json`` holds)."""
    return results(doc, check_document(doc))


def write_report(
    doc: Document,
    path: str | os.PathLike[str],
    *,
    results_path: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Write the page to ``path`` and its numbers to ``results.json`` beside it.

    Args:
        doc: the document.
        path: the HTML file to write (its folder must exist).
        results_path: where the JSON goes; ``results.json`` in the page's folder by default.

    Returns:
        ``{"html": path, "results": path, "bytes": size of the page, "figures": count,
        "findings": count}``.
    """
    path = Path(path)
    findings = check_document(doc)
    target = Path(results_path) if results_path is not None else path.with_name("results.json")
    html = page(doc, findings)
    numbers = json.dumps(results(doc, findings), allow_nan=False)
    atomic_write_texts({path: html, target: numbers + "\n"})  # both files or neither
    return {
        "html": str(path),
        "results": str(target),
        "bytes": len(html.encode("utf-8")),
        "figures": len(doc.figures()),
        "findings": len(findings),
    }
