"""Checks at the boundary of every measure: arrays in, float64 out, one clear error on bad input.

Every measure accepts numpy arrays and torch tensors (any device, any real dtype) and converts
them here. Scalar results are Python floats; matrix results are float64 numpy arrays.

Two numerical guards live here, so that every measure gets them once:

- **scale**: the layer measures are invariant to scaling either input, but their products are
  not: ``‖X̃ᵀX̃‖_F`` grows as ``|x|⁴``, which overflows float64 for ``|x| ≈ 1e77`` and underflows
  for ``|x| ≈ 1e-77``. An input whose largest magnitude lies outside ``[2⁻¹²⁸, 2¹²⁸]`` is
  multiplied by the power of two that brings it into ``[½, 1)`` (:func:`rescaled`). Multiplying
  by a power of two is exact, so the measure's value is unchanged.
- **constants**: centring a constant column on its computed mean leaves rounding residue
  (~1e-17), which a normalized measure would blow up into a signal. :func:`column_means` gives a
  constant column exactly its value, so centred constants are exact zeros and every measure
  sees a constant input as constant.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .._errors import UnitscopeError


class DegenerateInputWarning(UserWarning):
    """A measure is undefined on this input (e.g. zero variance) and returned NaN; says why."""


def degenerate(reason: str, *, stacklevel: int = 3) -> float:
    """Warn with ``reason`` and return NaN: the result is undefined, never a silent number."""
    warnings.warn(f"{reason}; returning NaN.", DegenerateInputWarning, stacklevel=stacklevel)
    return math.nan


def to_numpy(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a numpy array of a real dtype, without copying when possible.

    Torch tensors are detached and moved to the CPU; bool and integer arrays become float64.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, without importing torch
        t = x.detach().cpu()
        if str(t.dtype) in ("torch.bfloat16", "torch.float16"):
            t = t.float()
        x = t.numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise UnitscopeError(
            f"`{name}` must be a numpy array or torch tensor, got {type(x).__name__} ({err})."
        ) from None
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype.kind in "OSUV":
        raise UnitscopeError(
            f"`{name}` must be a numpy array or torch tensor of numbers, got {type(x).__name__}"
            f" of dtype {arr.dtype}."
        )
    if arr.dtype.kind != "f":
        raise UnitscopeError(
            f"`{name}` must hold real numbers, got dtype {arr.dtype}; convert it to float first."
        )
    return arr


EPS64 = float(np.finfo(np.float64).eps)


def precision(arr: np.ndarray) -> float:
    """Unit roundoff of the data's dtype: float32 activations carry only float32 precision."""
    return max(float(np.finfo(arr.dtype).eps), EPS64) if arr.dtype.kind == "f" else EPS64


def check_finite(arr: np.ndarray, name: str) -> float:
    """Raise when ``arr`` holds NaN or infinite values; else return its largest magnitude.

    Two reducing passes (max and min), no temporary the size of ``arr``, no overflow.
    """
    if arr.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):
        peak = max(float(np.max(arr)), -float(np.min(arr)))
    if math.isfinite(peak):
        return peak
    bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
    raise UnitscopeError(
        f"`{name}` contains {bad} NaN or infinite value(s); drop or impute them first."
    )


# Inputs whose largest magnitude lies in [2^-SAFE, 2^SAFE] are used as they are: their fourth
# powers, times n² d² up to 2^66, stay far inside float64's range. float32 data always do.
SAFE_EXPONENT = 128


def scale_exponent(peak: float) -> int:
    """``e`` such that ``x · 2^-e`` has its largest magnitude in [½, 1), or 0 when ``peak`` (the
    largest magnitude) is 0 or within ``[2^-128, 2^128]`` already.

    Non-decreasing in ``peak``, so a running maximum never asks to scale stored sums up.

    >>> scale_exponent(3.0), scale_exponent(1e200), scale_exponent(1e-300)
    (0, 665, -996)
    """
    if peak == 0.0 or 2.0**-SAFE_EXPONENT <= peak <= 2.0**SAFE_EXPONENT:
        return 0
    return int(math.frexp(peak)[1])


def rescaled(arr: np.ndarray, peak: float | None = None, name: str = "x") -> tuple[np.ndarray, int]:
    """``(arr · 2^-e, e)`` with ``e = scale_exponent(peak)``; ``arr`` itself (no copy) when e = 0.

    The product is exact (a power of two), so every scale-invariant measure is unchanged.

    >>> import numpy as np
    >>> x = np.array([[1e200, -3e199], [0.0, 5e199]])
    >>> y, e = rescaled(x)
    >>> e, bool(0.5 <= np.abs(y).max() < 1), bool(np.all(np.ldexp(y, e) == x))  # exact
    (665, True, True)
    """
    e = scale_exponent(check_finite(arr, name) if peak is None else peak)
    return (np.ldexp(arr, -e), e) if e else (arr, 0)


def rescaled_slices(a: np.ndarray) -> np.ndarray:
    """Each (n_samples, n_units) slice of a (..., n_samples, n_units) stack scaled into range
    on its own, as :func:`rescaled` would; ``a`` itself when no slice needs it."""
    if a.size == 0:
        return a
    peak = np.maximum(a.max(axis=(-2, -1)), -a.min(axis=(-2, -1))).astype(np.float64)  # (...,)
    inside = (peak == 0) | ((peak >= 2.0**-SAFE_EXPONENT) & (peak <= 2.0**SAFE_EXPONENT))
    e = np.where(inside, 0, np.frexp(peak)[1])  # (...,)
    return np.ldexp(a, -e[..., None, None]) if e.any() else a


