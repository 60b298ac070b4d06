"""Weight matching (Ainsworth, Hayase & Srinivasa, 2023, "Git Re-Basin", Algorithm 1).

Find per-layer permutations ``π = (P_ℓ)`` of B's units that maximize the inner product of the
two weight vectors,

    J(π) = Σ_params ⟨θ_A, π(θ_B)⟩ = Σ_ℓ ⟨W_ℓ^A, P_ℓ W_ℓ^B P_{ℓ−1}ᵀ⟩ + ⟨b_ℓ^A, P_ℓ b_ℓ^B⟩,

by coordinate descent: visit the layers in a random order (seeded); for layer ℓ, hold the
other permutations fixed, and solve the linear assignment problem
``max_P Σ_i C[i, P(i)]`` with ``C[i, j] = Σ ⟨A's slices of unit i, B's slices of unit j⟩`` over
every parameter that touches ℓ (its incoming weights and bias, the next layer's weights; a conv
channel read by the flattened dense head owns a block of ``H*W`` columns). A new permutation is
kept only when it raises J, so J never decreases; the descent stops after a sweep in which no
layer improved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._errors import UnitscopeError
from ..models import UnitAxes, UnitModel
from ._activations import hungarian
from ._checks import pair_models
from ._permute import Perms, permute_params

STARTS = ("forward", "identity")
_TOL = 1e-12  # relative improvement below which a layer's new permutation is not kept


@dataclass(frozen=True)
class WeightMatch:
    """Permutations that align B's weights to A's, for P pairs.

    Attributes:
        perms: layer -> (P, U) int64; ``permute(model_b, perms)`` is B aligned to A.
        trace: (n_updates + 1, P) float64 objective J after every update (row 0: identity).
        layer_trace: what each update did: ``"start"`` (the forward start) or the layer
            visited (length n_updates).
        sweeps: number of sweeps over all layers.
        converged: True when the last sweep improved no layer (False: ``max_sweeps`` was hit).
    """

    perms: Perms
    trace: np.ndarray
    layer_trace: list[str]
    sweeps: int
    converged: bool

    @property
    def objective(self) -> np.ndarray:
        """(P,) the final objective J = ⟨θ_A, π(θ_B)⟩."""
        return self.trace[-1]


def weights(
    model_a: Any,
    model_b: Any,
    *,
    seed: int = 0,
    max_sweeps: int = 100,
    start: str = "forward",
    spec: Any = None,
) -> WeightMatch:
    """Align B to A by weight matching; pair k is member k of A with member k of B.

    Args:
        model_a, model_b: models of the same architecture with K_a and K_b members
            (K_a == K_b, or one of them 1, which is paired with every member of the other);
            or two torch ``nn.Module`` networks (or state_dicts) of one architecture with
            their ``spec`` — one pair; only parameters enter the objective (BatchNorm
            running statistics are permuted but not matched).
        seed: seed of the random layer order of each sweep.
        spec: the :class:`~unitscope.match.PermutationSpec` of an ``nn.Module``
            (:func:`~unitscope.match.permutation_spec`); not used for MLP and SmallCNN.
        max_sweeps: stop after this many sweeps even if a layer still improves.
        start: ``"identity"`` starts the descent from the identity, as in the paper;
            ``"forward"`` (default) first matches each layer by its incoming weights and bias
            with the layers before it already aligned, and keeps that start only where it
            scores at least as high as the identity. From the identity, coordinate descent
            can stall in a local optimum on narrow networks even for a planted permutation;
            the forward start recovers planted permutations exactly.

    Returns:
        The :class:`WeightMatch` of the P = max(K_a, K_b) pairs.

    Example:
        >>> from unitscope.models import MLP
        >>> from unitscope.match import permute, random_perms
        >>> a = MLP(4, [8, 8], 3)
        >>> _ = [torch.nn.init.normal_(p) for p in a.parameters()]
        >>> b = permute(a, random_perms(a, seed=0))  # a planted permutation
        >>> m = weights(a, b)
        >>> torch.equal(permute(b, m.perms)(torch.ones(1, 4)), a(torch.ones(1, 4)))
        True
        >>> bool((np.diff(m.trace, axis=0) >= 0).all())  # J never decreases
        True
    """
    if start not in STARTS:
        raise UnitscopeError(f"`start` must be one of {STARTS}, got {start!r}.")
    if max_sweeps < 1:
        raise UnitscopeError(f"`max_sweeps` must be >= 1, got {max_sweeps}.")
    if not (isinstance(model_a, UnitModel) and isinstance(model_b, UnitModel)):
        from ._module import module_weights

        return module_weights(model_a, model_b, spec, seed=seed, max_sweeps=max_sweeps, start=start)
    a, b = pair_models(model_a, model_b)
    axes = a.unit_axes()
    pa = {n: t.to(torch.float64) for n, t in a.param_dict().items()}
    pb = {n: t.to(torch.float64) for n, t in b.param_dict().items()}
    P = a.members
    perms = {
        layer: torch.arange(ax.n_units, device=pb[ax.incoming[0].param].device).repeat(P, 1)
        for layer, ax in axes.items()
    }
    rng = np.random.default_rng(seed)
    layers = list(axes)
    trace = [objective(pa, pb, axes, perms)]
    visited: list[str] = []
    if start == "forward":
        _forward_start(pa, pb, axes, perms, trace[0])
        visited.append("start")
        trace.append(objective(pa, pb, axes, perms))
    sweeps, converged = 0, False
    while sweeps < max_sweeps and not converged:
        sweeps += 1
        converged = True
        for i in rng.permutation(len(layers)):
            layer = layers[int(i)]
            improved = _update_layer(layer, pa, pb, axes, perms)
            converged &= not improved
            visited.append(layer)
            trace.append(objective(pa, pb, axes, perms))
    return WeightMatch(
        perms={k: v.cpu().numpy() for k, v in perms.items()},
        trace=np.stack(trace),
        layer_trace=visited,
        sweeps=sweeps,
        converged=converged,
    )


def _forward_start(
    pa: Mapping[str, Tensor],
    pb: Mapping[str, Tensor],
    axes: Mapping[str, UnitAxes],
    perms: dict[str, Tensor],
    base: np.ndarray,
) -> None:
    """Match each layer by its incoming weights and bias only, from the input forward
    (``axes`` lists the layers input to output).

    Every layer then sees its inputs already aligned, so the cost is clean; for a planted
    permutation ``Σ_i ⟨w_i, w_perm(i)⟩ <= Σ_i ‖w_i‖²`` (Cauchy–Schwarz) makes the answer exact.
    Pairs for which this start scores below the identity keep the identity.
    """
    identity = {k: v.clone() for k, v in perms.items()}
    for layer in axes:
        cost = layer_cost(layer, pa, pb, axes, perms, incoming_only=True)
        perms[layer] = torch.from_numpy(hungarian(cost.cpu().numpy())).to(perms[layer].device)
    worse = torch.from_numpy(objective(pa, pb, axes, perms) < base)
    for k in perms:
        perms[k] = torch.where(worse.to(perms[k].device).unsqueeze(1), identity[k], perms[k])


def _update_layer(
    layer: str,
    pa: Mapping[str, Tensor],
    pb: Mapping[str, Tensor],
    axes: Mapping[str, UnitAxes],
    perms: dict[str, Tensor],
) -> bool:
    """Solve layer ``layer``'s assignment with the others fixed; True if any pair improved."""
    cost = layer_cost(layer, pa, pb, axes, perms)  # (P, U, U)
    new = torch.from_numpy(hungarian(cost.cpu().numpy())).to(perms[layer].device)
    old_value = torch.gather(cost, 2, perms[layer].unsqueeze(2)).sum(dim=(1, 2))  # (P,)
    new_value = torch.gather(cost, 2, new.unsqueeze(2)).sum(dim=(1, 2))  # (P,)
    better = new_value > old_value + _TOL * old_value.abs().clamp_min(1.0)  # (P,)
    perms[layer] = torch.where(better.unsqueeze(1), new, perms[layer])
    return bool(better.any())


