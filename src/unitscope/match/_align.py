"""Whole-network alignment: one permutation per layer, from weights or from activations."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._errors import UnitscopeError, unknown_name
from ..models import UnitModel
from ._activations import ActivationMatch, activations
from ._checks import pair_models
from ._permute import Perms
from ._weights import weights

METHODS = ("weights", "activations")
# unitscope's own models: dense layers give (K, n, U), conv layers (K, n, C, H, W).
OWN_LAYOUT = {3: "KND", 5: "KNCHW"}


def match_layers(
    model_a: UnitModel,
    model_b: UnitModel,
    x: Any,
    *,
    layers: list[str] | None = None,
    null: Any = "shuffle",
    seed: int = 0,
) -> dict[str, ActivationMatch]:
    """Activation matching of every studied layer of two models on the inputs ``x``.

    Args:
        model_a, model_b: same architecture; pair k is member k of A with member k of B.
        x: inputs (n, ...) shared by both models.
        layers: the layers to match (default: all studied layers).
        null: ``"shuffle"`` (B's samples shuffled), ``None`` (no null), or an untrained
            network of the same architecture (1 or P members) whose activations on ``x`` are
            matched against A's as the null.
        seed: seed of the row shuffle of the null.

    Returns:
        layer -> :class:`ActivationMatch` (conv layers are matched on full feature maps).

    Example:
        >>> from unitscope.models import MLP
        >>> from unitscope.match import permute
        >>> a = MLP(3, [6], 2, activation="tanh")
        >>> _ = [torch.nn.init.normal_(p) for p in a.parameters()]
        >>> b = permute(a, {"hidden.0": [5, 4, 3, 2, 1, 0]})
        >>> m = match_layers(a, b, torch.randn(100, 3))["hidden.0"]
        >>> m.perm[0].tolist(), bool(np.allclose(m.matched, 1.0))
        ([5, 4, 3, 2, 1, 0], True)
    """
    a, b = pair_models(model_a, model_b)
    names = a.layers if layers is None else layers
    for name in names:
        a.check_layer(name)
    param = next(a.parameters())
    xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    xt = xt.to(device=param.device, dtype=param.dtype)
    with torch.no_grad():
        _, hidden_a = a.forward_hidden(xt)
        _, hidden_b = b.forward_hidden(xt)
        hidden_null = None
        if isinstance(null, UnitModel):
            _, hidden_null = pair_models(a, null)[1].forward_hidden(xt)
    return {
        n: activations(
            hidden_a[n],
            hidden_b[n],
            layout=OWN_LAYOUT[hidden_a[n].dim()],
            seed=seed,
            null=hidden_null[n] if hidden_null is not None else null,
        )
        for n in names
    }


def align(
    model_a: Any,
    model_b: Any,
    *,
    method: str = "weights",
    x: Any = None,
    seed: int = 0,
    spec: Any = None,
) -> Perms:
    """Permutations that align B's units to A's: ``permute(model_b, align(model_a, model_b))``.

    Args:
        model_a, model_b: same architecture; pair k is member k of A with member k of B.
        method: ``"weights"`` (Git Re-Basin weight matching, no data needed) or
            ``"activations"`` (each layer matched by activation correlation on ``x``).
        x: inputs for ``method="activations"``.
        seed: seed of the weight-matching layer order.
        spec: the :class:`~unitscope.match.PermutationSpec` of two ``nn.Module`` networks
            (weight matching only).

    Returns:
        layer -> (P, n_units) int64 permutations.
    """
    if method not in METHODS:
        raise unknown_name("matching method", method, METHODS)
    if method == "weights":
        return weights(model_a, model_b, seed=seed, spec=spec).perms
    if not (isinstance(model_a, UnitModel) and isinstance(model_b, UnitModel)):
        raise UnitscopeError(
            "method='activations' works on MLP and SmallCNN; for an nn.Module use "
            "method='weights' with its spec."
        )
    if x is None:
        raise UnitscopeError("method='activations' needs inputs `x` to compute activations on.")
    found = match_layers(model_a, model_b, x, null=None)
    return {layer: m.perm for layer, m in found.items()}
