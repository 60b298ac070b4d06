"""Study ``diversity``: does training make the units of a layer more alike or more different?

The asker's intuition: training should make the outputs of the units *more similar*. From a
random start, this study tracks how alike the units of a layer are over training — mean
|correlation| between units, effective rank and participation ratio of the layer's
activations, distinct units and dead units — for several widths, datasets (2-D toys,
teacher–student regression, digits) and for an MLP and a CNN, each with K seeds trained in one
batched run. Init is compared with the end of training by the per-seed change and its 95%
confidence interval over seeds.

A condition made its units **more alike** when mean |corr| rose and the effective rank fell,
both changes with a CI that excludes 0; **more different** when mean |corr| fell and the
effective rank rose, both clearly; otherwise the change is **unclear**. Conv layers are
measured on their full feature maps, every (image, position) an observation of a channel.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from ..measures import DegenerateInputWarning, unit_correlation, unit_summary
from ..record import Recording
from ..train import Config, fit
from ._common import (
    ProgressFn,
    Scale,
    config,
    fmt,
    mean_ci,
    no_progress,
    part,
    pick,
    share_verdict,
)
from ._finding import FigureSpec, Finding, StudyResult

NAME = "diversity"
TITLE = "Does training make units more alike or more different?"
QUESTION = (
    "The asker's intuition: training should make the outputs of the units more similar, "
    "not more different. From a random start, are the units of a trained layer more "
    "alike than at init, or less?"
)

# The asker's claim is refuted when no condition made units more alike and at least this
# share of the conditions made them clearly more different.
REFUTE_SHARE = 0.5
CI_LEVEL = 0.95  # confidence level of the change over seeds; "clear" = the CI excludes 0
DUPLICATE_CORR = 0.99  # |corr| at which two units count as computing the same thing
ALIKE, DIFFERENT, UNCLEAR = "more alike", "more different", "unclear"
MEASURES = (
    "mean_abs_corr",
    "effective_rank",
    "participation_ratio",
    "distinct_units",
    "dead_units",
)


# ---- measures ------------------------------------------------------------------------------
def layer_units(rec: Recording, layer: str) -> np.ndarray:
    """(T, K, n_obs, n_units): dense activations, or conv maps with every (image, position)
    an observation of a channel (Li et al. 2015) when the run recorded full maps."""
    if layer in rec.maps:
        maps = rec.maps[layer]  # (T, K, n, C, H, W)
        return np.moveaxis(maps, 3, -1).reshape(*maps.shape[:2], -1, maps.shape[3])
    return rec.activations(layer)


def mean_abs_correlation(acts: np.ndarray) -> np.ndarray:
    """Mean |corr| over pairs of distinct units that vary: (..., n, U) -> (...), NaN if none."""
    a = np.asarray(acts)
    lead = a.shape[:-2]
    out = np.full(lead, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)  # constant units: NaN rows
        for idx in np.ndindex(*lead):
            r = np.abs(unit_correlation(a[idx]))  # (U, U)
            off = r[~np.eye(len(r), dtype=bool)]
            off = off[np.isfinite(off)]
            if off.size:
                out[idx] = off.mean()
    return out


def diversity_measures(units: np.ndarray) -> dict[str, np.ndarray]:
    """Every measure of :data:`MEASURES` of (T, K, n_obs, U) units, each (T, K)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        s = unit_summary(units, threshold=DUPLICATE_CORR)
    return {"mean_abs_corr": mean_abs_correlation(units), **{k: s[k] for k in MEASURES[1:]}}


def duplicates(distinct: np.ndarray, dead: np.ndarray, width: int) -> np.ndarray:
    """Live units that duplicate another live unit: live - (distinct groups among live units).

    :func:`~unitscope.measures.distinct_units` puts every constant unit in one group, so the
    live groups are ``distinct - 1`` when a unit is dead, else ``distinct``.
    """
    live = width - dead
    live_groups = distinct - (dead > 0)
    return np.maximum(live - live_groups, 0)


