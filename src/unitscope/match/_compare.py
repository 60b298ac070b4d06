"""Matching recordings: two runs, every pair of an ensemble, every checkpoint.

A pair ``(i, j)`` is member i of recording A with member j of recording B (B = A for the
members of one ensemble). :func:`compare` rebuilds the pairs' models at one checkpoint, matches
every layer's units by activation correlation on the shared probe set, aligns B to A (weight
or activation matching) and measures the loss barrier on the straight line before and after.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from .._errors import UnitscopeError, unknown_name
from ..data._checks import check_seed
from ..record import Recording
from ._activations import ActivationMatch, _take
from ._align import METHODS, match_layers
from ._checks import same_architecture
from ._curve import Curve, relative_reduction
from ._interpolate import interpolate
from ._permute import Perms, permute
from ._weights import WeightMatch, weights

NULLS = ("shuffle", "untrained", "none")
CURVES = ("naive", "aligned", "repaired")


@dataclass(frozen=True)
class Comparison:
    """Matching of P pairs of runs at one checkpoint.

    Attributes:
        pairs: (member of A, member of B) for each pair.
        step: the checkpoint step.
        method: ``"weights"`` or ``"activations"``, how ``perms`` were found.
        units: layer -> activation matching on the probe set.
        perms: layer -> (P, U) permutations that align B to A.
        weight_match: the weight matching (its objective trace), when ``method="weights"``.
        naive, aligned: curves before and after alignment (None without barriers).
        repaired: the aligned curve with REPAIR (None unless asked for).
        seconds: wall time of the alignment of all pairs.
    """

    pairs: list[tuple[int, int]]
    step: int
    method: str
    units: dict[str, ActivationMatch]
    perms: Perms
    weight_match: WeightMatch | None = None
    naive: Curve | None = None
    aligned: Curve | None = None
    repaired: Curve | None = None
    seconds: float = 0.0

    def aligned_corr(self, layer: str) -> np.ndarray:
        """(P, U) correlation of each unit of A with the unit ``perms`` paired it with."""
        return _take(self.units[layer].corr, self.perms[layer])

    def summary(self, layers: Sequence[str] | None = None) -> dict[str, Any]:
        """Everything of every pair as plain Python values (what ``unitscope match`` prints)."""
        names = list(self.units) if layers is None else list(layers)
        out = []
        for p, (i, j) in enumerate(self.pairs):
            entry: dict[str, Any] = {"members": [i, j], "layers": {}}
            for name in names:
                m = self.units[name]
                entry["layers"][name] = {
                    **m.summary(p),
                    "alignment_perm": self.perms[name][p].tolist(),
                    "mean_aligned_corr": float(self.aligned_corr(name)[p].mean()),
                    "perm_agreement": float((self.perms[name][p] == m.perm[p]).mean()),
                }
            entry["barrier"] = self._barriers(p)
            out.append(entry)
        return {"step": self.step, "method": self.method, "seconds": self.seconds, "pairs": out}

    def _barriers(self, p: int) -> dict[str, Any] | None:
        if self.naive is None or self.aligned is None:
            return None
        out: dict[str, Any] = {"naive": self.naive.summary(p), "aligned": self.aligned.summary(p)}
        if self.repaired is not None:
            out["repaired"] = self.repaired.summary(p)
        split = "test" if "test" in self.naive.splits else self.naive.splits[0]
        before = self.naive.barrier(split)[p]
        for key in ("aligned", "repaired"):
            curve = getattr(self, key)
            if curve is not None:
                out[f"reduction_{key}"] = float(relative_reduction(before, curve.barrier(split)[p]))
        return out


def check_pairable(rec_a: Recording, rec_b: Recording) -> None:
    """Raise unless the two recordings have the same architecture and probe set."""
    same_architecture(rec_a.meta.model_spec, rec_b.meta.model_spec, "recordings")
    rec_a.check_same_probe(rec_b)


def resolve_pairs(rec_a: Recording, rec_b: Recording | None, members: Any) -> list[tuple[int, int]]:
    """The (i, j) pairs to compare: given, all i < j of one recording, or k with k."""
    Ka = rec_a.members
    Kb = Ka if rec_b is None else rec_b.members
    if members is None:
        if rec_b is None:
            if Ka < 2:
                raise UnitscopeError(
                    "the recording holds 1 member; matching needs 2 (train with a seed list "
                    "such as seeds.init=[0,1]) or a second recording."
                )
            return list(combinations(range(Ka), 2))
        if Ka != Kb and 1 not in (Ka, Kb):
            raise UnitscopeError(
                f"recording A has {Ka} members and B {Kb}; choose the pairs with members=[(i, j)]."
            )
        return [(k if Ka > 1 else 0, k if Kb > 1 else 0) for k in range(max(Ka, Kb))]
    raw = [members] if np.ndim(members) == 1 else list(members)
    pairs = [(int(i), int(j)) for i, j in raw]
    for i, j in pairs:
        if not (0 <= i < Ka and 0 <= j < Kb) or (rec_b is None and i == j):
            raise UnitscopeError(
                f"member pair ({i}, {j}) is not valid: A has {Ka} members and B {Kb} (indices "
                "from 0), and a recording is not compared with the same member."
            )
    return pairs


def recording_data(rec: Recording) -> dict[str, Any]:
    """The recording's train and test splits, rebuilt from its config."""
    from ..train import Config, prepare_data

    train, test, _ = prepare_data(Config.from_dict(rec.config))
    return {"train": train, "test": test}


