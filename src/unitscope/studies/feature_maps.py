"""Study ``feature_maps``: the CNN case of the question — feature maps of one layer.

The asker: "in convolution networks different feature maps produce very different outputs,
although they are connected to exactly the same input nodes". A SmallCNN is trained with K
seeds on digits (upsampled x2) and on patches of the sample photos. For each map: its filter,
its top-9 input patches, the deconvnet projection of its strongest activation and occlusion
sensitivity (Zeiler & Fergus 2014, via :mod:`unitscope.views`). Within a layer, the maps are
correlated over every (image, position) observation; across seeds they are matched one-to-one
by the Hungarian method on the same per-position correlations (Li et al. 2015), against a
null that matches them with the images shuffled. Finally a run from a symmetric init (every
map of a layer identical) in float64 tests whether identical maps stay identical.

Every finding has intervals over seeds (pairs of seeds: resampled by seed), a control where
the claim should fail (maps that start identical; untrained networks; dropout), and a
measured premise (the networks trained, the maps are alive, training moved the weights).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import match, views
from ..measures import DegenerateInputWarning, symmetry_spread, unit_correlation
from ..record import Recording
from ..train import Config, fit
from ._common import ProgressFn, Scale, config, fmt, part, pick, rounding_tolerance
from ._finding import Control, FigureSpec, Finding, Interval, Premise, StudyResult, Verdict
from ._stats import LEVEL, fmt_interval, holm_intervals, pair_interval, t_interval, worded
from .diversity import DUPLICATE_CORR
from .symmetry import SEPARATED, unit_rows

NAME = "feature_maps"
TITLE = "Feature maps: different within a layer, the same across seeds?"
QUESTION = (
    "Feature maps of a CNN layer see exactly the same input, yet look very different "
    "(Zeiler & Fergus). Do they really compute different things, do two seeds learn the "
    "same maps in another order, and do maps that start identical stay identical?"
)

DIFFERENT_BELOW = 0.5  # maps compute different things: mean |corr| between them below this
TWINS_BELOW = 1.0  # ... and fewer than one near-twin pair (|corr| >= DUPLICATE_CORR) per seed
SAME_ABOVE = 0.9  # two seeds learn the same maps: mean matched correlation above this
# Share of the way from the shuffled-image null to identical maps that the matched
# correlation covers, (matched - null) / (1 - null): the same maps need more than HALFWAY,
# and below HALFWAY the matched maps are nearer to chance than to the same maps.
HALFWAY = 0.5
TRAINED_GAIN = 0.5  # trained: test accuracy at least halfway from chance to 1 (interval)
MOVED = 1e-3  # the symmetric run is not vacuous: some weight moved at least this much
SPREAD_FLOOR = 1e-20  # an exact 0 spread enters log10 intervals as this
SYMMETRY_BREAKER = 0.2  # dropout rate of the symmetric run's control
N_TOP = 9
N_OCCLUDED = 4


@dataclass(frozen=True)
class Within:
    """The maps of one layer against each other, per seed (arrays are (K,))."""

    corr: np.ndarray  # mean |corr| between live maps
    twins: np.ndarray  # near-twin pairs of live maps (|corr| >= DUPLICATE_CORR)
    live: np.ndarray  # maps that vary over the observations
    example: np.ndarray  # (C, C) correlations of the first seed (figure)


@dataclass(frozen=True)
class Across:
    """The maps of one layer matched across every pair of seeds (arrays are (P,))."""

    seeds: int
    pairs: list[tuple[int, int]]
    matched: np.ndarray  # mean matched correlation of the pair
    null: np.ndarray  # the same, with one seed's images shuffled
    unaligned: np.ndarray  # in the order the seeds happened to use
    per_map: np.ndarray  # (P, C) matched correlation of each map
    perm: np.ndarray  # (C,) first pair: seed 1's map matched to each of seed 0's
    cross: np.ndarray  # (C, C) first pair's correlations

    @property
    def share(self) -> np.ndarray:
        """(P,) share of the way from the null to identical maps: (matched - null)/(1 - null)."""
        return (self.matched - self.null) / np.maximum(1.0 - self.null, 1e-12)

    def matrix(self, values: np.ndarray) -> np.ndarray:
        """(K, K) with ``values`` of each pair in both of its cells, NaN on the diagonal."""
        m = np.full((self.seeds, self.seeds), np.nan)
        for (i, j), v in zip(self.pairs, values):
            m[i, j] = m[j, i] = v
        return m


@dataclass(frozen=True)
class Case:
    """One layer of the network trained on one dataset."""

    dataset: str
    layer: str
    maps: int
    within: Within
    across: Across | None  # after training
    untrained: Across | None  # at init: the control of "the same maps"
    accuracy: np.ndarray  # (K,) final test accuracy of the dataset's run
    chance: float  # accuracy of always answering the most common probe class


@dataclass(frozen=True)
class Symmetric:
    """A float64 run from identical maps: how far apart they end, over its live members."""

    spread: dict[str, np.ndarray]  # layer -> (live,) max distance of a map from the mean map
    tolerance: dict[str, float]  # layer -> rounding level
    separated: dict[str, float]  # layer -> separation level
    map_spread: dict[str, float]  # layer -> max spread of the map outputs
    within: dict[str, Within]  # layer -> the maps against each other (live members)
    moved: float  # max |w_end - w_init| over live members
    live_members: list[int]
    members: int
    accuracy: np.ndarray  # (K,) final test accuracy
    example: np.ndarray  # (C, H, W) conv.0 maps of one probe image


# ---- verdicts ------------------------------------------------------------------------------
def combine(verdicts: Iterable[Verdict]) -> Verdict:
    """One verdict over cases: supported or refuted when every case agrees, mixed when some
    support and some refute, inconclusive otherwise (no cases, or some undecided)."""
    v = list(verdicts)
    if v and all(x == "supported" for x in v):
        return "supported"
    if v and all(x == "refuted" for x in v):
        return "refuted"
    if "supported" in v and "refuted" in v:
        return "mixed"
    return "inconclusive"


def verdict_maps_differ(corr: Interval, twins: Interval) -> Verdict:
    """The maps of one layer compute different things: supported when the interval of mean
    |corr| between maps lies below :data:`DIFFERENT_BELOW` and that of near-twin pairs per
    seed below :data:`TWINS_BELOW`; refuted when either lies above; else inconclusive."""
    if not (corr.finite and twins.finite):
        return "inconclusive"
    if corr.below(DIFFERENT_BELOW) and twins.below(TWINS_BELOW):
        return "supported"
    if corr.above(DIFFERENT_BELOW) or twins.above(TWINS_BELOW):
        return "refuted"
    return "inconclusive"


def verdict_same_maps(matched: Interval, share: Interval) -> Verdict:
    """Two seeds learn the same maps in another order, against the shuffled-image null.

    Supported when the matched correlation lies above :data:`SAME_ABOVE` and its share of the
    way from the null to 1 above :data:`HALFWAY`; refuted when that share lies below
    :data:`HALFWAY` (the matched maps are nearer to chance than to the same maps);
    inconclusive otherwise.
    """
    if not (matched.finite and share.finite):
        return "inconclusive"
    if matched.above(SAME_ABOVE) and share.above(HALFWAY):
        return "supported"
    if share.below(HALFWAY):
        return "refuted"
    return "inconclusive"


def verdict_symmetric(
    log_spreads: Mapping[str, Interval],
    tolerances: Mapping[str, float],
    separated: Mapping[str, float],
) -> Verdict:
    """Symmetric init keeps maps identical, from the interval of log10 spread over seeds per
    layer (spreads span orders of magnitude: 1e-16 at rounding, ~1 once apart).

    Supported when every layer's interval lies at rounding level (hi <= log10 tolerance),
    refuted when one lies above log10 ``separated``, mixed when every interval is decided but
    some lie above rounding, else inconclusive.
    """
    if not log_spreads or not all(iv.finite for iv in log_spreads.values()):
        return "inconclusive"
    tol = {k: float(np.log10(v)) for k, v in tolerances.items()}
    if all(iv.hi <= tol[k] for k, iv in log_spreads.items()):
        return "supported"
    if any(iv.above(float(np.log10(separated[k]))) for k, iv in log_spreads.items()):
        return "refuted"
    if all(iv.hi <= tol[k] or iv.above(tol[k]) for k, iv in log_spreads.items()):
        return "mixed"
    return "inconclusive"


# ---- runs ----------------------------------------------------------------------------------
def datasets(scale: Scale) -> dict[str, dict[str, Any]]:
    """Dataset label -> config overrides."""
    n = pick(scale, 200, 600, 1797)
    size = pick(scale, 8, 16, 16)
    return {
        "digits x2": {"data.name": "digits", "data.options": {"n_samples": n, "upsample": 2}},
        "photo patches": {
            "data.name": "patches",
            "data.options": {"n_samples": pick(scale, 200, 600, 2000), "size": size},
        },
    }


def base_config(scale: Scale) -> Config:
    steps = pick(scale, 30, 150, 300)
    return config(
        data={"n_probe": pick(scale, 32, 128, 256)},
        model={"kind": "cnn", "channels": pick(scale, [4, 6], [8, 16], [16, 32])},
        optim={"lr": 0.02, "momentum": 0.9},  # 0.05 kills most maps on the photo patches
        train={
            "steps": steps,
            "batch_size": 64,
            "n_checkpoints": 3,
            "eval_every": max(1, steps // 5),
        },
        seeds={"init": list(range(pick(scale, 3, 6, 8)))},
    )


def symmetric_config(scale: Scale, dropout: float = 0.0) -> Config:
    """The float64 run from identical maps (with ``dropout``: its control)."""
    first = next(iter(datasets(scale).values()))
    return base_config(scale).override(
        {
            **first,
            "init.scheme": "symmetric",
            "train.dtype": "float64",
            "model.dropout": dropout,
            "seeds.init": list(range(pick(scale, 3, 6, 6))),
            "seeds.dropout": list(range(pick(scale, 3, 6, 6))),
            "train.eval_every": base_config(scale).train.steps,  # accuracy at the end only
        }
    )


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    base = base_config(scale)
    cases: dict[str, Case] = {}
    for label, change_cfg in datasets(scale).items():
        with part(result, label, progress):
            rec = fit(base.override(change_cfg))
            cases |= {f"{label} {c.layer}": c for c in layer_cases(rec, label)}
            with part(result, f"{label} views"):
                result.figures += map_views(rec, label, cases)
    sym: dict[str, Symmetric] = {}
    for name, dropout in (("symmetric init", 0.0), ("symmetric init + dropout", SYMMETRY_BREAKER)):
        with part(result, name, progress):
            sym[name] = symmetric_run(fit(symmetric_config(scale, dropout)))
    result.numbers = {
        "cases": {k: case_numbers(c) for k, c in cases.items()},
        "symmetric": {k: symmetric_numbers(s) for k, s in sym.items()},
        "steps": base.train.steps,
        "seeds": base.seeds.members,
    }
    findings(result, cases, sym)
    result.elapsed_s = time.perf_counter() - start
    return result


def positions(maps: np.ndarray) -> np.ndarray:
    """(K, n, C, H, W) maps -> (K, n*H*W, C): every (image, position) is an observation."""
    return np.moveaxis(maps, 2, -1).reshape(maps.shape[0], -1, maps.shape[2])


def within_layer(maps: np.ndarray) -> Within:
    """Mean |corr|, near-twin pairs and live maps of each seed's (n, C, H, W) maps."""
    obs = positions(maps)  # (K, N, C)
    corr, twins, live, first = [], [], [], None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)  # dead maps: NaN rows
        for x in obs:
            r = np.abs(unit_correlation(x))  # (C, C)
            first = r if first is None else first
            upper = r[np.triu_indices(len(r), 1)]
            upper = upper[np.isfinite(upper)]
            corr.append(float(upper.mean()) if upper.size else np.nan)
            twins.append(float((upper >= DUPLICATE_CORR).sum()))
            live.append(float(np.isfinite(np.diag(r)).sum()))
    assert first is not None
    return Within(np.array(corr), np.array(twins), np.array(live), first)


