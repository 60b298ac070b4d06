"""Study ``convex``: the answer's convex case, where every start reaches the same solution.

With no hidden layer and identity activation the network is linear regression: the loss is
convex and, with a full-rank design, has one minimizer, the ordinary least-squares (OLS)
solution. Every random start must reach it. Whether two coefficients come out equal is then
a property of the data, tested with a Wald test of beta_i = beta_j. A deep linear network
computes the same kind of function, but its weights are not unique: different seeds agree
on the function and disagree on the weights.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy import stats

from ..match import activations as match_activations
from ..train import fit, prepare_data
from ._common import ProgressFn, Scale, config, fmt, part, pick, share_verdict
from ._finding import FigureSpec, Finding, StudyResult

NAME = "convex"
TITLE = "The convex case: one answer, whatever the start"
QUESTION = (
    "Without hidden units the problem is convex linear regression. Do all random "
    "starts reach the same weights, and are two interchangeable features given equal "
    "weights?"
)

OLS_TOLERANCE = 1e-6  # max |beta_member - beta_OLS| for 'converged to OLS'
ALPHA = 0.05  # Wald test level
SAME_FUNCTION = 1e-2  # relative spread of deep-linear outputs across seeds
DIFFERENT_WEIGHTS = 0.1  # relative distance of matched first-layer weights across seeds


def ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, int]:
    """OLS with an intercept: (coefficients (d,), (XᵀX)⁻¹ over [x, 1], residual variance, dof)."""
    design = np.hstack([x, np.ones((len(x), 1))])  # (n, d + 1)
    coef, *_ = np.linalg.lstsq(design, y[:, 0], rcond=None)
    dof = len(x) - design.shape[1]
    resid = y[:, 0] - design @ coef
    return coef[:-1], np.linalg.inv(design.T @ design), float(resid @ resid / dof), dof


def wald_equal(
    beta: np.ndarray, cov_unscaled: np.ndarray, sigma2: float, dof: int, i: int, j: int
) -> tuple[float, float]:
    """t statistic and two-sided p-value of H0: beta_i = beta_j.

    t = (b_i - b_j) / sqrt(sigma2 (C_ii + C_jj - 2 C_ij)), C = (XᵀX)⁻¹, t ~ Student(dof).
    """
    se = np.sqrt(sigma2 * (cov_unscaled[i, i] + cov_unscaled[j, j] - 2 * cov_unscaled[i, j]))
    t = float((beta[i] - beta[j]) / se)
    return t, float(2 * stats.t.sf(abs(t), dof))


def verdict_converges(max_dev: float) -> str:
    return "supported" if max_dev <= OLS_TOLERANCE else "refuted"


def verdict_exchangeable(p_exchangeable: float, p_not: float) -> str:
    """Supported when the exchangeable pair is not told apart (p > ALPHA) and the
    non-exchangeable pair is (p < ALPHA); refuted when both fail; mixed otherwise."""
    return share_verdict([p_exchangeable > ALPHA, p_not < ALPHA])


def verdict_deep_linear(function_spread: float, weight_distance: float) -> str:
    return share_verdict([function_spread < SAME_FUNCTION, weight_distance > DIFFERENT_WEIGHTS])


def _linear_part(result: StudyResult, scale: Scale, exchangeable: bool) -> dict[str, Any]:
    K = pick(scale, 4, 16, 64)
    cfg = config(
        data={
            "name": "linear",
            "options": {"n_samples": pick(scale, 128, 256, 1024), "exchangeable": exchangeable},
            "n_probe": 64,
        },
        model={"hidden": [], "activation": "linear"},
        init={"scheme": "normal", "scale": 1.0},
        optim={"lr": 0.2},
        train={"steps": pick(scale, 300, 600, 2000), "dtype": "float64", "n_checkpoints": 20},
        seeds={"init": list(range(K))},
    )
    rec = fit(cfg)
    train, _, _ = prepare_data(cfg)
    beta_ols, cov, sigma2, dof = ols(train.x, train.y)
    members = rec.params["out.weight"][:, :, 0, :]  # (T, K, d)
    dev = np.abs(members - beta_ols).max(axis=-1)  # (T, K)
    i, j = (int(v) for v in train.extras["pair"])
    t, p = wald_equal(members[-1].mean(0), cov, sigma2, dof, i, j)
    return {
        "steps": rec.steps,
        "deviation": dev,
        "max_deviation": float(dev[-1].max()),
        "beta_ols": beta_ols,
        "beta_members": members[-1],
        "t": t,
        "p": p,
        "pair": [i, j],
        "true_beta": train.extras["beta"],
    }


def _deep_linear(scale: Scale) -> dict[str, Any]:
    K = pick(scale, 3, 6, 16)
    cfg = config(
        data={"name": "linear", "options": {"n_samples": 256}, "n_probe": 64},
        model={"hidden": [8], "activation": "linear"},
        optim={"lr": 0.05},
        train={"steps": pick(scale, 400, 1000, 4000), "dtype": "float64", "n_checkpoints": 4},
        seeds={"init": list(range(K))},
    )
    rec = fit(cfg)
    _, _, probe = prepare_data(cfg)
    import torch

    with torch.no_grad():
        out = rec.model().forward(torch.as_tensor(probe.x)).numpy()[..., 0]  # (K, n_probe)
    spread = float(np.abs(out - out.mean(0)).max() / np.abs(out).max())
    acts = rec.activations("hidden.0")[-1]  # (K, n_probe, 8)
    w = rec.weights("hidden.0")[-1]  # (K, 8, d)
    dists = []
    for a in range(K):
        for b in range(a + 1, K):
            m = match_activations(acts[a], acts[b])
            wb = w[b][np.asarray(m.perm).reshape(-1)]
            dists.append(float(np.linalg.norm(w[a] - wb) / np.linalg.norm(w[a])))
    return {
        "function_spread": spread,
        "weight_distance": float(np.mean(dists)),
        "pair_distances": dists,
    }


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    parts: dict[str, dict[str, Any]] = {}
    for key, exch in (("exchangeable", True), ("not_exchangeable", False)):
        with part(result, f"linear regression ({key})", progress):
            parts[key] = _linear_part(result, scale, exch)
    with part(result, "deep linear network", progress):
        parts["deep"] = _deep_linear(scale)

    if "exchangeable" in parts:
        e = parts["exchangeable"]
        result.figures.append(
            FigureSpec(
                "convex-ols",
                "lines",
                "Largest distance between a member's coefficients and the least-squares solution, "
                "over training (log scale); one thin line per random start. All lines fall to "
                "rounding level: the convex problem has one answer.",
                {
                    "x": e["steps"],
                    "series": {"max |beta - beta_OLS|": e["deviation"].T},
                    "y_scale": "log",
                    "x_scale": "log1p",
                    "y_label": "distance to OLS",
                },
                "Every start reaches the OLS solution",
            )
        )
        result.findings.append(
            Finding(
                NAME,
                "Linear regression is convex: every random start converges to the "
                "least-squares solution.",
                verdict_converges(e["max_deviation"]),  # type: ignore[arg-type]
                f"{len(e['beta_members'])} starts; largest final distance to OLS "
                f"{fmt(e['max_deviation'])}.",
                {"max_deviation": e["max_deviation"]},
                {"tolerance": OLS_TOLERANCE},
                ("convex-ols",),
            )
        )
    if "exchangeable" in parts and "not_exchangeable" in parts:
        e, n = parts["exchangeable"], parts["not_exchangeable"]
        rows = [
            [
                label,
                f"beta_{d['pair'][0]} = {d['beta_members'][:, d['pair'][0]].mean():.4f}",
                f"beta_{d['pair'][1]} = {d['beta_members'][:, d['pair'][1]].mean():.4f}",
                d["t"],
                d["p"],
            ]
            for label, d in (("exchangeable", e), ("not exchangeable", n))
        ]
        result.figures.append(
            FigureSpec(
                "convex-wald",
                "table",
                "Wald test of equal coefficients for two features. A large p-value means the data "
                "cannot tell the two weights apart.",
                {"columns": ["features", "first", "second", "t", "p-value"], "rows": rows},
                "Are the two weights statistically equal?",
            )
        )
        result.findings.append(
            Finding(
                NAME,
                "Two exchangeable features get statistically equal weights, and features "
                "that are not exchangeable do not.",
                verdict_exchangeable(e["p"], n["p"]),  # type: ignore[arg-type]
                f"Wald p-value {fmt(e['p'])} for the exchangeable pair, {fmt(n['p'])} for the "
                "other.",
                {"p_exchangeable": e["p"], "p_not_exchangeable": n["p"]},
                {"alpha": ALPHA},
                ("convex-wald",),
            )
        )
    if "deep" in parts:
        d = parts["deep"]
        result.findings.append(
            Finding(
                NAME,
                "A deep linear network computes the same function from every start, with "
                "different weights.",
                verdict_deep_linear(d["function_spread"], d["weight_distance"]),  # type: ignore
                f"outputs differ by {fmt(d['function_spread'])} (relative) across seeds, while "
                f"matched first-layer weights differ by {fmt(d['weight_distance'])}.",
                {"function_spread": d["function_spread"], "weight_distance": d["weight_distance"]},
                {
                    "same_function_below": SAME_FUNCTION,
                    "different_weights_above": DIFFERENT_WEIGHTS,
                },
                (),
            )
        )
    result.numbers = {
        k: {kk: (vv.tolist() if isinstance(vv, np.ndarray) else vv) for kk, vv in v.items()}
        for k, v in parts.items()
    }
    result.elapsed_s = time.perf_counter() - start
    return result
