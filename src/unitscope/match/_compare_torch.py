"""Matching the members of recordings of the user's own torch networks (``from_models``).

The recorded probe-set activations are matched layer by layer (Li et al., 2015), exactly as
for unitscope's own recordings. Weight matching and the loss barrier need the networks
themselves: they are rebuilt with a factory the caller names (``rec.modules(factory)``),
aligned through the permutation spec traced from them (Git Re-Basin weight matching on
parameters only), and interpolated with BatchNorm statistics reset on the barrier data's
inputs. Without a factory they are refused with the reason.

A spec's groups are not the recorded layers: which group (if any) permutes a recorded layer's
units is found by permuting each group alone and watching the layer's recorded units move, so
every layer reports the permutation that aligns *its* units (the identity for a layer no group
moves, such as the outputs; none for a layer that mixes groups).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from .._errors import UnitscopeError, unknown_name
from ..data._checks import check_seed
from ..record import Recording
from ..record._from_models import _run, _units
from ._activations import ActivationMatch, _take, activations
from ._align import METHODS
from ._compare import NULLS, Comparison, resolve_pairs
from ._curve import Curve


@dataclass(frozen=True)
class TorchComparison(Comparison):
    """A :class:`Comparison` of torch networks aligned through their permutation spec.

    Attributes (beyond :class:`Comparison`):
        groups: group -> (P, U) weight-matching permutations of the spec's groups.
        layer_groups: recorded layer -> the group that permutes its units, ``""`` for a layer
            no group moves (aligned by the identity), None for one that mixes groups.
    """

    groups: dict[str, np.ndarray] = field(default_factory=dict)
    layer_groups: dict[str, str | None] = field(default_factory=dict)

    def aligned_corr(self, layer: str) -> np.ndarray:
        if layer not in self.perms:
            return np.full(self.units[layer].matched.shape, np.nan)
        return _take(self.units[layer].corr, self.perms[layer])

    def summary(self, layers: Any = None) -> dict[str, Any]:
        filled = {k: self.perms.get(k, m.perm) for k, m in self.units.items()}
        out = Comparison.summary(replace(self, perms=filled), layers)
        for pair in out["pairs"]:
            for name, entry in pair["layers"].items():
                entry["group"] = self.layer_groups.get(name)
                if name not in self.perms:
                    entry |= {"alignment_perm": None, "mean_aligned_corr": float("nan")}
                    entry["perm_agreement"] = float("nan")
        out["groups"] = {g: p.tolist() for g, p in self.groups.items()}
        return out


def check_torch_pair(rec_a: Recording, rec_b: Recording) -> None:
    """Raise unless two torch recordings hold the same class, layers and probe set."""
    if not rec_b.is_torch:
        raise UnitscopeError(
            "recording A holds a torch model and B one of unitscope's; only runs of one "
            "architecture can be matched."
        )
    spec_a, spec_b = rec_a.meta.model_spec, rec_b.meta.model_spec
    units_a = {n: a.n_units for n, a in rec_a.meta.unit_axes.items()}
    units_b = {n: a.n_units for n, a in rec_b.meta.unit_axes.items()}
    if spec_a["class"] != spec_b["class"] or units_a != units_b:
        raise UnitscopeError(
            f"the recordings hold different networks ({spec_a['class']} with layers "
            f"{units_a} vs {spec_b['class']} with {units_b}); record the same layers of one "
            "architecture."
        )
    rec_a.check_same_probe(rec_b)


def compare_torch(
    rec_a: Recording,
    rec_b: Recording | None = None,
    *,
    members: Any = None,
    step: int = -1,
    method: str = "weights",
    barrier: bool = True,
    n_points: int = 25,
    repair: bool = False,
    seed: int = 0,
    null: str = "shuffle",
    data: Any = None,
    factory: Any = None,
) -> Comparison:
    """:func:`~unitscope.match.compare` for torch recordings: activation matching of every
    recorded layer at checkpoint ``step``; arguments as there.

    ``method="weights"``, ``barrier`` and ``repair`` need the networks: pass ``factory`` (a
    callable, or ``"pkg.module:factory"`` naming your own code) to rebuild them. The barrier
    is measured on ``data`` (default: the probe set, split ``"probe"``), with BatchNorm
    statistics reset on its inputs at every point of the line. With
    ``method="activations"`` each group is permuted as the first recorded layer it moves was
    matched; a group that moves no recorded layer stays in place.
    """
    if method not in METHODS:
        raise unknown_name("matching method", method, METHODS)
    if null not in NULLS:
        raise unknown_name("null", null, NULLS)
    check_seed("seed", seed)
    if rec_b is not None:
        check_torch_pair(rec_a, rec_b)
    if (method == "weights" or barrier or repair) and factory is None:
        asked = "weight matching" if method == "weights" else "the loss barrier"
        raise UnitscopeError(
            f"{asked} of a torch recording needs its networks: pass factory= (your "
            "'pkg.module:factory'; --model in the CLI) to rebuild them, or match this "
            "recording with method='activations' and barrier=False (--method activations "
            "--no-barrier)."
        )
    other = rec_a if rec_b is None else rec_b
    pairs = resolve_pairs(rec_a, rec_b, members)
    t = rec_a.step_index(step)
    step_value = int(rec_a.steps[t])
    tb = other.step_index(step_value)
    ia, jb = [i for i, _ in pairs], [j for _, j in pairs]
    start = time.perf_counter()
    units: dict[str, ActivationMatch] = {}
    for layer in rec_a.layers:
        a = rec_a.acts[layer][t][ia]  # (P, n, U)
        b = other.acts[layer][tb][jb]  # (P, n, U)
        units[layer] = activations(
            a, b, layout="KND", seed=seed, null=_null(other, layer, jb, null)
        )
    if factory is None:
        perms = {layer: m.perm for layer, m in units.items()}
        return Comparison(
            pairs, step_value, method, units, perms, None, seconds=time.perf_counter() - start
        )
    nets_a = rec_a.modules(factory, step_value, members=ia)
    nets_b = other.modules(factory, step_value, members=jb)
    return _with_networks(
        rec_a, nets_a, nets_b, units, pairs, step_value, method, barrier, n_points, repair,
        seed, data,
    )  # fmt: skip


def _with_networks(
    rec: Recording,
    nets_a: list,
    nets_b: list,
    units: dict[str, ActivationMatch],
    pairs: list[tuple[int, int]],
    step: int,
    method: str,
    barrier: bool,
    n_points: int,
    repair: bool,
    seed: int,
    data: Any,
) -> Comparison:
    """Weight matching (or the activation perms), then the curves, one pair at a time."""
    from ._interpolate import interpolate
    from ._permute import permute
    from ._trace import permutation_spec
    from ._weights import weights

    x = torch.as_tensor(rec.probe_x)
    spec = permutation_spec(nets_a[0], x[: min(8, len(x))])
    layer_groups = _layer_groups(rec, nets_a[0], spec, x, seed)
    start = time.perf_counter()
    groups: dict[str, list[np.ndarray]] = {g: [] for g in spec.groups}
    moved: list[Any] = []
    for a, b in zip(nets_a, nets_b):
        found = weights(a, b, spec=spec, seed=seed).perms if method == "weights" else None
        chosen = found if found is not None else _from_activations(units, layer_groups, len(moved))
        for g in spec.groups:
            groups[g].append(np.asarray(chosen.get(g, [np.arange(spec.groups[g].size)]))[0])
        moved.append(permute(b, {g: v[-1] for g, v in groups.items()}, spec=spec))
    seconds = time.perf_counter() - start
    group_perms = {g: np.stack(v) for g, v in groups.items()}  # (P, U)
    perms = {}
    for layer, owner in layer_groups.items():
        if owner is not None:
            size = units[layer].perm.shape[1]
            perms[layer] = (
                group_perms[owner] if owner else np.tile(np.arange(size), (len(pairs), 1))
            )
    curves: dict[str, Curve | None] = {"naive": None, "aligned": None, "repaired": None}
    if barrier:
        given: Any = {"probe": (rec.probe_x, rec.probe_y)} if data is None else data
        splits: dict[str, Any] = given if isinstance(given, dict) else {"data": given}
        first: Any = next(iter(splits.values()))
        reset_x = first.x if hasattr(first, "x") else first[0]  # BatchNorm statistics
        loss = rec.config["train"]["loss"]
        kw = dict(n_points=n_points, loss=loss, reset_bn=reset_x, spec=spec)
        curves["naive"] = _stack([interpolate(a, b, splits, **kw) for a, b in zip(nets_a, nets_b)])
        curves["aligned"] = _stack([interpolate(a, b, splits, **kw) for a, b in zip(nets_a, moved)])
        if repair:
            curves["repaired"] = _stack(
                [interpolate(a, b, splits, repair=True, **kw) for a, b in zip(nets_a, moved)]
            )
    return TorchComparison(
        pairs, step, method, units, perms, None, seconds=seconds, **curves,
        groups=group_perms, layer_groups=layer_groups,
    )  # fmt: skip


def _from_activations(
    units: dict[str, ActivationMatch], layer_groups: dict[str, str | None], p: int
) -> dict[str, np.ndarray]:
    """Each group permuted as the activation matching of the first recorded layer it moves."""
    out: dict[str, np.ndarray] = {}
    for layer, g in layer_groups.items():
        if g and g not in out:
            out[g] = units[layer].perm[p][None]
    return out


def _layer_groups(
    rec: Recording, net: Any, spec: Any, x: torch.Tensor, seed: int
) -> dict[str, str | None]:
    """Recorded layer -> the spec group whose permutation moves its units (see the module
    docstring)."""
    from ._permute import permute

    layouts = rec.meta.layouts or {}
    probe = x[: min(64, len(x))]

    def units(model: Any) -> dict[str, np.ndarray]:
        got, _ = _run(model, probe.numpy(), rec.layers)
        return {n: _units(got[n], layouts[n], n)[0].astype(np.float64) for n in rec.layers}

    base = units(net)
    found: dict[str, str | None] = {n: "" for n in rec.layers}
    rng = np.random.default_rng(seed)
    for g, group in spec.groups.items():
        perm = np.roll(np.arange(group.size), 1) if group.size > 1 else np.arange(1)
        perm = perm[rng.permutation(group.size)] if group.size > 2 else perm
        after = units(permute(net, {g: perm}, spec=spec))
        for n in rec.layers:
            if np.allclose(after[n], base[n], rtol=1e-5, atol=1e-6):
                continue  # this group does not move layer n
            same = after[n].shape == base[n].shape and base[n].shape[1] == group.size
            if (
                same
                and found[n] == ""
                and np.allclose(after[n], base[n][:, perm], rtol=1e-4, atol=1e-5)
            ):
                found[n] = g
            else:
                found[n] = None
    return found


def _stack(curves: list[Curve]) -> Curve:
    """One Curve of P pairs from P one-pair curves."""
    keys = curves[0].values
    values = {k: np.concatenate([c.values[k] for c in curves]) for k in keys}
    return Curve(curves[0].lambdas, values, curves[0].repaired)


def _null(rec: Recording, layer: str, members: list[int], null: str) -> Any:
    """``"shuffle"``, None for ``"none"``, or B's members' activations at step 0 for
    ``"untrained"``."""
    if null in ("shuffle", "none"):
        return None if null == "none" else null
    if int(rec.steps[0]) != 0:
        raise UnitscopeError(
            f"null='untrained' needs the step-0 checkpoint, but the first checkpoint is step "
            f"{int(rec.steps[0])}; record step 0 or use null='shuffle'."
        )
    return rec.acts[layer][0][members]  # (P, n, U)
