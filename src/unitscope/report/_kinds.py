"""The figure kinds and the data contract of each, checked before a page is written.

Shapes use T checkpoints, U units, R grid points per axis, N images, E curve points,
M members, B histogram bins. Arrays are numpy arrays; the constructors in :mod:`._figures`
and :mod:`._pictures` build conforming data from plain measurements.

============== ===========================================================================
``heatmap``    ``values`` (R, C) or (P, R, C) float, ``vmin``, ``vmax``, ``cmap``
               (``diverging``/``sequential``); optional ``panel_titles`` [P],
               ``row_labels`` [R], ``col_labels`` [C], ``x_label``, ``y_label``
``lines``      ``x`` (E,), ``series``: [{``name``, ``mean`` (E,), optional ``members``
               (M, E), ``lo``/``hi`` (E,) band}]; optional ``baselines`` [{``name``, ``y``}],
               ``x_label``, ``y_label``, ``x_scale`` (linear/log1p), ``y_scale``
               (linear/log), ``cursor`` (draw the timeline step)
``histogram``  ``edges`` (B+1,), ``series``: [{``name``, ``counts`` (B,)}]; optional
               ``markers`` [{``name``, ``x``}], ``x_label``, ``y_label``
``unit_grid``  ``steps`` (T,), ``extent`` (4,), ``values`` uint8 (T, U, R, R) where
               ``v = (q / 127.5 - 1) * scale``, ``scale`` (T, U), ``unit_labels`` [U],
               ``orders`` {name: (U,) permutation}, ``measures`` {name: (T, U)}; optional
               ``groups`` (U,), ``sibling`` (T, U), ``incoming`` (T, U, F) with
               ``incoming_labels`` [F], ``outgoing`` (T, U, O) with ``outgoing_labels``,
               ``decision`` {``mode``, ``values`` uint8 (T, R, R), ``scale`` (T,),
               ``labels`` uint8 (T, R, R)}, ``points`` {``xy`` (n, 2), ``label`` (n,)}
``image_grid`` ``images`` uint8 (N, H, W) or (N, 3, H, W), with a leading T when ``steps``
               (T,) is given; ``lo``/``hi`` ([T,] N) value range of each image, ``cmap``
               (one name or one per image: gray/diverging/sequential/rgb), ``cols``;
               optional ``labels`` [N], ``row_labels``
``table``      ``columns`` [str], ``rows`` [[str | number | None]]
============== ===========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import UnitscopeError, unknown_name

KINDS = ("heatmap", "lines", "histogram", "unit_grid", "image_grid", "table")
CMAPS = ("gray", "diverging", "sequential", "rgb")


class _Check:
    """Small helpers that phrase contract violations with the figure's id."""

    def __init__(self, fig_id: str, kind: str, data: Mapping[str, Any]):
        if not isinstance(data, Mapping):
            raise UnitscopeError(f"figure {fig_id!r}: `data` must be a dict.")
        self.where, self.data = f"figure {fig_id!r} ({kind})", data

    def fail(self, what: str) -> UnitscopeError:
        return UnitscopeError(f"{self.where}: {what}")

    def get(self, key: str) -> Any:
        if key not in self.data:
            raise self.fail(f"`data` needs {key!r}.")
        return self.data[key]

    def array(self, key: str, ndim: Sequence[int], value: Any = None) -> np.ndarray:
        arr = np.asarray(self.get(key) if value is None else value)
        if arr.ndim not in ndim or arr.size == 0:
            raise self.fail(
                f"{key!r} must be a non-empty {' or '.join(map(str, ndim))}-D array, "
                f"got shape {arr.shape}."
            )
        if arr.dtype.kind not in "fiub":
            raise self.fail(f"{key!r} must be numeric, got dtype {arr.dtype}.")
        return arr

    def labels(self, key: str, n: int) -> None:
        if key in self.data and self.data[key] is not None and len(self.data[key]) != n:
            raise self.fail(f"{key!r} needs {n} labels, got {len(self.data[key])}.")

    def same(self, what: str, got: Sequence[int], want: Sequence[int]) -> None:
        if tuple(got) != tuple(want):
            raise self.fail(f"{what} has shape {tuple(got)}, expected {tuple(want)}.")


def check_figure(fig: Any) -> None:
    """Raise :class:`UnitscopeError` when ``fig.data`` breaks its kind's contract."""
    if fig.kind not in KINDS:
        raise unknown_name("figure kind", str(fig.kind), KINDS)
    c = _Check(fig.id, fig.kind, fig.data)
    {
        "heatmap": _heatmap,
        "lines": _lines,
        "histogram": _histogram,
        "unit_grid": _unit_grid,
        "image_grid": _image_grid,
        "table": _table,
    }[fig.kind](c)


