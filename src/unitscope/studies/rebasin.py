"""Study ``rebasin``: the same units in another order — does it hold better as layers widen?

Two runs of one architecture from different seeds are, by the permutation conjecture
(Entezari et al. 2022; Ainsworth et al. 2023), the same network up to a reordering of the
units of each layer, once the layers are wide enough. For MLPs on digits of several widths and
depths, K seeds train in one batched fit; for every pair of seeds we measure the test-loss
barrier on the straight line between them before matching, after weight matching, and after
weight matching with REPAIR, and the matched unit correlation. A random permutation in place
of the matched one is the control: it removes no barrier at any width.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .. import match
from ..record import Recording
from ..train import Config, fit, prepare_data
from ._common import ProgressFn, Scale, config, part, pick
from ._finding import Control, FigureSpec, Finding, Interval, Premise, StudyResult, Verdict
from ._stats import LEVEL, N_BOOT, fmt_interval, pair_interval, pair_matrix, worded
from ._stats import interval_verdict as decide

NAME = "rebasin"
TITLE = "Re-basin against width: the same units in another order, once layers are wide"
QUESTION = (
    "Do two trainings learn the same units in another order? If so, matching the units of two "
    "seeds should remove the loss barrier between them, and more so as the layers widen."
)

# Linearly connected after matching: test-loss barrier under this.
CONNECTED = 0.05
# Trained: every member's test accuracy at least this (chance is 0.1; width 8 reaches ~0.82).
TRAINED = 0.8
# A barrier worth removing: the unmatched barrier at least this (else the share is noise).
SOME_BARRIER = 0.01
N_POINTS = 9


def verdict_connected(barrier: Interval) -> Verdict:
    """Supported when the matched barrier's interval lies under ``CONNECTED``."""
    return decide(barrier, CONNECTED, greater=False)


def verdict_grows(slope: Interval) -> Verdict:
    """Supported when the interval of the slope (share removed per doubling of width) lies
    above 0."""
    return decide(slope, 0.0)


# ---- runs ------------------------------------------------------------------------------------


def _base(scale: Scale) -> Config:
    steps = pick(scale, 200, 800, 2000)
    return config(
        data={
            "name": "digits",
            "options": {"flatten": True, "n_samples": pick(scale, 500, 1797, 1797)},
            "n_probe": 256,
        },
        optim={"name": "adam", "lr": 3e-3},
        train={"steps": steps, "batch_size": 64, "checkpoints": [0, steps]},
        seeds={"init": list(range(pick(scale, 3, 4, 8)))},
    )


