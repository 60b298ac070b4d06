"""Study ``symmetry``: identical units stay identical unless something breaks the symmetry.

Start every hidden layer with identical units (same incoming weights, bias and outgoing
weights) and train. Identical units receive identical gradients, so every deterministic
optimizer and penalty keeps them identical; only a source that treats units differently
(dropout masks, a perturbation of the start, outgoing weights that differ) separates them.
An eps sweep then measures how fast a tiny difference grows: an exponential growth rate > 0
means the symmetric configuration is unstable.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..measures import symmetry_spread
from ..record import Recording
from ..train import fit
from ._common import ProgressFn, Scale, config, fmt, part, pick, rounding_tolerance, share_verdict
from ._finding import FigureSpec, Finding, StudyResult

NAME = "symmetry"
TITLE = "Exchangeable units: what keeps them identical, what breaks them"
QUESTION = (
    "The units of a layer are interchangeable. If they start identical, does training "
    "ever make them differ, and what does it take?"
)

KEEPS: dict[str, dict[str, Any]] = {
    "full-batch GD": {},
    "minibatch SGD": {"train.batch_size": 32},
    "SGD + momentum": {"train.batch_size": 32, "optim.momentum": 0.9},
    "Adam": {"optim.name": "adam", "optim.lr": 0.01, "train.batch_size": 32},
    "AdamW": {"optim.name": "adamw", "optim.lr": 0.01, "optim.weight_decay": 0.05},
    "weight decay": {"optim.weight_decay": 0.01},
    "L1 penalty": {"optim.l1": 1e-3},
    "L2 penalty": {"optim.l2": 1e-2},
    "MSE loss": {"train.loss": "mse"},
    "float32": {"train.dtype": "float32"},
}
BREAKS: dict[str, dict[str, Any]] = {
    "dropout 0.2": {"model.dropout": 0.2},
    "eps = 1e-3 perturbation": {"init.scheme": "symmetric_eps", "init.eps": 1e-3},
    "incoming-only symmetry": {"init.scheme": "incoming_symmetric"},
}
# A source separates units when their spread exceeds this fraction of the weights' scale.
SEPARATED = 1e-3
# A perturbation has grown when the spread at the end is this many times the spread at step 0.
AMPLIFIED = 10.0


def unit_rows(rec: Recording, layer: str) -> np.ndarray:
    """(T, K, n_units, fan_in + 1): each unit's incoming weights and bias."""
    w = rec.weights(layer)
    b = rec.bias(layer)
    return w if b is None else np.concatenate([w, b[..., None]], axis=-1)


def spread_curve(rec: Recording, layer: str = "hidden.0") -> np.ndarray:
    """(T, K) max spread (:func:`~unitscope.measures.symmetry_spread`) of ``layer``."""
    units = unit_rows(rec, layer)
    return np.array([[symmetry_spread(m).max_distance for m in per_k] for per_k in units])


def final_spread(rec: Recording) -> tuple[float, float]:
    """(max spread over layers and members at the last checkpoint, max |weight|)."""
    spreads = [float(spread_curve(rec, layer)[-1].max()) for layer in rec.layers]
    scale = max(float(np.abs(unit_rows(rec, layer)[-1]).max()) for layer in rec.layers)
    return max(spreads), scale


def growth_rate(steps: np.ndarray, spread: np.ndarray) -> float:
    """Exponential growth rate per step of the spread, fitted before it saturates.

    Least squares of log(spread) on step over the checkpoints after step 0 where the spread
    is below half of its maximum (the phase where a linearization holds). Needs 3 points.
    """
    s = np.asarray(spread, dtype=np.float64)
    ok = (steps > 0) & (s > 0) & (s < 0.5 * np.nanmax(s))
    if ok.sum() < 3:
        ok = (steps > 0) & (s > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(steps[ok], np.log(s[ok]), 1)[0])


def verdict_keeps(spreads: dict[str, float], tolerances: dict[str, float]) -> str:
    return share_verdict([spreads[k] <= tolerances[k] for k in spreads])


def verdict_breaks(spreads: dict[str, float], scales: dict[str, float]) -> str:
    return share_verdict([spreads[k] > SEPARATED * max(scales[k], 1.0) for k in spreads])


