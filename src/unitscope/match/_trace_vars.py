"""The bookkeeping of the tracer: unit variables joined by union-find, and tensor axes on them.

Every module that creates units (a Linear's outputs, a conv's output channels) makes a new
*variable*. Operations that force two variables to move together (a residual addition, a
module used twice) join them; operations the tracer cannot permute through *fix* them (kept in
place, with the reason). A tensor axis is a list of segments ``(variable, offset, block)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from torch.fx import Node

from ._spec import Axis, Group, RepairPoint

Seg = tuple[int, int, int]  # (variable, offset, block)


@dataclass(frozen=True)
class Label:
    """Axis ``dim`` of a traced value holds units: the segments ``segs`` along it."""

    dim: int
    segs: tuple[Seg, ...]


class UnitVars:
    """Union-find over unit variables, with sizes, producers and the reason a class is fixed."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.size: list[int] = []
        self.producers: list[list[str]] = []
        self.reason: dict[int, str] = {}
        self.registry: dict[tuple[str, int], tuple[tuple[Seg, ...], bool]] = {}

    def new(self, size: int, producer: str) -> int:
        self.parent.append(len(self.parent))
        self.size.append(size)
        self.producers.append([producer])
        return len(self.parent) - 1

    def find(self, v: int) -> int:
        while self.parent[v] != v:
            self.parent[v] = self.parent[self.parent[v]]
            v = self.parent[v]
        return v

    def fix(self, vars_: Iterable[int], reason: str) -> None:
        for v in vars_:
            self.reason.setdefault(self.find(v), reason)

    def union(self, a: int, b: int, where: str) -> None:
        ra, rb = sorted((self.find(a), self.find(b)))
        if ra == rb:
            return
        if self.size[ra] != self.size[rb]:
            self.fix((ra, rb), f"{where}: {self.size[ra]} and {self.size[rb]} units meet")
            return
        self.parent[rb] = ra  # the earlier variable names the class
        self.producers[ra] += [p for p in self.producers[rb] if p not in self.producers[ra]]
        if rb in self.reason:
            self.reason.setdefault(ra, self.reason[rb])

    def join(self, a: tuple[Seg, ...], b: tuple[Seg, ...], where: str) -> None:
        """Join two axes segment by segment; fix both when their layouts differ."""
        same = len(a) == len(b) and all(
            (oa, ba, self.size[va]) == (ob, bb, self.size[vb])
            for (va, oa, ba), (vb, ob, bb) in zip(a, b)
        )
        if not same:
            self.fix([s[0] for s in a + b], f"{where}: axes with different unit layouts meet")
            return
        for (va, _, _), (vb, _, _) in zip(a, b):
            self.union(va, vb, where)

    def register(self, tensor: str, axis: int, segs: tuple[Seg, ...], matched: bool) -> None:
        """Axis ``axis`` of ``tensor`` holds ``segs``; a second registration joins them."""
        key = (tensor, axis)
        if key in self.registry:
            self.join(self.registry[key][0], segs, f"{tensor} (used twice)")
        else:
            self.registry[key] = (segs, matched)

    def groups(self) -> tuple[dict[str, Group], dict[int, str]]:
        """The permutable groups (name -> Group, input to output) and root -> group name."""
        axes: dict[int, list[Axis]] = {}
        for (tensor, axis), (segs, matched) in self.registry.items():
            for v, offset, block in segs:
                root = self.find(v)
                if root not in self.reason and self.size[root] > 1:
                    axes.setdefault(root, []).append(Axis(tensor, axis, offset, block, matched))
        names = {root: self.producers[root][0] for root in sorted(axes)}
        groups = {
            names[r]: Group(names[r], self.size[r], tuple(axes[r]), tuple(self.producers[r]))
            for r in sorted(axes)
        }
        return groups, names

    def fixed(self) -> dict[str, str]:
        """First producer -> reason, for every fixed class of more than one unit."""
        return {
            self.producers[r][0]: why
            for r, why in sorted(self.reason.items())
            if self.find(r) == r and self.size[r] > 1
        }


def repair_points(
    points: list[tuple[str, int, Label]], vars_: UnitVars, roots: dict[int, str]
) -> tuple[RepairPoint, ...]:
    """The points whose output holds units of a permutable group, once per module."""
    out: dict[str, RepairPoint] = {}
    for module, dim, label in points:
        if any(vars_.find(v) in roots for v, _, _ in label.segs):
            out.setdefault(module, RepairPoint(module, dim))
    return tuple(out.values())


def args_of(node: Node) -> tuple[Any, ...]:
    """A node's positional arguments, untyped (fx's argument type is a wide union)."""
    return tuple(node.args)


def kwargs_of(node: Node) -> dict[str, Any]:
    return dict(node.kwargs)


def shape_of(node: Any) -> tuple[int, ...] | None:
    """The traced shape of a tensor-valued node, else None."""
    meta = node.meta.get("tensor_meta") if isinstance(node, Node) else None
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


def reshape_label(label: Label, shape_in: tuple[int, ...], shape_out: tuple[int, ...]) -> Label:
    """Where ``label``'s axis lands after a reshape; raises ValueError when it is split up."""
    d, C = label.dim, shape_in[label.dim]
    prefix, acc, d2 = math.prod(shape_in[:d]), 1, -1
    for i, n in enumerate(shape_out):
        if acc == prefix and n != 1:
            d2 = i
            break
        acc *= n
    if d2 < 0:
        raise ValueError("unit axis lost")
    n = shape_out[d2]
    if n == C:
        return Label(d2, label.segs)
    if n > C and n % C == 0 and n // C in _cumprod(shape_in[d + 1 :]):  # a flatten
        r = n // C
        return Label(d2, tuple((v, o * r, b * r) for v, o, b in label.segs))
    r = C // n if n < C and C % n == 0 else 0
    ok = r > 0 and r in _cumprod(shape_out[d2 + 1 :])
    if not ok or any(o % r or b % r for _, o, b in label.segs):
        raise ValueError("unit axis split")
    return Label(d2, tuple((v, o // r, b // r) for v, o, b in label.segs))  # an unflatten


def _cumprod(dims: tuple[int, ...]) -> set[int]:
    out, acc = set(), 1
    for n in dims:
        acc *= n
        out.add(acc)
    return out
