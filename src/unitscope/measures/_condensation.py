"""Lazy or rich? How far units move from their start, and onto how many directions they condense.

A ReLU unit ``a * relu(w·x + b)`` is positively homogeneous: scaling ``(w, b)`` by ``c > 0``
and ``a`` by ``1/c`` leaves the network's function unchanged. So what a unit computes is fixed
by the *direction* of its incoming vector ``(w, b)``, and how much it matters by the product
``|a| * ||(w, b)||``, which the rescaling leaves alone. :func:`orientation_clusters` counts the
distinct directions among the units that matter; with a small initialization they condense
onto a few (Luo, Xu, Ma & Zhang, JMLR 2021), with a standard one they stay spread out.

:func:`relative_change` (``||W_t - W_0|| / ||W_0||``) is the lazy-vs-rich yardstick (Chizat &
Bach 2019): near 0 the network trains like its linearization around the start.
:func:`init_alignment` asks whether each trained unit still computes what it computed at
initialization.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from .._errors import UnitscopeError
from ._validate import DegenerateInputWarning, centred, in_unit_interval, matrix, to_numpy


@dataclass(frozen=True)
class OrientationClusters:
    """Distinct directions among a layer's incoming weight vectors.

    Attributes:
        count: the number of clusters among the kept units.
        labels: (n_units,) cluster of each unit, 0..count-1 in order of first appearance; -1
            for units under the weight floor.
        weight: (n_units,) ``|outgoing| * ||incoming||`` of each unit.
    """

    count: int
    labels: np.ndarray
    weight: np.ndarray

    def __int__(self) -> int:
        return self.count


def _incoming(w: Any, bias: Any) -> np.ndarray:
    wa = to_numpy(w, "w")
    if wa.ndim < 2:
        raise UnitscopeError(
            f"`w` must be (n_units, fan_in) incoming weights, got shape {tuple(wa.shape)}."
        )
    wa = np.asarray(wa.reshape(wa.shape[0], -1), dtype=np.float64)
    if bias is not None:
        ba = np.asarray(to_numpy(bias, "bias"), dtype=np.float64).ravel()
        if ba.shape[0] != wa.shape[0]:
            raise UnitscopeError(
                f"`bias` must hold one value per unit ({wa.shape[0]}), got {ba.shape[0]}."
            )
        wa = np.concatenate([wa, ba[:, None]], axis=1)
    if not np.isfinite(wa).all():
        raise UnitscopeError("`w` (or `bias`) contains NaN or infinite values.")
    return wa


def orientation_clusters(
    w: Any,
    a: Any,
    *,
    bias: Any = None,
    cos: float = 0.99,
    weight_floor: float = 0.01,
) -> OrientationClusters:
    """The number of distinct directions among the incoming weight vectors of a layer.

    Units whose ``|outgoing| * ||incoming||`` is under ``weight_floor`` times the layer's
    largest are ignored (they barely contribute). The rest are grouped by complete linkage on
    the cosine of their incoming vectors: within a cluster every pair has cosine >= ``cos``.
    Opposite directions are distinct (ReLU is not odd).

    Args:
        w: (n_units, fan_in) incoming weights (conv kernels are flattened per unit).
        a: outgoing weights: (n_out, n_units) as in the next ``nn.Linear.weight``, or
            (n_units,) for one output.
        bias: optional (n_units,) biases, appended to the incoming vectors (the direction of
            ``(w, b)`` is what a ReLU unit computes).
        cos: cosine at or above which two units point the same way, in (0, 1].
        weight_floor: relative weight under which a unit is ignored, in [0, 1).

    Returns:
        :class:`OrientationClusters`; ``count`` is 0 when every weight is zero.

    Invariant under permuting the units and under rescaling a unit's incoming vector by
    ``c > 0`` and its outgoing weights by ``1/c``:

    >>> import numpy as np
    >>> w = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    >>> orientation_clusters(w, np.ones(4)).count
    3
    >>> orientation_clusters(w * [[3.0], [1.0], [1.0], [1.0]], [1 / 3, 1, 1, 1]).count
    3
    """
    in_unit_interval("cos", cos, low_open=True, high_open=False)
    in_unit_interval("weight_floor", weight_floor, low_open=False, high_open=True)
    inc = _incoming(w, bias)
    out = np.asarray(to_numpy(a, "a"), dtype=np.float64)
    out = out[None, :] if out.ndim == 1 else out.reshape(out.shape[0], -1)
    if out.shape[1] != inc.shape[0]:
        raise UnitscopeError(
            f"`a` must have one column per unit ({inc.shape[0]}), got shape {tuple(out.shape)}; "
            "pass the next layer's weight (n_out, n_units)."
        )
    norms = np.linalg.norm(inc, axis=1)
    weight = np.linalg.norm(out, axis=0) * norms
    labels = np.full(inc.shape[0], -1, dtype=np.int64)
    top = float(weight.max()) if weight.size else 0.0
    keep = np.flatnonzero((weight > weight_floor * top) & (norms > 0) & (top > 0))
    if len(keep) == 0:
        return OrientationClusters(0, labels, weight)
    if len(keep) == 1:
        labels[keep] = 0
        return OrientationClusters(1, labels, weight)
    unit = inc[keep] / norms[keep, None]
    dist = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    condensed = dist[np.triu_indices(len(keep), 1)]
    tree = linkage(condensed, method="complete")
    raw = fcluster(tree, t=1.0 - cos, criterion="distance")
    # renumber by first appearance so labels do not depend on scipy's numbering
    order = {c: i for i, c in enumerate(dict.fromkeys(raw.tolist()))}
    labels[keep] = [order[c] for c in raw.tolist()]
    return OrientationClusters(len(order), labels, weight)


@dataclass(frozen=True)
class RelativeChange:
    """How far a layer moved from its start.

    Attributes:
        per_unit: (n_units,) ``||w_t[u] - w_0[u]|| / ||w_0[u]||`` (NaN where ``w_0[u] = 0``).
        layer: ``||W_t - W_0||_F / ||W_0||_F`` (NaN when ``W_0 = 0``).
    """

    per_unit: np.ndarray
    layer: float


def relative_change(w_t: Any, w_0: Any) -> RelativeChange:
    """Relative distance of trained weights from their initialization, per unit and per layer.

    Args:
        w_t: (n_units, ...) weights after training (units are rows).
        w_0: the same weights at initialization, same shape.

    >>> import numpy as np
    >>> relative_change(np.array([[2.0, 0.0], [0.0, 1.0]]), np.eye(2)).per_unit.tolist()
    [1.0, 0.0]
    """
    t = to_numpy(w_t, "w_t")
    z = to_numpy(w_0, "w_0")
    if t.shape != z.shape or t.ndim < 1:
        raise UnitscopeError(
            f"`w_t` and `w_0` must have the same shape, got {tuple(t.shape)} and {tuple(z.shape)}."
        )
    t = np.asarray(t.reshape(t.shape[0], -1), dtype=np.float64)
    z = np.asarray(z.reshape(z.shape[0], -1), dtype=np.float64)
    if not (np.isfinite(t).all() and np.isfinite(z).all()):
        raise UnitscopeError("`w_t` and `w_0` must be finite; drop NaN or infinite values.")
    # scale both by the start's largest entry: no overflow for huge weights
    s = float(np.abs(z).max()) or 1.0
    diff, base = (t - z) / s, z / s
    num, den = np.linalg.norm(diff, axis=1), np.linalg.norm(base, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_unit = np.where(den > 0, num / np.where(den > 0, den, 1.0), math.nan)
    total = float(np.linalg.norm(base))
    layer = float(np.linalg.norm(diff)) / total if total > 0 else math.nan
    return RelativeChange(per_unit, layer)


def init_alignment(acts_t: Any, acts_0: Any) -> np.ndarray:
    """Pearson correlation of each trained unit with itself at initialization.

    Args:
        acts_t: (n_samples, n_units) activations after training.
        acts_0: (n_samples, n_units) activations of the same units at initialization, on the
            same samples.

    Returns:
        (n_units,) float64; NaN for a unit constant at either time.

    >>> import numpy as np
    >>> x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    >>> init_alignment(2 * x + 1, x).tolist()
    [1.0, 1.0]
    """
    t = matrix(acts_t, "acts_t")
    z = matrix(acts_0, "acts_0")
    if t.shape != z.shape:
        raise UnitscopeError(
            f"`acts_t` and `acts_0` must have the same shape (samples x units), got "
            f"{t.shape} and {z.shape}."
        )
    tc, zc = centred(t), centred(z)
    # per-column scale first so the products cannot overflow or underflow
    tc = tc / np.where((m := np.abs(tc).max(0)) > 0, m, 1.0)
    zc = zc / np.where((m := np.abs(zc).max(0)) > 0, m, 1.0)
    num = (tc * zc).sum(0)
    den = np.sqrt((tc * tc).sum(0) * (zc * zc).sum(0))
    if (den == 0).any():
        warnings.warn(
            f"units {np.flatnonzero(den == 0).tolist()} are constant at one of the two times; "
            "their alignment is NaN.",
            DegenerateInputWarning,
            stacklevel=2,
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), math.nan)
