"""Study ``correspondence``: the same units in another order — tested with stitching, with many
seeds at once, and against a rotated basis.

K seeds of one digits MLP train in one batched fit. Three tests a referee would ask for:

1. **B can use A's units** (model stitching; Bansal et al. 2021, Csiszárik et al. 2021): A's
   hidden layer is put in the place of B's through the matched permutation alone (unit i of A
   where its partner in B was) and B's accuracy is measured; the control stitches A *before
   training* the same way. A least-squares map is reported alongside, with the raw input as
   its control (it often stitches as well: a linear map tests the span, not the units).
2. **The matches are consistent across seeds**: with K seeds, the Hungarian matches of every
   pair can be composed; A→B→C lands on the unit A→C gives for a fraction of the units (cycle
   consistency; chance 1/width). Control: the same seeds before training.
3. **The units, not just their span, are shared**: each unit's best-partner correlation over
   the other seeds (Gurnee et al. 2024) against partners whose layer was randomly rotated
   (same subspace, no privileged basis); universal units beat the rotated null's 99th
   percentile. Control: the trained layers themselves randomly rotated. Linear CKA and SVCCA
   say whether the span is shared.

Every interval resamples seeds (pairs and triples of seeds are not independent).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from itertools import combinations
from typing import Any

import numpy as np
import torch

from .. import match
from ..match._compare import recording_data
from ..match._universal import random_rotation
from ..record import Recording
from ..train import Config, fit
from ._common import ProgressFn, Scale, config, fmt, part, pick
from ._finding import Control, FigureSpec, Finding, Interval, Premise, StudyResult, Verdict
from ._stats import LEVEL, N_BOOT, fmt_interval, pair_interval, worded
from ._stats import interval_verdict as decide

NAME = "correspondence"
TITLE = "Correspondence across seeds: can B use A's units, do matches agree, is the basis shared?"
QUESTION = (
    "Do K trainings learn the same units in another order? If so, network B can use A's units "
    "in place of its own, the matches of many seeds agree with each other (A→B→C = A→C), and "
    "each unit has a partner in the other seeds that a rotated basis of the same subspace "
    "would not give."
)

LAYER = "hidden.0"
# B can use A's units: the permutation-stitched network within this many accuracy points of B.
STITCHES = 5.0
# Consistent matches: for more than this share of units, A→B→C equals A→C.
CONSISTENT = 0.5
# Shared units: more than this share of live units are universal.
SHARED = 0.5
# Premises: trained (every member's test accuracy at least TRAINED), live units (at least
# LIVE of each member's units vary on the probe set), a shared span (mean CKA at least SPAN).
TRAINED = 0.9
LIVE = 0.5
SPAN = 0.8
QUANTILE = 0.99
FITS = ("permutation", "direct")


def verdict_stitches(penalty: Interval) -> Verdict:
    """Supported when the stitching penalty's interval lies under ``STITCHES`` points."""
    return decide(penalty, STITCHES, greater=False)


def verdict_consistent(cycle: Interval) -> Verdict:
    """Supported when the cycle consistency's interval lies above ``CONSISTENT``."""
    return decide(cycle, CONSISTENT)


def verdict_shared(share: Interval) -> Verdict:
    """Supported when the universal share's interval lies above ``SHARED``."""
    return decide(share, SHARED)


# ---- runs ------------------------------------------------------------------------------------


def base_config(scale: Scale) -> Config:
    steps = pick(scale, 150, 600, 2000)
    return config(
        data={
            "name": "digits",
            "options": {"flatten": True, "n_samples": pick(scale, 600, 1797, 1797)},
            "n_probe": pick(scale, 128, 256, 256),
        },
        model={"hidden": [pick(scale, 16, 64, 64)]},
        optim={"name": "adam", "lr": pick(scale, 1e-2, 3e-3, 3e-3)},
        train={"steps": steps, "batch_size": 64, "checkpoints": [0, steps]},
        seeds={"init": list(range(pick(scale, 4, 8, 12)))},
    )


