"""Permutation specs of any ``nn.Module``: which tensor axes move together with which units.

A **group** is a set of units (channels or neurons) that must be permuted together for the
network to compute the same function: a conv's output channels, the BatchNorm that follows it,
the next conv's input channels, and — across a residual addition — every branch that is added
into the same stream. Each place where a group's units live is an :class:`Axis` of one
state_dict tensor: ``(tensor, axis)``, the slice ``offset : offset + size * block`` (a group
can fill part of an axis after a concatenation) and ``block`` indices per unit (a channel
flattened into ``H * W`` features of a dense head owns ``H * W`` consecutive columns).

Permutations follow the gathering convention of :mod:`unitscope.match`: ``perm[i]`` is the old
unit that goes to slot ``i``, so ``permute(model_b, perms, spec=spec)`` puts B's unit
``perm[i]`` where A's unit ``i`` sits. The spec is built by :func:`permutation_spec`
(``torch.fx`` tracing) or by hand.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .._errors import UnitscopeError, unknown_name
from ..models._unit_axes import expand_permutation

ModulePerms = dict[str, np.ndarray]


@dataclass(frozen=True)
class Axis:
    """Axis ``axis`` of state_dict tensor ``tensor`` holds a group's units.

    Attributes:
        tensor: the state_dict key, e.g. ``"layer1.0.conv1.weight"``.
        axis: the axis (no member axis: axis 0 of a conv weight is its output channels).
        offset: where the group's slice starts on that axis.
        block: consecutive indices per unit (``H * W`` for a flattened channel).
        matched: True for parameters (they enter the weight-matching objective); False for
            tensors that are only permuted (BatchNorm running statistics).
    """

    tensor: str
    axis: int
    offset: int = 0
    block: int = 1
    matched: bool = True


@dataclass(frozen=True)
class Group:
    """Units permuted together.

    Attributes:
        name: the group's name (the first module that writes its units).
        size: number of units.
        axes: every tensor axis that holds the units.
        producers: the modules that write the units (several across a residual addition).
    """

    name: str
    size: int
    axes: tuple[Axis, ...]
    producers: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepairPoint:
    """A module whose output is a pre-activation REPAIR renormalizes: channel axis ``dim``."""

    module: str
    dim: int


@dataclass(frozen=True)
class PermutationSpec:
    """How the units of a network can be permuted without changing its function.

    Attributes:
        groups: name -> :class:`Group`, input to output.
        fixed: what is kept in place, and why (``{"fc": "model output", ...}``).
        shapes: state_dict key -> shape of every tensor, to check that a model fits.
        params: the state_dict keys that are parameters (the others are buffers).
        repair: the modules REPAIR hooks, input to output.

    Example (a spec written by hand; :func:`permutation_spec` traces one):
        >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        >>> axes = (Axis("0.weight", 0), Axis("0.bias", 0), Axis("2.weight", 1))
        >>> spec = PermutationSpec({"hidden": Group("hidden", 4, axes)})
        >>> spec.check(net, torch.randn(5, 3)) < 1e-12  # outputs kept under permutations
        True
    """

    groups: dict[str, Group]
    fixed: dict[str, str] = field(default_factory=dict)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    params: tuple[str, ...] = ()
    repair: tuple[RepairPoint, ...] = ()

    @property
    def sizes(self) -> dict[str, int]:
        """Group name -> number of units."""
        return {name: g.size for name, g in self.groups.items()}

    def describe(self) -> str:
        """A plain-text table: each group, its size and its producers, then the fixed axes."""
        lines = [f"{len(self.groups)} permutation groups:"]
        for g in self.groups.values():
            lines.append(f"  {g.name} ({g.size} units): written by {', '.join(g.producers)}")
        if self.fixed:
            lines.append("kept in place:")
            lines.extend(f"  {where}: {why}" for where, why in self.fixed.items())
        return "\n".join(lines)

    def fit(self, state: Mapping[str, Tensor], what: str = "model") -> None:
        """Raise unless ``state`` holds every tensor of the spec with the traced shape."""
        for name, shape in self.shapes.items():
            if name not in state:
                raise UnitscopeError(
                    f"the {what} has no tensor {name!r}; the permutation spec was traced from "
                    "another architecture."
                )
            if tuple(state[name].shape) != shape:
                raise UnitscopeError(
                    f"tensor {name!r} of the {what} has shape {tuple(state[name].shape)}, the "
                    f"spec expects {shape}; trace the spec from this architecture."
                )

    def check(self, model: nn.Module, example: Any, *, seed: int = 0) -> float:
        """Apply random permutations of every group and confirm the outputs are unchanged.

        Runs in float64 on a copy in eval mode (so BatchNorm uses its running statistics,
        which move with their channels). Returns the largest output change; raises a
        :class:`UnitscopeError` naming the first group that changes the function.
        """
        return self_check(self, model, example, seed=seed)


def check_module_perms(spec: PermutationSpec, perms: Mapping[str, Any]) -> dict[str, Tensor]:
    """Validate ``perms`` against ``spec``: group -> (U,) int64 tensors (a (1, U) row is fine)."""
    out = {}
    for name, perm in perms.items():
        if name not in spec.groups:
            raise unknown_name("permutation group", name, spec.groups)
        p = torch.as_tensor(np.asarray(perm), dtype=torch.int64)
        U, shape = spec.groups[name].size, tuple(p.shape)
        if p.dim() == 2 and p.shape[0] == 1:
            p = p[0]
        if p.dim() != 1 or p.shape[0] != U:
            raise UnitscopeError(
                f"the permutation of group {name!r} has shape {shape}; expected ({U},) (or "
                f"(1, {U}), one pair) — a plain nn.Module is one network."
            )
        if not torch.equal(p.sort().values, torch.arange(U)):
            raise UnitscopeError(
                f"the permutation of group {name!r} is not a rearrangement of 0..{U - 1}; "
                "every unit index must appear exactly once."
            )
        out[name] = p
    return out


def axis_index(
    length: int, entries: Iterable[tuple[str, Axis]], perms: Mapping[str, Tensor]
) -> Tensor | None:
    """Gather index of one tensor axis of ``length`` from its ``(group, Axis)`` entries.

    Slots not covered by a permuted group keep their place; None when nothing moves.
    """
    index: Tensor | None = None
    for group, ax in entries:
        if group not in perms:
            continue
        if index is None:
            index = torch.arange(length)
        perm = perms[group]
        span = perm.shape[0] * ax.block
        index[ax.offset : ax.offset + span] = ax.offset + expand_permutation(perm, ax.block)
    return index


def tensor_axes(spec: PermutationSpec) -> dict[str, dict[int, list[tuple[str, Axis]]]]:
    """tensor -> axis -> the ``(group, Axis)`` entries on it."""
    out: dict[str, dict[int, list[tuple[str, Axis]]]] = {}
    for g in spec.groups.values():
        for ax in g.axes:
            out.setdefault(ax.tensor, {}).setdefault(ax.axis, []).append((g.name, ax))
    return out


def permute_tensor(
    t: Tensor,
    by_axis: Mapping[int, list[tuple[str, Axis]]],
    perms: Mapping[str, Tensor],
    skip: tuple[str, int] | None = None,
) -> Tensor:
    """Gather ``t`` along each of its unit axes; ``skip = (group, axis)`` leaves one out."""
    for axis, entries in by_axis.items():
        kept = [(g, ax) for g, ax in entries if skip is None or (g, axis) != skip]
        index = axis_index(t.shape[axis], kept, perms)
        if index is not None:
            t = t.index_select(axis, index.to(t.device))
    return t


def permute_state(
    state: Mapping[str, Tensor], spec: PermutationSpec, perms: Mapping[str, Tensor]
) -> dict[str, Tensor]:
    """The state_dict with every group's units gathered by ``perms`` (checked (U,) tensors).

    Tensors that no permuted group touches are the same objects as in ``state``.
    """
    out = dict(state)
    for name, by_axis in tensor_axes(spec).items():
        out[name] = permute_tensor(state[name], by_axis, perms)
    return out


def random_module_perms(spec: PermutationSpec, *, seed: int) -> ModulePerms:
    """A random permutation of every group: (U,) each."""
    rng = np.random.default_rng(seed)
    return {name: rng.permutation(g.size) for name, g in spec.groups.items()}


def _flat_outputs(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, Mapping):
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat_outputs(o)]
    return []


def as_args(example: Any) -> tuple[Any, ...]:
    """The example input(s) as a tuple of positional arguments."""
    return tuple(example) if isinstance(example, (tuple, list)) else (example,)


def _to_double(example: Any) -> tuple[Any, ...]:
    return tuple(
        a.to(torch.float64) if isinstance(a, Tensor) and a.is_floating_point() else a
        for a in as_args(example)
    )


def self_check(spec: PermutationSpec, model: nn.Module, example: Any, *, seed: int = 0) -> float:
    """See :meth:`PermutationSpec.check`."""
    if not spec.groups:
        return 0.0
    net = copy.deepcopy(model).eval().double()
    args = _to_double(example)
    with torch.no_grad():
        reference = _flat_outputs(net(*args))
        state = net.state_dict()

        def change(perms: Mapping[str, Tensor]) -> float:
            moved = copy.deepcopy(net)
            moved.load_state_dict(permute_state(state, spec, perms))
            outputs = _flat_outputs(moved(*args))
            return max(float((o - r).abs().max()) for o, r in zip(outputs, reference))

        scale = max(1.0, *(float(r.abs().max()) for r in reference))
        perms = {k: torch.as_tensor(v) for k, v in random_module_perms(spec, seed=seed).items()}
        worst = change(perms)
        if worst <= 1e-9 * scale:
            return worst
        for name in spec.groups:
            alone = change({name: perms[name]})
            if alone > 1e-9 * scale:
                raise UnitscopeError(
                    f"self-check failed: permuting group {name!r} changes the outputs of "
                    f"{type(model).__name__} (max |change| {alone:.3g}); the spec is wrong for "
                    "this model — an operation the tracer does not know, or a hand-written spec "
                    "that misses an axis."
                )
        raise UnitscopeError(
            f"self-check failed: permuting every group together changes the outputs of "
            f"{type(model).__name__} (max |change| {worst:.3g}) although each group alone "
            "does not; two groups share an axis in the spec."
        )
