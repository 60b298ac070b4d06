"""``results.json``: every number of the report as plain JSON, beside the page."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._version import __version__
from ._document import Document

FORMAT = "unitscope.report"
LIMIT = 65536  # arrays with more elements (pixels) are summarized, not listed

_DECODE = {
    "unit_grid": "values are uint8 codes: v = (q / 127.5 - 1) * scale[t, u]; recompute exact "
    "grids with unitscope.views.plane_views",
    "image_grid": "images are uint8 codes: v = lo + q / 255 * (hi - lo)",
}


def plain(obj: Any) -> Any:
    """JSON-able copy: arrays to lists (large ones summarized), NaN/Inf to None."""
    if isinstance(obj, np.ndarray):
        if obj.size > LIMIT:
            finite = obj[np.isfinite(obj)] if obj.dtype.kind == "f" else obj.ravel()
            return {
                "omitted": f"{obj.size} values (pixel data)",
                "shape": list(obj.shape),
                "dtype": str(obj.dtype),
                "min": plain(finite.min()) if finite.size else None,
                "max": plain(finite.max()) if finite.size else None,
            }
        return plain(obj.tolist())
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return plain(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def results(doc: Document, findings: list[dict[str, Any]]) -> dict[str, Any]:
    """The document's numbers: findings, provenance and every figure's data."""
    figures = []
    for section in doc.sections:
        for fig in section.figures:
            entry = {
                "id": fig.id,
                "section": section.title,
                "kind": fig.kind,
                "title": fig.title,
                "caption": fig.caption,
                "data": plain(dict(fig.data)),
            }
            if fig.kind in _DECODE:
                entry["decode"] = _DECODE[fig.kind]
            figures.append(entry)
    return {
        "format": FORMAT,
        "unitscope": __version__,
        "title": doc.title,
        "meta": plain(dict(doc.meta)),
        "findings": plain(findings),
        "figures": figures,
    }