def rotated_layers(acts: np.ndarray, seed: int = 1) -> np.ndarray:
    """(K, n, U) each member's centred activations times its own random rotation: the same
    subspace with no privileged basis (the control of the shared-units claim)."""
    rng = np.random.default_rng(seed)
    z = acts.astype(np.float64) - acts.mean(axis=1, keepdims=True)
    return np.stack([zk @ random_rotation(acts.shape[2], rng) for zk in z])


def training(rec: Recording) -> dict[str, Any]:
    acts = rec.activations(LAYER)[-1]  # (K, n, U)
    return {
        "test_acc": rec.curves["test_acc"][:, -1].tolist(),
        "train_acc": rec.curves["train_acc"][:, -1].tolist(),
        "live_share": (acts.std(axis=1) > 0).mean(axis=1).tolist(),
    }


def stitching(rec: Recording, data: Any) -> dict[str, Any]:
    """(K, K) penalties of member i into member j (i < j) per fit and source, in points."""
    K = rec.members
    out: dict[str, Any] = {
        f"{src} {f}": np.full((K, K), np.nan)
        for src in ("trained", "input", "untrained")
        for f in FITS
    }
    pairs = list(combinations(range(K), 2))
    with torch.no_grad():  # every member built and run once for all its pairs
        done = match.stitch_pairs(
            rec,
            pairs,
            fits=list(FITS),
            controls=["input", "untrained"],
            layers_a=[LAYER],
            layers_b=[LAYER],
            data=data,
        )
    for (i, j), s in zip(pairs, done):
        for key, m in out.items():
            src, f = key.split(" ")
            m[i, j] = s.matrix(f, src)[0, 0]
    return {key: m.tolist() for key, m in out.items()}


def measure(rec: Recording, data: Any) -> dict[str, Any]:
    """Every number of the study from one recording of K seeds (step 0 and the end)."""
    u = match.universal(rec, layer=LAYER, quantile=QUANTILE)
    control = match.universal(rotated_layers(rec.activations(LAYER)[-1]), quantile=QUANTILE)
    c = match.consensus(rec, layer=LAYER, threshold=u.threshold)
    off = ~np.eye(rec.members, dtype=bool)
    assert c.untrained is not None and u.untrained is not None  # the fit records step 0
    return {
        "K": rec.members,
        "units": int(c.order.shape[1]),
        "training": training(rec),
        "stitching": stitching(rec, data),
        "cycle": c.cycle.tolist(),
        "cycle_untrained": c.untrained.tolist(),
        "chance": c.chance,
        "consensus_units": int(c.is_consensus.sum()),
        "consensus_threshold": u.threshold,
        "support_histogram": np.bincount(c.support, minlength=rec.members + 1).tolist(),
        "sweeps": c.sweeps,
        "universal": _universal_numbers(u),
        "universal_rotated": _universal_numbers(control),
        "cka": float(u.cka[off].mean()),
        "svcca": float(np.nanmean(u.svcca[off])),
        "cka_pairs": u.cka.tolist(),
        "svcca_pairs": u.svcca.tolist(),
    }


def _universal_numbers(u: match.Universality) -> dict[str, Any]:
    return {
        "partner": u.partner.tolist(),
        "active": u.active.tolist(),
        "threshold": u.threshold,
        "best": u.best.tolist(),
        "rotated": u.rotated.mean(axis=0).tolist(),
        "shuffled": u.shuffled.tolist(),
        "untrained": None if u.untrained is None else u.untrained.tolist(),
        "fraction": u.fraction().tolist(),
        "fraction_fixed": u.fraction("fixed").tolist(),
        "null_fractions": u.null_fractions(),
    }


# ---- intervals over seeds --------------------------------------------------------------------


