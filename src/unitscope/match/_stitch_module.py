"""Any ``nn.Module`` as a stitching :class:`~unitscope.match._stitch_body.Body`.

Layer i is read with forward hooks (:func:`unitscope.record.capture`, reused modules by
``"name#k"``); "the rest of B from layer j on" is B run on the same inputs with a forward hook
that returns the stitched tensor in place of layer j's output. Everything B computes from its
own earlier layers still flows (a residual branch that skips layer j keeps B's own values), so
stitching at the output of a whole block (``"layer2"``) is the usual choice in a ResNet.

A layer whose outputs have positions (conv maps, tokens) is stitched position by position,
as a 1×1 convolution (Bansal et al., 2021): its activations become rows (sample, position) of
units, read with a ``layout`` that is never guessed (``"NCHW"``, ``"NHWC"``, ``"NTD"``, ...).
The raw-input control uses the inputs flattened per sample, or, when ``layout`` names the
``"input"`` too (a string of as many letters as the inputs have axes, or a dict key
``"input"``), the inputs position by position.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .._errors import UnitscopeError
from .._layout import Layout, layout_for, require_layout
from ..record._hooks import capture, eval_mode, resolve_layers, split_call
from ._stitch_body import INPUT


@dataclass(frozen=True)
class _Shape:
    """How a layer's (N, ...) tensor became (N·P, U) rows, to undo it."""

    layout: Layout
    positions: tuple[int, ...]  # sizes of the position axes, in layout order
    units: int

    def rows(self, t: Tensor) -> Tensor:
        return t.permute(self.layout.order).reshape(-1, self.units)  # (N·P, U)

    def tensor(self, h: Tensor, n: int) -> Tensor:
        """(N·P, U) rows back to the layer's own layout."""
        t = h.reshape(n, *self.positions, self.units)  # (N, *positions, U)
        inverse = sorted(range(len(self.layout.order)), key=self.layout.order.__getitem__)
        return t.permute(inverse)


class ModuleBody:
    """One torch network (one member) as stitching sees it."""

    def __init__(self, net: nn.Module, name: str, layout: Any = None):
        if not isinstance(net, nn.Module):
            raise UnitscopeError(
                f"`{name}` must be a unitscope MLP or a torch nn.Module, got {type(net).__name__}."
            )
        self.net, self.name, self.layout = net, name, layout
        self.layers: list[str] = []
        self.shapes: dict[str, _Shape] = {}
        param = next((p for p in net.parameters() if p.is_floating_point()), None)
        self.dtype = param.dtype if param is not None else torch.get_default_dtype()
        self.device = param.device if param is not None else torch.device("cpu")

    def check_layers(self, layers: Sequence[str] | None, side: str) -> list[str]:
        """Module names of network ``side`` to stitch (did-you-mean on a typo)."""
        key = f"layers_{side.lower()}"
        if layers is None:
            raise UnitscopeError(
                f"`{self.name}` is a torch module, so name its layers to stitch: {key}=[...] "
                "(module names, e.g. 'layer1', 'layer2'; 'relu#1' for a module's second call)."
            )
        chosen = [layers] if isinstance(layers, str) else [str(n) for n in layers]
        if not chosen:
            raise UnitscopeError(f"`{key}` is empty; name at least one module, e.g. 'layer1'.")
        if len(set(chosen)) != len(chosen):
            raise UnitscopeError(f"`{key}` names a layer twice: {chosen}.")
        resolve_layers(self.net, chosen)
        self.layers = chosen
        return chosen

    def activations(self, x: Tensor) -> dict[str, Tensor]:
        """``{"input": rows, layer: (N·P, U) rows, ...}`` in the network's dtype."""
        with (
            capture(self.net, self.layers, dtype=None) as cap,
            eval_mode(self.net),
            torch.no_grad(),
        ):
            self.net(x)
        out = {INPUT: self._input_rows(x)}
        for layer in self.layers:
            t = cap.outputs[layer][0]  # (N, ...)
            shape = self._shape(layer, t)
            self.shapes[layer] = shape
            out[layer] = shape.rows(t)
        return out

    def head(self, layer: str, h: Tensor, x: Tensor | None = None) -> Tensor:
        """(n, n_outputs): the network on ``x`` with ``layer``'s output replaced by ``h``.

        ``h`` holds the rows of :meth:`activations` (n·P, U); only ``h`` carries gradients.
        """
        if x is None:
            raise UnitscopeError("a torch module is run from a layer on its inputs `x`.")
        stitched = self.shapes[layer].tensor(h, x.shape[0])
        module_name, call = split_call(layer, dict(self.net.named_modules()))
        module = self.net.get_submodule(module_name)
        seen = [0]

        def replace(_module: nn.Module, _inputs: Any, output: Any) -> Any:
            index, seen[0] = seen[0], seen[0] + 1
            return stitched.to(output.dtype) if index == (call or 0) else output

        handle = module.register_forward_hook(replace)
        try:
            with eval_mode(self.net), _frozen(self.net):
                return self._tensor(self.net(x))
        finally:
            handle.remove()

    def outputs(self, x: Tensor) -> Tensor:
        """(n, n_outputs) of the network itself."""
        with eval_mode(self.net), torch.no_grad():
            return self._tensor(self.net(x))

    # ---- helpers ------------------------------------------------------------------------
    def _shape(self, layer: str, t: Tensor) -> _Shape:
        try:
            lay = require_layout(tuple(t.shape), layout_for(layer, t.dim(), self.layout), "acts")
        except UnitscopeError as err:
            raise UnitscopeError(f"layer {layer!r} of `{self.name}`: {err}") from None
        positions = tuple(int(t.shape[i]) for i in lay.positions)
        return _Shape(lay, positions, int(t.shape[lay.units]))

    def _input_rows(self, x: Tensor) -> Tensor:
        given = self.layout.get(INPUT) if isinstance(self.layout, dict) else self.layout
        if x.dim() == 2 or not isinstance(given, str) or len(given) != x.dim():
            return x.flatten(1)  # (n, d): every input value is a feature
        return self._shape(INPUT, x).rows(x)

    def _tensor(self, out: Any) -> Tensor:
        if not isinstance(out, Tensor) or out.dim() != 2:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise UnitscopeError(
                f"`{self.name}` must return (n, n_outputs) logits or predictions to be "
                f"stitched, got {shape}."
            )
        return out


@contextmanager
def _frozen(net: nn.Module) -> Iterator[None]:
    """No gradients for the network's own parameters; their flags restored on exit."""
    flags = [(p, p.requires_grad) for p in net.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
