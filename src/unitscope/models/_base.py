"""What every unitscope model shares: K members, named studied layers, unit axes."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .._errors import UnitscopeError, unknown_name
from ._unit_axes import UnitAxes

# A callable the trainer passes to apply dropout: (layer index, activations) -> activations.
Noise = Callable[[int, Tensor], Tensor]


class UnitModel(nn.Module):
    """Base class of the batched models: every parameter has a leading member axis K.

    Subclasses implement :meth:`forward_hidden` and :meth:`unit_axes` and store the
    keyword arguments that rebuild them in ``self.spec``.
    """

    spec: dict[str, Any]

    @property
    def members(self) -> int:
        """Number of members K."""
        return int(next(iter(self.parameters())).shape[0])

    @property
    def layers(self) -> list[str]:
        """Names of the studied layers, input to output (``hidden.0``, ``conv.1``, ...)."""
        return list(self.unit_axes())

    def unit_axes(self) -> dict[str, UnitAxes]:
        raise NotImplementedError

    def layer_kinds(self) -> dict[str, str]:
        """What each studied layer is: ``"dense"`` (units are neurons) or ``"conv"`` (units
        are feature maps), recorded with the run so no later stage guesses it from a name."""
        raise NotImplementedError

    def forward_hidden(
        self, x: Tensor, noise: Noise | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Outputs (K, n, n_outputs) and every studied layer's activations.

        Dense layers give (K, n, n_units); conv layers give (K, n, channels, height, width).
        """
        raise NotImplementedError

    def forward(self, x: Tensor, noise: Noise | None = None) -> Tensor:
        return self.forward_hidden(x, noise)[0]

    def per_sample_numel(self) -> int:
        """Numbers one input sample produces in the outputs and every studied layer, over
        all K members: what :meth:`forward_hidden` returns per sample, counted from the
        architecture alone (no forward pass, so it works on the ``meta`` device for free)."""
        raise NotImplementedError

    def check_layer(self, name: str) -> UnitAxes:
        """The unit axes of layer ``name``; a mistyped name gets a did-you-mean."""
        axes = self.unit_axes()
        if name not in axes:
            raise unknown_name("layer", name, axes)
        return axes[name]

    def select(self, members: Sequence[int] | int) -> UnitModel:
        """A new model holding only the given members (an int keeps the K=1 shape)."""
        index = [members] if isinstance(members, int) else list(members)
        if not index or max(index) >= self.members or min(index) < -self.members:
            raise UnitscopeError(
                f"member index {members} out of range for a model with {self.members} members."
            )
        out = copy.deepcopy(self)
        with torch.no_grad():
            for name, p in out.named_parameters():
                p.data = dict(self.named_parameters())[name].data[index].clone()
        return out

    @classmethod
    def stack(cls, models: Sequence[UnitModel]) -> UnitModel:
        """Concatenate the members of several models with the same spec into one model."""
        if not models:
            raise UnitscopeError("`stack` needs at least one model.")
        specs = {repr(m.spec) for m in models}
        if len(specs) != 1:
            raise UnitscopeError("cannot stack models with different architectures.")
        out = copy.deepcopy(models[0])
        params = [dict(m.named_parameters()) for m in models]
        with torch.no_grad():
            for name, p in out.named_parameters():
                p.data = torch.cat([ps[name].data for ps in params], dim=0)
        return out

    def param_dict(self) -> dict[str, Tensor]:
        """Detached parameters by name, each (K, ...)."""
        return {n: p.detach() for n, p in self.named_parameters()}

    def load_params(self, params: dict[str, Tensor]) -> UnitModel:
        """Copy ``params`` (name -> (K, ...)) into this model, resizing K if needed."""
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(params))
        extra = sorted(set(params) - set(own))
        if missing or extra:
            raise UnitscopeError(
                f"parameters do not fit this model: missing {missing}, unexpected {extra}."
            )
        with torch.no_grad():
            for name, p in own.items():
                value = torch.as_tensor(params[name])
                if tuple(value.shape[1:]) != tuple(p.shape[1:]):
                    raise UnitscopeError(
                        f"parameter {name!r} has shape {tuple(value.shape[1:])} per member, "
                        f"the model expects {tuple(p.shape[1:])}."
                    )
                p.data = value.to(dtype=p.dtype, device=p.device).clone()
        return self