def seed_interval(
    K: int, statistic: Callable[[np.ndarray], np.ndarray], *, minimum: int
) -> Interval:
    """Percentile bootstrap over seeds, all draws at once: each draw takes K seeds with
    replacement, and ``statistic`` maps the drawn seeds' membership (B, K) bool to (B,) values
    over the distinct seeds drawn. Draws with fewer than ``minimum`` distinct seeds (or a
    non-finite value) are dropped; the value is the statistic of all K seeds, and the interval
    is widened to contain it when the draws' percentiles do not (a skewed statistic)."""
    value = float(statistic(np.ones((1, K), dtype=bool))[0])
    draws = np.random.default_rng(0).integers(0, K, (N_BOOT, K))
    member = np.zeros((N_BOOT, K), dtype=bool)
    member[np.arange(N_BOOT)[:, None], draws] = True
    values = statistic(member)
    values = values[(member.sum(axis=1) >= minimum) & np.isfinite(values)]
    if values.size == 0:
        return Interval(value, -math.inf, math.inf, K, LEVEL, "bootstrap")
    lo, hi = np.quantile(values, [0.5 - LEVEL / 2, 0.5 + LEVEL / 2])
    return Interval(value, float(min(lo, value)), float(max(hi, value)), K, LEVEL, "bootstrap")


def cycle_mean(cycle: Any, member: np.ndarray) -> np.ndarray:
    """(B,) mean cycle consistency over the ordered triples of distinct seeds among each
    draw's seeds (``member`` (B, K) bool); NaN for a draw with fewer than three."""
    c = np.asarray(cycle, dtype=np.float64)  # (K, K, K), NaN unless distinct
    known = np.isfinite(c)
    m = member.astype(np.float64)
    inside = m[:, :, None, None] * m[:, None, :, None] * m[:, None, None, :]  # (B, K, K, K)
    weight = inside * known
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weight * np.where(known, c, 0.0)).sum(axis=(1, 2, 3)) / weight.sum(axis=(1, 2, 3))


def universal_share(numbers: Mapping[str, Any], member: np.ndarray) -> np.ndarray:
    """(B,) share of live units above the calibrated threshold among each draw's seeds
    (``member`` (B, K) bool), a unit's best partner taken among the other seeds drawn (as
    :func:`~unitscope.match._universal.best_partner` does); NaN for a draw of one seed."""
    partner = np.asarray(numbers["partner"], dtype=np.float64)  # (K, K, U), NaN diagonal
    active = np.asarray(numbers["active"], dtype=bool)  # (K, U)
    K = partner.shape[0]
    off = ~np.eye(K, dtype=bool)
    p = np.where(np.isfinite(partner) & off[:, :, None], partner, 0.0)
    m = member.astype(np.float64)
    others = m @ off.T  # (B, K): seeds drawn other than k
    with np.errstate(invalid="ignore", divide="ignore"):
        best = np.einsum("bl,kli->bki", m, p) / others[:, :, None]  # (B, K, U)
        hits = (best > float(numbers["threshold"])) & active
        per_seed = hits.sum(axis=2) / np.maximum(active.sum(axis=1), 1)  # (B, K)
        share = (per_seed * m).sum(axis=1) / m.sum(axis=1)
    return np.where(m.sum(axis=1) >= 2, share, np.nan)


def cycle_interval(cycle: Any) -> Interval:
    """Mean cycle consistency over the triples of distinct seeds, resampling seeds."""
    K = np.asarray(cycle).shape[0]
    return seed_interval(K, lambda member: cycle_mean(cycle, member), minimum=3)


def universal_interval(numbers: Mapping[str, Any]) -> Interval:
    """Share of live units above the (fixed) calibrated threshold, resampling seeds."""
    K = np.asarray(numbers["active"]).shape[0]
    return seed_interval(K, lambda member: universal_share(numbers, member), minimum=2)


