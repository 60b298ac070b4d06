"""Many seeds at once: cycle consistency of pairwise matches, a joint alignment, consensus units.

Pairwise matching (Li et al., 2015) says which unit of B is unit i of A. With K ≥ 3 seeds the
matches can check each other: if the seeds really learned the same units in another order,
going A → B → C lands on the unit that A → C gives. The **cycle consistency** of an ordered
triple (a, b, c) is the fraction of a's units i with ``perm_bc[perm_ab[i]] == perm_ac[i]``;
chance is 1/width (a random permutation fixes one unit in expectation). All six orders of one
triple give the same fraction (each counts the units the round trip a → b → c → a returns
home), so it is computed once per unordered triple.

The **joint alignment** puts all K members in one common order without a reference member:
starting from the pairwise matches to member 0, each member in turn is matched (Hungarian) to
the mean of the others in their current orders — the score of its unit i at position j is its
mean correlation with the units the others hold at j — until a full sweep changes nothing.
Each update maximizes the summed correlation of all aligned pairs over that member's order, so
the sum never decreases and the loop ends.

A **consensus unit** is one position of the joint order whose units are the same unit in
enough seeds: its core is the unit that correlates ≥ ``threshold`` with the most of the others
at that position; a member is *present* when its unit is the core or correlates ≥
``threshold`` with it (at most one unit per seed by construction), and the position is a
consensus unit when the present members make up ≥ ``fraction`` of the K seeds. By default the
threshold is calibrated: what a partner layer rotated at random (the same subspace, no
privileged basis) reaches at its 99th percentile (see :mod:`~unitscope.match._universal`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import torch

from .._errors import UnitscopeError
from .._memory import check_memory
from ..record import Recording
from ._activations import hungarian
from ._correlation import _RTOL, as_observations

MAX_SWEEPS = 100


@dataclass(frozen=True)
class Consensus:
    """Pairwise matches of K members of one layer, their cycle consistency, a joint order and
    the consensus units.

    Attributes:
        corr: (K, K, U, U) float64, ``corr[a, b, i, j]`` between unit i of a and unit j of b.
        perms: (K, K, U) int64 Hungarian matches, ``perms[a, b, i]`` the unit of b matched to
            unit i of a (``perms[b, a]`` is its inverse; ``perms[a, a]`` the identity).
        cycle: (K, K, K) cycle consistency of every ordered triple of distinct members (NaN
            where two members coincide).
        unit_cycle: (K, U) for each unit, the fraction of the other ordered pairs (b, c) whose
            round trip returns it home.
        chance: 1/U, the cycle consistency of random matches.
        untrained: (K, K, K) the same cycle consistency for the untrained networks (step 0),
            or None when not computed.
        order: (K, U) the joint alignment, ``order[k, j]`` the unit of member k at position j.
        aligned: (K, U) mean correlation of member k's unit at position j with the other
            members' units at j.
        sweeps: full sweeps of the joint alignment; ``converged``: the last changed nothing.
        core: (U,) the member whose unit is the core of position j.
        present: (K, U) bool, member k's unit at position j belongs to its group.
        support: (U,) number of present members per position.
        is_consensus: (U,) bool, ``support >= fraction * K``.
        fraction, threshold: the rule of consensus units.
        active: (K, U) bool, units that vary on the inputs.
        layer, step: what was matched (None for arrays).
        seconds: wall time.
    """

    corr: np.ndarray
    perms: np.ndarray
    cycle: np.ndarray
    unit_cycle: np.ndarray
    chance: float
    untrained: np.ndarray | None
    order: np.ndarray
    aligned: np.ndarray
    sweeps: int
    converged: bool
    core: np.ndarray
    present: np.ndarray
    support: np.ndarray
    is_consensus: np.ndarray
    fraction: float
    threshold: float
    active: np.ndarray
    layer: str | None = None
    step: int | None = None
    seconds: float = 0.0

    @property
    def members(self) -> int:
        return int(self.perms.shape[0])

    @property
    def cycle_mean(self) -> float:
        """Mean cycle consistency over all ordered triples."""
        return float(np.nanmean(self.cycle))

    @property
    def untrained_mean(self) -> float:
        """Mean cycle consistency of the untrained networks (NaN when not computed)."""
        return float("nan") if self.untrained is None else float(np.nanmean(self.untrained))

    def groups(self) -> list[dict[str, Any]]:
        """Consensus units, best supported first: for each, the unit of every member (None
        where absent), its support and the mean correlation among its present units."""
        out = []
        for j in np.flatnonzero(self.is_consensus):
            units = [
                int(self.order[k, j]) if self.present[k, j] else None for k in range(self.members)
            ]
            out.append(
                {
                    "position": int(j),
                    "units": units,
                    "support": int(self.support[j]),
                    "mean_corr": _group_corr(self.corr, self.order[:, j], self.present[:, j]),
                }
            )
        return sorted(out, key=lambda g: (-g["support"], -g["mean_corr"]))

    def summary(self) -> dict[str, Any]:
        """Everything as plain Python values (what ``unitscope consensus --json`` prints)."""
        K, U = self.order.shape
        return {
            "layer": self.layer,
            "step": self.step,
            "members": K,
            "units": U,
            "cycle_consistency": self.cycle_mean,
            "chance": self.chance,
            "untrained_cycle_consistency": self.untrained_mean,
            "cycle_by_triple": {
                f"{a},{b},{c}": float(self.cycle[a, b, c]) for a, b, c in combinations(range(K), 3)
            },
            "joint_alignment": {
                "order": self.order.tolist(),
                "mean_aligned_corr": float(self.aligned.mean()),
                "sweeps": self.sweeps,
                "converged": self.converged,
            },
            "consensus_units": {
                "fraction": self.fraction,
                "threshold": self.threshold,
                "count": int(self.is_consensus.sum()),
                "support_histogram": np.bincount(self.support, minlength=K + 1).tolist(),
                "groups": self.groups(),
            },
            "active": self.active.sum(axis=1).tolist(),
            "seconds": self.seconds,
        }


def _group_corr(corr: np.ndarray, units: np.ndarray, present: np.ndarray) -> float:
    members = np.flatnonzero(present)
    values = [corr[a, b, units[a], units[b]] for a, b in combinations(members, 2)]
    return float(np.mean(values)) if values else float("nan")


# ---- the pure functions ----------------------------------------------------------------------


def standardized(acts: Any) -> tuple[torch.Tensor, np.ndarray]:
    """(n, K·U) float64 z-scores of every member's units, member after member, scaled by
    1/√n so that ``zᵀz`` is the correlation matrix; units that do not vary are 0.

    Returns:
        (z, active (K, U)).
    """
    t = as_observations(acts, "acts")  # (K, n, U)
    K, n, U = t.shape
    z = t.permute(1, 0, 2).reshape(n, K * U).to(torch.float64)  # (n, K*U)
    mean = z.mean(dim=0)
    zc = z - mean
    std = (zc.square().sum(dim=0) / n).sqrt()
    active = (std > _RTOL * mean.abs()) & (std > 0)
    scale = torch.where(active, 1.0 / torch.where(active, std, 1.0), 0.0) / n**0.5
    return zc * scale, active.reshape(K, U).numpy()


def unit_correlations(acts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Correlation of every unit of every member with every unit of every other, in float64.

    Args:
        acts: (K, n, U) activations of K members on the same n inputs, or conv maps
            (K, n, C, H, W) where every (sample, position) is an observation.

    Returns:
        (corr (K, K, U, U), active (K, U)); a unit that does not vary correlates 0 with all.
    """
    t = as_observations(acts, "acts")
    K, _, U = t.shape
    check_memory(
        3 * 8 * float(K * U) ** 2,
        f"correlating {K} members x {U} units",
        "pass fewer members or a narrower layer",
    )
    z, active = standardized(t)
    corr = (z.T @ z).clamp(-1.0, 1.0).numpy().reshape(K, U, K, U).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(corr), active


