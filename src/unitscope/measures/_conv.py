"""From conv feature maps (N, C, *spatial) to a unit view (n_samples, n_units), explicitly.

A conv layer's units are its channels, but its activations carry spatial positions too. There
is no single right way to fold them away, so the choice is a parameter and is recorded in the
returned :class:`UnitView`:

=============== ====================== ==========================================================
``"mean"``      (N, C)                 per-channel spatial mean: one response per image & unit
``"positions"`` (N·H·W, C)             every position is a sample (rows ordered n, then h, w)
``"flatten"``   (N, C·H·W)             every (channel, position) is a unit (Kornblith et al.)
=============== ====================== ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import UnitscopeError
from ._validate import check_finite, choice, to_numpy

CONV_MODES = ("mean", "positions", "flatten")


@dataclass(frozen=True)
class UnitView:
    """Activations as (n_samples, n_units) plus how they were obtained.

    Attributes:
        values: (n_samples, n_units) array; float64 for ``"mean"``, otherwise in the input's
            own dtype (a view for ``"flatten"`` and dense input, a copy for ``"positions"``).
        mode: ``"dense"`` for input that was already 2-D, else one of ``CONV_MODES``.
        source_shape: shape of the input, e.g. (N, C, H, W).
    """

    values: np.ndarray
    mode: str
    source_shape: tuple[int, ...]


def to_units(acts: Any, mode: str = "mean") -> UnitView:
    """Turn (N, C, *spatial) activations into a (n_samples, n_units) :class:`UnitView`.

    Args:
        acts: (N, n_units) dense activations (returned unchanged, mode ``"dense"``) or
            (N, C, *spatial) conv activations, numpy or torch.
        mode: ``"mean"``, ``"positions"`` or ``"flatten"`` (see the module docstring).

    Returns:
        A :class:`UnitView` whose ``mode`` records the choice.

    >>> import numpy as np
    >>> a = np.arange(16.0).reshape(2, 2, 2, 2)  # (N=2, C=2, H=2, W=2)
    >>> to_units(a, "mean").values
    array([[ 1.5,  5.5],
           [ 9.5, 13.5]])
    >>> to_units(a, "positions").values.shape, to_units(a, "flatten").values.shape
    ((8, 2), (2, 8))
    """
    choice("mode", mode, CONV_MODES)
    arr = to_numpy(acts, "acts")
    shape = tuple(int(s) for s in arr.shape)
    if arr.ndim < 2:
        raise UnitscopeError(
            f"`acts` must be (n_samples, n_units) or (N, C, *spatial), got shape {shape}."
        )
    check_finite(arr, "acts")
    if arr.ndim == 2:
        return UnitView(arr, "dense", shape)
    n, c = shape[0], shape[1]
    if mode == "mean":
        values = arr.reshape(n, c, -1).mean(axis=2, dtype=np.float64)  # (N, C)
    elif mode == "positions":
        values = np.moveaxis(arr, 1, -1).reshape(-1, c)  # (N·H·W, C)
    else:
        values = arr.reshape(n, -1)  # (N, C·H·W)
    return UnitView(values, mode, shape)
