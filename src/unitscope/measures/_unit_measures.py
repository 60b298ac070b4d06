"""Measures within one layer: how alike, how many, how alive are its units.

Activations are (n_samples, n_units): units are columns. Weights are (n_units, fan_in) as in
``nn.Linear.weight`` (units are rows; conv kernels (C_out, C_in, kh, kw) are flattened per unit).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from .._errors import UnitscopeError
from ._validate import (
    DegenerateInputWarning,
    centred,
    degenerate,
    in_unit_interval,
    matrix,
    to_numpy,
)


@dataclass(frozen=True)
class SymmetrySpread:
    """How far a layer's units are from their mean unit (0 for a perfectly symmetric layer)."""

    max_distance: float
    mean_distance: float


def unit_correlation(x: Any, y: Any = None) -> np.ndarray:
    """Pearson correlation between units: (n_units, n_units), or (d1, d2) across two layers.

    Args:
        x: (n_samples, d1) activations.
        y: optional (n_samples, d2) activations with the same samples (e.g. another run).

    Returns:
        float64 array; rows/columns of constant units are NaN (with a warning naming them).

    >>> import numpy as np
    >>> x = np.array([[0.0, 1.0], [1.0, 3.0], [2.0, 5.0]])
    >>> unit_correlation(x).round(12)
    array([[1., 1.],
           [1., 1.]])
    """
    xa = centred(matrix(x, "x", rescale=True))  # correlations ignore scale: keep it in range
    ya = xa if y is None else centred(matrix(y, "y", rescale=True))
    if ya.shape[0] != xa.shape[0]:
        raise UnitscopeError(
            f"`x` and `y` must have the same number of rows (paired samples), "
            f"got {xa.shape[0]} and {ya.shape[0]}."
        )
    nx, ny = _column_norms(xa, "x"), (None if y is None else _column_norms(ya, "y"))
    ny = nx if ny is None else ny
    with np.errstate(invalid="ignore", divide="ignore"):  # constant units: NaN, warned above
        return (xa.T @ ya) / np.outer(nx, ny)


def weight_cosine(w: Any) -> np.ndarray:
    """Cosine similarity between the incoming weight vectors of units: (n_units, n_units).

    Args:
        w: (n_units, fan_in) weights, or (n_units, ...) flattened per unit (conv kernels).

    Returns:
        float64 array; rows/columns of all-zero weight vectors are NaN (with a warning).

    >>> import numpy as np
    >>> weight_cosine(np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]]))
    array([[1., 1., 0.],
           [1., 1., 0.],
           [0., 0., 1.]])
    """
    wa = _unit_rows(w)
    norms = np.linalg.norm(wa, axis=1)
    _warn_zero(norms, "weight cosine is undefined for unit(s) {} with all-zero weights")
    with np.errstate(invalid="ignore", divide="ignore"):
        return (wa @ wa.T) / np.outer(norms, norms)


def symmetry_spread(w: Any) -> SymmetrySpread:
    """Max and mean Euclidean distance of units from the layer's mean unit ``w̄ = (1/U) Σ_j w_j``.

    Zero when every unit is identical (a symmetric initialization that training never broke).

    Args:
        w: (n_units, fan_in) weights (or (n_units, ...), flattened per unit). For activations
            (n_samples, n_units) pass ``acts.T`` to compare units by their responses.

    Returns:
        :class:`SymmetrySpread` of Python floats.

    >>> import numpy as np
    >>> symmetry_spread(np.ones((4, 3)))
    SymmetrySpread(max_distance=0.0, mean_distance=0.0)
    """
    wa = _unit_rows(w)
    dist = np.linalg.norm(wa - wa.mean(axis=0), axis=1)  # (n_units,)
    return SymmetrySpread(float(dist.max()), float(dist.mean()))