def pairwise_perms(corr: np.ndarray) -> np.ndarray:
    """(K, K, U) Hungarian matches of every pair from (K, K, U, U) correlations.

    ``perms[a, b]`` maximizes ``Σ_i corr[a, b, i, perm[i]]``; it is computed for a < b and
    inverted for b > a, so the two directions always agree.
    """
    K, U = corr.shape[0], corr.shape[2]
    perms = np.empty((K, K, U), dtype=np.int64)
    perms[np.arange(K), np.arange(K)] = np.arange(U)
    pairs = list(combinations(range(K), 2))
    if pairs:
        found = hungarian(np.stack([corr[a, b] for a, b in pairs]))
        for (a, b), p in zip(pairs, found):
            perms[a, b], perms[b, a] = p, np.argsort(p)
    return perms


def cycle_consistency(perms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cycle consistency of every ordered triple of pairwise matches.

    Args:
        perms: (K, K, U) matches, ``perms[a, b, i]`` the unit of b matched to unit i of a,
            with ``perms[b, a]`` the inverse of ``perms[a, b]``.

    Returns:
        (cycle (K, K, K): the fraction of units i of a with ``perms[b, c][perms[a, b][i]] ==
        perms[a, c][i]``, NaN unless a, b, c are distinct; unit_cycle (K, U): per unit of a,
        the fraction of ordered pairs (b, c) of other members for which that holds).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> p = [rng.permutation(5) for _ in range(3)]  # member k holds unit p[k][i] of one net
        >>> perms = np.stack([[np.argsort(p[b])[p[a]] for b in range(3)] for a in range(3)])
        >>> float(np.nanmean(cycle_consistency(perms)[0]))  # every round trip comes home
        1.0
    """
    K, U = perms.shape[0], perms.shape[2]
    cycle = np.full((K, K, K), np.nan)
    home = np.zeros((K, U))
    for a, b, c in combinations(range(K), 3):
        back = perms[c, a][perms[b, c][perms[a, b]]]  # a -> b -> c -> a, (U,)
        fixed = back == np.arange(U)
        value = float(fixed.mean())
        for x, y, z in ((a, b, c), (a, c, b), (b, a, c), (b, c, a), (c, a, b), (c, b, a)):
            cycle[x, y, z] = value
        # unit i of a returns home  <=>  its images in b and c return home from there too
        home[a] += 2 * fixed
        home[b, perms[a, b]] += 2 * fixed
        home[c, perms[a, c]] += 2 * fixed
    n_pairs = (K - 1) * (K - 2)
    return cycle, home / max(n_pairs, 1)


def joint_alignment(corr: np.ndarray, perms: np.ndarray) -> tuple[np.ndarray, int, bool]:
    """A common order for all K members, with no reference member.

    Args:
        corr: (K, K, U, U) correlations; perms: (K, K, U) pairwise matches (the start).

    Returns:
        (order (K, U), sweeps, converged): ``order[k, j]`` is member k's unit at position j.
        Each member in turn takes the Hungarian order that maximizes its mean correlation with
        the others' units at every position; the loop stops after a sweep that changed nothing
        (``converged``) or after ``MAX_SWEEPS`` sweeps.
    """
    K = perms.shape[0]
    order = perms[0].copy()  # member 0's order to start with
    for sweep in range(1, MAX_SWEEPS + 1):
        changed = False
        for k in range(K):
            others = [m for m in range(K) if m != k]
            # score[j, i]: mean correlation of k's unit i with the others' units at position j
            score = np.mean([corr[m, k][order[m]] for m in others], axis=0)  # (U, U)
            new = hungarian(score[None])[0]
            if not np.array_equal(new, order[k]):
                order[k], changed = new, True
        if not changed:
            return order, sweep, True
    return order, MAX_SWEEPS, False


def aligned_correlation(corr: np.ndarray, order: np.ndarray) -> np.ndarray:
    """(K, U) mean correlation of member k's unit at position j with the others' at j."""
    K = order.shape[0]
    out = np.zeros(order.shape)
    for k in range(K):
        for m in range(K):
            if m != k:
                out[k] += corr[k, m][order[k], order[m]]
    return out / max(K - 1, 1)


def consensus_units(
    corr: np.ndarray, order: np.ndarray, *, fraction: float, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which members share the unit at each position of a joint order.

    Returns:
        (core (U,), present (K, U), support (U,)): the core member of each position (the unit
        correlating ≥ ``threshold`` with the most others there, ties to the higher mean
        correlation), whether member k's unit is the core or correlates ≥ ``threshold`` with
        it, and the number of present members.
    """
    K, U = order.shape
    core = np.zeros(U, dtype=np.int64)
    present = np.zeros((K, U), dtype=bool)
    rows, cols = np.arange(K)[:, None], np.arange(K)[None, :]
    for j in range(U):
        r = corr[rows, cols, order[:, j][:, None], order[:, j][None, :]]  # (K, K)
        np.fill_diagonal(r, np.nan)
        partners = np.nansum(r >= threshold, axis=1)
        mean = np.nanmean(r, axis=1) if K > 1 else np.zeros(K)
        best = int(np.lexsort((-mean, -partners))[0])
        core[j] = best
        present[:, j] = r[best] >= threshold
        present[best, j] = True
    return core, present, present.sum(axis=0)


# ---- the entry point ---------------------------------------------------------------------------


def consensus(
    source: Any,
    *,
    layer: str | None = None,
    step: int = -1,
    fraction: float = 0.5,
    threshold: float | str = "calibrated",
    untrained: Any = "auto",
) -> Consensus:
    """Match K ≥ 3 members of one layer jointly: cycle consistency, joint order, consensus.

    Args:
        source: a :class:`~unitscope.record.Recording` (its members at checkpoint ``step``) or
            activations (K, n, U) / conv maps (K, n, C, H, W) of K members on the same inputs.
        layer: the recording's layer (default: its first studied layer).
        step: the recording's checkpoint (negative counts from the end).
        fraction: a consensus unit is present in at least this fraction of the K seeds, in
            (0, 1].
        threshold: correlation with the group's core unit that makes a member present, in
            [-1, 1), or ``"calibrated"``: the 99th percentile of best-partner correlations
            against randomly rotated partner layers (:func:`~unitscope.match.universal`), the
            correlation a unit reaches by sharing the subspace alone. A fixed value such as 0.5
            is lenient for low-rank layers: on digits a rotated partner reaches ≈ 0.8.
        untrained: activations of the untrained networks for the baseline; ``"auto"`` takes
            a recording's step-0 checkpoint when it has one (None for arrays); None skips it.

    Returns:
        A :class:`Consensus`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> base = rng.normal(size=(300, 8))
        >>> acts = np.stack([base[:, rng.permutation(8)] for _ in range(4)])  # 4 seeds, reordered
        >>> c = consensus(acts)
        >>> c.cycle_mean, c.support.tolist() == [4] * 8, c.chance
        (1.0, True, 0.125)
    """
    start = time.perf_counter()
    fraction, fixed = _check_rule(fraction, threshold)
    acts, base, name, value = _resolve(source, layer, step, untrained)
    corr, active = unit_correlations(acts)
    K, U = active.shape
    if K < 3:
        raise UnitscopeError(
            f"consensus needs K >= 3 members to check matches against each other, got {K}; "
            "train more seeds (e.g. seeds.init=[0,1,2]) or use `match` for a pair."
        )
    if fixed is None:
        from ._universal import universal  # the rotated null lives there

        fixed = universal(acts, untrained=None).threshold
    perms = pairwise_perms(corr)
    cycle, unit_cycle = cycle_consistency(perms)
    base_cycle = None
    if base is not None:
        base_cycle = cycle_consistency(pairwise_perms(unit_correlations(base)[0]))[0]
    order, sweeps, converged = joint_alignment(corr, perms)
    core, present, support = consensus_units(corr, order, fraction=fraction, threshold=fixed)
    return Consensus(
        corr=corr,
        perms=perms,
        cycle=cycle,
        unit_cycle=unit_cycle,
        chance=1.0 / U,
        untrained=base_cycle,
        order=order,
        aligned=aligned_correlation(corr, order),
        sweeps=sweeps,
        converged=converged,
        core=core,
        present=present,
        support=support,
        is_consensus=support >= fraction * K - 1e-9,
        fraction=fraction,
        threshold=fixed,
        active=active,
        layer=name,
        step=value,
        seconds=time.perf_counter() - start,
    )


def _check_rule(fraction: Any, threshold: Any) -> tuple[float, float | None]:
    """The fraction and the fixed threshold (None for ``"calibrated"``)."""
    calibrated = isinstance(threshold, str) and threshold == "calibrated"
    try:
        f, t = float(fraction), (0.0 if calibrated else float(threshold))
    except (TypeError, ValueError):
        raise UnitscopeError(
            f"`fraction` must be a number and `threshold` a number or 'calibrated', got "
            f"{fraction!r} and {threshold!r}."
        ) from None
    if not 0.0 < f <= 1.0:
        raise UnitscopeError(
            f"`fraction` must be in (0, 1] (the share of seeds a consensus unit is present in), "
            f"got {fraction!r}."
        )
    if not -1.0 <= t < 1.0:
        raise UnitscopeError(f"`threshold` must be a correlation in [-1, 1), got {threshold!r}.")
    return f, None if calibrated else t


def recording_acts(rec: Recording, layer: str | None, step: int) -> tuple[np.ndarray, str, int]:
    """(K, n, U) activations of ``layer`` at checkpoint ``step``, the layer and the step."""
    if not rec.layers:
        raise UnitscopeError(
            "the recording has no hidden layer (it was trained with model.hidden = []): "
            "there are no units to match; train with one, e.g. --set model.hidden=[16]."
        )
    name = rec.layers[0] if layer is None else rec.check_layer(layer)
    t = rec.step_index(step)
    return rec.activations(name)[t], name, int(rec.steps[t])


def _resolve(
    source: Any, layer: str | None, step: int, untrained: Any
) -> tuple[Any, Any, str | None, int | None]:
    """Activations, the untrained baseline's, the layer name and the step."""
    if isinstance(source, Recording):
        acts, name, value = recording_acts(source, layer, step)
        base = untrained
        if isinstance(untrained, str) and untrained == "auto":
            base = source.activations(name)[0] if int(source.steps[0]) == 0 else None
        return acts, base, name, value
    if layer is not None:
        raise UnitscopeError(
            f"`layer` ({layer!r}) names a layer of a recording; for arrays pass the layer's "
            "activations themselves."
        )
    base = None if isinstance(untrained, str) and untrained == "auto" else untrained
    return source, base, None, None