def intervals(s: Mapping[str, Any]) -> dict[str, Interval]:
    """Every headline interval of the study, computed once."""
    st = s["stitching"]
    return {
        "permutation": pair_interval(st["trained permutation"]),
        "permutation untrained": pair_interval(st["untrained permutation"]),
        "direct": pair_interval(st["trained direct"]),
        "direct input": pair_interval(st["input direct"]),
        "cycle": cycle_interval(s["cycle"]),
        "cycle untrained": cycle_interval(s["cycle_untrained"]),
        "universal": universal_interval(s["universal"]),
        "universal rotated": universal_interval(s["universal_rotated"]),
    }


def premise(s: Mapping[str, Any], *, span: bool = False) -> Premise:
    """Every member trained and kept its units alive (and, for the shared-units claim, the
    seeds share the span: mean linear CKA at least ``SPAN``)."""
    acc = float(min(s["training"]["test_acc"]))
    live = float(min(s["training"]["live_share"]))
    holds = acc >= TRAINED and live >= LIVE
    numbers: dict[str, Any] = {
        "lowest_test_acc": acc,
        "test_acc_at_least": TRAINED,
        "lowest_live_share": live,
        "live_share_at_least": LIVE,
    }
    what = (
        f"every seed trained (test accuracy ≥ {TRAINED}) and ≥ {LIVE:.0%} of its units of "
        f"{LAYER} are alive"
    )
    if span:
        holds = holds and s["cka"] >= SPAN
        numbers.update({"mean_cka": s["cka"], "cka_at_least": SPAN})
        what += f", and the seeds share the span (mean linear CKA ≥ {SPAN})"
    return Premise(what, bool(holds), numbers)


# ---- findings ----------------------------------------------------------------------------------


def finding_stitch(s: Mapping[str, Any], iv: Mapping[str, Interval]) -> Finding:
    trained, untrained = iv["permutation"], iv["permutation untrained"]
    direct, raw = iv["direct"], iv["direct input"]
    measured = verdict_stitches(trained)
    said = worded(
        measured,
        supported="B keeps its accuracy with A's units in place of its own",
        refuted="B loses accuracy with A's units in place of its own",
        other="whether B can use A's units is not decided",
    )
    return Finding(
        NAME,
        "Network B can use network A's units: A's hidden units, put in the place of their "
        f"matched partners in B, keep B's test accuracy within {STITCHES:g} points.",
        measured,
        f"{said}: penalty {fmt_interval(trained)} points through the matched permutation "
        f"(A before training: {fmt_interval(untrained)}); through a least-squares map "
        f"{fmt_interval(direct)} points, but the raw input stitches at {fmt_interval(raw)} "
        "(a linear map tests the span, not the units); intervals resample seeds.",
        {
            "penalty_permutation": trained.value,
            "penalty_direct": direct.value,
            "penalty_input_direct": raw.value,
            "penalty_untrained_permutation": untrained.value,
        },
        {"stitches_below_points": STITCHES, "fit": "permutation"},
        ("correspondence-stitch", "correspondence-summary"),
        interval={"permutation penalty": trained, "direct penalty": direct},
        control=Control(
            "A before training (step 0) stitched into B through the matched permutation",
            verdict_stitches(untrained),
            {"penalty": untrained.to_dict()},
        ),
        premise=premise(s),
    )


def finding_consistent(s: Mapping[str, Any], iv: Mapping[str, Interval]) -> Finding:
    trained, untrained = iv["cycle"], iv["cycle untrained"]
    measured = verdict_consistent(trained)
    said = worded(
        measured,
        supported="the matches of the seeds agree with each other",
        refuted="for most units the matches of the seeds do not agree",
        other="whether the matches of the seeds agree is not decided",
    )
    return Finding(
        NAME,
        "The pairwise matches are consistent across seeds: for most units (more than "
        f"{CONSISTENT:.0%}) matching A→B and then B→C lands on the unit that A→C gives.",
        measured,
        f"{said}: cycle consistency {fmt_interval(trained)} over {s['K']} seeds (the same "
        f"seeds before training {fmt_interval(untrained)}; chance {fmt(s['chance'])}); "
        f"{s['consensus_units']} of {s['units']} positions of the joint alignment hold one "
        f"unit in at least half of the seeds (correlation above {fmt(s['consensus_threshold'])}, "
        "the rotated null's 99th percentile).",
        {
            "cycle_consistency": trained.value,
            "untrained": untrained.value,
            "chance": s["chance"],
            "consensus_units": s["consensus_units"],
        },
        {"consistent_above": CONSISTENT},
        ("correspondence-cycle", "correspondence-summary"),
        interval={"cycle consistency": trained},
        control=Control(
            "the same seeds before training (step 0), matched the same way",
            verdict_consistent(untrained),
            {"cycle_consistency": untrained.to_dict(), "chance": s["chance"]},
        ),
        premise=premise(s),
    )


