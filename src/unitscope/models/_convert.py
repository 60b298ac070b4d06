"""A user's ``nn.Sequential`` of Linear and activation layers as unitscope's MLP (K=1).

The common case only: ``[Flatten,] Linear, act, Linear, act, ..., Linear`` with one activation
kind throughout and biases on every Linear or on none. The weights are copied exactly (same
dtype and device), so the MLP computes the same function. Anything else is refused with one
line naming the first layer that does not fit; a network of another shape needs the model-level
tools that take any ``nn.Module``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from .._errors import UnitscopeError

if TYPE_CHECKING:
    from ._mlp import MLP

# activation modules -> MLP activation names (GELU only with its exact, erf form)
_ACTS: dict[type[nn.Module], str] = {
    nn.ReLU: "relu",
    nn.Tanh: "tanh",
    nn.Sigmoid: "sigmoid",
    nn.GELU: "gelu",
}
_SUPPORTED = "Linear, ReLU, Tanh, Sigmoid, GELU (exact), and a leading Flatten"


def mlp_from_sequential(seq: nn.Module) -> MLP:
    """The MLP (K=1) that computes what ``seq`` computes; see the module docstring."""
    from ._mlp import MLP

    if not isinstance(seq, nn.Sequential):
        raise UnitscopeError(
            f"MLP.from_torch takes an nn.Sequential of {_SUPPORTED}, got {type(seq).__name__}."
        )
    layers = list(seq)
    if layers and isinstance(layers[0], nn.Flatten):
        if (layers[0].start_dim, layers[0].end_dim) != (1, -1):
            raise UnitscopeError(
                "MLP.from_torch: a leading nn.Flatten must flatten every axis after the batch "
                f"(start_dim=1, end_dim=-1), got start_dim={layers[0].start_dim}, "
                f"end_dim={layers[0].end_dim}."
            )
        layers = layers[1:]
    linears, activation = _parse(layers)
    sizes = [linears[0].in_features] + [lin.out_features for lin in linears]
    bias = {lin.bias is not None for lin in linears}
    if len(bias) != 1:
        raise UnitscopeError(
            "MLP.from_torch: some Linear layers have a bias and some do not; unitscope's MLP "
            "has biases on every layer or on none."
        )
    first = linears[0].weight
    net = MLP(
        sizes[0], sizes[1:-1], sizes[-1], activation=activation, bias=bias.pop(), members=1
    ).to(dtype=first.dtype, device=first.device)
    targets = [*net.hidden, net.out]
    with torch.no_grad():
        for lin, target in zip(linears, targets):
            target.weight.copy_(lin.weight.unsqueeze(0))  # (1, out, in)
            if lin.bias is not None and target.bias is not None:
                target.bias.copy_(lin.bias.unsqueeze(0))  # (1, out)
    return net


def _parse(layers: list[nn.Module]) -> tuple[list[nn.Linear], str]:
    """The Linear layers and the one activation name; refuses anything else."""
    linears: list[nn.Linear] = []
    acts: list[str] = []
    for i, layer in enumerate(layers):
        expect_linear = len(linears) == len(acts)
        if isinstance(layer, nn.Linear) and expect_linear:
            if linears and layer.in_features != linears[-1].out_features:
                raise UnitscopeError(
                    f"MLP.from_torch: Linear {i} reads {layer.in_features} features but the "
                    f"layer before gives {linears[-1].out_features}."
                )
            linears.append(layer)
        elif not expect_linear and type(layer) in _ACTS:
            if isinstance(layer, nn.GELU) and layer.approximate != "none":
                raise UnitscopeError(
                    f"MLP.from_torch: layer {i} is GELU(approximate={layer.approximate!r}); "
                    "unitscope's MLP uses the exact GELU."
                )
            acts.append(_ACTS[type(layer)])
        else:
            want = "a Linear" if expect_linear else "an activation"
            raise UnitscopeError(
                f"MLP.from_torch: layer {i} is {type(layer).__name__} where {want} must come; "
                f"supported: alternating {_SUPPORTED}, ending with a Linear."
            )
    if not linears or len(acts) == len(linears):
        raise UnitscopeError(
            "MLP.from_torch: the Sequential must start and end with a Linear layer "
            f"(alternating {_SUPPORTED})."
        )
    if len(set(acts)) > 1:
        raise UnitscopeError(
            f"MLP.from_torch: the hidden layers use different activations {acts}; unitscope's "
            "MLP has one activation for every hidden layer."
        )
    return linears, acts[0] if acts else "linear"
