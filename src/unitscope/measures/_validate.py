"""Checks at the boundary of every measure: arrays in, float64 out, one clear error on bad input.

Every measure accepts numpy arrays and torch tensors (any device, any real dtype) and converts
them here. Scalar results are Python floats; matrix results are float64 numpy arrays.
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


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise when ``arr`` holds NaN or infinite values (one summing pass, no large temporary)."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(arr, dtype=np.float64)
    if math.isfinite(total):
        return
    bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise UnitscopeError(
            f"`{name}` contains {bad} NaN or infinite value(s); drop or impute them first."
        )
    raise UnitscopeError(f"`{name}` has values so large that their sum overflows float64; rescale.")


def matrix(
    x: Any,
    name: str,
    *,
    min_rows: int = 2,
    float64: bool = True,
    purpose: str = "",
    finite: bool = True,
) -> np.ndarray:
    """Validate a (n_samples, n_units) matrix and return it (float64 unless ``float64=False``).

    ``finite=False`` skips the NaN/inf pass for callers that check it on the way (the moment
    accumulators check the column sums they compute anyway).
    """
    arr = to_numpy(x, name)
    if arr.ndim != 2:
        hint = " For conv activations use to_units(x, mode=...)." if arr.ndim > 2 else ""
        raise UnitscopeError(
            f"`{name}` must be 2-D (n_samples, n_units), got shape {tuple(arr.shape)}.{hint}"
        )
    if arr.shape[0] < min_rows:
        raise UnitscopeError(
            f"`{name}` needs at least {min_rows} samples (rows){purpose}, got {arr.shape[0]}."
        )
    if arr.shape[1] < 1:
        raise UnitscopeError(f"`{name}` needs at least one unit (column), got shape {arr.shape}.")
    if finite:
        check_finite(arr, name)
    return np.asarray(arr, dtype=np.float64) if float64 else arr


def paired(
    x: Any,
    y: Any,
    *,
    min_rows: int = 2,
    float64: bool = True,
    purpose: str = "",
    finite: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate two matrices whose rows are paired samples (same n_samples)."""
    xa = matrix(x, "x", min_rows=min_rows, float64=float64, purpose=purpose, finite=finite)
    ya = matrix(y, "y", min_rows=min_rows, float64=float64, purpose=purpose, finite=finite)
    if xa.shape[0] != ya.shape[0]:
        raise UnitscopeError(
            f"`x` and `y` must have the same number of rows (paired samples), "
            f"got {xa.shape[0]} and {ya.shape[0]}."
        )
    return xa, ya


def centred(x: np.ndarray) -> np.ndarray:
    """Subtract the column means: ``H x`` with ``H = I - 11ᵀ/n`` (a new float64 array)."""
    return x - x.mean(axis=0, keepdims=True)


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