def effective_rank(x: Any, *, center: bool = True) -> float:
    """Effective rank of Roy & Vetterli (2007): ``exp(H(p))`` with ``p_i = σ_i / Σ σ_j``.

    ``H(p) = −Σ p_i log p_i`` is the entropy of the normalized singular values (0 log 0 = 0).
    It lies in [1, rank] and equals k for k equal non-zero singular values.

    Args:
        x: (n_samples, n_units) activations, or (n_units, fan_in) weights.
        center: subtract column means first (default; the rank of the variation). Use
            ``center=False`` for weight matrices.

    Returns:
        A Python float; NaN with a warning for an all-zero (or constant, if centred) matrix.

    >>> import numpy as np
    >>> round(effective_rank(np.diag([2.0, 2.0, 2.0, 0.0]), center=False), 12)
    3.0
    """
    xa = matrix(x, "x", min_rows=1, rescale=True)
    s = np.linalg.svd(centred(xa) if center else xa, compute_uv=False)
    total = float(s.sum())
    if total == 0.0:
        return degenerate("effective rank is undefined: all singular values are 0")
    p = s[s > 0] / total
    return math.exp(float(-(p * np.log(p)).sum()))


def participation_ratio(x: Any) -> float:
    """Participation ratio ``(Σ λ_i)² / Σ λ_i²`` of the covariance eigenvalues λ of ``x``.

    Between 1 (one direction carries all variance) and n_units (isotropic).

    Args:
        x: (n_samples, n_units) activations.

    Returns:
        A Python float; NaN with a warning when ``x`` is constant over samples.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((500, 3))
    >>> round(participation_ratio(x @ np.diag([1.0, 1e-9, 1e-9])), 6)
    1.0
    """
    xa = matrix(x, "x", rescale=True)
    lam = np.linalg.svd(centred(xa), compute_uv=False) ** 2  # ∝ covariance eigenvalues
    sq = float((lam * lam).sum())
    if sq == 0.0:
        return degenerate("participation ratio is undefined: `x` is constant over samples")
    return float(lam.sum()) ** 2 / sq


def unit_groups(x: Any, *, threshold: float = 0.99) -> np.ndarray:
    """Group units that compute the same thing up to sign and scale: ``|corr| ≥ threshold``.

    Groups are the connected components of the graph whose edges join units with
    ``|corr| ≥ threshold`` (single linkage: a chain a~b~c is one group even if |corr(a, c)| is
    lower). All constant units (no variance on these samples) form one group of their own.

    Args:
        x: (n_samples, n_units) activations.
        threshold: correlation level in (0, 1] (default 0.99).

    Returns:
        int64 array (n_units,) of group labels 0, 1, ..., numbered by first unit.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((100, 2))
    >>> unit_groups(np.column_stack([x[:, 0], x[:, 1], -3 * x[:, 0]])).tolist()
    [0, 1, 0]
    """
    t = in_unit_interval("threshold", threshold, low_open=True, high_open=False)
    xa = centred(matrix(x, "x", rescale=True))
    _, raw = connected_components(same_unit_graph(xa[None], t)[0], directed=False)
    _, first = np.unique(raw, return_index=True)
    order = np.argsort(np.argsort(first))  # relabel groups by their first unit
    return order[raw].astype(np.int64)


def same_unit_graph(c: np.ndarray, threshold: float) -> np.ndarray:
    """(B, U, U) bool adjacency of :func:`unit_groups` for each centred (B, n, U) slice:
    live units joined where ``|corr| ≥ threshold``, constant units (all-zero columns) joined
    to each other."""
    norms = np.linalg.norm(c, axis=-2)  # (B, U)
    live = norms > 0
    z = c / np.where(live, norms, 1.0)[:, None, :]
    close = np.abs(np.swapaxes(z, -1, -2) @ z) >= threshold
    both_live = live[:, :, None] & live[:, None, :]
    both_dead = ~live[:, :, None] & ~live[:, None, :]
    return (close & both_live) | both_dead


