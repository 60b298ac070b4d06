"""Study ``regularization``: L1 pins weights near zero; what do L1, L2 and dropout do to units?

The answer's footnote: "strong L1 penalties could cause a number of weights to be pinned very
near to 0". An L1 sweep on an MLP trained on digits measures the fraction of weights pinned
near zero — ``|w| < PINNED_BELOW × RMS`` of that layer's weights at init, per member — and the
dead units, against the penalty's strength. Then L2 and dropout. For every setting, the
diversity measures of the hidden layer (mean |corr| between units, effective rank,
participation ratio, distinct and dead units; see :mod:`.diversity`) are compared with the
unregularized run of the same seeds at the end of training: does the regularizer make units
more alike (mean |corr| up and effective rank down, both per-seed changes with a 95% CI that
excludes 0) or more different?
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..record import Recording
from ..train import Config, fit
from ._common import ProgressFn, Scale, config, fmt, mean_ci, no_progress, part, pick
from ._finding import FigureSpec, Finding, StudyResult
from .diversity import (
    ALIKE,
    CI_LEVEL,
    DIFFERENT,
    MEASURES,
    REFUTE_SHARE,
    change,
    direction,
    diversity_measures,
    layer_units,
    verdict_alike,
)

NAME = "regularization"
TITLE = "Regularization: L1 pins weights near zero; L2 and dropout change how alike units are"
QUESTION = (
    "The answer's footnote: strong L1 penalties pin many weights very near 0. Does it, "
    "and do L1, L2 or dropout make the units of a layer more alike?"
)

PINNED_BELOW = 0.05  # a weight is pinned when |w| < this fraction of its layer's init RMS
PINNED_MANY = 0.5  # "many" weights: at least this fraction of all weights
PINNED_GAIN = 0.05  # L1 must pin at least this much more than no L1 to be the cause
# "Strong" L1 is the strongest in the sweep that still learns: test accuracy at least this
# fraction of the unregularized run's (a penalty that zeroes the whole network pins every
# weight trivially).
STILL_LEARNS = 0.9
LAYER = "hidden.0"
BASE = "no regularization"  # the run every setting is compared with (same seeds)


# ---- measures ------------------------------------------------------------------------------
def weight_names(rec: Recording) -> list[str]:
    return [n for n in rec.params if n.endswith(".weight")]


def pinned_fraction(rec: Recording) -> np.ndarray:
    """(T, K) fraction of all weights (not biases) with ``|w| < PINNED_BELOW × RMS_init``,
    the RMS taken per layer and member at the first checkpoint."""
    pinned, total = 0.0, 0
    for name in weight_names(rec):
        w = rec.params[name].reshape(*rec.params[name].shape[:2], -1).astype(np.float64)
        rms = np.sqrt((w[0] ** 2).mean(axis=-1))  # (K,)
        pinned = pinned + (np.abs(w) < PINNED_BELOW * rms[None, :, None]).sum(axis=-1)
        total += w.shape[-1]
    return np.asarray(pinned, dtype=np.float64) / total


def final_accuracy(rec: Recording) -> np.ndarray:
    """(K,) test accuracy at the end (NaN for regression)."""
    if "test_acc" not in rec.curves:
        return np.full(rec.members, np.nan)
    return rec.curves["test_acc"][:, -1]


def strong_l1(accuracy: dict[str, float], baseline: float) -> str:
    """The strongest L1 setting (``accuracy`` in increasing strength) whose accuracy is at
    least ``STILL_LEARNS`` x ``baseline``; the strongest of all when none is (or no accuracy)."""
    names = list(accuracy)
    learning = [
        k
        for k in names
        if not np.isfinite(baseline)
        or not np.isfinite(accuracy[k])
        or accuracy[k] >= STILL_LEARNS * baseline
    ]
    return learning[-1] if learning else names[-1]


# ---- verdicts ------------------------------------------------------------------------------
def verdict_l1_pins(pinned_strongest: float, pinned_none: float) -> str:
    """Strong L1 pins many weights near zero.

    Supported when the strongest L1 leaves at least :data:`PINNED_MANY` of the weights pinned
    and at least :data:`PINNED_GAIN` more than training without L1; refuted when L1 pins less
    than :data:`PINNED_GAIN` more than no L1; mixed otherwise (L1 pins more, but not many).
    """
    if not (np.isfinite(pinned_strongest) and np.isfinite(pinned_none)):
        return "inconclusive"
    gain = pinned_strongest - pinned_none
    if gain < PINNED_GAIN:
        return "refuted"
    return "supported" if pinned_strongest >= PINNED_MANY else "mixed"


# ---- runs ----------------------------------------------------------------------------------
def settings(scale: Scale) -> dict[str, dict[str, dict[str, Any]]]:
    """Regularizer -> setting name -> config overrides."""
    l1 = pick(
        scale, [3e-2], [1e-4, 1e-3, 3e-3, 1e-2, 3e-2], [1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
    )
    l2 = pick(scale, [1e-2], [1e-3, 1e-2], [1e-4, 1e-3, 1e-2, 3e-2])
    drop = pick(scale, [0.3], [0.2, 0.5], [0.1, 0.2, 0.3, 0.5])
    return {
        "L1": {f"L1 {v:g}": {"optim.l1": v} for v in l1},
        "L2": {f"L2 {v:g}": {"optim.l2": v} for v in l2},
        "dropout": {f"dropout {v:g}": {"model.dropout": v} for v in drop},
    }


def base_config(scale: Scale) -> Config:
    steps = pick(scale, 40, 300, 2000)
    return config(
        data={
            "name": "digits",
            "options": {"n_samples": pick(scale, 300, 600, 1797)},
            "n_probe": 128,
        },
        model={"hidden": [pick(scale, 16, 32, 64)]},
        optim={"lr": 0.2},
        train={
            "steps": steps,
            "n_checkpoints": pick(scale, 5, 10, 16),
            "eval_every": max(1, steps // 10),
        },
        seeds={"init": list(range(pick(scale, 3, 4, 8)))},
    )


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    say = progress or no_progress
    result = StudyResult(NAME, TITLE, QUESTION)
    base = base_config(scale)
    runs: dict[str, dict[str, Any]] = {}
    groups: dict[str, dict[str, dict[str, Any]]] = {"none": {BASE: {}}, **settings(scale)}
    steps_axis = np.zeros(0)
    for group, named in groups.items():
        for setting, change_cfg in named.items():
            say(f"{NAME}: {setting}")
            with part(result, setting):
                rec = fit(base.override(change_cfg))
                steps_axis = rec.steps
                runs[setting] = {"group": group, **measure(rec)}
    if BASE not in runs:
        result.failures.append(f"{BASE}: the baseline failed; nothing to compare with.")
        result.elapsed_s = time.perf_counter() - start
        return result
    compare_with_baseline(runs)
    result.numbers = {
        "settings": {k: numbers_of(v) for k, v in runs.items()},
        "pinned_below_x_init_rms": PINNED_BELOW,
        "steps": base.train.steps,
        "seeds": base.seeds.members,
    }
    result.figures += [table_figure(runs), *sweep_figures(runs, steps_axis)]
    result.findings += alike_findings(runs)
    if len(l1_strengths(runs)) > 1:
        acc = accuracies(runs)
        strong = strong_l1({k: v for k, v in acc.items() if k != BASE}, acc[BASE])
        result.figures += weight_figures(runs, strong)
        result.findings.insert(0, l1_finding(runs, strong))
    result.elapsed_s = time.perf_counter() - start
    return result


def measure(rec: Recording) -> dict[str, Any]:
    """Pinned weights over training, diversity measures at the end, accuracy, filters."""
    units = layer_units(rec, LAYER)[-1:]  # (1, K, n, U)
    m = {k: v[0] for k, v in diversity_measures(units).items()}  # each (K,)
    return {
        "pinned": pinned_fraction(rec),  # (T, K)
        "measures": m,
        "dead_fraction": m["dead_units"] / units.shape[-1],
        "accuracy": final_accuracy(rec),
        "weights": rec.weights(LAYER)[-1, 0],  # (U, fan_in) member 0
        "init_weights": rec.weights(LAYER)[0, 0],
    }


def compare_with_baseline(runs: dict[str, dict[str, Any]]) -> None:
    """Per setting: change of each diversity measure from the baseline (paired by seed)."""
    ref = runs[BASE]["measures"]
    for r in runs.values():
        r["change"] = {k: change(ref[k], r["measures"][k]) for k in MEASURES}
        r["direction"] = direction(r["change"]["mean_abs_corr"], r["change"]["effective_rank"])


def numbers_of(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "group": r["group"],
        "pinned_end": mean_ci(r["pinned"][-1], CI_LEVEL),
        "pinned_init": mean_ci(r["pinned"][0], CI_LEVEL),
        "dead_fraction": mean_ci(r["dead_fraction"], CI_LEVEL),
        "accuracy": mean_ci(r["accuracy"], CI_LEVEL),
        "end": {k: mean_ci(v, CI_LEVEL) for k, v in r["measures"].items()},
        "change_vs_none": r["change"],
        "direction": r["direction"],
    }


# ---- figures and findings ------------------------------------------------------------------
def l1_strengths(runs: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Setting -> L1 strength, the baseline as 0, in increasing order."""
    out = {BASE: 0.0}
    out.update({k: float(k.split()[1]) for k, r in runs.items() if r["group"] == "L1"})
    return dict(sorted(out.items(), key=lambda kv: kv[1]))


