"""REPAIR (Jordan, Sedghi, Saukh, Entezari & Neyshabur, 2022): undo the variance collapse of
interpolated networks.

Averaging two networks shrinks the spread of each hidden unit's pre-activation. REPAIR resets,
layer by layer from the input, each unit's pre-activation mean and std in the interpolated
network ``θ(λ)`` to the interpolation of the endpoints' statistics,

    μ*(λ) = (1 − λ) μ_A + λ μ_B,    σ*(λ) = (1 − λ) σ_A + λ σ_B,

by folding the affine correction into the unit's incoming weights and bias:
``W ← s W``, ``b ← s (b − μ) + μ*`` with ``s = σ* / σ``. (Without biases only the scale is
corrected.) Pre-activations are captured with forward hooks on the layer modules, which are
always removed again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor

from ..models import UnitModel

Stats = dict[str, tuple[Tensor, Tensor]]  # layer -> (mean (K, U), std (K, U))


def _module_of(model: UnitModel, layer: str) -> torch.nn.Module:
    """The module whose output is ``layer``'s pre-activation (the owner of its weight)."""
    name = model.unit_axes()[layer].incoming[0].param.rsplit(".", 1)[0]
    return model.get_submodule(name)


@contextmanager
def captured(model: UnitModel, layers: list[str]) -> Iterator[dict[str, Tensor]]:
    """Collect each layer's pre-activations as (K, n_observations, U) during a forward pass
    (the units last: reductions over the observations run along contiguous rows)."""
    out: dict[str, Tensor] = {}
    K = model.members
    handles = []

    def hook_for(layer: str):
        def hook(module, inputs, output: Tensor) -> None:
            if output.dim() == 3:  # dense (K, n, U)
                out[layer] = output
            else:  # conv, packed (n, K*C, H, W): every (sample, position) observes a map
                n = output.shape[0]
                z = output.reshape(n, K, -1, output.shape[2] * output.shape[3])
                out[layer] = z.permute(1, 0, 3, 2).reshape(K, -1, z.shape[2])

        return hook

    try:
        for layer in layers:
            handles.append(_module_of(model, layer).register_forward_hook(hook_for(layer)))
        yield out
    finally:
        for h in handles:
            h.remove()


def preact_stats(model: UnitModel, x: Tensor, layers: list[str] | None = None) -> Stats:
    """Mean and std (K, U) of every (or the given) studied layer's pre-activations on ``x``."""
    names = list(model.unit_axes()) if layers is None else layers
    with captured(model, names) as z, torch.no_grad():
        model(x)
    out = {}
    for n in names:  # two passes, centred (torch.std is ~6x slower on the CPU)
        mean = z[n].mean(dim=1, keepdim=True)
        c = z[n] - mean
        out[n] = (mean.squeeze(1), (c * c).mean(dim=1).sqrt())
    return out


def repair_members(
    net: UnitModel, stats: tuple[Stats, Stats, Tensor], lambdas: np.ndarray, members: slice
) -> UnitModel:
    """Apply REPAIR in place to ``net``, whose members are ``members`` of the P*T line model.

    Args:
        net: the interpolated networks (member m is line member ``members.start + m``).
        stats: (statistics of A, statistics of B, inputs x) from :func:`preact_stats`.
        lambdas: (T,) the interpolation grid.
        members: which members of the line model ``net`` holds.
    """
    stats_a, stats_b, x = stats
    T = len(lambdas)
    index = torch.arange(members.start, members.start + net.members)
    pair = index // T
    lam = torch.as_tensor(lambdas, dtype=x.dtype)[index % T].unsqueeze(1).to(x.device)  # (K, 1)
    params = dict(net.named_parameters())
    for layer, ax in net.unit_axes().items():
        (ma, sa), (mb, sb) = stats_a[layer], stats_b[layer]
        target_mean = torch.lerp(ma[pair], mb[pair], lam)  # (K, U)
        target_std = torch.lerp(sa[pair], sb[pair], lam)
        mean, std = preact_stats(net, x, [layer])[layer]
        scale = torch.where(std > 0, target_std / torch.where(std > 0, std, 1.0), 1.0)
        with torch.no_grad():
            for p in ax.incoming:
                t = params[p.param]
                if t.dim() == 2:  # the bias (K, U)
                    t.copy_(scale * (t - mean) + target_mean)
                else:  # weights (K, U, ...)
                    t.mul_(scale.view(*scale.shape, *([1] * (t.dim() - 2))))
    return net