def change(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """Mean and CI over seeds of the per-seed change ``after - before`` ((K,) each)."""
    return mean_ci(
        np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64), CI_LEVEL
    )


def direction(corr: dict[str, float], rank: dict[str, float]) -> str:
    """``more alike`` (|corr| up and rank down, both CIs excluding 0), ``more different``
    (the opposite), else ``unclear``."""
    if corr["lo"] > 0 and rank["hi"] < 0:
        return ALIKE
    if corr["hi"] < 0 and rank["lo"] > 0:
        return DIFFERENT
    return UNCLEAR


# ---- verdicts ------------------------------------------------------------------------------
def verdict_alike(
    corr_change: dict[str, dict[str, float]], rank_change: dict[str, dict[str, float]]
) -> str:
    """The claim "training makes units more alike", over conditions.

    Supported when every condition made its units more alike; refuted when none did and at
    least :data:`REFUTE_SHARE` of them made them clearly more different; inconclusive when no
    condition changed clearly; mixed otherwise.
    """
    labels = [direction(corr_change[c], rank_change[c]) for c in corr_change]
    if not labels:
        return "inconclusive"
    n_alike, n_diff = labels.count(ALIKE), labels.count(DIFFERENT)
    if n_alike == len(labels):
        return "supported"
    if n_alike == 0 and n_diff == 0:
        return "inconclusive"
    if n_alike == 0 and n_diff >= REFUTE_SHARE * len(labels):
        return "refuted"
    return "mixed"


def verdict_no_duplicates(duplicates_at_end: dict[str, float]) -> str:
    """Trained units compute different things: no live unit duplicates another
    (``|corr| >= DUPLICATE_CORR``) in any seed of a condition."""
    return share_verdict([d == 0 for d in duplicates_at_end.values()])


# ---- runs ----------------------------------------------------------------------------------
def conditions(scale: Scale) -> dict[str, dict[str, Any]]:
    """Condition name -> config overrides of :func:`base_config`."""
    toy = {"data.name": "moons", "data.options": {"n_samples": 300, "noise": 0.1}}
    teacher = {"data.name": "teacher", "data.options": {"n_samples": 512}}
    digits = {"data.name": "digits", "data.options": {"n_samples": pick(scale, 300, 800, 1797)}}
    cnn = {
        **digits,
        "model.kind": "cnn",
        "train.batch_size": 64,
        "train.record_maps": True,
        "data.n_probe": 64,
    }
    tiny = {
        "MLP-8 moons": {**toy, "model.hidden": [8]},
        "MLP-8 teacher": {**teacher, "model.hidden": [8]},
        "CNN-4,4 digits": {**cnn, "model.channels": [4, 4]},
    }
    small = {
        "MLP-8 moons": {**toy, "model.hidden": [8]},
        "MLP-64 moons": {**toy, "model.hidden": [64]},
        "MLP-32 spiral": {
            "data.name": "spiral",
            "data.options": {"n_samples": 300},
            "model.hidden": [32],
        },
        "MLP-16 teacher": {**teacher, "model.hidden": [16]},
        "MLP-32 digits": {**digits, "model.hidden": [32]},
        "CNN-8,16 digits": {**cnn, "model.channels": [8, 16]},
    }
    full = {
        **small,
        "MLP-256 moons": {**toy, "model.hidden": [256]},
        "MLP-32 circles": {"data.name": "circles", "model.hidden": [32]},
        "MLP-64 teacher": {**teacher, "model.hidden": [64]},
        "MLP-128 digits": {**digits, "model.hidden": [128]},
        "CNN-16,32 digits x2": {**cnn, "data.options": {"upsample": 2}, "model.channels": [16, 32]},
    }
    return dict(pick(scale, tiny, small, full))


