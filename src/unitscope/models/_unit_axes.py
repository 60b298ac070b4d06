"""Which parameter axes belong to the units of a layer: the contract used to permute units."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class ParamAxis:
    """Axis ``axis`` of parameter ``param`` is indexed by the layer's units.

    ``block`` > 1 means each unit owns ``block`` consecutive indices on that axis (a conv
    channel flattened into ``block = H * W`` features of the next dense layer). Axis numbers
    count the leading member axis: axis 1 is the first per-member axis.
    """

    param: str
    axis: int
    block: int = 1


@dataclass(frozen=True)
class UnitAxes:
    """All the places where the units of one studied layer live in the parameters.

    Attributes:
        layer: the layer's stable name, e.g. ``"hidden.0"`` or ``"conv.1"``.
        n_units: number of units (neurons or channels).
        incoming: the unit's own weights and bias (permuted together with the unit).
        outgoing: the next layer's weights that read this unit.
    """

    layer: str
    n_units: int
    incoming: tuple[ParamAxis, ...]
    outgoing: tuple[ParamAxis, ...]

    @property
    def all(self) -> tuple[ParamAxis, ...]:
        return self.incoming + self.outgoing


def expand_permutation(perm: Tensor, block: int) -> Tensor:
    """Index that moves whole blocks: unit ``perm[i]``'s ``block`` indices go to slot i.

    >>> expand_permutation(torch.tensor([1, 0]), 2).tolist()
    [2, 3, 0, 1]
    """
    if block == 1:
        return perm
    offsets = torch.arange(block, device=perm.device)
    return (perm.unsqueeze(-1) * block + offsets).reshape(*perm.shape[:-1], -1)