def layer_cost(
    layer: str,
    pa: Mapping[str, Tensor],
    pb: Mapping[str, Tensor],
    axes: Mapping[str, UnitAxes],
    perms: Mapping[str, Tensor],
    *,
    incoming_only: bool = False,
) -> Tensor:
    """(P, U, U) ``C[k, i, j]`` = inner product of A's unit i and B's unit j over every
    parameter touching ``layer`` (or only its incoming weights and bias), B's other unit axes
    permuted by the current ``perms``."""
    others = {k: v for k, v in perms.items() if k != layer}
    U = axes[layer].n_units
    cost: Tensor | None = None
    for ax in axes[layer].incoming if incoming_only else axes[layer].all:
        b_other = permute_params({ax.param: pb[ax.param]}, _restrict(axes, ax.param), others)
        ua = torch.movedim(pa[ax.param], ax.axis, 1).reshape(pa[ax.param].shape[0], U, -1)
        ub = torch.movedim(b_other[ax.param], ax.axis, 1).reshape(ua.shape[0], U, -1)
        term = ua @ ub.transpose(1, 2)  # (P, U, U)
        cost = term if cost is None else cost + term
    if cost is None:
        raise UnitscopeError(f"layer {layer!r} has no parameters to match.")
    return cost


def _restrict(axes: Mapping[str, UnitAxes], param: str) -> dict[str, UnitAxes]:
    """The unit axes of every layer, limited to those on parameter ``param``."""
    return {
        name: UnitAxes(
            name,
            ax.n_units,
            tuple(p for p in ax.incoming if p.param == param),
            tuple(p for p in ax.outgoing if p.param == param),
        )
        for name, ax in axes.items()
    }


def objective(
    pa: Mapping[str, Tensor],
    pb: Mapping[str, Tensor],
    axes: Mapping[str, UnitAxes],
    perms: Mapping[str, Tensor],
) -> np.ndarray:
    """(P,) ``J = Σ_params ⟨θ_A, π(θ_B)⟩`` in float64."""
    moved = permute_params(pb, axes, perms)
    total = sum((pa[n] * moved[n]).flatten(1).sum(1) for n in pa)
    return torch.as_tensor(total).cpu().numpy()