def finding_shared(s: Mapping[str, Any], iv: Mapping[str, Interval]) -> Finding:
    u = s["universal"]
    trained, control = iv["universal"], iv["universal rotated"]
    measured = verdict_shared(trained)
    said = worded(
        measured,
        supported="most units have a partner that a rotated basis would not give",
        refuted="the seeds share the span more than the units",
        other="whether the units or only their span are shared is not decided",
    )
    return Finding(
        NAME,
        "The units themselves, not just the subspace they span, are shared: most live units "
        f"(more than {SHARED:.0%}) correlate with a partner in the other seeds above what "
        "randomly rotated partner layers give (their 99th percentile).",
        measured,
        f"{said}: universal share {fmt_interval(trained)} (threshold {fmt(u['threshold'])}; "
        f"the layers rotated: {fmt_interval(control)}; Gurnee et al.'s excess > 0.5: "
        f"{fmt(float(np.mean(u['fraction_fixed'])))}); the span: linear CKA {fmt(s['cka'])}, "
        f"SVCCA {fmt(s['svcca'])}.",
        {
            "universal_share": trained.value,
            "rotated_control_share": control.value,
            "threshold": u["threshold"],
            "gurnee_share": float(np.mean(u["fraction_fixed"])),
            "null_shares": u["null_fractions"],
            "cka": s["cka"],
            "svcca": s["svcca"],
        },
        {"shared_above": SHARED, "threshold_quantile_of_rotated_null": QUANTILE},
        ("correspondence-universal", "correspondence-summary"),
        interval={"universal share": trained},
        control=Control(
            "the trained layers randomly rotated: the same span, no privileged basis",
            verdict_shared(control),
            {"universal_share": control.to_dict()},
        ),
        premise=premise(s, span=True),
    )


# ---- figures ------------------------------------------------------------------------------------


def _triples(cycle: Any) -> np.ndarray:
    c = np.asarray(cycle, dtype=np.float64)
    return np.array([c[a, b, d] for a, b, d in combinations(range(c.shape[0]), 3)])


def _live(values: Any, active: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)[active]