def across_seeds(maps: np.ndarray) -> Across | None:
    """Hungarian matching of (K, n, C, H, W) maps over every pair of seeds (None if K < 2).

    Seed i is matched against seeds i+1..K-1 in one call (a K=1 side pairs with every member
    of the other), so no copy of the maps is made per pair.
    """
    K = maps.shape[0]
    parts = [
        match.activations(maps[i : i + 1], maps[i + 1 :], layout="KNCHW") for i in range(K - 1)
    ]
    if not parts:
        return None
    return Across(
        seeds=K,
        pairs=[(i, j) for i in range(K) for j in range(i + 1, K)],
        matched=np.concatenate([p.mean for p in parts]),
        null=np.concatenate([p.null.mean(axis=1) for p in parts]),
        unaligned=np.concatenate([p.unaligned.mean(axis=1) for p in parts]),
        per_map=np.concatenate([p.matched for p in parts]),
        perm=parts[0].perm[0],
        cross=parts[0].corr[0],
    )


def chance_level(labels: np.ndarray) -> float:
    """Accuracy of always answering the most common label."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    return float(counts.max() / counts.sum())


def layer_cases(rec: Recording, label: str) -> list[Case]:
    """Per layer: within-layer measures per seed, and the matching across seeds after
    training and at init."""
    trained, untrained = rec.model(-1), rec.model(0)
    out = []
    for layer in rec.layers:
        maps = views.feature_maps(trained, layer, rec.probe_x)  # (K, n, C, H, W)
        out.append(
            Case(
                dataset=label,
                layer=layer,
                maps=maps.shape[2],
                within=within_layer(maps),
                across=across_seeds(maps),
                untrained=across_seeds(views.feature_maps(untrained, layer, rec.probe_x)),
                accuracy=rec.curves["test_acc"][:, -1],
                chance=chance_level(rec.probe_y),
            )
        )
    return out


def symmetric_run(rec: Recording) -> Symmetric:
    """Spread of every conv layer at the end of a float64 run from identical maps.

    Only members whose maps are alive at the end count: a member whose maps all died stays
    symmetric trivially (no gradient reaches it).
    """
    net = rec.model(-1)
    maps = {layer: views.feature_maps(net, layer, rec.probe_x) for layer in rec.layers}
    live = [k for k in range(rec.members) if all(m[k].max() > 0 for m in maps.values())]
    spread, tol, sep, map_spread, within = {}, {}, {}, {}, {}
    moved = 0.0
    for layer in rec.layers if live else []:
        rows = unit_rows(rec, layer)[:, live]  # (T, live, C, fan_in + 1)
        spread[layer] = np.array([symmetry_spread(r).max_distance for r in rows[-1]])
        scale = float(np.abs(rows[-1]).max())
        tol[layer] = rounding_tolerance("float64", scale)
        sep[layer] = SEPARATED * max(scale, 1.0)
        m = maps[layer][live]  # (live, n, C, H, W)
        map_spread[layer] = float(np.abs(m - m.mean(axis=2, keepdims=True)).max())
        within[layer] = within_layer(m)
        moved = max(moved, float(np.abs(rows[-1] - rows[0]).max()))
    return Symmetric(
        spread=spread,
        tolerance=tol,
        separated=sep,
        map_spread=map_spread,
        within=within,
        moved=moved,
        live_members=live,
        members=rec.members,
        accuracy=rec.curves["test_acc"][:, -1],
        example=maps["conv.0"][live[0] if live else 0, 0],
    )


def case_numbers(c: Case) -> dict[str, Any]:
    out: dict[str, Any] = {
        "maps": c.maps,
        "mean_abs_corr": c.within.corr.tolist(),
        "twin_pairs": c.within.twins.tolist(),
        "live_maps": c.within.live.tolist(),
        "test_accuracy": c.accuracy.tolist(),
        "chance": c.chance,
    }
    for name, a in (("", c.across), ("untrained_", c.untrained)):
        if a is not None:
            out[f"{name}pairs"] = [list(p) for p in a.pairs]
            out[f"{name}matched_mean"] = a.matched.tolist()
            out[f"{name}null_mean"] = a.null.tolist()
            out[f"{name}unaligned_mean"] = a.unaligned.tolist()
            out[f"{name}share_above_null"] = a.share.tolist()
    if c.across is not None:
        out["perm_first_pair"] = c.across.perm.tolist()
    return out


def symmetric_numbers(s: Symmetric) -> dict[str, Any]:
    return {
        "spread": {k: v.tolist() for k, v in s.spread.items()},
        "tolerance": s.tolerance,
        "separated": s.separated,
        "map_spread": s.map_spread,
        "moved": s.moved,
        "live_members": s.live_members,
        "members": s.members,
        "test_accuracy": s.accuracy.tolist(),
    }


# ---- findings ------------------------------------------------------------------------------
def holm_pair_interval(matrix: np.ndarray, m: int) -> Interval:
    """:func:`pair_interval` at the Bonferroni level of a family of ``m`` (the 95% family
    level is what it reports)."""
    iv = pair_interval(matrix, level=1 - (1 - LEVEL) / max(m, 1))
    return Interval(iv.value, iv.lo, iv.hi, iv.n, LEVEL, "holm" if m > 1 else iv.method)


def trained_premise(cases: Mapping[str, Case], need_live: int) -> Premise:
    """Every dataset's networks trained (test-accuracy interval at least TRAINED_GAIN of the
    way from chance to 1) and every seed kept ``need_live`` live maps in every layer."""
    acc, limit = {}, {}
    for c in cases.values():
        acc[c.dataset] = t_interval(c.accuracy)
        limit[c.dataset] = c.chance + TRAINED_GAIN * (1 - c.chance)
    fewest = {k: float(c.within.live.min()) for k, c in cases.items()}
    trained = all(acc[d].above(limit[d]) for d in acc)
    return Premise(
        f"the networks trained (test accuracy {TRAINED_GAIN:.0%} of the way from chance to "
        f"1) and every seed has at least {need_live} live maps per layer",
        bool(cases) and trained and all(v >= need_live for v in fewest.values()),
        {
            "test_accuracy": {d: iv.to_dict() for d, iv in acc.items()},
            "limit": limit,
            "fewest_live_maps": fewest,
        },
    )


def differ_intervals(within: Mapping[str, Within]) -> dict[str, Interval]:
    """Holm intervals of mean |corr| and near-twin pairs per seed of every case."""
    series: dict[str, np.ndarray] = {}
    for k, w in within.items():
        series[f"{k} mean |corr|"] = w.corr
        series[f"{k} twin pairs"] = w.twins
    return holm_intervals(series)


def differ_verdicts(
    within: Mapping[str, Within], ivs: Mapping[str, Interval]
) -> dict[str, Verdict]:
    return {k: verdict_maps_differ(ivs[f"{k} mean |corr|"], ivs[f"{k} twin pairs"]) for k in within}


def finding_differ(cases: Mapping[str, Case], sym: Symmetric | None) -> Finding:
    ivs = differ_intervals({k: c.within for k, c in cases.items()})
    per_case = differ_verdicts({k: c.within for k, c in cases.items()}, ivs)
    measured = combine(per_case.values())
    ctrl_within = sym.within if sym else {}
    ctrl_ivs = differ_intervals(ctrl_within)
    ctrl_cases = differ_verdicts(ctrl_within, ctrl_ivs)
    lead = worded(
        measured,
        supported="In every layer the maps compute different things",
        refuted="In no layer do the maps compute different things",
        mixed="The maps compute different things in some layers only",
        other="Undecided",
    )
    return Finding(
        NAME,
        "The feature maps of one layer compute different things.",
        measured,
        f"{lead}: "
        + "; ".join(
            f"{k}: mean |corr| {fmt_interval(ivs[f'{k} mean |corr|'])}, near-twin pairs per "
            f"seed {fmt(ivs[f'{k} twin pairs'].value)}"
            for k in cases
        )
        + f" (Holm over {len(ivs)} intervals).",
        {"per_case": per_case},
        {
            "different_below": DIFFERENT_BELOW,
            "twins_below": TWINS_BELOW,
            "duplicate_corr": DUPLICATE_CORR,
            "correction": "holm",
        },
        ("feature-maps-table",),
        interval=ivs,
        control=Control(
            "maps that start identical (symmetric init, float64), measured the same way",
            combine(ctrl_cases.values()),
            {"per_layer": ctrl_cases, **{k: iv.to_dict() for k, iv in ctrl_ivs.items()}},
        ),
        premise=trained_premise(cases, 2),
    )


def same_intervals(across: Mapping[str, Across]) -> dict[str, Interval]:
    """Holm pair intervals of the matched correlation and its share above the null."""
    m = 2 * len(across)
    out = {}
    for k, a in across.items():
        out[f"{k} matched"] = holm_pair_interval(a.matrix(a.matched), m)
        out[f"{k} share above null"] = holm_pair_interval(a.matrix(a.share), m)
    return out


def same_verdicts(across: Mapping[str, Across], ivs: Mapping[str, Interval]) -> dict[str, Verdict]:
    return {k: verdict_same_maps(ivs[f"{k} matched"], ivs[f"{k} share above null"]) for k in across}


def finding_same(cases: Mapping[str, Case]) -> Finding:
    across = {k: c.across for k, c in cases.items() if c.across is not None}
    untrained = {k: c.untrained for k, c in cases.items() if c.untrained is not None}
    ivs = same_intervals(across)
    nulls = {
        f"{k} null": holm_pair_interval(a.matrix(a.null), 2 * len(across))
        for k, a in across.items()
    }
    per_case = same_verdicts(across, ivs)
    measured = combine(per_case.values())
    ctrl_ivs = same_intervals(untrained)
    ctrl_cases = same_verdicts(untrained, ctrl_ivs)
    lead = worded(
        measured,
        supported="Two seeds learn the same maps in another order",
        refuted="The maps two seeds learn are nearer to chance than to the same maps",
        mixed="Two seeds learn the same maps in some layers only",
        other="Undecided",
    )
    return Finding(
        NAME,
        "Two seeds learn the same feature maps, in another order.",
        measured,
        f"{lead}: "
        + "; ".join(
            f"{k}: matched {fmt_interval(ivs[f'{k} matched'])} against the shuffled-image null "
            f"{fmt(nulls[f'{k} null'].value)}, share of the way to identical "
            f"{fmt_interval(ivs[f'{k} share above null'])}"
            for k in across
        )
        + f" (pairs of seeds, seeds resampled; Holm over {len(ivs)} intervals).",
        {"per_case": per_case},
        {"same_above": SAME_ABOVE, "halfway": HALFWAY, "correction": "holm"},
        ("feature-maps-matched", "feature-maps-table"),
        interval={**ivs, **nulls},
        control=Control(
            "untrained networks (the same seeds at init), matched the same way",
            combine(ctrl_cases.values()),
            {"per_case": ctrl_cases, **{k: iv.to_dict() for k, iv in ctrl_ivs.items()}},
        ),
        premise=trained_premise(cases, 2),
    )


def spread_intervals(s: Symmetric) -> dict[str, Interval]:
    """log10 spread per layer, t interval over the live seeds (an exact 0 counts as
    :data:`SPREAD_FLOOR`)."""
    return {
        f"{layer} log10 spread": t_interval(np.log10(np.maximum(v, SPREAD_FLOOR)))
        for layer, v in s.spread.items()
    }


def fmt_log(iv: Interval) -> str:
    """A log10 interval in linear units: ``1.0e-16 [3.2e-17, 3.1e-16], n=5``."""
    lin = [fmt(10.0**x) if np.isfinite(x) else "nan" for x in (iv.value, iv.lo, iv.hi)]
    return f"{lin[0]} [{lin[1]}, {lin[2]}], n={iv.n}"


def symmetric_verdict(s: Symmetric) -> Verdict:
    ivs = spread_intervals(s)
    return verdict_symmetric(
        {k: ivs[f"{k} log10 spread"] for k in s.spread}, s.tolerance, s.separated
    )


def finding_symmetric(s: Symmetric, control: Symmetric | None) -> Finding:
    ivs = spread_intervals(s)
    measured = symmetric_verdict(s)
    acc = s.accuracy[s.live_members] if s.live_members else np.array([])
    one_map = worded(measured, supported=" (the net acts like one map per layer)", other="")
    return Finding(
        NAME,
        "Feature maps that start identical stay identical (float64).",
        measured,
        f"{len(s.live_members)} of {s.members} seeds kept live maps; final spread (geometric "
        "mean over seeds): "
        + ", ".join(
            f"{k} {fmt_log(ivs[f'{k} log10 spread'])} (tolerance {fmt(s.tolerance[k])})"
            for k in s.spread
        )
        + f"; test accuracy of the live seeds {fmt(float(np.mean(acc)) if acc.size else np.nan)}"
        + f"{one_map}.",
        {"live_members": len(s.live_members), "moved": s.moved},
        {"tolerances": s.tolerance, "separated": s.separated},
        ("feature-maps-symmetric", "feature-maps-symmetric-maps"),
        interval=ivs,
        control=Control(
            f"the same start with dropout {SYMMETRY_BREAKER:g} (masks differ per map)",
            symmetric_verdict(control) if control else "inconclusive",
            {
                "log10_spread": {k: iv.to_dict() for k, iv in spread_intervals(control).items()},
                "tolerance": control.tolerance,
                "separated": control.separated,
                "live_members": len(control.live_members),
            }
            if control
            else {},
        ),
        premise=Premise(
            f"at least 2 seeds kept live maps and training moved the weights (by > {MOVED:g})",
            len(s.live_members) >= 2 and s.moved > MOVED,
            {"live_members": len(s.live_members), "moved": s.moved, "limit": MOVED},
        ),
    )


def findings(result: StudyResult, cases: dict[str, Case], sym: dict[str, Symmetric]) -> None:
    plain = sym.get("symmetric init")
    if cases:
        result.findings.append(finding_differ(cases, plain))
        result.figures.append(cases_table(cases))
        if any(c.across is not None for c in cases.values()):
            result.findings.append(finding_same(cases))
            result.figures.append(matched_figure(cases))
    if plain is not None:
        f = finding_symmetric(plain, sym.get("symmetric init + dropout"))
        result.findings.append(f)
        result.figures += symmetric_figures(plain, f.measured)


# ---- figures -------------------------------------------------------------------------------
def map_views(rec: Recording, label: str, cases: dict[str, Case]) -> list[FigureSpec]:
    """Zeiler–Fergus pictures of seed 0 (filters also of seed 1, in seed 0's order)."""
    slug = label.replace(" ", "-")
    net = rec.model(-1)
    first = net.select([0])
    deep = rec.layers[-1]
    shallow = cases[f"{label} {rec.layers[0]}"].across
    return [
        filters_figure(net, slug, label, None if shallow is None else shallow.perm.tolist()),
        *patch_figures(first, deep, rec.probe_x, slug, label),
        occlusion_figure(first, rec.probe_x, rec.probe_y, slug, label),
        correlation_figure(cases[f"{label} {deep}"], deep, slug, label),
    ]


def filters_figure(net: Any, slug: str, label: str, perm: list[int] | None) -> FigureSpec:
    filters = views.first_layer_filters(net)[:, :, 0]  # (K, C, k, k), first input channel
    rows = [filters[0]] + ([filters[1][perm]] if perm is not None else [])
    return FigureSpec(
        f"feature-maps-{slug}-filters",
        "image_grid",
        f"First-layer filters ({label}). Top: seed 0. Bottom: seed 1, reordered by the "
        "Hungarian matching of its maps to seed 0's, so that matched maps share a column.",
        {
            "images": np.concatenate(rows),
            "cmap": "diverging",
            "scale": "each",
            "cols": filters.shape[1],
            "row_labels": ["seed 0", "seed 1 matched"][: len(rows)],
        },
        f"Filters, {label}",
    )


def patch_figures(
    net: Any, layer: str, images: np.ndarray, slug: str, label: str
) -> list[FigureSpec]:
    """Top-9 patches and deconvnet projections of every map of ``layer`` (one member)."""
    top = views.top_patches(net, layer, images, min(N_TOP, len(images)))
    _, C, n_top = top.patches.shape[:3]
    proj = views.deconv_projection(net, layer, images)
    return [
        FigureSpec(
            f"feature-maps-{slug}-top-patches",
            "image_grid",
            f"For each map of {layer} (rows), the {n_top} probe images whose strongest activation "
            "is largest, cropped to the map's receptive field (Zeiler & Fergus).",
            {
                "images": top.patches[0, :, :, 0].reshape(C * n_top, *top.patches.shape[-2:]),
                "cmap": "gray",
                "scale": "each",
                "cols": n_top,
                "row_labels": [f"map {c}" for c in range(C)],
            },
            f"Top-{n_top} patches of {layer}, {label}",
        ),
        FigureSpec(
            f"feature-maps-{slug}-deconv",
            "image_grid",
            f"Each map of {layer} (columns): the input patch that excites it most (top) and the "
            "deconvnet projection of that activation back to pixels (bottom).",
            {
                "images": np.concatenate([proj.patches[0, :, 0], proj.crops[0, :, 0]]),
                "cmap": ["gray"] * C + ["diverging"] * C,
                "scale": "each",
                "cols": C,
                "row_labels": ["input patch", "deconv projection"],
            },
            f"Deconvnet projections of {layer}, {label}",
        ),
    ]


def occlusion_figure(
    net: Any, images: np.ndarray, labels: np.ndarray, slug: str, label: str
) -> FigureSpec:
    n = min(N_OCCLUDED, len(images))
    y = np.asarray(labels[:n])
    occ = views.occlusion(net, images[:n], y, size=3)  # (1, n, H, W)
    return FigureSpec(
        f"feature-maps-{slug}-occlusion",
        "image_grid",
        f"Occlusion sensitivity ({label}, seed 0): probability of the true class when a 3x3 "
        "square around each pixel is hidden (bottom, 0 to 1); dark = evidence the net uses.",
        {
            "images": np.concatenate([images[:n, 0], occ[0]]),
            "cmap": ["gray"] * n + ["sequential"] * n,
            "scale": "each",
            "cols": n,
            "ranges": [None] * n + [(0.0, 1.0)] * n,
            "labels": [f"class {int(c)}" for c in y] + ["p(true class)"] * n,
        },
        f"Occlusion, {label}",
    )


def correlation_figure(case: Case, layer: str, slug: str, label: str) -> FigureSpec:
    panels = [np.nan_to_num(case.within.example)]
    titles = ["seed 0 × seed 0 (|corr|)"]
    if case.across is not None:
        panels.append(np.nan_to_num(case.across.cross[:, case.across.perm]))
        titles.append("seed 0 × seed 1, matched order")
    return FigureSpec(
        f"feature-maps-{slug}-corr",
        "heatmap",
        f"Correlation between the maps of {layer} ({label}) over every image position: within "
        "seed 0 (|corr|; off-diagonal = how alike two maps are) and between seeds 0 and 1 with "
        "seed 1's maps in matched order (a bright diagonal = the same maps).",
        {
            "values": np.stack(panels),
            "cmap": "diverging",
            "vmin": -1.0,
            "vmax": 1.0,
            "panel_titles": titles,
        },
        f"Map correlations, {label}",
    )


def cases_table(cases: Mapping[str, Case]) -> FigureSpec:
    def mean(values: np.ndarray | None) -> str:
        return "nan" if values is None else fmt(float(np.nanmean(values)))

    def across(c: Case, attr: str, untrained: bool = False) -> str:
        a = c.untrained if untrained else c.across
        return "nan" if a is None else mean(getattr(a, attr))

    return FigureSpec(
        "feature-maps-table",
        "table",
        "Per dataset and layer, means over seeds (pairs of seeds for the matching): mean |corr| "
        f"between the maps of one seed, near-twin pairs (|corr| >= {DUPLICATE_CORR}) per seed, "
        "dead maps, and the correlation of matched maps across seeds (Hungarian matching) "
        "against the unmatched order and the shuffled-image null; 'share' = (matched − null) / "
        "(1 − null), the way from chance to identical maps; the same after training and at init.",
        {
            "columns": [
                "case",
                "maps",
                "mean |corr| within",
                "twin pairs",
                "dead maps",
                "matched corr",
                "unaligned corr",
                "null corr",
                "share",
                "share at init",
                "test accuracy",
            ],
            "rows": [
                [
                    k,
                    c.maps,
                    mean(c.within.corr),
                    mean(c.within.twins),
                    fmt(float(c.maps - c.within.live.min())),
                    across(c, "matched"),
                    across(c, "unaligned"),
                    across(c, "null"),
                    across(c, "share"),
                    across(c, "share", untrained=True),
                    mean(c.accuracy),
                ]
                for k, c in cases.items()
            ],
        },
        "Maps within a layer and across seeds",
    )


def matched_figure(cases: Mapping[str, Case]) -> FigureSpec:
    return FigureSpec(
        "feature-maps-matched",
        "histogram",
        "Correlation of each map with its matched map in another seed, over all seed pairs "
        "(Li et al. 2015), and the same matching with one seed's images shuffled (the null). "
        "Near 1: the same map, learned in another position.",
        {
            "samples": {
                **{k: np.ravel(c.across.per_map) for k, c in cases.items() if c.across},
                "null (all cases)": np.concatenate(
                    [c.across.null for c in cases.values() if c.across]
                ),
            },
            "markers": {"same": SAME_ABOVE},
            "x_label": "matched correlation",
        },
        "Matched maps across seeds",
    )


def symmetric_figures(s: Symmetric, measured: str) -> list[FigureSpec]:
    same = worded(
        measured,
        supported="every map is the same picture",
        refuted="the maps are different pictures",
        other="whether every map is the same picture is not decided",
    )
    spread = s.map_spread.get("conv.0", float("nan"))
    return [
        FigureSpec(
            "feature-maps-symmetric",
            "table",
            "A float64 run where every map of each layer starts identical: spread of the maps' "
            "weights (max distance from the mean map, mean over the seeds whose maps stayed "
            "alive) and of their outputs at the end.",
            {
                "columns": ["layer", "weight spread", "rounding tolerance", "map output spread"],
                "rows": [
                    [k, fmt(float(np.mean(v))), fmt(s.tolerance[k]), fmt(s.map_spread[k])]
                    for k, v in s.spread.items()
                ],
            },
            "Identical maps from a symmetric init",
        ),
        FigureSpec(
            "feature-maps-symmetric-maps",
            "image_grid",
            f"The conv.0 maps of one probe image after training from a symmetric init: {same} "
            f"(largest difference between the maps' outputs {fmt(spread)}).",
            {"images": s.example, "cmap": "gray", "scale": "all", "cols": len(s.example)},
            "Maps from a symmetric init",
        ),
    ]