def conditions(scale: Scale) -> list[tuple[int, int]]:
    """(width, depth): widths at depth 1, then depths at the middle width."""
    widths = pick(scale, [8, 32], [8, 32, 128], [8, 32, 128, 512])
    depths = pick(scale, [1], [1, 2], [1, 2, 3])
    middle = widths[len(widths) // 2]
    return [(w, 1) for w in widths] + [(middle, d) for d in depths if d > 1]


def measure(rec: Recording, test: Any, seed: int = 0) -> dict[str, Any]:
    """Barriers before and after matching (and with REPAIR), a random-permutation control and
    the matched correlation, for every pair of members."""
    data = {"test": (test.x, test.y)}
    c = match.pairs(rec, method="weights", repair=True, n_points=N_POINTS, data=data, null="none")
    assert c.naive is not None and c.aligned is not None and c.repaired is not None
    K = rec.members
    model_a = rec.model(-1, members=[i for i, _ in c.pairs])
    model_b = rec.model(-1, members=[j for _, j in c.pairs])
    shuffled = match.permute(model_b, match.random_perms(model_b, seed=seed))
    control = match.interpolate(model_a, shuffled, data, n_points=N_POINTS).barrier("test")
    naive, aligned = c.naive.barrier("test"), c.aligned.barrier("test")
    corr = np.mean([m.mean for m in c.units.values()], axis=0)  # (P,) over layers
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(naive > 0, 1 - aligned / naive, np.nan)
        share_random = np.where(naive > 0, 1 - control / naive, np.nan)
    return {
        "naive": pair_matrix(K, c.pairs, naive),
        "aligned": pair_matrix(K, c.pairs, aligned),
        "repaired": pair_matrix(K, c.pairs, c.repaired.barrier("test")),
        "random": pair_matrix(K, c.pairs, control),
        "share": pair_matrix(K, c.pairs, share),
        "share_random": pair_matrix(K, c.pairs, share_random),
        "matched_corr": pair_matrix(K, c.pairs, corr),
        "test_acc": rec.curves["test_acc"][:, -1].tolist(),
    }


def run_grid(
    scale: Scale, result: StudyResult, progress: ProgressFn | None
) -> dict[str, dict[str, Any]]:
    base = _base(scale)
    _, test, _ = prepare_data(base)
    rows: dict[str, dict[str, Any]] = {}
    for width, depth in conditions(scale):
        key = f"width {width} depth {depth}"
        with part(result, key, progress):
            rec = fit(base.override({"model.hidden": [width] * depth}))
            rows[key] = {"width": width, "depth": depth} | measure(rec, test)
    return rows


# ---- numbers ---------------------------------------------------------------------------------


def _pair_mean(m: np.ndarray, idx: np.ndarray) -> float:
    sub = m[np.ix_(idx, idx)]
    keep = (idx[:, None] != idx[None, :]) & np.isfinite(sub)
    return float(sub[keep].mean()) if keep.any() else np.nan


def slope_interval(
    matrices: list[np.ndarray], widths: list[int], *, level: float = LEVEL, seed: int = 0
) -> Interval:
    """Least-squares slope of a pairwise statistic against log2(width), with an interval
    that resamples seeds (the same seed indices at every width)."""
    x = np.log2(np.asarray(widths, dtype=np.float64))
    K = matrices[0].shape[0]

    def slope(idx: np.ndarray) -> float:
        y = np.array([_pair_mean(m, idx) for m in matrices])
        ok = np.isfinite(y)
        return float(np.polyfit(x[ok], y[ok], 1)[0]) if ok.sum() >= 2 else np.nan

    value = slope(np.arange(K))
    rng = np.random.default_rng(seed)
    draws = np.array([slope(np.asarray(rng.integers(0, K, K))) for _ in range(N_BOOT // 4)])
    draws = draws[np.isfinite(draws)]
    if K < 3 or draws.size == 0:
        return Interval(value, -np.inf, np.inf, K, level, "bootstrap")
    lo, hi = np.quantile(draws, [0.5 - level / 2, 0.5 + level / 2])
    return Interval(value, float(lo), float(hi), K, level, "bootstrap")


def _trained(rows: dict[str, dict[str, Any]]) -> Premise:
    worst = float(min(min(r["test_acc"]) for r in rows.values()))
    return Premise(
        f"every network trained: test accuracy at least {TRAINED:g}",
        worst >= TRAINED,
        {"worst_test_acc": worst, "limit": TRAINED},
    )


def _depth_one(rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((r for r in rows.values() if r["depth"] == 1), key=lambda r: r["width"])


def finding_connected(rows: dict[str, dict[str, Any]]) -> Finding:
    widest = _depth_one(rows)[-1]
    iv = pair_interval(widest["aligned"])
    control = pair_interval(widest["random"])
    return Finding(
        NAME,
        f"At width {widest['width']}, two seeds are one network up to a reordering of units: "
        "after weight matching no test-loss barrier is left between them.",
        verdict_connected(iv),
        f"test-loss barrier at width {widest['width']}: {fmt_interval(iv)} after weight "
        f"matching, {fmt_interval(pair_interval(widest['naive']))} before, "
        f"{fmt_interval(control)} after a random permutation (limit {CONNECTED}).",
        {"aligned": widest["aligned"], "naive": widest["naive"]},
        {"connected_below": CONNECTED},
        ("rebasin-barrier",),
        interval={"aligned barrier": iv},
        control=Control(
            "a random permutation instead of the matched one",
            verdict_connected(control),
            {"barrier": control.to_dict()},
        ),
        premise=_trained(rows),
    )


def finding_grows(rows: dict[str, dict[str, Any]]) -> Finding:
    line = _depth_one(rows)
    widths = [r["width"] for r in line]
    iv = slope_interval([np.asarray(r["share"]) for r in line], widths)
    control = slope_interval([np.asarray(r["share_random"]) for r in line], widths)
    naive = {r["width"]: pair_interval(r["naive"]) for r in line}
    shares = {r["width"]: pair_interval(r["share"]) for r in line}
    premise_ok = all(v.value >= SOME_BARRIER for v in naive.values())
    trained = _trained(rows)
    return Finding(
        NAME,
        "Matching removes a larger share of the barrier the wider the layers (the permutation "
        "conjecture's trend).",
        verdict_grows(iv),
        "share of the test-loss barrier removed by weight matching: "
        + "; ".join(f"width {w}: {fmt_interval(s)}" for w, s in shares.items())
        + f"; slope per doubling of width {fmt_interval(iv)}, against {fmt_interval(control)} "
        "for a random permutation.",
        {"share": {w: s.to_dict() for w, s in shares.items()}},
        {"slope_above": 0.0},
        ("rebasin-share",),
        interval={"slope per doubling": iv},
        control=Control(
            "a random permutation instead of the matched one",
            verdict_grows(control),
            {"slope": control.to_dict()},
        ),
        premise=Premise(
            f"every network trained and there is a barrier to remove (unmatched barrier at "
            f"least {SOME_BARRIER} at every width)",
            trained.holds and premise_ok,
            {**trained.numbers, "naive_barrier": {w: v.value for w, v in naive.items()}},
        ),
    )


# ---- figures ---------------------------------------------------------------------------------


def _pairs(m: list[list[float]]) -> np.ndarray:
    a = np.asarray(m)
    return a[np.triu_indices(len(a), 1)]


def figures(rows: dict[str, dict[str, Any]], connected: Verdict) -> list[FigureSpec]:
    line = _depth_one(rows)
    x = np.array([r["width"] for r in line], dtype=np.float64)
    series = {
        name: np.array([_pairs(r[key]) for r in line]).T
        for name, key in (
            ("before matching", "naive"),
            ("weight matching", "aligned"),
            ("weight matching + REPAIR", "repaired"),
            ("random permutation", "random"),
        )
    }
    figs = [
        FigureSpec(
            "rebasin-barrier",
            "lines",
            "Test-loss barrier on the straight line between two seeds against the width of the "
            "hidden layer (one layer), before and after matching their units; one thin line per "
            "pair of seeds.",
            {
                "x": x,
                "series": series,
                "x_label": "width",
                "x_scale": "log1p",
                "y_label": "test-loss barrier",
                "baselines": {"connected": CONNECTED},
            },
            worded(
                connected,
                supported="Wide enough, matched seeds are one network",
                refuted="A barrier remains after matching, even at the largest width",
                other="Barrier before and after matching, against width",
            ),
        ),
        FigureSpec(
            "rebasin-share",
            "lines",
            "Share of the barrier removed (1 − after / before) by weight matching and by a "
            "random permutation, against width.",
            {
                "x": x,
                "series": {
                    "weight matching": np.array([_pairs(r["share"]) for r in line]).T,
                    "random permutation": np.array([_pairs(r["share_random"]) for r in line]).T,
                },
                "x_label": "width",
                "x_scale": "log1p",
                "y_label": "share of the barrier removed",
            },
            "Share of the barrier that matching removes",
        ),
    ]
    deep = sorted((r for r in rows.values() if r["width"] == line[len(line) // 2]["width"]),
                  key=lambda r: r["depth"])  # fmt: skip
    if len(deep) > 1:
        figs.append(
            FigureSpec(
                "rebasin-depth",
                "table",
                f"Width {deep[0]['width']}, 1 to {deep[-1]['depth']} hidden layers: barriers "
                "(mean over pairs of seeds) and the matched unit correlation (mean over layers).",
                {
                    "columns": ["depth", "before", "matched", "matched + REPAIR", "corr"],
                    "rows": [
                        [r["depth"]]
                        + [
                            float(np.nanmean(_pairs(r[k])))
                            for k in ("naive", "aligned", "repaired", "matched_corr")
                        ]
                        for r in deep
                    ],
                },
                "Barrier and matched correlation against depth",
            )
        )
    return figs


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    rows = run_grid(scale, result, progress)
    result.numbers = {"conditions": rows}
    with part(result, "findings", progress):
        connected = finding_connected(rows)
        result.findings = [connected, finding_grows(rows)]
        result.figures = figures(rows, connected.verdict)
    result.elapsed_s = time.perf_counter() - start
    return result