def _heatmap(c: _Check) -> None:
    v = c.array("values", (2, 3))
    rows, cols = v.shape[-2:]
    c.labels("row_labels", rows)
    c.labels("col_labels", cols)
    c.labels("panel_titles", v.shape[0] if v.ndim == 3 else 1)
    if c.get("cmap") not in ("diverging", "sequential"):
        raise c.fail(f"`cmap` must be 'diverging' or 'sequential', got {c.get('cmap')!r}.")
    if not float(c.get("vmin")) < float(c.get("vmax")):
        raise c.fail(f"`vmin` must be < `vmax`, got {c.get('vmin')} and {c.get('vmax')}.")


def _lines(c: _Check) -> None:
    x = c.array("x", (1,))
    series = c.get("series")
    if not series:
        raise c.fail("`series` must list at least one line.")
    for s in series:
        c.same(
            f"series {s.get('name')!r} mean", c.array("mean", (1,), s.get("mean")).shape, x.shape
        )
        for key in ("lo", "hi"):
            if s.get(key) is not None:
                c.same(f"series {s.get('name')!r} {key}", np.shape(s[key]), x.shape)
        if s.get("members") is not None:
            c.same(f"series {s.get('name')!r} members", np.shape(s["members"])[1:], x.shape)
    if c.data.get("x_scale", "linear") not in ("linear", "log1p"):
        raise c.fail("`x_scale` must be 'linear' or 'log1p'.")
    if c.data.get("y_scale", "linear") not in ("linear", "log"):
        raise c.fail("`y_scale` must be 'linear' or 'log'.")


def _histogram(c: _Check) -> None:
    edges = c.array("edges", (1,))
    for s in c.get("series"):
        c.same(f"series {s.get('name')!r} counts", np.shape(s.get("counts")), (len(edges) - 1,))


def _unit_grid(c: _Check) -> None:
    steps = c.array("steps", (1,))
    values = c.array("values", (4,))
    T, U, R, R2 = values.shape
    if values.dtype != np.uint8 or R != R2 or len(steps) != T:
        raise c.fail(
            f"`values` must be uint8 (T={len(steps)}, U, R, R), got {values.dtype} {values.shape}."
        )
    c.same("`scale`", c.array("scale", (2,)).shape, (T, U))
    c.same("`extent`", np.shape(c.get("extent")), (4,))
    c.labels("unit_labels", U)
    for name, order in c.get("orders").items():
        if sorted(np.asarray(order).tolist()) != list(range(U)):
            raise c.fail(f"order {name!r} is not a permutation of the {U} units.")
    for name, m in c.get("measures").items():
        c.same(f"measure {name!r}", np.shape(m), (T, U))
    for key in ("incoming", "outgoing"):
        if c.data.get(key) is not None:
            c.same(f"`{key}`", np.shape(c.data[key])[:2], (T, U))
            c.labels(f"{key}_labels", np.shape(c.data[key])[2])
    dec = c.data.get("decision")
    if dec is not None:
        c.same("decision `values`", np.shape(dec["values"]), (T, R, R))


def _image_grid(c: _Check) -> None:
    images = c.array("images", (3, 4, 5))
    if images.dtype != np.uint8:
        raise c.fail(f"`images` must be uint8 (quantized), got {images.dtype}.")
    timed = c.data.get("steps") is not None
    lead = images.shape[:2] if timed else images.shape[:1]
    if timed and len(c.data["steps"]) != lead[0]:
        raise c.fail(f"`steps` has {len(c.data['steps'])} entries, `images` {lead[0]}.")
    c.same("`lo`", np.shape(c.get("lo")), lead)
    c.same("`hi`", np.shape(c.get("hi")), lead)
    cmaps = c.get("cmap")
    names = [cmaps] if isinstance(cmaps, str) else list(cmaps)
    if any(n not in CMAPS for n in names) or (len(names) > 1 and len(names) != lead[-1]):
        raise c.fail(f"`cmap` must be one of {CMAPS} or one per image, got {cmaps!r}.")
    c.labels("labels", lead[-1])
    if int(c.get("cols")) < 1:
        raise c.fail("`cols` must be >= 1.")


def _table(c: _Check) -> None:
    columns = c.get("columns")
    for row in c.get("rows"):
        if len(row) != len(columns):
            raise c.fail(f"a row has {len(row)} cells for {len(columns)} columns.")