def verdict_unstable(rates: dict[str, float], amplification: dict[str, float]) -> str:
    """Unstable when every small eps grows (rate > 0 and amplified > 10x)."""
    return share_verdict([rates[k] > 0 and amplification[k] > AMPLIFIED for k in rates])


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    steps = pick(scale, 60, 300, 2000)
    n = pick(scale, 80, 200, 500)
    base = config(
        data={"name": "moons", "options": {"n_samples": n, "noise": 0.1}, "n_probe": 64},
        model={"hidden": [16]},
        init={"scheme": "symmetric"},
        optim={"lr": 0.2},
        train={"steps": steps, "dtype": "float64", "n_checkpoints": 12},
        seeds={"init": [0, 1], "data": [0, 1], "dropout": [0, 1]},
    )
    spreads: dict[str, float] = {}
    scales: dict[str, float] = {}
    curves: dict[str, np.ndarray] = {}
    steps_axis = np.zeros(0)
    for name, change in {**KEEPS, **BREAKS}.items():
        with part(result, name, progress):
            rec = fit(base.override(change))
            spreads[name], scales[name] = final_spread(rec)
            curves[name] = spread_curve(rec).T  # (K, T)
            steps_axis = rec.steps
    keeps = {k: spreads[k] for k in KEEPS if k in spreads}
    tol = {k: rounding_tolerance(base.override(KEEPS[k]).train.dtype, scales[k]) for k in keeps}
    breaks = {k: spreads[k] for k in BREAKS if k in spreads}

    # ---- eps sweep: how fast do units separate? ----------------------------------------
    eps_values = pick(
        scale,
        [1e-6, 1e-2],
        [1e-8, 1e-6, 1e-4, 1e-2, 1e-1],
        [1e-10, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1],
    )
    lin = tuple(int(s) for s in np.linspace(0, steps, 31))
    rates, amp, eps_curves = {}, {}, {}
    eps_steps = np.asarray(lin)
    for eps in eps_values:
        with part(result, f"eps={eps:g}", progress):
            rec = fit(
                base.override(
                    {
                        "init.scheme": "symmetric_eps",
                        "init.eps": eps,
                        "train.checkpoints": list(lin),
                    }
                )
            )
            curve = spread_curve(rec)  # (T, K)
            mean = np.exp(np.log(np.maximum(curve, 1e-300)).mean(1))  # geometric mean over K
            key = f"eps={eps:g}"
            eps_curves[key] = curve.T
            rates[key] = growth_rate(rec.steps, mean)
            amp[key] = float(mean[-1] / mean[0]) if mean[0] > 0 else float("nan")
    small = {k: v for k, v in rates.items() if float(k.split("=")[1]) <= 1e-4}

    # ---- findings ------------------------------------------------------------------------
    rows = [
        [
            k,
            "keeps" if k in KEEPS else "breaks",
            spreads[k],
            "identical" if k in tol and spreads[k] <= tol[k] else "separated",
        ]
        for k in spreads
    ]
    result.figures += [
        FigureSpec(
            "symmetry-table",
            "table",
            "Final spread (max distance of a unit's weights from the layer's mean unit) "
            "for each training setting started from identical units. 'identical' means "
            "the spread is at rounding level for the run's precision.",
            {"columns": ["setting", "expected", "final spread", "units"], "rows": rows},
            "Which settings keep identical units identical",
        ),
        FigureSpec(
            "symmetry-breakers",
            "lines",
            "Spread of hidden.0 over training (log scale) for the settings that break "
            "the symmetry; one thin line per seed, the bold line is the mean.",
            {
                "x": steps_axis,
                "series": {k: curves[k] for k in breaks},
                "y_scale": "log",
                "x_scale": "log1p",
                "y_label": "spread",
            },
            "Symmetry breakers",
        ),
        FigureSpec(
            "symmetry-eps",
            "lines",
            "Spread of hidden.0 over training after a perturbation of relative size eps "
            "(log scale). Straight rising lines mean exponential growth: the symmetric "
            "configuration is unstable.",
            {"x": eps_steps, "series": eps_curves, "y_scale": "log", "y_label": "spread"},
            "How fast do perturbed units separate?",
        ),
    ]
    result.numbers = {
        "spreads": spreads,
        "weight_scale": scales,
        "tolerance": tol,
        "growth_rate_per_step": rates,
        "amplification": amp,
        "steps": steps,
    }
    if keeps:
        worst = max(keeps, key=lambda k: keeps[k] / tol[k])
        result.findings.append(
            Finding(
                NAME,
                "Identical units stay identical under every deterministic optimizer, loss "
                "and penalty: symmetry is kept unless something breaks it.",
                verdict_keeps(keeps, tol),  # type: ignore[arg-type]
                f"{sum(keeps[k] <= tol[k] for k in keeps)}/{len(keeps)} settings stayed at "
                f"rounding level; largest relative to tolerance: {worst} with spread "
                f"{fmt(keeps[worst])}.",
                {"spreads": keeps},
                {"tolerance": tol},
                ("symmetry-table",),
            )
        )
    if breaks:
        result.findings.append(
            Finding(
                NAME,
                "Dropout, a small perturbation of the start, or outgoing weights that differ "
                "break the symmetry.",
                verdict_breaks(breaks, scales),  # type: ignore[arg-type]
                "final spreads: " + ", ".join(f"{k} {fmt(v)}" for k, v in breaks.items()) + ".",
                {"spreads": breaks},
                {"separated_above": SEPARATED},
                ("symmetry-table", "symmetry-breakers"),
            )
        )
    if small:
        result.findings.append(
            Finding(
                NAME,
                "The symmetric configuration is unstable: a tiny difference between units "
                "grows exponentially.",
                verdict_unstable(small, {k: amp[k] for k in small}),  # type: ignore[arg-type]
                "growth rate per step: "
                + ", ".join(f"{k} {fmt(v)} (x{fmt(amp[k])})" for k, v in small.items())
                + ".",
                {"growth_rate_per_step": small, "amplification": {k: amp[k] for k in small}},
                {"rate_above": 0.0, "amplification_above": AMPLIFIED},
                ("symmetry-eps",),
            )
        )
    result.elapsed_s = time.perf_counter() - start
    return result
