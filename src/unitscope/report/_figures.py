"""Constructors for the chart kinds: heatmap, lines with member bands, histogram, table.

Each takes plain measurements, prepares what the page draws (means, bands, bin counts, the
color range) and returns a checked :class:`~unitscope.report.Figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import UnitscopeError
from ._document import Figure
from ._kinds import check_figure


def _finished(fig: Figure) -> Figure:
    check_figure(fig)
    return fig


def _finite_range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    return float(finite.min()), float(finite.max())


def heatmap(
    id: str,
    values: np.ndarray,
    *,
    caption: str,
    title: str = "",
    cmap: str = "diverging",
    vmin: float | None = None,
    vmax: float | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    panel_titles: Sequence[str] | None = None,
    x_label: str = "",
    y_label: str = "",
) -> Figure:
    """A matrix (or P matrices side by side) as colored cells.

    The color range defaults to ``[-m, m]`` with ``m = max |values|`` (diverging) or to the
    data's range (sequential).
    """
    v = np.asarray(values, dtype=np.float64)
    lo, hi = _finite_range(v)
    if cmap == "diverging" and (vmin is None or vmax is None):
        m = max(abs(lo), abs(hi)) or 1.0
        lo, hi = -m, m
    lo = lo if vmin is None else float(vmin)
    hi = hi if vmax is None else float(vmax)
    if hi <= lo:
        hi = lo + 1.0
    data = {
        "values": v.astype(np.float32),
        "vmin": lo,
        "vmax": hi,
        "cmap": cmap,
        "x_label": x_label,
        "y_label": y_label,
    }
    for key, labels in (
        ("row_labels", row_labels),
        ("col_labels", col_labels),
        ("panel_titles", panel_titles),
    ):
        if labels is not None:
            data[key] = [str(s) for s in labels]
    return _finished(Figure(id, "heatmap", caption, data, title))


def band(members: np.ndarray, kind: str = "minmax") -> dict[str, Any]:
    """Mean and band of (M, E) member curves: ``minmax``, ``std`` (mean ± 1 std) or ``none``.

    NaN entries (a diverged member) are left out of the mean and band.
    """
    m = np.atleast_2d(np.asarray(members, dtype=np.float64))
    with np.errstate(all="ignore"):
        ok = np.isfinite(m)
        count = ok.sum(0)
        mean = np.where(count > 0, np.where(ok, m, 0).sum(0) / np.maximum(count, 1), np.nan)
        if kind == "minmax":
            lo = np.where(ok, m, np.inf).min(0)
            hi = np.where(ok, m, -np.inf).max(0)
        elif kind == "std":
            sd = np.sqrt(np.where(ok, (m - mean) ** 2, 0).sum(0) / np.maximum(count, 1))
            lo, hi = mean - sd, mean + sd
        elif kind == "none":
            return {"mean": mean}
        else:
            raise UnitscopeError(f"`band` must be 'minmax', 'std' or 'none', got {kind!r}.")
    finite = count > 0
    return {"mean": mean, "lo": np.where(finite, lo, np.nan), "hi": np.where(finite, hi, np.nan)}


def lines(
    id: str,
    x: np.ndarray,
    series: Mapping[str, np.ndarray],
    *,
    caption: str,
    title: str = "",
    band_kind: str = "minmax",
    x_label: str = "step",
    y_label: str = "",
    x_scale: str = "linear",
    y_scale: str = "linear",
    cursor: bool = False,
    baselines: Mapping[str, float] | None = None,
) -> Figure:
    """Curves over ``x`` (E,); each series is (E,) or (M, E) with one row per member.

    Members are drawn thin, their mean bold, and the band (min–max or ± std) shaded.
    ``cursor`` draws the global timeline step as a vertical line.
    """
    xs = np.asarray(x, dtype=np.float64)
    out = []
    for name, values in series.items():
        members = np.atleast_2d(np.asarray(values, dtype=np.float64))
        entry: dict[str, Any] = {"name": str(name), **band(members, band_kind)}
        if members.shape[0] > 1:
            entry["members"] = members
        out.append(entry)
    data: dict[str, Any] = {
        "x": xs,
        "series": out,
        "x_label": x_label,
        "y_label": y_label,
        "x_scale": x_scale,
        "y_scale": y_scale,
        "cursor": bool(cursor),
        "baselines": [{"name": str(k), "y": float(v)} for k, v in (baselines or {}).items()],
    }
    return _finished(Figure(id, "lines", caption, data, title))


def histogram(
    id: str,
    samples: Mapping[str, np.ndarray],
    *,
    caption: str,
    title: str = "",
    bins: int = 30,
    value_range: tuple[float, float] | None = None,
    markers: Mapping[str, float] | None = None,
    x_label: str = "",
    y_label: str = "count",
    density: bool = False,
) -> Figure:
    """Histograms of several samples over shared bins, plus labelled vertical markers.

    ``density``: each sample's counts divided by its number of finite values, so samples of
    different sizes (a null with several draws per unit) compare by shape."""
    pooled = np.concatenate([np.ravel(np.asarray(s, dtype=np.float64)) for s in samples.values()])
    pooled = pooled[np.isfinite(pooled)]
    if value_range is None:
        value_range = _finite_range(pooled)
        if value_range[0] == value_range[1]:
            value_range = (value_range[0] - 0.5, value_range[1] + 0.5)
    edges = np.histogram_bin_edges(pooled, bins=bins, range=value_range)
    series = []
    for name, s in samples.items():
        vals = np.ravel(np.asarray(s, dtype=np.float64))
        vals = vals[np.isfinite(vals)]
        counts = np.histogram(vals, bins=edges)[0]
        if density:
            counts = counts / max(vals.size, 1)
        series.append({"name": str(name), "counts": counts})
    data = {
        "edges": edges,
        "series": series,
        "x_label": x_label,
        "y_label": y_label,
        "markers": [{"name": str(k), "x": float(v)} for k, v in (markers or {}).items()],
    }
    return _finished(Figure(id, "histogram", caption, data, title))


def table(
    id: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    caption: str,
    title: str = "",
) -> Figure:
    """A table of labelled numbers (shown as HTML, exported as CSV-like text in the JSON)."""
    data = {"columns": [str(c) for c in columns], "rows": [list(r) for r in rows]}
    return _finished(Figure(id, "table", caption, data, title))