def group_counts(c: np.ndarray, threshold: float) -> np.ndarray:
    """Number of :func:`unit_groups` of each centred, in-range (..., n, U) float64 slice —
    all slices at once: batched correlation products and one connected-components pass
    over a block-diagonal graph per batch of slices (components never cross slices)."""
    lead, (n, U) = c.shape[:-2], c.shape[-2:]
    flat = c.reshape(-1, n, U)
    counts = np.empty(flat.shape[0], dtype=np.float64)
    step = max(1, (1 << 22) // (U * U + n * U))  # slices per batch: ~4M elements
    for lo in range(0, flat.shape[0], step):
        adj = same_unit_graph(flat[lo : lo + step], threshold)
        m = adj.shape[0]
        b, i, j = np.nonzero(adj)
        graph = csr_matrix((np.ones(b.size, dtype=bool), (b * U + i, b * U + j)), (m * U,) * 2)
        _, labels = connected_components(graph, directed=False)
        ordered = np.sort(labels.reshape(m, U), axis=1)
        counts[lo : lo + m] = 1 + np.count_nonzero(np.diff(ordered, axis=1), axis=1)
    return counts.reshape(lead)


def distinct_units(x: Any, *, threshold: float = 0.99) -> int:
    """Number of groups of :func:`unit_groups`: units that differ beyond ``|corr| < threshold``.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((100, 1))
    >>> distinct_units(np.hstack([x, 2 * x, -x]))
    1
    """
    return int(unit_groups(x, threshold=threshold).max()) + 1


def dead_units(x: Any, *, threshold: float = 0.0) -> np.ndarray:
    """Units never active on these samples: every activation ``≤ threshold`` (ReLU: ≤ 0).

    Args:
        x: (n_samples, n_units) activations.
        threshold: activity level (default 0.0).

    Returns:
        bool array (n_units,).

    >>> import numpy as np
    >>> dead_units(np.array([[0.0, 1.0], [0.0, 0.0]])).tolist()
    [True, False]
    """
    return np.asarray(np.all(matrix(x, "x", min_rows=1) <= float(threshold), axis=0))


def saturated_units(
    x: Any,
    *,
    low: float = -1.0,
    high: float = 1.0,
    margin: float = 0.01,
    fraction: float = 0.99,
) -> np.ndarray:
    """Units stuck at a bound of a bounded nonlinearity on at least ``fraction`` of the samples.

    A sample counts as saturated when the activation is within ``margin`` of ``low`` or
    ``high`` (tanh: −1 and 1, the defaults; sigmoid: pass ``low=0.0``).

    Args:
        x: (n_samples, n_units) activations.
        low: lower bound of the nonlinearity.
        high: upper bound, > ``low``.
        margin: distance from a bound that counts as saturated, ≥ 0.
        fraction: share of samples that must be saturated, in (0, 1].

    Returns:
        bool array (n_units,).

    >>> import numpy as np
    >>> saturated_units(np.tanh(np.array([[9.0, 0.1], [-9.0, 0.5]]))).tolist()
    [True, False]
    """
    if not float(low) < float(high):
        raise UnitscopeError(f"`low` must be < `high`, got low={low} and high={high}.")
    if not float(margin) >= 0:
        raise UnitscopeError(f"`margin` must be >= 0, got {margin}.")
    frac = in_unit_interval("fraction", fraction, low_open=True, high_open=False)
    xa = matrix(x, "x", min_rows=1)
    stuck = (xa <= low + margin) | (xa >= high - margin)  # (n_samples, n_units)
    return np.asarray(stuck.mean(axis=0) >= frac)


def _unit_rows(w: Any) -> np.ndarray:
    arr = to_numpy(w, "w")
    if arr.ndim < 2:
        raise UnitscopeError(
            f"`w` must be (n_units, fan_in) or (n_units, ...), got shape {tuple(arr.shape)}."
        )
    return matrix(arr.reshape(arr.shape[0], -1), "w", min_rows=1)


def _column_norms(xc: np.ndarray, name: str) -> np.ndarray:
    norms = np.linalg.norm(xc, axis=0)
    _warn_zero(norms, "correlation is undefined for constant unit(s) {} of `" + name + "`")
    return norms


def _warn_zero(norms: np.ndarray, template: str) -> None:
    zero = np.flatnonzero(norms == 0.0)
    if zero.size:
        shown = ", ".join(str(i) for i in zero[:10]) + (", ..." if zero.size > 10 else "")
        msg = template.format(shown) + "; their entries are NaN."
        warnings.warn(msg, DegenerateInputWarning, stacklevel=4)