def constant_columns(a: np.ndarray, axis: int = -2) -> np.ndarray:
    """Boolean mask (``axis`` kept with length 1): which columns hold one value along ``axis``.

    Nine rows spread over ``axis`` rule most columns out; only the remaining candidates are
    compared in full, so the usual cost is far below one pass over ``a``.

    >>> import numpy as np
    >>> constant_columns(np.array([[1.0, 0.1], [2.0, 0.1], [3.0, 0.1]])).tolist()
    [[False, True]]
    """
    n = a.shape[axis]
    first = np.take(a, [0], axis=axis)
    probe = np.take(a, np.linspace(0, n - 1, min(n, 9)).astype(np.intp), axis=axis)
    mask = np.all(probe == first, axis=axis, keepdims=True)
    if not mask.any():
        return mask
    if a.ndim == 2 and axis in (0, -2):  # compare only the candidate columns
        cols = np.flatnonzero(mask[0])
        mask[0, cols] = np.all(a[:, cols] == first[:, cols], axis=0)
        return mask
    return np.all(a == first, axis=axis, keepdims=True)


def column_means(a: np.ndarray, axis: int = -2) -> np.ndarray:
    """Means over ``axis`` in float64 (kept as a length-1 axis); a constant column gets exactly
    its value, so that subtracting the mean leaves exact zeros.

    >>> import numpy as np
    >>> x = np.full((3, 2), 0.1)
    >>> float(x.mean(axis=0)[0] - 0.1) != 0.0, bool(np.all(x - column_means(x) == 0.0))
    (True, True)
    """
    mean = a.mean(axis=axis, dtype=np.float64, keepdims=True)
    mask = constant_columns(a, axis)
    if not mask.any():
        return mean
    return np.where(mask, np.take(a, [0], axis=axis).astype(np.float64), mean)


def matrix(
    x: Any,
    name: str,
    *,
    min_rows: int = 2,
    float64: bool = True,
    purpose: str = "",
    finite: bool = True,
    rescale: bool = False,
) -> np.ndarray:
    """Validate a (n_samples, n_units) matrix and return it (float64 unless ``float64=False``).

    ``finite=False`` skips the NaN/inf pass for callers that check it on the way (the moment
    accumulators check every batch they scale anyway). ``rescale=True`` brings an input of
    extreme magnitude into range (:func:`rescaled`); only for scale-invariant measures.
    """
    arr = to_numpy(x, name)
    if arr.ndim != 2:
        hint = (
            " For conv activations use to_units(x, mode=..., layout='NCHW'), tokens 'NTD'."
            if arr.ndim > 2
            else ""
        )
        raise UnitscopeError(
            f"`{name}` must be 2-D (n_samples, n_units), got shape {tuple(arr.shape)}.{hint}"
        )
    if arr.shape[0] < min_rows:
        raise UnitscopeError(
            f"`{name}` needs at least {min_rows} samples (rows){purpose}, got {arr.shape[0]}."
        )
    if arr.shape[1] < 1:
        raise UnitscopeError(f"`{name}` needs at least one unit (column), got shape {arr.shape}.")
    if finite or rescale:
        peak = check_finite(arr, name)
        if rescale:
            arr = rescaled(arr, peak)[0]
    return np.asarray(arr, dtype=np.float64) if float64 else arr


def paired(
    x: Any,
    y: Any,
    *,
    min_rows: int = 2,
    float64: bool = True,
    purpose: str = "",
    finite: bool = True,
    rescale: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate two matrices whose rows are paired samples (same n_samples).

    Each side is rescaled into range by default (see the module docstring): every layer measure
    is invariant to scaling either input. Accumulators over batches pass ``rescale=False`` (one
    batch must not be scaled differently from the next) and handle the scale themselves.
    """
    xa, ya = (
        matrix(
            a,
            name,
            min_rows=min_rows,
            float64=float64,
            purpose=purpose,
            finite=finite,
            rescale=rescale,
        )
        for a, name in ((x, "x"), (y, "y"))
    )
    if xa.shape[0] != ya.shape[0]:
        raise UnitscopeError(
            f"`x` and `y` must have the same number of rows (paired samples), "
            f"got {xa.shape[0]} and {ya.shape[0]}."
        )
    return xa, ya


def centred(x: np.ndarray) -> np.ndarray:
    """Subtract the column means: ``H x`` with ``H = I - 11ᵀ/n`` (a new float64 array).

    A constant column becomes exact zeros (:func:`column_means`).
    """
    return x - column_means(x, axis=0)


def in_unit_interval(name: str, value: float, *, low_open: bool, high_open: bool) -> float:
    """Check ``value`` lies in the interval (0, 1), [0, 1], (0, 1] or [0, 1)."""
    v = float(value)
    low_ok = v > 0 if low_open else v >= 0
    high_ok = v < 1 if high_open else v <= 1
    if not (math.isfinite(v) and low_ok and high_ok):
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise UnitscopeError(f"`{name}` must be in {interval}, got {value!r}.")
    return v


def positive(name: str, value: float) -> float:
    """Check ``value`` is a finite number > 0."""
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise UnitscopeError(f"`{name}` must be > 0, got {value!r}.")
    return v


def int_in_range(name: str, value: Any, low: int, high: int) -> int:
    """Check ``value`` is an integer with ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise UnitscopeError(f"`{name}` must be an integer, got {value!r}.")
    if not low <= int(value) <= high:
        raise UnitscopeError(f"`{name}` must be between {low} and {high}, got {value}.")
    return int(value)


def choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """Check ``value`` is one of ``choices``."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise UnitscopeError(f"`{name}` must be one of {listed}, got {value!r}.")
    return value