def base_config(scale: Scale) -> Config:
    steps = pick(scale, 40, 300, 2000)
    return config(
        data={"n_probe": 128},
        model={"hidden": [16]},
        optim={"lr": 0.05, "momentum": 0.9},
        train={
            "steps": steps,
            "n_checkpoints": pick(scale, 6, 14, 20),
            "eval_every": max(1, steps // 10),
        },
        seeds={"init": list(range(pick(scale, 3, 8, 16)))},
    )


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    say = progress or no_progress
    result = StudyResult(NAME, TITLE, QUESTION)
    base = base_config(scale)
    curves: dict[str, dict[str, np.ndarray]] = {}  # measure -> row -> (K, T)
    table: dict[str, dict[str, Any]] = {}
    widths: dict[str, int] = {}
    steps_axis = np.zeros(0)
    example: np.ndarray | None = None
    for cond, change_cfg in conditions(scale).items():
        say(f"{NAME}: {cond}")
        with part(result, cond):
            rec = fit(base.override(change_cfg))
            steps_axis = rec.steps
            for layer in rec.layers:
                row = cond if len(rec.layers) == 1 else f"{cond} {layer}"
                units = layer_units(rec, layer)  # (T, K, n_obs, U)
                widths[row] = units.shape[-1]
                m = diversity_measures(units)
                for key, v in m.items():
                    curves.setdefault(key, {})[row] = v.T
                table[row] = summarize(m, widths[row])
                if example is None:
                    example = units[[0, -1], 0]  # (2, n_obs, U) member 0, init and end
    if table:
        result.figures += [table_figure(table), *curve_figures(curves, widths, steps_axis)]
        if example is not None:
            result.figures.append(matrix_figure(next(iter(table)), example))
        result.findings += findings(table)
    result.numbers = {
        "conditions": table,
        "widths": widths,
        "steps": base.train.steps,
        "seeds": base.seeds.members,
    }
    result.elapsed_s = time.perf_counter() - start
    return result


def summarize(m: dict[str, np.ndarray], width: int) -> dict[str, Any]:
    """Init and end (mean and CI over seeds), the changes and the direction of one row."""
    out: dict[str, Any] = {"width": width}
    for key, v in m.items():
        out[key] = {
            "init": mean_ci(v[0], CI_LEVEL),
            "end": mean_ci(v[-1], CI_LEVEL),
            "change": change(v[0], v[-1]),
        }
    out["duplicates_end"] = float(
        duplicates(m["distinct_units"][-1], m["dead_units"][-1], width).max()
    )
    out["direction"] = direction(out["mean_abs_corr"]["change"], out["effective_rank"]["change"])
    return out


# ---- figures and findings ------------------------------------------------------------------
def _ci(c: dict[str, float]) -> str:
    return f"{fmt(c['lo'])} … {fmt(c['hi'])}"


def table_figure(table: dict[str, dict[str, Any]]) -> FigureSpec:
    rows = [
        [
            r,
            t["width"],
            *(f"{fmt(t[k]['init']['mean'])} → {fmt(t[k]['end']['mean'])}" for k in MEASURES),
            _ci(t["mean_abs_corr"]["change"]),
            _ci(t["effective_rank"]["change"]),
            t["direction"],
        ]
        for r, t in table.items()
    ]
    k = next(iter(table.values()))["mean_abs_corr"]["init"]["n"]
    return FigureSpec(
        "diversity-table",
        "table",
        f"Init → end of training, mean over {k} seeds, for every condition (conv layers: "
        f"every image position is an observation). The change columns give the {CI_LEVEL:.0%} "
        "CI of the per-seed change; 'more alike' = mean |corr| up and effective rank down, "
        "both CIs excluding 0.",
        {
            "columns": [
                "condition",
                "units",
                "mean |corr|",
                "effective rank",
                "participation ratio",
                "distinct units",
                "dead units",
                "Δ mean |corr| CI",
                "Δ eff. rank CI",
                "training made units",
            ],
            "rows": rows,
        },
        "Init versus end, per condition",
    )


def curve_figures(
    curves: dict[str, dict[str, np.ndarray]], widths: dict[str, int], steps: np.ndarray
) -> list[FigureSpec]:
    per_width = {
        "effective_rank": "effective rank / units",
        "participation_ratio": "participation ratio / units",
        "dead_units": "dead units / units",
    }
    figs = []
    for key, label in (("mean_abs_corr", "mean |corr| between units"), *per_width.items()):
        series = curves.get(key, {})
        if key in per_width:
            series = {r: v / widths[r] for r, v in series.items()}
        if not series:
            continue
        figs.append(
            FigureSpec(
                f"diversity-{key.replace('_', '-')}",
                "lines",
                f"{label.capitalize()} over training, one thin line per seed, bold = mean. "
                + (
                    "Higher = units more alike."
                    if key == "mean_abs_corr"
                    else "Divided by the number of units so that widths share one axis."
                ),
                {
                    "x": steps,
                    "series": series,
                    "x_scale": "log1p",
                    "y_label": label,
                    "x_label": "step",
                },
                label.capitalize(),
            )
        )
    return figs


def matrix_figure(row: str, example: np.ndarray) -> FigureSpec:
    """Unit correlation matrices of (2, n_obs, U) units at init and at the end."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        mats = np.stack([unit_correlation(e) for e in example])  # (2, U, U)
    return FigureSpec(
        "diversity-corr-matrix",
        "heatmap",
        f"Correlation between the units of {row} (seed 0) at init and at the end of training. "
        "Blank rows are units that do not vary (dead).",
        {
            "values": np.nan_to_num(mats),
            "cmap": "diverging",
            "vmin": -1.0,
            "vmax": 1.0,
            "panel_titles": ["init", "end"],
        },
        "Unit correlations, init and end",
    )


def findings(table: dict[str, dict[str, Any]]) -> list[Finding]:
    corr_change = {r: t["mean_abs_corr"]["change"] for r, t in table.items()}
    rank_change = {r: t["effective_rank"]["change"] for r, t in table.items()}
    labels = {r: t["direction"] for r, t in table.items()}
    counts = {d: sum(v == d for v in labels.values()) for d in (ALIKE, DIFFERENT, UNCLEAR)}
    dup = {r: t["duplicates_end"] for r, t in table.items()}
    worst = max(dup, key=lambda r: dup[r])
    return [
        Finding(
            NAME,
            "Training makes the units of a layer more alike (the asker's intuition).",
            verdict_alike(corr_change, rank_change),  # type: ignore[arg-type]
            f"{counts[ALIKE]} of {len(labels)} conditions more alike, {counts[DIFFERENT]} more "
            f"different, {counts[UNCLEAR]} unclear; "
            + "; ".join(
                f"{r}: Δ|corr| {fmt(corr_change[r]['mean'])}, Δrank {fmt(rank_change[r]['mean'])}"
                for r in table
            )
            + ".",
            {"corr_change": corr_change, "rank_change": rank_change, "direction": labels},
            {"ci_level": CI_LEVEL, "ci_excludes": 0.0, "refute_share": REFUTE_SHARE},
            ("diversity-table", "diversity-mean-abs-corr", "diversity-effective-rank"),
        ),
        Finding(
            NAME,
            "After training, the units of a layer compute different things: no live unit "
            "duplicates another.",
            verdict_no_duplicates(dup),  # type: ignore[arg-type]
            f"{sum(d == 0 for d in dup.values())} of {len(dup)} conditions have no redundant "
            f"live unit in any seed (redundant = live units minus groups of units chained by "
            f"|corr| ≥ {DUPLICATE_CORR}); most: {dup[worst]:.0f} of {table[worst]['width']} in "
            f"{worst}.",
            {"duplicates_at_end": dup},
            {"duplicate_corr": DUPLICATE_CORR, "allowed": 0},
            ("diversity-table",),
        ),
    ]
