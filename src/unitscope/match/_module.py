"""Weight matching and permuting of any ``nn.Module`` (or its state_dict) through its spec.

Git Re-Basin weight matching (Ainsworth et al., 2023) on a :class:`PermutationSpec`: maximize

    J(π) = Σ_{parameters t} ⟨θ_A[t], π(θ_B)[t]⟩

over one permutation per group, by coordinate descent with a linear assignment per group.
Only *parameters* enter J: tensors that are only permuted (BatchNorm running statistics,
``num_batches_tracked``) follow the permutation but are left out of the objective — their
scale is unrelated to the weights', and including them can make matching worse than none.

The descent starts from a *forward* start: groups in the order they are created (input to
output), each matched on the tensors whose other unit axes belong to groups already matched
(its incoming weights, its BatchNorm, the output rows of the layers it reads). For a planted
permutation every such term is largest at the true answer (Cauchy–Schwarz), so it is recovered
exactly. A new permutation is kept only when it raises J; the descent stops after a sweep in
which no group improved.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .._errors import UnitscopeError
from ..models import UnitModel
from ._activations import hungarian
from ._spec import (
    Axis,
    PermutationSpec,
    check_module_perms,
    permute_state,
    permute_tensor,
    tensor_axes,
)
from ._weights import WeightMatch

_TOL = 1e-12  # relative improvement below which a group's new permutation is not kept


def need_spec(spec: Any, model: Any, name: str = "model") -> PermutationSpec:
    """The spec, or the one-line error that says how to make one."""
    if isinstance(spec, PermutationSpec):
        return spec
    if spec is not None:
        raise UnitscopeError(f"`spec` must be a PermutationSpec, got {type(spec).__name__}.")
    if not isinstance(model, (nn.Module, Mapping)):
        raise UnitscopeError(
            f"`{name}` must be a unitscope model, a torch nn.Module or a state_dict, got "
            f"{type(model).__name__}."
        )
    kind = type(model).__name__ if isinstance(model, nn.Module) else "a state_dict"
    raise UnitscopeError(
        f"`{name}` ({kind}) is not a unitscope model, so it needs its permutation spec: pass "
        f"spec=match.permutation_spec({name}, example_batch)."
    )


def refuse_mixed(model_a: Any, model_b: Any) -> None:
    """One unitscope model and one plain module cannot be paired: say so."""
    for one, other, name, other_name in ((model_a, model_b, "model_a", "model_b"),
                                         (model_b, model_a, "model_b", "model_a")):  # fmt: skip
        if isinstance(one, UnitModel) and not isinstance(other, UnitModel):
            raise UnitscopeError(
                f"`{other_name}` must be a unitscope model like `{name}` "
                f"({type(one).__name__}), got {type(other).__name__}; pair two unitscope "
                "models, or two torch nn.Modules with their spec."
            )


def state_of(model: Any, spec: PermutationSpec, name: str) -> dict[str, Tensor]:
    """The detached state_dict of a module (or the given state_dict), checked against spec."""
    if isinstance(model, nn.Module):
        state = {k: v.detach() for k, v in model.state_dict().items()}
    elif isinstance(model, Mapping):
        state = dict(model)
    else:
        raise UnitscopeError(
            f"`{name}` must be a torch nn.Module or a state_dict, got {type(model).__name__}."
        )
    spec.fit(state, name)
    return state


def module_permute(model: Any, perms: Mapping[str, Any], spec: Any) -> Any:
    """``permute`` for an nn.Module (a permuted copy) or a state_dict (a new dict)."""
    spec = need_spec(spec, model)
    state = state_of(model, spec, "model")
    moved = permute_state(state, spec, check_module_perms(spec, perms))
    if isinstance(model, nn.Module):
        out = copy.deepcopy(model)
        out.load_state_dict(moved)
        return out
    return moved


class Matcher:
    """The objective and the per-group assignment costs of one pair (float64)."""

    def __init__(self, pa: dict[str, Tensor], pb: dict[str, Tensor], spec: PermutationSpec):
        self.pa, self.pb, self.spec = pa, pb, spec
        self.axes = {t: by_axis for t, by_axis in tensor_axes(spec).items() if t in pa}
        self.const = sum(float((pa[t] * pb[t]).sum()) for t in pa if t not in self.axes)

    def objective(self, perms: Mapping[str, Tensor]) -> float:
        total = self.const
        for t, by_axis in self.axes.items():
            total += float((self.pa[t] * permute_tensor(self.pb[t], by_axis, perms)).sum())
        return total

    def cost(self, group: str, perms: Mapping[str, Tensor], done: set[str] | None = None):
        """(U, U) ``C[i, j]``: A's unit i against B's unit j over the tensors touching
        ``group`` (only those whose other unit axes are in ``done``, when given)."""
        U = self.spec.groups[group].size
        cost = torch.zeros(U, U, dtype=torch.float64)
        used = False
        for t, by_axis in self.axes.items():
            for axis, entries in by_axis.items():
                mine = [ax for g, ax in entries if g == group]
                if not mine or (done is not None and not _clean(by_axis, axis, done)):
                    continue
                b = permute_tensor(self.pb[t], by_axis, perms, skip=(group, axis))
                a, b = self.pa[t].movedim(axis, 0), b.movedim(axis, 0)
                for ax in mine:
                    ua, ub = _units(a, ax, U), _units(b, ax, U)
                    cost += (ua @ ub.T).cpu()
                    used = True
        return cost if used else None


def _units(t: Tensor, ax: Axis, U: int) -> Tensor:
    return t[ax.offset : ax.offset + U * ax.block].reshape(U, -1)


def _clean(by_axis: Mapping[int, list[tuple[str, Axis]]], axis: int, done: set[str]) -> bool:
    return all(g in done for a, entries in by_axis.items() if a != axis for g, _ in entries)


def module_weights(
    model_a: Any, model_b: Any, spec: Any, *, seed: int, max_sweeps: int, start: str
) -> WeightMatch:
    """``weights`` for two nn.Modules or state_dicts of one architecture (one pair, P = 1)."""
    refuse_mixed(model_a, model_b)
    spec = need_spec(spec, model_a, "model_a")
    sa, sb = state_of(model_a, spec, "model_a"), state_of(model_b, spec, "model_b")
    matched = {ax.tensor for g in spec.groups.values() for ax in g.axes if ax.matched}
    keys = [k for k in (spec.params or sorted(matched)) if k in sa and sa[k].is_floating_point()]
    m = Matcher({k: sa[k].double() for k in keys}, {k: sb[k].double() for k in keys}, spec)
    identity = {g: torch.arange(G.size) for g, G in spec.groups.items()}
    perms = dict(identity)
    trace, visited = [m.objective(perms)], []
    if start == "forward":
        done: set[str] = set()
        for g in spec.groups:
            cost = m.cost(g, perms, done)
            cost = m.cost(g, perms) if cost is None else cost
            if cost is not None:
                perms[g] = torch.from_numpy(hungarian(cost[None].numpy())[0])
            done.add(g)
        if m.objective(perms) < trace[0]:
            perms = dict(identity)
        visited.append("start")
        trace.append(m.objective(perms))
    rng = np.random.default_rng(seed)
    groups = list(spec.groups)
    sweeps, converged = 0, False
    while sweeps < max_sweeps and not converged:
        sweeps += 1
        converged = True
        for i in rng.permutation(len(groups)):
            g = groups[int(i)]
            cost = m.cost(g, perms)
            if cost is not None:
                new = dict(perms, **{g: torch.from_numpy(hungarian(cost[None].numpy())[0])})
                value = m.objective(new)
                if value > trace[-1] + _TOL * max(1.0, abs(trace[-1])):
                    perms, converged = new, False
                    trace.append(value)
                    visited.append(g)
                    continue
            visited.append(g)
            trace.append(trace[-1])
    return WeightMatch(
        perms={g: p.numpy()[None] for g, p in perms.items()},
        trace=np.asarray(trace, dtype=np.float64)[:, None],
        layer_trace=visited,
        sweeps=sweeps,
        converged=converged,
    )
