"""What stitching needs from a network: its layers' activations, and the rest of the network
run from a layer on.

A :class:`Body` wraps one network (one member). Stitching asks it for every layer's
activations on some inputs, and for the outputs of the network when the activations of one
layer are replaced by stitched ones (``head``). Only ``head`` must be differentiable in its
input: the ``task`` stitcher trains through it while the network stays frozen.

:class:`MLPBody` runs unitscope's MLP directly: after ``hidden.j`` it applies the later dense
layers with their (detached) weights. Any other ``nn.Module`` is a
:class:`~unitscope.match._stitch_module.ModuleBody`: read with forward hooks
(:func:`unitscope.record.capture`) and run from a layer on with a forward hook that returns the
stitched tensor in place of the module's output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
from torch import Tensor, nn

from .._errors import UnitscopeError, unknown_name
from ..models import MLP, BatchedLinear

INPUT = "input"  # the pseudo-layer of the raw input (the raw-input control's source)


class Body(Protocol):
    """One network as stitching sees it."""

    layers: list[str]

    def activations(self, x: Tensor) -> dict[str, Tensor]:
        """``{"input": (n, d), layer: (rows, n_units), ...}`` without gradients; rows are
        samples, or (sample, position) pairs for a layer with positions."""
        ...

    def head(self, layer: str, h: Tensor, x: Tensor | None = None) -> Tensor:
        """(n, n_outputs): the network from just after ``layer``, fed ``h`` (rows as in
        :meth:`activations`) on the inputs ``x`` that ``h`` was computed from."""
        ...

    def outputs(self, x: Tensor) -> Tensor:
        """(n, n_outputs) of the network itself."""
        ...


class MLPBody:
    """A 1-member unitscope MLP as a :class:`Body`."""

    def __init__(self, net: nn.Module, name: str):
        if not isinstance(net, MLP):
            raise UnitscopeError(
                f"`{name}` must be a unitscope MLP or a torch nn.Module for stitching, got "
                f"{type(net).__name__}."
            )
        if net.members != 1:
            raise UnitscopeError(
                f"`{name}` holds {net.members} members; stitching connects one network into "
                "another, so pass one member, e.g. `model.select([0])`."
            )
        self.net: MLP = net
        self.layers = list(net.layers)
        if not self.layers:
            raise UnitscopeError(
                f"`{name}` has no hidden layer (model.hidden = []), so there is nothing to "
                "stitch; train with one, e.g. --set model.hidden=[16]."
            )
        self.dtype = next(net.parameters()).dtype
        # per layer: the later dense layers' weights (in, out), biases, and whether an
        # activation follows (read from the network at the first `head` call)
        self._later: dict[str, list[tuple[Tensor, Tensor | None, bool]]] = {}
        self.device = next(net.parameters()).device

    def check_layers(self, layers: Sequence[str] | None, side: str) -> list[str]:
        """``layers`` of network ``side`` (A or B; default: every studied layer), each
        checked with a did-you-mean."""
        chosen = self.layers if layers is None else [str(n) for n in layers]
        if not chosen:
            raise UnitscopeError(
                f"`layers_{side.lower()}` is empty; name at least one layer, e.g. 'hidden.0'."
            )
        if len(set(chosen)) != len(chosen):
            raise UnitscopeError(f"`layers_{side.lower()}` names a layer twice: {chosen}.")
        for layer in chosen:
            if layer not in self.layers:
                raise unknown_name(f"layer of {side}", layer, self.layers)
        return chosen

    def activations(self, x: Tensor) -> dict[str, Tensor]:
        with torch.no_grad():
            _, hidden = self.net.forward_hidden(x)
        flat = x.flatten(1) if x.dim() > 2 else x
        return {INPUT: flat, **{k: v[0] for k, v in hidden.items()}}  # (n, U) each

    def head(self, layer: str, h: Tensor, x: Tensor | None = None) -> Tensor:
        if layer not in self._later:  # an MLP after `layer` reads nothing but h
            start = self.layers.index(layer) + 1
            later: list[BatchedLinear] = [*self.net.hidden[start:], self.net.out]
            self._later[layer] = [
                (
                    dense.weight.detach()[0].T,  # (in, out)
                    None if dense.bias is None else dense.bias.detach()[0],
                    dense is not self.net.out,
                )
                for dense in later
            ]
        for w, b, hidden in self._later[layer]:
            h = h @ w
            if b is not None:
                h = h + b
            if hidden:
                h = self.net.act(h)
        return h  # (n, n_outputs)

    def outputs(self, x: Tensor) -> Tensor:
        """(n, n_outputs) of the network itself."""
        with torch.no_grad():
            return self.net(x)[0]
