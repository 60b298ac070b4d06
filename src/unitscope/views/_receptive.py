"""Receptive fields of SmallCNN feature maps, and cropping the input patch a position sees."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import UnitscopeError, unknown_name
from ..models import SmallCNN, UnitModel


def conv_index(model: UnitModel, layer: str) -> int:
    """Index i of conv layer ``conv.i`` of a SmallCNN; a clear error for anything else."""
    if not isinstance(model, SmallCNN):
        raise UnitscopeError(
            f"feature-map views need a SmallCNN, got {type(model).__name__}; for dense layers use "
            "the plane views."
        )
    layers = [f"conv.{i}" for i in range(len(model.conv))]
    if layer not in layers:
        raise unknown_name("conv layer", layer, layers)
    return layers.index(layer)


@dataclass(frozen=True)
class ReceptiveField:
    """Where a feature-map position looks in the input.

    Position ``(row, col)`` of the map sees the input square of side ``size`` whose top-left
    pixel is ``(start + row * jump, start + col * jump)`` (it may stick out of the image,
    where the padding is zero).
    """

    size: int
    jump: int
    start: int

    def corner(self, row: int, col: int) -> tuple[int, int]:
        """Top-left input pixel of position (row, col)'s field."""
        return self.start + row * self.jump, self.start + col * self.jump


def receptive_field(model: UnitModel, layer: str) -> ReceptiveField:
    """The receptive field of the maps of ``layer`` (taken before that layer's pooling).

    Each conv (kernel k, padding k // 2) grows the field by ``(k - 1) * jump`` and moves its
    start by ``-(k // 2) * jump``; each 2x2 pool grows it by ``jump`` and doubles ``jump``.

    Example:
        >>> from unitscope.models import SmallCNN
        >>> net = SmallCNN(1, (16, 16), [4, 4], 10, kernel_size=3)
        >>> receptive_field(net, "conv.0"), receptive_field(net, "conv.1")
        (ReceptiveField(size=3, jump=1, start=-1), ReceptiveField(size=8, jump=2, start=-3))
    """
    index = conv_index(model, layer)
    k = int(model.spec["kernel_size"])
    pooled = model.spec["pool"] != "none"
    size, jump, start = 1, 1, 0
    for i in range(index + 1):
        start -= (k // 2) * jump
        size += (k - 1) * jump
        if i < index and pooled:
            size += jump
            jump *= 2
    return ReceptiveField(size, jump, start)


def crop(image: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    """The ``size`` x ``size`` window of ``image`` (C, H, W) at (top, left), zero outside.

    Example:
        >>> crop(np.ones((1, 2, 2)), -1, -1, 3)[0].tolist()
        [[0.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 1.0, 1.0]]
    """
    image = np.asarray(image)
    C, H, W = image.shape
    out = np.zeros((C, size, size), dtype=np.float64)
    r0, r1 = max(top, 0), min(top + size, H)
    c0, c1 = max(left, 0), min(left + size, W)
    if r0 < r1 and c0 < c1:
        out[:, r0 - top : r1 - top, c0 - left : c1 - left] = image[:, r0:r1, c0:c1]
    return out