def accuracies(runs: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Mean test accuracy of every L1 setting (increasing strength) and of the baseline."""
    return {k: float(np.mean(runs[k]["accuracy"])) for k in l1_strengths(runs)}


def table_figure(runs: dict[str, dict[str, Any]]) -> FigureSpec:
    def cell(v: np.ndarray) -> str:
        return fmt(float(np.nanmean(v))) if np.isfinite(v).any() else "nan"

    rows = [
        [
            k,
            r["group"],
            f"{np.mean(r['pinned'][-1]):.1%}",
            f"{np.mean(r['dead_fraction']):.1%}",
            cell(r["accuracy"]),
            *(cell(r["measures"][m]) for m in MEASURES),
            r["direction"] if k != BASE else "—",
        ]
        for k, r in runs.items()
    ]
    return FigureSpec(
        "regularization-table",
        "table",
        f"End of training, mean over seeds. Pinned: |w| < {PINNED_BELOW} × the layer's RMS at "
        f"init, over all weights. Diversity measures of {LAYER}; the last column compares each "
        "setting with the unregularized run of the same seeds ('more alike' = mean |corr| up "
        f"and effective rank down, both {CI_LEVEL:.0%} CIs excluding 0).",
        {
            "columns": [
                "setting",
                "kind",
                "weights pinned",
                "dead units",
                "test accuracy",
                "mean |corr|",
                "effective rank",
                "participation ratio",
                "distinct units",
                "dead units (count)",
                "units vs none",
            ],
            "rows": rows,
        },
        "Every setting at the end of training",
    )


def sweep_figures(runs: dict[str, dict[str, Any]], steps: np.ndarray) -> list[FigureSpec]:
    """Pinned weights and dead units against the L1 strength, and pinning over training."""
    l1 = l1_strengths(runs)
    positive = [k for k, v in l1.items() if v > 0]
    if not positive:
        return []
    base = runs[BASE]
    return [
        FigureSpec(
            "regularization-l1-sweep",
            "lines",
            f"Fraction of weights pinned near zero (|w| < {PINNED_BELOW} × init RMS) and fraction "
            "of dead hidden units against the L1 strength (log10); thin lines are seeds. "
            "Baselines: the same fractions without L1.",
            {
                "x": np.log10([l1[k] for k in positive]),
                "series": {
                    "weights pinned": np.stack([runs[k]["pinned"][-1] for k in positive], 1),
                    "dead units": np.stack([runs[k]["dead_fraction"] for k in positive], 1),
                },
                "baselines": {
                    "pinned, no L1": float(np.mean(base["pinned"][-1])),
                    "dead, no L1": float(np.mean(base["dead_fraction"])),
                },
                "x_label": "log10 L1 strength",
                "y_label": "fraction",
            },
            "L1 sweep: pinned weights and dead units",
        ),
        FigureSpec(
            "regularization-pinned-over-training",
            "lines",
            "Fraction of weights pinned near zero over training for each L1 strength.",
            {
                "x": steps,
                "series": {k: runs[k]["pinned"].T for k in l1},
                "x_scale": "log1p",
                "y_label": "fraction pinned",
                "x_label": "step",
            },
            "Pinning over training",
        ),
    ]


def weight_figures(runs: dict[str, dict[str, Any]], strong: str) -> list[FigureSpec]:
    """Weight magnitudes, and the units' weights as images when the inputs are images."""
    w_none, w_l1 = runs[BASE]["weights"], runs[strong]["weights"]  # (U, fan_in) seed 0
    rms = float(np.sqrt((runs[BASE]["init_weights"] ** 2).mean()))
    tiny = 1e-8  # |w| below this is drawn at log10 = -8
    figs = [
        FigureSpec(
            "regularization-weight-histogram",
            "histogram",
            f"log10 |w| of the {LAYER} weights (seed 0) without L1 and with {strong}; the marker "
            f"is the pinned threshold ({PINNED_BELOW} × init RMS).",
            {
                "samples": {
                    "no L1": np.log10(np.maximum(np.abs(w_none), tiny)),
                    strong: np.log10(np.maximum(np.abs(w_l1), tiny)),
                },
                "markers": {"pinned below": float(np.log10(PINNED_BELOW * rms))},
                "x_label": "log10 |w|",
            },
            "Weight magnitudes",
        )
    ]
    side = int(round(np.sqrt(w_none.shape[1])))
    if side * side == w_none.shape[1]:  # image inputs: each unit's weights as an image
        n = min(16, w_none.shape[0])
        figs.append(
            FigureSpec(
                "regularization-filters",
                "image_grid",
                f"Incoming weights of the first {n} units of {LAYER} (seed 0) as images: top row "
                f"without L1, bottom row with {strong}. White = 0.",
                {
                    "images": np.concatenate([w_none[:n], w_l1[:n]]).reshape(2 * n, side, side),
                    "cmap": "diverging",
                    "scale": "each",
                    "cols": n,
                    "row_labels": ["no L1", strong],
                },
                "What L1 leaves of the units' weights",
            )
        )
    return figs


def l1_finding(runs: dict[str, dict[str, Any]], strong: str) -> Finding:
    acc = accuracies(runs)
    strongest = list(acc)[-1]
    p_strong = float(np.mean(runs[strong]["pinned"][-1]))
    p_none = float(np.mean(runs[BASE]["pinned"][-1]))
    return Finding(
        NAME,
        "Strong L1 penalties pin many weights very near 0 (the answer's footnote).",
        verdict_l1_pins(p_strong, p_none),  # type: ignore[arg-type]
        f"with {strong} (the strongest L1 that still learns) {p_strong:.1%} of the weights end "
        f"below {PINNED_BELOW} × their layer's init RMS, against {p_none:.1%} without L1; dead "
        f"units {np.mean(runs[strong]['dead_fraction']):.0%} vs "
        f"{np.mean(runs[BASE]['dead_fraction']):.0%}; test accuracy {fmt(acc[strong])} vs "
        f"{fmt(acc[BASE])}; the strongest L1 ({strongest}) pins "
        f"{np.mean(runs[strongest]['pinned'][-1]):.1%} at accuracy {fmt(acc[strongest])}.",
        {"pinned_strongest": p_strong, "pinned_none": p_none, "setting": strong, "accuracy": acc},
        {
            "pinned_below_x_init_rms": PINNED_BELOW,
            "pinned_many": PINNED_MANY,
            "pinned_gain": PINNED_GAIN,
            "still_learns": STILL_LEARNS,
        },
        ("regularization-l1-sweep", "regularization-weight-histogram", "regularization-table"),
    )


def alike_findings(runs: dict[str, dict[str, Any]]) -> list[Finding]:
    out = []
    for group in ("L1", "L2", "dropout"):
        named = {k: r for k, r in runs.items() if r["group"] == group}
        if not named:
            continue
        corr = {k: r["change"]["mean_abs_corr"] for k, r in named.items()}
        rank = {k: r["change"]["effective_rank"] for k, r in named.items()}
        labels = {k: r["direction"] for k, r in named.items()}
        out.append(
            Finding(
                NAME,
                f"{group} makes the units of a layer more alike than training without it.",
                verdict_alike(corr, rank),  # type: ignore[arg-type]
                "; ".join(
                    f"{k}: {labels[k]} (Δ mean |corr| {fmt(corr[k]['mean'])}, Δ eff. rank "
                    f"{fmt(rank[k]['mean'])})"
                    for k in named
                )
                + ".",
                {"corr_change": corr, "rank_change": rank, "direction": labels},
                {
                    "ci_level": CI_LEVEL,
                    "ci_excludes": 0.0,
                    "refute_share": REFUTE_SHARE,
                    "alike": ALIKE,
                    "different": DIFFERENT,
                },
                ("regularization-table",),
            )
        )
    return out
