"""Every measure over checkpoints and members at once: leading axes are batch axes.

A recording's activations are (T, K, n_probe, n_units). These functions treat every axis
before the last two as a batch axis, with numpy broadcasting between ``x`` and ``y``, so a study
gets a measure over training for K seeds without a loop:

- ``apply_measure("linear_cka", acts, acts[-1:])``: each snapshot against the final one, (T, K);
- ``apply_measure("linear_cka", acts[:, :, None], acts[:, None, :])``: members pairwise, (T, K, K).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._errors import UnitscopeError
from ..record._meta import check_same_probe
from ._blas import one_blas_thread
from ._registry import check_options, get_measure
from ._unit_measures import group_counts
from ._validate import (
    DegenerateInputWarning,
    check_finite,
    choice,
    column_means,
    in_unit_interval,
    rescaled_slices,
    to_numpy,
)


def apply_measure(name: str, x: Any, y: Any, **options: Any) -> np.ndarray:
    """A registered layer measure over broadcast leading axes.

    Args:
        name: a registered measure (see :func:`list_measures`).
        x: (..., n_samples, d1) activations.
        y: (..., n_samples, d2) activations; leading axes broadcast against ``x``'s.
        **options: the measure's options.

    Returns:
        float64 array of the broadcast leading shape (0-d when there are no leading axes).

    >>> import numpy as np
    >>> acts = np.random.default_rng(0).standard_normal((3, 2, 40, 5))  # (T, K, n, U)
    >>> apply_measure("linear_cka", acts, acts[-1:]).round(6)[-1]  # final vs itself
    array([1., 1.])
    """
    measure = get_measure(name)
    check_options(measure, options)
    xa, ya = _batch_array(x, "x"), _batch_array(y, "y")
    try:
        lead = np.broadcast_shapes(xa.shape[:-2], ya.shape[:-2])
    except ValueError:
        raise UnitscopeError(
            f"leading axes of `x` {xa.shape[:-2]} and `y` {ya.shape[:-2]} do not broadcast."
        ) from None
    if xa.shape[-2] != ya.shape[-2]:
        raise UnitscopeError(
            f"`x` and `y` must have the same number of samples (axis -2), "
            f"got {xa.shape[-2]} and {ya.shape[-2]}."
        )
    for a, label in ((xa, "x"), (ya, "y")):
        if a.shape[-2] < 2 or a.shape[-1] < 1:
            raise UnitscopeError(
                f"`{label}` needs at least 2 samples (axis -2) and 1 unit (axis -1), got shape "
                f"{a.shape}."
            )
    if name == "linear_cka" and options.get("method", "auto") == "auto":
        return _linear_cka_batched(xa, ya, lead)
    xb, yb = np.broadcast_to(xa, lead + xa.shape[-2:]), np.broadcast_to(ya, lead + ya.shape[-2:])
    out = np.empty(lead)
    with one_blas_thread():  # many small factorizations
        for idx in np.ndindex(*lead):
            out[idx] = measure.fn(xb[idx], yb[idx], **options)
    return out


def _linear_cka_batched(xa: np.ndarray, ya: np.ndarray, lead: tuple[int, ...]) -> np.ndarray:
    """Self terms once per distinct slice, cross terms per broadcast element."""
    xa, ya = rescaled_slices(xa), rescaled_slices(ya)  # exact powers of two, as linear_cka does
    xc = xa - column_means(xa)  # (..., n, d1); constant columns become exact zeros
    yc = ya - column_means(ya)  # (..., n, d2)
    nx, ny = _self_norm(xc), _self_norm(yc)  # (...x), (...y): ‖X̃ᵀX̃‖_F
    nxb, nyb = np.broadcast_to(nx, lead), np.broadcast_to(ny, lead)
    xb, yb = np.broadcast_to(xc, lead + xc.shape[-2:]), np.broadcast_to(yc, lead + yc.shape[-2:])
    out = np.empty(lead)
    bad = 0
    for idx in np.ndindex(*lead):
        if nxb[idx] == 0.0 or nyb[idx] == 0.0:
            out[idx], bad = np.nan, bad + 1
            continue
        cross = xb[idx].T @ yb[idx]  # (d1, d2)
        out[idx] = np.vdot(cross, cross) / (nxb[idx] * nyb[idx])
    if bad:
        warnings.warn(
            f"linear CKA is 0/0 for {bad} element(s) where a representation is constant over "
            "samples; those are NaN.",
            DegenerateInputWarning,
            stacklevel=3,
        )
    return out


def _self_norm(c: np.ndarray) -> np.ndarray:
    n, d = c.shape[-2:]
    prod = np.swapaxes(c, -1, -2) @ c if n > d else c @ np.swapaxes(c, -1, -2)
    return np.sqrt(np.einsum("...ij,...ij->...", prod, prod))


def unit_summary(
    acts: Any, weights: Any = None, *, threshold: float = 0.99, dead_threshold: float = 0.0
) -> dict[str, np.ndarray]:
    """Scalar unit-level measures of every (checkpoint, member) at once.

    Args:
        acts: (..., n_samples, n_units) activations, e.g. (T, K, n_probe, n_units).
        weights: optional (..., n_units, fan_in) incoming weights with the same leading axes.
        threshold: ``|corr|`` at which units count as the same (:func:`distinct_units`).
        dead_threshold: activity level of :func:`dead_units`.

    Returns:
        dict of float64 arrays with the leading shape: ``effective_rank``,
        ``participation_ratio``, ``distinct_units``, ``dead_units`` (a count), and with
        ``weights``: ``spread_max``, ``spread_mean`` (:func:`symmetry_spread` of the weights).
        Elements that are constant over samples get NaN ranks, with one warning.

    >>> import numpy as np
    >>> acts = np.random.default_rng(0).standard_normal((2, 3, 50, 4))  # (T, K, n, U)
    >>> s = unit_summary(acts)
    >>> s["distinct_units"].tolist()
    [[4.0, 4.0, 4.0], [4.0, 4.0, 4.0]]
    """
    with one_blas_thread():  # one small SVD and correlation per (checkpoint, member)
        return _unit_summary(_batch_array(acts, "acts"), weights, threshold, dead_threshold)


def _unit_summary(
    a: np.ndarray, weights: Any, threshold: float, dead_threshold: float
) -> dict[str, np.ndarray]:
    lead = a.shape[:-2]
    # (..., n, U); constant units become exact zeros; each slice scaled into range
    centred = rescaled_slices(a - column_means(a))
    s = np.linalg.svd(centred, compute_uv=False)  # (..., min(n, U))
    total = s.sum(axis=-1)
    if np.any(total == 0.0):
        warnings.warn(
            f"{int(np.sum(total == 0))} element(s) are constant over samples: effective rank "
            "and participation ratio are NaN there.",
            DegenerateInputWarning,
            stacklevel=3,
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        p = s / total[..., None]
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
        lam = s * s
        out = {
            "effective_rank": np.where(total > 0, np.exp(-plogp.sum(axis=-1)), np.nan),
            "participation_ratio": np.where(
                total > 0, lam.sum(axis=-1) ** 2 / (lam * lam).sum(axis=-1), np.nan
            ),
        }
    t = in_unit_interval("threshold", threshold, low_open=True, high_open=False)
    out["distinct_units"] = group_counts(centred, t)
    out["dead_units"] = np.sum(np.all(a <= dead_threshold, axis=-2), axis=-1).astype(np.float64)
    if weights is not None:
        out.update(_spread(weights, lead))
    return out


def _spread(weights: Any, lead: tuple[int, ...]) -> dict[str, np.ndarray]:
    w = to_numpy(weights, "weights")
    if w.shape[: len(lead)] != lead or w.ndim < len(lead) + 2:
        raise UnitscopeError(
            f"`weights` must be (*{lead}, n_units, fan_in) to match `acts`, got {w.shape}."
        )
    w = w.reshape(*lead, w.shape[len(lead)], -1).astype(np.float64)  # (..., U, fan_in)
    dist = np.linalg.norm(w - w.mean(axis=-2, keepdims=True), axis=-1)  # (..., U)
    return {"spread_max": dist.max(axis=-1), "spread_mean": dist.mean(axis=-1)}


_UNIT_LEVEL = ("effective_rank", "participation_ratio", "distinct_units", "dead_units")


def over_recording(
    name: str,
    rec: Any,
    layer: str,
    *,
    reference: str = "final",
    other: Any = None,
    **options: Any,
) -> np.ndarray:
    """A measure of one layer at every checkpoint and member of a recording.

    Args:
        name: a unit-level summary (``effective_rank``, ``participation_ratio``,
            ``distinct_units``, ``dead_units``, or with weights ``spread_max``/``spread_mean``)
            or a registered layer measure.
        rec: a Recording (anything with ``activations(layer)`` (T, K, n_probe, n_units),
            ``weights(layer)`` and ``probe_hash``).
        layer: the layer name.
        reference: for layer measures, compare each snapshot with the ``"final"`` or
            ``"initial"`` snapshot of the same member, or all ``"members"`` pairwise.
        other: a second recording on the same probe set: compare member k of ``rec`` with
            member k of ``other`` at each snapshot (``reference`` is then ignored).
        **options: the layer measure's options.

    Returns:
        float64 array (T, K), or (T, K, K) for ``reference="members"``.

    >>> import numpy as np
    >>> class Rec:  # the part of a Recording this function reads
    ...     probe_hash = "p"
    ...     def activations(self, layer):
    ...         return np.random.default_rng(0).standard_normal((3, 2, 50, 4))  # (T, K, n, U)
    >>> over_recording("linear_cka", Rec(), "hidden.0", reference="final")[-1].round(6).tolist()
    [1.0, 1.0]
    """
    acts = rec.activations(layer)  # (T, K, n_probe, n_units)
    if name in _UNIT_LEVEL or name in ("spread_max", "spread_mean"):
        weights = rec.weights(layer) if name.startswith("spread") else None
        return unit_summary(acts, weights)[name]
    if other is not None:
        check_same_probe(rec, other)
        return apply_measure(name, acts, other.activations(layer), **options)
    choice("reference", reference, ("final", "initial", "members"))
    if reference == "members":
        return apply_measure(name, acts[:, :, None], acts[:, None, :], **options)
    ref = acts[-1:] if reference == "final" else acts[:1]
    return apply_measure(name, acts, ref, **options)


def _batch_array(x: Any, name: str) -> np.ndarray:
    arr = to_numpy(x, name)
    if arr.ndim < 2:
        raise UnitscopeError(f"`{name}` must be (..., n_samples, n_units), got shape {arr.shape}.")
    check_finite(arr, name)
    return arr