def compare(
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
    """Match runs of recordings at checkpoint ``step``.

    Args:
        rec_a: recording A.
        rec_b: recording B (same architecture and probe set), or None to pair members of A.
        members: pairs ``[(i, j), ...]`` (or one pair ``(i, j)``) of member i of A and member
            j of B. Default: every pair i < j of A alone; member k with member k for two
            recordings (a 1-member recording pairs with every member of the other).
        step: the checkpoint (negative counts from the end).
        method: ``"weights"`` or ``"activations"`` (probe-set activations) for the alignment.
        barrier: also interpolate on the recording's train and test data (or ``data``).
        n_points: points on each line.
        repair: also compute the aligned curve with REPAIR.
        seed: seed of the weight-matching layer order and of the null's row shuffle.
        null: the activation-matching null: ``"shuffle"`` (B's probe rows shuffled),
            ``"untrained"`` (B's members at the step-0 checkpoint, before training), or
            ``"none"`` (no null: its correlations are NaN; one Hungarian matching per pair
            and layer less).
        data: ``{"train": (x, y), "test": (x, y)}`` to use instead of the recording's data.
        factory: for a recording of your own torch networks (``Recording.from_models``):
            the function that builds one (or ``"pkg.module:factory"``), needed for weight
            matching and barriers; without it, use ``method="activations"``,
            ``barrier=False`` (see :mod:`~unitscope.match._compare_torch`).

    Returns:
        A :class:`Comparison`.
    """
    for name, rec in (("rec_a", rec_a), ("rec_b", rec_b)):
        if rec is not None and not isinstance(rec, Recording):
            raise UnitscopeError(
                f"`{name}` must be a Recording, got {type(rec).__name__}; for two torch "
                "networks use match.weights(a, b, spec=match.permutation_spec(a, x)) and "
                "match.interpolate(a, b_aligned, data, reset_bn=loader)."
            )
    if method not in METHODS:
        raise unknown_name("matching method", method, METHODS)
    check_seed("seed", seed)
    if isinstance(rec_a, Recording) and rec_a.is_torch:  # the user's own networks
        from ._compare_torch import compare_torch

        return compare_torch(
            rec_a, rec_b, members=members, step=step, method=method, barrier=barrier,
            n_points=n_points, repair=repair, seed=seed, null=null, data=data, factory=factory,
        )  # fmt: skip
    if factory is not None:
        raise UnitscopeError(
            "`factory` is for recordings of your own torch networks; unitscope rebuilds its "
            "own models from the recording."
        )
    if not rec_a.layers:
        raise UnitscopeError(
            "the recording has no hidden layer (it was trained with model.hidden = []): "
            "there are no units to match; train with one, e.g. --set model.hidden=[16]."
        )
    if rec_b is not None:
        check_pairable(rec_a, rec_b)
    pairs = resolve_pairs(rec_a, rec_b, members)
    other = rec_a if rec_b is None else rec_b
    step_value = int(rec_a.steps[rec_a.step_index(step)])
    model_a = rec_a.model(step_value, members=[i for i, _ in pairs])
    model_b = other.model(step_value, members=[j for _, j in pairs])
    units = match_layers(
        model_a,
        model_b,
        rec_a.probe_x,
        seed=seed,
        null=_null_model(other, [j for _, j in pairs], null),
    )
    start = time.perf_counter()
    found = weights(model_a, model_b, seed=seed) if method == "weights" else None
    perms = found.perms if found is not None else {k: m.perm for k, m in units.items()}
    seconds = time.perf_counter() - start
    curves: dict[str, Curve | None] = {"naive": None, "aligned": None, "repaired": None}
    if barrier:
        splits = recording_data(rec_a) if data is None else data
        loss = rec_a.config["train"]["loss"]
        moved = permute(model_b, perms)
        curves["naive"] = interpolate(model_a, model_b, splits, n_points=n_points, loss=loss)
        curves["aligned"] = interpolate(model_a, moved, splits, n_points=n_points, loss=loss)
        if repair:
            curves["repaired"] = interpolate(
                model_a, moved, splits, n_points=n_points, loss=loss, repair=True
            )
    return Comparison(pairs, step_value, method, units, perms, found, seconds=seconds, **curves)


def _null_model(rec: Recording, members: list[int], null: str) -> Any:
    """``"shuffle"`` as is, None for ``"none"``, or B's untrained members for
    ``"untrained"``."""
    if null not in NULLS:
        raise unknown_name("null", null, NULLS)
    if null in ("shuffle", "none"):
        return None if null == "none" else null
    if int(rec.steps[0]) != 0:
        raise UnitscopeError(
            f"null='untrained' needs the step-0 checkpoint, but the first checkpoint is step "
            f"{int(rec.steps[0])}; record step 0 (train.checkpoints) or use null='shuffle'."
        )
    return rec.model(0, members=members)


def pairs(rec: Recording, **kwargs: Any) -> Comparison:
    """Every pair i < j of the K members of one recording: K(K−1)/2 matchings at once.

    Keyword arguments are those of :func:`compare` (``step``, ``method``, ``barrier``, ...).
    """
    return compare(rec, None, **kwargs)


@dataclass(frozen=True)
class Trajectory:
    """Comparisons of the same pairs at every checkpoint.

    Attributes:
        steps: (T,) checkpoint steps.
        comparisons: one :class:`Comparison` per step.
    """

    steps: np.ndarray
    comparisons: list[Comparison]

    def matched(self, layer: str) -> np.ndarray:
        """(T, P) mean matched correlation of ``layer`` at each checkpoint."""
        return np.stack([c.units[layer].mean for c in self.comparisons])

    def barrier(self, which: str = "aligned", split: str | None = None) -> np.ndarray:
        """(T, P) loss barrier of the ``naive``, ``aligned`` or ``repaired`` curves."""
        if which not in CURVES:
            raise unknown_name("curve", which, CURVES)
        curves = [getattr(c, which) for c in self.comparisons]
        if any(curve is None for curve in curves):
            raise UnitscopeError(
                f"no {which!r} curves were computed; pass barrier=True"
                f"{' and repair=True' if which == 'repaired' else ''}."
            )
        return np.stack([curve.barrier(split) for curve in curves])


def over_training(
    rec_a: Recording,
    rec_b: Recording | None = None,
    *,
    steps: Sequence[int] | None = None,
    **kwargs: Any,
) -> Trajectory:
    """:func:`compare` at every checkpoint (or the given ``steps``) of the same pairs.

    Keyword arguments are those of :func:`compare`; the data are loaded once.
    """
    chosen = rec_a.steps.tolist() if steps is None else [int(s) for s in steps]
    if kwargs.get("barrier", True) and kwargs.get("data") is None:
        kwargs["data"] = recording_data(rec_a)
    comps = [compare(rec_a, rec_b, step=s, **kwargs) for s in chosen]
    return Trajectory(np.array([c.step for c in comps], dtype=np.int64), comps)