def figures(
    s: Mapping[str, Any], iv: Mapping[str, Interval], verdicts: Mapping[str, Verdict]
) -> list[FigureSpec]:
    u = s["universal"]
    active = np.asarray(u["active"], dtype=bool)
    st = s["stitching"]
    return [
        FigureSpec(
            "correspondence-cycle",
            "histogram",
            f"Cycle consistency of every triple of the {s['K']} seeds: the share of units for "
            "which matching A→B then B→C lands where A→C does, after training and for the "
            "same seeds at step 0; chance is 1/width.",
            {
                "samples": {
                    "trained": _triples(s["cycle"]),
                    "untrained": _triples(s["cycle_untrained"]),
                },
                "markers": {"chance": s["chance"], "consistent": CONSISTENT},
                "value_range": (0.0, 1.0),
                "bins": 20,
                "x_label": "cycle consistency",
                "y_label": "triples of seeds",
            },
            worded(
                verdicts["consistent"],
                supported="The seeds' matches agree with each other",
                refuted="The seeds' matches mostly do not agree",
                other="Cycle consistency against chance and untrained",
            ),
        ),
        FigureSpec(
            "correspondence-universal",
            "histogram",
            "Best-partner correlation of every live unit (mean over the other seeds of its "
            "best correlation), against partners whose layer was randomly rotated (same "
            "subspace), partners with shuffled probe rows, and the untrained networks. Units "
            "right of the threshold (the rotated null's 99th percentile) are universal.",
            {
                "samples": {
                    "trained": _live(u["best"], active),
                    "rotated partners": _live(u["rotated"], active),
                    "shuffled rows": _live(u["shuffled"], active),
                    "untrained": np.ravel(np.asarray(u["untrained"], dtype=np.float64)),
                },
                "markers": {"threshold": u["threshold"]},
                "x_label": "best-partner correlation",
                "y_label": "share of each sample",
                "density": True,
            },
            worded(
                verdicts["shared"],
                supported="Most units are shared beyond their span",
                refuted="The span is shared more than the units",
                other="Universal units against their nulls",
            ),
        ),
        FigureSpec(
            "correspondence-stitch",
            "heatmap",
            f"Accuracy points B loses when seed i's units of {LAYER} replace seed j's through "
            "the matched permutation (row i, column j), trained and before training.",
            {
                "values": np.stack(
                    [np.asarray(st["trained permutation"]), np.asarray(st["untrained permutation"])]
                ),
                "cmap": "sequential",
                "vmin": 0.0,
                "panel_titles": ["trained A", "A before training"],
                "x_label": "seed j (B)",
                "y_label": "seed i (A)",
            },
            "Stitching penalty through the matched permutation",
        ),
        summary_table(s, iv),
    ]


def summary_table(s: Mapping[str, Any], iv: Mapping[str, Interval]) -> FigureSpec:
    u, rot = s["universal"], s["universal_rotated"]
    rows = [
        [
            "stitching penalty, permutation (points)",
            fmt_interval(iv["permutation"]),
            "before training " + fmt_interval(iv["permutation untrained"]),
        ],
        [
            "stitching penalty, least squares (points)",
            fmt_interval(iv["direct"]),
            "raw input " + fmt_interval(iv["direct input"]),
        ],
        [
            "cycle consistency",
            fmt_interval(iv["cycle"]),
            f"before training {fmt_interval(iv['cycle untrained'])}; chance {fmt(s['chance'])}",
        ],
        [
            "universal share (calibrated)",
            fmt_interval(iv["universal"]),
            "rotated layers " + fmt_interval(iv["universal rotated"]),
        ],
        [
            "universal share (excess > 0.5)",
            fmt(float(np.mean(u["fraction_fixed"]))),
            "rotated layers " + fmt(float(np.mean(rot["fraction_fixed"]))),
        ],
        ["linear CKA / SVCCA (span)", f"{fmt(s['cka'])} / {fmt(s['svcca'])}", ""],
    ]
    return FigureSpec(
        "correspondence-summary",
        "table",
        f"{s['K']} seeds of one digits MLP: means with 95% intervals that resample seeds, each "
        "next to the control in which the claim should fail.",
        {"columns": ["quantity", "seeds", "control"], "rows": rows},
        "Correspondence against its controls",
    )


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    numbers: dict[str, Any] = {}
    with part(result, "seeds", progress):
        cfg = base_config(scale)
        rec = fit(cfg)
        numbers = measure(rec, recording_data(rec))
    result.numbers = {"layer": LAYER, **numbers}
    if numbers:
        with part(result, "findings", progress):
            iv = intervals(numbers)
            stitch = finding_stitch(numbers, iv)
            consistent = finding_consistent(numbers, iv)
            shared = finding_shared(numbers, iv)
            result.findings = [stitch, consistent, shared]
            verdicts = {"consistent": consistent.verdict, "shared": shared.verdict}
            result.figures = figures(numbers, iv, verdicts)
    result.elapsed_s = time.perf_counter() - start
    return result
