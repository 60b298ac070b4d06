"""Constructors for the picture kinds: unit grids on a timeline and grids of images.

Pixels travel as uint8 with their value range, which keeps a 64-unit, 40-checkpoint, 64x64
timeline to a few megabytes; the exact numbers behind every measure stay float.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import UnitscopeError
from ._document import Figure
from ._kinds import check_figure


def quantize_signed(values: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """uint8 codes ``q = round((v / scale + 1) * 127.5)`` with ``scale = max |v|`` over ``axes``.

    Example:
        >>> q, s = quantize_signed(np.array([[-2.0, 0.0, 2.0]]), (1,))
        >>> q.tolist(), s.tolist()
        ([[0, 128, 255]], [2.0])
    """
    v = np.asarray(values, dtype=np.float32)
    if not np.isfinite(v).all():
        v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
    scale = np.abs(v).max(axis=axes, keepdims=True)
    scale = np.where(scale > 0, scale, np.float32(1.0))
    q = v * (np.float32(127.5) / scale)
    q += np.float32(127.5)
    q = np.clip(np.rint(q, out=q), 0, 255, out=q).astype(np.uint8)
    return q, np.squeeze(scale, axis=axes)


def quantize_range(values: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """uint8 codes spanning [min, max] over ``axes``; returns ``(q, lo, hi)``."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64))
    lo = v.min(axis=axes, keepdims=True)
    hi = v.max(axis=axes, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    q = np.clip(np.rint((v - lo) / span * 255.0), 0, 255).astype(np.uint8)
    return q, np.squeeze(lo, axis=axes), np.squeeze(hi, axis=axes)


def unit_grid(
    id: str,
    steps: np.ndarray,
    units: np.ndarray,
    *,
    extent: Sequence[float],
    caption: str,
    title: str = "",
    layer: str = "",
    unit_labels: Sequence[str] | None = None,
    orders: Mapping[str, np.ndarray] | None = None,
    groups: np.ndarray | None = None,
    measures: Mapping[str, np.ndarray] | None = None,
    sibling: np.ndarray | None = None,
    incoming: tuple[np.ndarray, Sequence[str]] | None = None,
    outgoing: tuple[np.ndarray, Sequence[str]] | None = None,
    decision: tuple[str, np.ndarray, np.ndarray] | None = None,
    points: tuple[np.ndarray, np.ndarray] | None = None,
) -> Figure:
    """Playground-style panels: every unit's output over the input plane at every step.

    Args:
        steps: (T,) checkpoint steps; the page's timeline moves through them.
        units: (T, U, R, R) unit outputs, rows along y (bottom row first).
        extent: ``(x_min, x_max, y_min, y_max)`` of the grid.
        orders: named unit orders for the sort menu (``index`` is always added).
        groups: (U,) group id per unit, shown as a colored tag.
        measures: name -> (T, U) numbers shown for an enlarged unit.
        sibling: (T, U) index of each unit's most similar sibling.
        incoming, outgoing: ((T, U, F) weights, F labels).
        decision: ``(mode, score (T, R, R), label (T, R, R))`` from
            :func:`unitscope.views.decision`; mode ``diverging`` or ``classes``.
        points: ``(xy (n, 2), label (n,))`` data drawn over the enlarged panel and decision.
    """
    u = np.asarray(units)
    if u.ndim != 4:
        raise UnitscopeError(f"figure {id!r}: `units` must be (T, U, R, R), got {u.shape}.")
    T, U = u.shape[:2]
    values, scale = quantize_signed(u, (2, 3))
    data: dict[str, Any] = {
        "steps": np.asarray(steps, dtype=np.int64),
        "extent": [float(e) for e in extent],
        "values": values,
        "scale": scale.astype(np.float32),
        "layer": str(layer),
        "unit_labels": [str(s) for s in (unit_labels or [f"unit {i}" for i in range(U)])],
        "orders": {
            "index": np.arange(U),
            **{str(k): np.asarray(v) for k, v in (orders or {}).items()},
        },
        "measures": {str(k): np.asarray(v, dtype=np.float32) for k, v in (measures or {}).items()},
    }
    if groups is not None:
        data["groups"] = np.asarray(groups, dtype=np.int64)
    if sibling is not None:
        data["sibling"] = np.asarray(sibling, dtype=np.int64)
    for key, pair in (("incoming", incoming), ("outgoing", outgoing)):
        if pair is not None:
            data[key] = np.asarray(pair[0], dtype=np.float32)
            data[f"{key}_labels"] = [str(s) for s in pair[1]]
    if decision is not None:
        data["decision"] = _decision(*decision)
    if points is not None:
        data["points"] = {
            "xy": np.asarray(points[0], dtype=np.float32),
            "label": np.asarray(points[1]).astype(np.int64).reshape(-1),
        }
    fig = Figure(id, "unit_grid", caption, data, title)
    check_figure(fig)
    return fig


def _decision(mode: str, score: np.ndarray, label: np.ndarray) -> dict[str, Any]:
    if mode == "diverging":
        values, scale = quantize_signed(score, (1, 2))
        return {"mode": mode, "values": values, "scale": scale.astype(np.float32)}
    if mode == "classes":
        conf = np.clip(np.rint(np.asarray(score) * 255), 0, 255).astype(np.uint8)
        return {
            "mode": mode,
            "values": conf,
            "scale": np.ones(len(conf), np.float32),
            "labels": np.asarray(label).astype(np.uint8),
        }
    raise UnitscopeError(f"decision mode must be 'diverging' or 'classes', got {mode!r}.")


def image_grid(
    id: str,
    images: np.ndarray,
    *,
    caption: str,
    title: str = "",
    cmap: str | Sequence[str] = "gray",
    scale: str = "each",
    cols: int = 8,
    labels: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    steps: np.ndarray | None = None,
    ranges: Sequence[tuple[float, float] | None] | None = None,
) -> Figure:
    """Small images in a grid: filters, feature maps, patches, projections, occlusion maps.

    Args:
        images: (N, H, W), (N, 3, H, W) for RGB, or (N, 1, H, W); with ``steps`` (T,) a
            leading T axis and the grid follows the page's timeline.
        cmap: ``gray`` (low dark), ``diverging`` (0 white), ``sequential`` or ``rgb``; one
            name, or one per image.
        scale: ``each`` image spans its own range, or ``all`` share one.
        ranges: per image, a fixed ``(lo, hi)`` value range (e.g. ``(0, 1)`` for
            probabilities) or None to follow ``scale``; not with ``steps``.
    """
    arr = np.asarray(images, dtype=np.float64)
    timed = steps is not None
    lead = 2 if timed else 1
    if arr.ndim == lead + 3 and arr.shape[lead] == 1:
        arr = arr[(slice(None),) * lead + (0,)]
    if arr.ndim not in (lead + 2, lead + 3):
        raise UnitscopeError(
            f"figure {id!r}: `images` must be ([T,] N, H, W) or ([T,] N, 3, H, W), got {arr.shape}."
        )
    if scale not in ("each", "all"):
        raise UnitscopeError(f"`scale` must be 'each' or 'all', got {scale!r}.")
    per_image = tuple(range(lead, arr.ndim))
    axes = per_image if scale == "each" else tuple(range(arr.ndim))
    names = [cmap] * arr.shape[lead - 1] if isinstance(cmap, str) else list(cmap)
    if len(names) != arr.shape[lead - 1]:
        raise UnitscopeError(
            f"figure {id!r}: {len(names)} cmaps for {arr.shape[lead - 1]} "
            "images; give one name or one per image."
        )
    q, lo, hi = _quantize_images(arr, axes, names, lead)
    if ranges is not None:
        if timed or len(ranges) != len(arr):
            raise UnitscopeError(
                f"figure {id!r}: `ranges` needs one entry per image and no `steps`."
            )
        for i, r in enumerate(ranges):
            if r is not None:
                span = (r[1] - r[0]) or 1.0
                q[i] = np.clip(np.rint((arr[i] - r[0]) / span * 255.0), 0, 255).astype(np.uint8)
                lo[i], hi[i] = r
    data: dict[str, Any] = {
        "images": q,
        "lo": lo,
        "hi": hi,
        "cols": int(cols),
        "cmap": cmap if isinstance(cmap, str) else list(cmap),
    }
    if labels is not None:
        data["labels"] = [str(s) for s in labels]
    if row_labels is not None:
        data["row_labels"] = [str(s) for s in row_labels]
    if timed:
        data["steps"] = np.asarray(steps, dtype=np.int64)
    fig = Figure(id, "image_grid", caption, data, title)
    check_figure(fig)
    return fig


def _quantize_images(
    arr: np.ndarray, axes: tuple[int, ...], names: list[str], lead: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Diverging images get a range symmetric about 0; the others span [min, max]."""
    q, lo, hi = quantize_range(arr, axes)
    lo = np.broadcast_to(lo, arr.shape[:lead]).astype(np.float32).copy()
    hi = np.broadcast_to(hi, arr.shape[:lead]).astype(np.float32).copy()
    if "diverging" in names:
        qs, m = quantize_signed(arr, axes)
        m = np.broadcast_to(m, arr.shape[:lead])
        div = np.array([n == "diverging" for n in names])  # (N,)
        q = np.where(div.reshape((1,) * (lead - 1) + (-1,) + (1,) * (arr.ndim - lead)), qs, q)
        lo, hi = np.where(div, -m, lo).astype(np.float32), np.where(div, m, hi).astype(np.float32)
    return q.astype(np.uint8), lo, hi
