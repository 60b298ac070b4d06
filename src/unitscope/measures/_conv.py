"""From feature maps or tokens to a unit view (n_samples, n_units), explicitly.

A conv layer's units are its channels and a transformer's are its features, but their
activations carry positions (pixels, tokens) too. Which axis is which is never guessed: a
tensor of more than two axes needs ``layout=`` (``"NCHW"``, ``"NHWC"``, ``"NTD"``, ...; see
:mod:`~unitscope._layout`). There is no single right way to fold the positions away,
so that choice is a parameter too; both are recorded in the returned :class:`UnitView`. For
``(N, C, H, W)`` maps:

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
from .._layout import require_layout
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
        layout: the input's layout, e.g. ``"NCHW"`` (``"ND"`` for dense input).
    """

    values: np.ndarray
    mode: str
    source_shape: tuple[int, ...]
    layout: str = "ND"


def to_units(acts: Any, mode: str = "mean", *, layout: str | None = None) -> UnitView:
    """Turn activations with positions into a (n_samples, n_units) :class:`UnitView`.

    Args:
        acts: (N, n_units) dense activations (returned unchanged, mode ``"dense"``), or maps /
            tokens of more axes, numpy or torch.
        mode: ``"mean"``, ``"positions"`` or ``"flatten"`` (see the module docstring).
        layout: one letter per axis of ``acts``, e.g. ``"NCHW"`` (torch conv maps),
            ``"NHWC"`` (channels last), ``"NTD"`` (tokens: T positions of D units). Required
            for more than two axes, where it is never guessed.

    Returns:
        A :class:`UnitView` whose ``mode`` and ``layout`` record the choices.

    >>> import numpy as np
    >>> a = np.arange(16.0).reshape(2, 2, 2, 2)  # (N=2, C=2, H=2, W=2)
    >>> to_units(a, "mean", layout="NCHW").values
    array([[ 1.5,  5.5],
           [ 9.5, 13.5]])
    >>> to_units(a, "positions", layout="NCHW").values.shape
    (8, 2)

    The same numbers channels-last give the same units:

    >>> last = to_units(a.transpose(0, 2, 3, 1), "mean", layout="NHWC").values
    >>> bool((last == to_units(a, "mean", layout="NCHW").values).all())
    True
    """
    choice("mode", mode, CONV_MODES)
    arr = to_numpy(acts, "acts")
    shape = tuple(int(s) for s in arr.shape)
    if arr.ndim < 2:
        raise UnitscopeError(
            f"`acts` must be (n_samples, n_units) or maps with a layout such as 'NCHW', got "
            f"shape {shape}."
        )
    lay = require_layout(shape, layout, "acts")
    check_finite(arr, "acts")
    if arr.ndim == 2:
        return UnitView(arr if lay.text == "ND" else arr.T, "dense", shape, lay.text)
    n, c = shape[lay.samples], shape[lay.units]
    if mode == "positions":
        values = arr.transpose(lay.order).reshape(-1, c)  # (N·P, C), rows n then positions
    else:
        by_unit = arr.transpose(lay.samples, lay.units, *lay.positions)  # (N, C, *positions)
        if mode == "mean":
            values = by_unit.reshape(n, c, -1).mean(axis=2, dtype=np.float64)  # (N, C)
        else:
            values = by_unit.reshape(n, -1)  # (N, C·P), unit-major
    return UnitView(values, mode, shape, lay.text)
