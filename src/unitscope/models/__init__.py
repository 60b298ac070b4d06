"""Models whose hidden units we study, K independent members in one module.

``MLP`` and ``SmallCNN`` hold a leading member axis on every parameter so that one forward
pass runs K networks. Studied layers have stable names (``hidden.0``, ``conv.1``) and each
model describes where each layer's units live in its parameters (:class:`UnitAxes`).
"""

from __future__ import annotations

from typing import Any

from .._errors import UnitscopeError
from ._base import UnitModel
from ._cnn import SmallCNN
from ._layers import ACTIVATIONS, BatchedConv2d, BatchedLinear
from ._mlp import MLP
from ._unit_axes import ParamAxis, UnitAxes

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "BatchedConv2d",
    "BatchedLinear",
    "ParamAxis",
    "SmallCNN",
    "UnitAxes",
    "UnitModel",
    "build",
]


def build(spec: dict[str, Any], *, members: int = 1) -> UnitModel:
    """Rebuild a model from its ``spec`` (``model.spec``), with ``members`` members."""
    kwargs = dict(spec)
    kind = kwargs.pop("kind", None)
    if kind == "mlp":
        return MLP(**kwargs, members=members)
    if kind == "cnn":
        return SmallCNN(**kwargs, members=members)
    raise UnitscopeError(f"unknown model kind {kind!r}; expected 'mlp' or 'cnn'.")
