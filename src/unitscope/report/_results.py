"""``results.json``: every number of the report as plain JSON, beside the page."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._json import to_jsonable
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
    return to_jsonable(obj, array=_listed)


def _listed(arr: np.ndarray) -> Any:
    """An array's values, or a summary of them when there are more than :data:`LIMIT`."""
    if arr.size <= LIMIT:
        return arr.tolist()
    finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr.ravel()
    return {
        "omitted": f"{arr.size} values (pixel data)",
        "shape": list(arr.shape),
        "dtype": str(arr.dtype),
        "min": finite.min() if finite.size else None,
        "max": finite.max() if finite.size else None,
    }


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
