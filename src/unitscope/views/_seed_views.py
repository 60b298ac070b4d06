"""Do the members of one recording learn the same units? Universal units and cycle consistency
of every studied layer, computed by :func:`unitscope.match.universal` and
:func:`unitscope.match.consensus` on the probe set at the last checkpoint; the report draws what
:func:`seed_views` returns.

A view that cannot be made (one member; two members for cycle consistency; no step-0
checkpoint for the untrained baseline; a layer the tools refuse) is None with a one-line
reason beside it, as the page says for other undefined numbers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .._errors import UnitscopeError
from ..match import Consensus, Universality, consensus, universal
from ..record import Recording

QUANTILE = 0.99  # the rotated null's quantile that calibrates the universality threshold
FRACTION = 0.5  # a consensus unit is present in at least this share of the seeds


@dataclass(frozen=True)
class UniversalView:
    """Each unit's best-partner correlation over the other members against three nulls.

    Attributes:
        samples: name -> 1-D samples of the histogram: ``"trained"`` (every member's live
            units), ``"rotated partners"`` (the same units against randomly rotated partner
            layers, every draw), ``"shuffled rows"`` (live units against partners with
            shuffled probe rows) and, with step 0 recorded, ``"untrained"`` (every unit of
            the untrained networks).
        threshold: the rotated null's ``quantile`` over live units; NaN without a live unit.
        quantile, draws: its level and the number of rotated draws.
        share: share of live units above ``threshold``, averaged over members.
        null_shares: the same share under each null (``rotated``, ``shuffled``, ``untrained``).
        cka, svcca: linear CKA and SVCCA of the layer, averaged over pairs of members.
        live, units: live units (all members) and units (members x width).
        untrained_reason: why there is no untrained null ("" when there is one).
    """

    samples: dict[str, np.ndarray]
    threshold: float
    quantile: float
    draws: int
    share: float
    null_shares: dict[str, float]
    cka: float
    svcca: float
    live: int
    units: int
    untrained_reason: str

    @property
    def rotated_share(self) -> float:
        """Share of live units above ``threshold`` under the rotated null (≈ 1 − quantile)."""
        return self.null_shares["rotated"]


@dataclass(frozen=True)
class CycleView:
    """Cycle consistency of the pairwise matches over every triple of members, and the
    consensus units of their joint alignment.

    Attributes:
        trained: (P,) cycle consistency of each unordered triple (a < b < c).
        untrained: (P,) the same for the networks at step 0, or None.
        mean, untrained_mean: their means (NaN without an untrained baseline).
        chance: 1/width, the cycle consistency of random matches.
        consensus_units: positions of the joint order whose unit is present in at least
            ``fraction`` of the members (correlation ≥ ``threshold`` with the position's core).
        width: the layer's width; ``fraction``, ``threshold``: the rule.
        untrained_reason: why there is no untrained baseline ("" when there is one).
    """

    trained: np.ndarray
    untrained: np.ndarray | None
    mean: float
    untrained_mean: float
    chance: float
    consensus_units: int
    width: int
    fraction: float
    threshold: float
    untrained_reason: str


@dataclass(frozen=True)
class SeedViews:
    """Universal units and cycle consistency of one layer across the members.

    Attributes:
        layer, kind: the layer and ``"dense"`` / ``"conv"``.
        full_maps: a conv layer recorded as whole maps (every image position is an
            observation of its channel); False when only each channel's mean was recorded.
        members, step: K and the checkpoint compared (the last).
        universal: the universal-units view, or None with ``universal_reason``.
        cycle: the cycle-consistency view, or None with ``cycle_reason``.
    """

    layer: str
    kind: str
    full_maps: bool
    members: int
    step: int
    universal: UniversalView | None
    universal_reason: str
    cycle: CycleView | None
    cycle_reason: str


def seed_views(rec: Recording) -> tuple[SeedViews, ...]:
    """One :class:`SeedViews` per studied layer of ``rec`` at its last checkpoint (reasons
    only for a recording of one member)."""
    return tuple(layer_seed_views(rec, layer) for layer in rec.layers)


def layer_seed_views(rec: Recording, layer: str) -> SeedViews:
    """The :class:`SeedViews` of one layer: ``match.universal`` (threshold at the rotated
    null's 99th percentile) and ``match.consensus`` with that threshold."""
    K, step = rec.members, int(rec.steps[-1])
    head = (layer, rec.meta.layer_kind[layer], rec.activations(layer).ndim > 4, K, step)
    if K < 2:
        why = (
            f"universal units need K ≥ 2 members to find partners in; this recording has {K} "
            "(train more seeds, e.g. seeds.init=[0,1,2])"
        )
        return SeedViews(*head, None, why, None, _cycle_reason(K))
    no_base = untrained_reason(rec)
    base = None if no_base else "auto"  # "auto": the recording's step-0 checkpoint
    try:
        u = universal(rec, layer=layer, quantile=QUANTILE, untrained=base)
    except UnitscopeError as err:  # e.g. a layer too wide for memory: the page still renders
        why = f"not computed: {str(err).rstrip('.')}"
        return SeedViews(*head, None, why, None, why)
    if not u.active.any():
        why = f"no unit of {layer} varies on the probe set at step {step}"
        return SeedViews(*head, None, why, None, why)
    view = universal_view(u, no_base)
    if K < 3:
        return SeedViews(*head, view, "", None, _cycle_reason(K))
    try:
        c = consensus(rec, layer=layer, threshold=u.threshold, fraction=FRACTION, untrained=base)
    except UnitscopeError as err:
        return SeedViews(*head, view, "", None, f"not computed: {str(err).rstrip('.')}")
    return SeedViews(*head, view, "", cycle_view(c, no_base), "")


def universal_view(u: Universality, untrained_reason: str = "") -> UniversalView:
    """The numbers of the universal-units histogram from one :class:`Universality`."""
    active = u.active  # (K, U)
    samples = {
        "trained": u.best[active],
        "rotated partners": u.rotated[:, active].ravel(),  # (R * live,)
        "shuffled rows": u.shuffled[active],
    }
    if u.untrained is not None:
        samples["untrained"] = u.untrained.ravel()
    off = ~np.eye(u.cka.shape[0], dtype=bool)
    return UniversalView(
        samples=samples,
        threshold=u.threshold,
        quantile=u.quantile,
        draws=int(u.rotated.shape[0]),
        share=float(u.fraction().mean()),
        null_shares=u.null_fractions(),
        cka=_mean(u.cka[off]),
        svcca=_mean(u.svcca[off]),
        live=int(active.sum()),
        units=int(active.size),
        untrained_reason="" if u.untrained is not None else untrained_reason,
    )


def cycle_view(c: Consensus, untrained_reason: str = "") -> CycleView:
    """The numbers of the cycle-consistency histogram from one :class:`Consensus`."""
    trained = _triples(c.cycle)
    untrained = None if c.untrained is None else _triples(c.untrained)
    return CycleView(
        trained=trained,
        untrained=untrained,
        mean=_mean(trained),
        untrained_mean=float("nan") if untrained is None else _mean(untrained),
        chance=float(c.chance),
        consensus_units=int(c.is_consensus.sum()),
        width=int(c.order.shape[1]),
        fraction=float(c.fraction),
        threshold=float(c.threshold),
        untrained_reason="" if c.untrained is not None else untrained_reason,
    )


def _triples(cycle: np.ndarray) -> np.ndarray:
    """(P,) the value of each unordered triple a < b < c of a (K, K, K) cycle array."""
    K = cycle.shape[0]
    return np.array([cycle[a, b, c] for a, b, c in combinations(range(K), 3)], dtype=np.float64)


def _mean(values: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all NaN (a constant layer): NaN
        return float(np.nanmean(values)) if values.size else float("nan")


def _cycle_reason(K: int) -> str:
    return (
        f"cycle consistency needs K ≥ 3 members (A→B→C against A→C); this recording has {K} "
        "(train more seeds, e.g. seeds.init=[0,1,2])"
    )


def untrained_reason(rec: Recording) -> str:
    """Why ``rec`` has no untrained baseline for its last checkpoint ("" when step 0 is
    recorded before it)."""
    if len(rec.steps) == 1 and int(rec.steps[0]) == 0:
        return "the recording's only checkpoint is step 0, the one compared"
    if int(rec.steps[0]) == 0:
        return ""
    how = (
        "record the networks before training as a checkpoint numbered 0 (steps=[0, ...]; "
        "--steps 0,... in unitscope record)"
        if rec.is_torch
        else "record step 0, e.g. train.checkpoints=[0, ...]"
    )
    return f"the recording's first checkpoint is step {int(rec.steps[0])}, not step 0; {how}"
