"""Study ``convex``: the answer's convex case, where every start reaches the same solution.

With no hidden layer and identity activation the network is linear regression: the loss is
convex and, with a full-rank design, has one minimizer, the ordinary least-squares (OLS)
solution. Every random start must reach it; a ReLU network on the same data, a non-convex
problem, is the control. Whether two coefficients come out equal is then a property of the
data: an equivalence test (TOST) with a stated margin says "equal", repeated over data seeds,
with a correlated pair whose weights differ by a small effect as the control. A deep linear
network computes the same kind of function, but its weights are unique only up to its real
symmetry group, every invertible h×h matrix M: (W1, W2) -> (M W1, W2 M⁻¹).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from scipy import optimize, stats

from ..data import Dataset
from ..models._layers import get_activation
from ..record import Recording
from ..train import Config, fit, prepare_data
from ._common import ProgressFn, Scale, config, fmt, part, pick
from ._finding import Control, FigureSpec, Finding, Interval, Premise, StudyResult, Verdict
from ._stats import fmt_interval, interval_verdict, pair_interval, t_interval, worded

NAME = "convex"
TITLE = "The convex case: one answer, whatever the start"
QUESTION = (
    "Without hidden units the problem is convex linear regression. Do all random "
    "starts reach the same weights, and are two interchangeable features given equal "
    "weights?"
)

OLS_TOLERANCE = 1e-6  # relative distance of a start's fitted values to the reference fit
FULL_RANK = 1e6  # premise: condition number of the design [x, 1] below this
ALPHA = 0.05  # level of the Wald test and of each one-sided test of TOST
MARGIN = 0.1  # equivalence margin: |beta_i - beta_j| < MARGIN counts as equal
SMALL_EFFECT = MARGIN  # the control's weights differ by exactly the margin
MOST = 0.5  # "get equal weights": TOST shows them equal in most data sets
RHO = 0.5  # correlation of the pair's two features
NOISE = 0.5  # label noise (standard deviation)
N_FEATURES = 5
PAIR = (0, 1)
SAME_FUNCTION = 1e-4  # relative distance between two deep linear networks' outputs
DIFFERENT_WEIGHTS = 0.1  # relative weight distance left after the best signed permutation
RELATED = 1e-4  # relative residual of (W1', W2') = (M W1, W2 M⁻¹), M by least squares
CONVERGED = 1e-6  # premise: train loss above the best rank-h loss by at most this (relative)


# ---- data -----------------------------------------------------------------------------------
def pair_data(seed: int, n_samples: int, effect: float = 0.0) -> Dataset:
    """Linear regression whose features ``PAIR`` are correlated (``RHO``), N(0, 1) each.

    ``beta ~ N(0, I)`` with ``beta_j = beta_i + effect``: with ``effect = 0`` the two features
    are exchangeable (swapping them changes nothing); otherwise they differ by ``effect``.
    """
    rng = np.random.default_rng(seed)
    i, j = PAIR
    beta = rng.standard_normal(N_FEATURES)
    beta[j] = beta[i] + effect
    x = rng.standard_normal((n_samples, N_FEATURES))  # (n, d)
    x[:, j] = RHO * x[:, i] + math.sqrt(1 - RHO**2) * x[:, j]
    y = x @ beta + NOISE * rng.standard_normal(n_samples)
    how = f"pair_data(seed={seed}, n_samples={n_samples}, effect={effect}, rho={RHO})"
    extras = {"beta": beta, "pair": np.array(PAIR, dtype=np.float64)}
    return Dataset(x, y[:, None], "regression", "correlated pair", how, extras)


def low_rank_data(seed: int, n_samples: int = 512, rank: int = 3) -> Dataset:
    """Regression with 6 inputs, 4 outputs and a rank-``rank`` linear teacher (singular
    values rank..1) plus noise 0.1; centred, so a bias-free network fits it."""
    rng = np.random.default_rng(seed)
    d, c = 6, 4
    u, _ = np.linalg.qr(rng.standard_normal((c, c)))
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    teacher = (u[:, :rank] * np.arange(rank, 0, -1.0)) @ v[:, :rank].T  # (c, d)
    x = rng.standard_normal((n_samples, d))
    y = x @ teacher.T + 0.1 * rng.standard_normal((n_samples, c))
    how = f"low_rank_data(seed={seed}, n_samples={n_samples}, rank={rank})"
    return Dataset(x, y, "regression", "low-rank teacher", how, {"teacher": teacher})


# ---- statistics of the regression --------------------------------------------------------------
def ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, int]:
    """OLS with an intercept: (coefficients (d,), (XᵀX)⁻¹ over [x, 1], residual variance, dof)."""
    design = np.hstack([x, np.ones((len(x), 1))])  # (n, d + 1)
    coef, *_ = np.linalg.lstsq(design, y[:, 0], rcond=None)
    dof = len(x) - design.shape[1]
    resid = y[:, 0] - design @ coef
    return coef[:-1], np.linalg.inv(design.T @ design), float(resid @ resid / dof), dof


def _difference_se(cov_unscaled: np.ndarray, sigma2: float, i: int, j: int) -> float:
    return float(
        np.sqrt(sigma2 * (cov_unscaled[i, i] + cov_unscaled[j, j] - 2 * cov_unscaled[i, j]))
    )


def wald_equal(
    beta: np.ndarray, cov_unscaled: np.ndarray, sigma2: float, dof: int, i: int, j: int
) -> tuple[float, float]:
    """t statistic and two-sided p-value of H0: beta_i = beta_j.

    t = (b_i - b_j) / sqrt(sigma2 (C_ii + C_jj - 2 C_ij)), C = (XᵀX)⁻¹, t ~ Student(dof).
    """
    t = float((beta[i] - beta[j]) / _difference_se(cov_unscaled, sigma2, i, j))
    return t, float(2 * stats.t.sf(abs(t), dof))


def tost_equal(
    beta: np.ndarray,
    cov_unscaled: np.ndarray,
    sigma2: float,
    dof: int,
    i: int,
    j: int,
    margin: float = MARGIN,
) -> float:
    """p-value of the two one-sided tests (Schuirmann 1987) of H0: |beta_i - beta_j| >= margin.

    p = max(P(T > (d + margin) / se), P(T < (d - margin) / se)), d = b_i - b_j; p < alpha
    exactly when the (1 - 2 alpha) t interval of d lies inside (-margin, margin).
    """
    d = float(beta[i] - beta[j])
    se = _difference_se(cov_unscaled, sigma2, i, j)
    return float(max(stats.t.sf((d + margin) / se, dof), stats.t.cdf((d - margin) / se, dof)))


def difference_interval(
    beta: np.ndarray, cov_unscaled: np.ndarray, sigma2: float, dof: int, i: int, j: int
) -> Interval:
    """beta_i - beta_j with its (1 - 2 ALPHA) t interval, the one TOST compares to the margin;
    ``n`` counts the samples (the sampling unit of a regression coefficient)."""
    d = float(beta[i] - beta[j])
    half = float(stats.t.ppf(1 - ALPHA, dof)) * _difference_se(cov_unscaled, sigma2, i, j)
    return Interval(d, d - half, d + half, dof + len(beta) + 1, 1 - 2 * ALPHA, "t (OLS)")


def rate_interval(hits: int, n: int, level: float = 0.95) -> Interval:
    """A rate ``hits / n`` with its Clopper–Pearson (exact binomial) interval."""
    a = (1 - level) / 2
    lo = 0.0 if hits == 0 else float(stats.beta.ppf(a, hits, n - hits + 1))
    hi = 1.0 if hits == n else float(stats.beta.ppf(1 - a, hits + 1, n - hits))
    return Interval(hits / n, lo, hi, n, level, "clopper-pearson")


def repeated_tests(effect: float, n_samples: int, seeds: range) -> dict[str, np.ndarray]:
    """Over data seeds: whether the Wald test rejects equality, whether TOST shows
    equivalence, and the OLS difference beta_i - beta_j. OLS in closed form: the trained
    weights are the OLS solution (the study's first finding)."""
    rejects, equal, diff = [], [], []
    i, j = PAIR
    for s in seeds:
        ds = pair_data(s, n_samples, effect)
        beta, cov, sigma2, dof = ols(ds.x, ds.y)
        rejects.append(wald_equal(beta, cov, sigma2, dof, i, j)[1] < ALPHA)
        equal.append(tost_equal(beta, cov, sigma2, dof, i, j) < ALPHA)
        diff.append(beta[i] - beta[j])
    return {"rejects": np.array(rejects), "equal": np.array(equal), "difference": np.array(diff)}


# ---- weights of a deep linear network ----------------------------------------------------------
def signed_permutation_distance(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, ...]
) -> float:
    """Relative distance between two networks' weights (W1 (h, d), W2 (c, h)) after the
    signed permutation of b's hidden units that brings them closest to a's.

    A unit is its incoming row and outgoing column; the squared distance splits over unit
    pairs, so the best signed permutation is an assignment problem on
    min(|r_u - r_v|², |r_u + r_v|²).
    """
    ra = np.hstack([a[0], a[1].T])  # (h, d + c)
    rb = np.hstack([b[0], b[1].T])
    minus = ((ra[:, None] - rb[None]) ** 2).sum(-1)
    plus = ((ra[:, None] + rb[None]) ** 2).sum(-1)
    cost = np.minimum(minus, plus)
    rows, cols = optimize.linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].sum()) / np.linalg.norm(ra))


def invertible_relation(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[float, float]:
    """(residual, condition number of M) for M = W1_b W1_a⁺, the least-squares solution of
    W1_b = M W1_a: residual = the larger relative error of W1_b ≈ M W1_a and W2_b ≈ W2_a M⁻¹.
    Zero when b is a's image under the symmetry group; large when no M relates them."""
    m = b[0] @ np.linalg.pinv(a[0])  # (h, h)
    cond = float(np.linalg.cond(m))
    if not math.isfinite(cond) or cond > 1e12:
        return math.inf, cond
    r1 = np.linalg.norm(m @ a[0] - b[0]) / np.linalg.norm(b[0])
    r2 = np.linalg.norm(a[1] @ np.linalg.inv(m) - b[1]) / np.linalg.norm(b[1])
    return float(max(r1, r2)), cond


def _deep_weights(rec: Recording) -> list[tuple[np.ndarray, np.ndarray]]:
    w1, w2 = rec.params["hidden.0.weight"][-1], rec.params["out.weight"][-1]
    return [(np.asarray(w1[k], np.float64), np.asarray(w2[k], np.float64)) for k in range(len(w1))]


def pair_matrices(
    nets_a: list[tuple[np.ndarray, np.ndarray]],
    nets_b: list[tuple[np.ndarray, np.ndarray]],
    x: np.ndarray,
) -> dict[str, np.ndarray]:
    """(K, K) matrices over pairs (net a of the first list, net b of the second): relative
    output distance on ``x``, weight distance after the best signed permutation, the
    residual and condition number of the invertible map relating them."""
    K = len(nets_a)
    out = {k: np.full((K, K), np.nan) for k in ("function", "weights", "residual", "cond")}
    for p, a in enumerate(nets_a):
        fa = x @ (a[1] @ a[0]).T  # (n, c)
        for q, b in enumerate(nets_b):
            if p == q and nets_a is nets_b:
                continue
            fb = x @ (b[1] @ b[0]).T
            out["function"][p, q] = np.linalg.norm(fa - fb) / np.linalg.norm(fa)
            out["weights"][p, q] = signed_permutation_distance(a, b)
            out["residual"][p, q], out["cond"][p, q] = invertible_relation(a, b)
    return out


def best_rank_loss(x: np.ndarray, y: np.ndarray, rank: int) -> float:
    """The lowest mean squared error of a rank-``rank`` linear map (reduced-rank regression:
    the OLS fit projected on the top right singular vectors of the fitted values)."""
    b, *_ = np.linalg.lstsq(x, y, rcond=None)  # (d, c)
    _, _, vt = np.linalg.svd(x @ b, full_matrices=False)
    b_rank = b @ vt[:rank].T @ vt[:rank]
    return float(((x @ b_rank - y) ** 2).mean())


# ---- verdicts ---------------------------------------------------------------------------------
def verdict_converges(distance: Interval) -> Verdict:
    """``supported`` when the interval of the starts' distance to the reference fit lies
    below ``OLS_TOLERANCE``, ``refuted`` when above."""
    return interval_verdict(distance, OLS_TOLERANCE, greater=False)


def verdict_equal_weights(equal_rate: Interval) -> Verdict:
    """``supported`` when the interval of the rate at which TOST shows the two weights equal
    (within ``MARGIN``) lies above ``MOST``, ``refuted`` when below."""
    return interval_verdict(equal_rate, MOST)


def verdict_deep_linear(function: Interval, weights: Interval, residual: Interval) -> Verdict:
    """All three parts of the claim: the same function (distance below ``SAME_FUNCTION``),
    different weights beyond permutation (above ``DIFFERENT_WEIGHTS``), related by an
    invertible matrix (residual below ``RELATED``). Refuted when any part is refuted."""
    parts = [
        interval_verdict(function, SAME_FUNCTION, greater=False),
        interval_verdict(weights, DIFFERENT_WEIGHTS),
        interval_verdict(residual, RELATED, greater=False),
    ]
    if "refuted" in parts:
        return "refuted"
    return "supported" if all(p == "supported" for p in parts) else "inconclusive"


# ---- runs -------------------------------------------------------------------------------------
def predictions(rec: Recording, x: np.ndarray) -> np.ndarray:
    """First output of every member at every checkpoint on ``x``: (T, K, n)."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in rec.params.items()}
    h = np.broadcast_to(x, (*p["out.weight"].shape[:2], *x.shape))  # (T, K, n, d)
    if "hidden.0.weight" in p:
        pre = np.einsum("tkud,tknd->tknu", p["hidden.0.weight"], h) + p["hidden.0.bias"][:, :, None]
        act = get_activation(rec.config["model"]["activation"])
        h = act(torch.from_numpy(pre)).numpy()
    out = np.einsum("tkcu,tknu->tknc", p["out.weight"], h) + p["out.bias"][:, :, None]
    return out[..., 0]


def _regression_config(scale: Scale, hidden: list[int], activation: str, lr: float) -> Config:
    K = pick(scale, 4, 16, 32)
    return config(
        data={"name": "linear", "n_probe": 64},
        model={"hidden": hidden, "activation": activation},
        init={"scheme": "normal" if not hidden else "kaiming", "scale": 1.0},
        optim={"lr": lr},
        train={"steps": pick(scale, 300, 600, 1500), "dtype": "float64", "n_checkpoints": 20},
        seeds={"init": list(range(K))},
    )


def _fit_regression(cfg: Config, ds: Dataset) -> dict[str, Any]:
    """Train on ``ds``; distances of every start's fitted values to OLS and to the start
    with the lowest final loss, over training."""
    rec = fit(cfg, dataset=ds)
    train, _, _ = prepare_data(cfg, ds)
    beta, cov, sigma2, dof = ols(train.x, train.y)
    design = np.hstack([train.x, np.ones((train.n_samples, 1))])
    ols_fit = design @ np.linalg.lstsq(design, train.y[:, 0], rcond=None)[0]  # (n,)
    pred = predictions(rec, train.x)  # (T, K, n)
    best = int(np.argmin(rec.curves["train_loss"][:, -1]))
    return {
        "rec": rec,
        "steps": rec.steps,
        "to_ols": np.linalg.norm(pred - ols_fit, axis=-1) / np.linalg.norm(ols_fit),  # (T, K)
        "to_best": np.linalg.norm(pred - pred[-1, best], axis=-1) / np.linalg.norm(pred[-1, best]),
        "best": best,
        "final_loss": rec.curves["train_loss"][:, -1],
        "ols": (beta, cov, sigma2, dof),
        "condition": float(np.linalg.cond(design)),
        "n_train": train.n_samples,
    }


def _deep_runs(scale: Scale) -> dict[str, Any]:
    K = pick(scale, 4, 8, 16)
    cfg = config(
        data={"name": "linear", "n_probe": 64},
        model={"hidden": [3], "activation": "linear", "bias": False},
        optim={"lr": 0.05, "momentum": 0.9},
        train={"steps": pick(scale, 300, 600, 1500), "dtype": "float64", "n_checkpoints": 4},
        seeds={"init": list(range(K))},
    )
    nets, excess, rank_ratio = {}, [], []
    for teacher in (0, 1):
        ds = low_rank_data(teacher)
        rec = fit(cfg, dataset=ds)
        nets[teacher] = _deep_weights(rec)
        if teacher == 0:
            train = prepare_data(cfg, ds)[0]
            best = best_rank_loss(train.x, train.y, 3)
            excess = ((rec.curves["train_loss"][:, -1] - best) / best).tolist()
            sv = [np.linalg.svd(w1, compute_uv=False) for w1, _ in nets[0]]
            rank_ratio = [float(s[-1] / s[0]) for s in sv]
            x = train.x
    return {
        "same": pair_matrices(nets[0], nets[0], x),
        "other": pair_matrices(nets[0], nets[1], x),
        "excess_loss": excess,
        "rank_ratio": rank_ratio,
    }


# ---- findings ---------------------------------------------------------------------------------
def _converges_finding(lin: dict[str, Any], relu: dict[str, Any]) -> Finding:
    dist = t_interval(lin["to_ols"][-1])
    others = np.delete(relu["to_best"][-1], relu["best"])
    control_iv = t_interval(others)
    control = Control(
        "a ReLU network (8 hidden units, non-convex) on the same data: distance of each start "
        "to the best start",
        verdict_converges(control_iv),
        {
            "distance_to_best": control_iv.to_dict(),
            "final_loss_range": [float(relu["final_loss"].min()), float(relu["final_loss"].max())],
        },
    )
    premise = Premise(
        f"the problem is convex with one minimizer: no hidden layer, and the design [x, 1] "
        f"has full rank (condition number < {FULL_RANK:g})",
        lin["condition"] < FULL_RANK,
        {"condition_number": lin["condition"], "limit": FULL_RANK},
    )
    return Finding(
        NAME,
        "Linear regression is convex: every random start converges to the least-squares solution.",
        verdict_converges(dist),
        f"{dist.n} starts; relative distance of the fitted values to the OLS fit "
        f"{fmt_interval(dist)} (largest {fmt(float(lin['to_ols'][-1].max()))}); the ReLU "
        f"control's starts lie {fmt_interval(control_iv)} from its best start "
        f"({control.verdict}).",
        {
            "distance_to_ols": lin["to_ols"][-1].tolist(),
            "max_distance": float(lin["to_ols"][-1].max()),
        },
        {"tolerance": OLS_TOLERANCE},
        ("convex-ols",),
        interval={"distance_to_ols": dist},
        control=control,
        premise=premise,
    )


def _equal_finding(
    tests: Mapping[str, Mapping[str, np.ndarray]], trained: Mapping[str, Interval], to_ols: float
) -> Finding:
    rates = {
        key: {
            "equal": rate_interval(int(t["equal"].sum()), len(t["equal"])),
            "rejects": rate_interval(int(t["rejects"].sum()), len(t["rejects"])),
        }
        for key, t in tests.items()
    }
    size, power = rates["exchangeable"]["rejects"], rates["small_effect"]["rejects"]
    control = Control(
        f"correlated features whose weights differ by a small effect ({SMALL_EFFECT}, the margin)",
        verdict_equal_weights(rates["small_effect"]["equal"]),
        {
            "equal_rate": rates["small_effect"]["equal"].to_dict(),
            "trained_difference": trained["small_effect"].to_dict(),
        },
    )
    calibrated = size.lo >= ALPHA / 2 and size.hi <= 2 * ALPHA
    detectable = power.lo > MOST
    premise = Premise(
        f"the test holds its level (the interval of the Wald rejection rate on exchangeable "
        f"data lies within [{ALPHA / 2:g}, {2 * ALPHA:g}]), detects the small effect in most "
        f"data sets (power > {MOST}), and training reaches OLS (distance < {OLS_TOLERANCE:g})",
        calibrated and detectable and to_ols < OLS_TOLERANCE,
        {
            "rejection_rate_exchangeable": size.to_dict(),
            "power_small_effect": power.to_dict(),
            "trained_distance_to_ols": to_ols,
        },
    )
    eq = rates["exchangeable"]["equal"]
    return Finding(
        NAME,
        "Two exchangeable features get statistically equal weights (TOST, margin "
        f"{MARGIN}), and features that are not exchangeable do not.",
        verdict_equal_weights(eq),
        f"trained weights: beta_i - beta_j = {fmt_interval(trained['exchangeable'])} (90%). "
        f"Over {eq.n} data sets TOST shows the exchangeable pair equal in {fmt_interval(eq)} "
        f"and the small-effect pair in {fmt_interval(rates['small_effect']['equal'])}; the Wald "
        f"test rejects equality in {fmt_interval(size)} (nominal {ALPHA}) and "
        f"{fmt_interval(power)} (power).",
        {key: {name: iv.value for name, iv in r.items()} for key, r in rates.items()},
        {"alpha": ALPHA, "margin": MARGIN, "most": MOST, "small_effect": SMALL_EFFECT, "rho": RHO},
        ("convex-equal",),
        interval={
            "equal_rate_exchangeable": eq,
            "trained_difference_exchangeable": trained["exchangeable"],
            "rejection_rate_exchangeable": size,
            "power_small_effect": power,
        },
        control=control,
        premise=premise,
    )


def _deep_finding(deep: dict[str, Any]) -> Finding:
    same = {k: pair_interval(deep["same"][k]) for k in ("function", "weights", "residual")}
    other = {k: pair_interval(deep["other"][k]) for k in ("function", "weights", "residual")}
    control = Control(
        "networks trained on another teacher (two different functions): no M should exist",
        verdict_deep_linear(other["function"], other["weights"], other["residual"]),
        {k: iv.to_dict() for k, iv in other.items()},
    )
    worst = float(max(deep["excess_loss"]))
    rank = float(min(deep["rank_ratio"]))
    premise = Premise(
        f"every start reached the best rank-3 fit (train loss within {CONVERGED:g}, relative) "
        "and its first layer has full rank (so M is unique)",
        worst <= CONVERGED and rank > 1e-6,
        {"excess_loss_max": worst, "smallest_singular_ratio": rank, "limit": CONVERGED},
    )
    return Finding(
        NAME,
        "A deep linear network computes the same function from every start, with "
        "weights that differ beyond a permutation but are related by an invertible matrix.",
        verdict_deep_linear(same["function"], same["weights"], same["residual"]),
        f"over pairs of seeds: outputs differ by {fmt_interval(same['function'])} (relative), "
        f"weights after the best signed permutation by {fmt_interval(same['weights'])}, and "
        f"W1' = M W1, W2' = W2 M⁻¹ holds to {fmt_interval(same['residual'])}; for networks of "
        f"two teachers the residual is {fmt_interval(other['residual'])} ({control.verdict}).",
        {
            "function_distance": same["function"].value,
            "weight_distance": same["weights"].value,
            "invertible_residual": same["residual"].value,
            "condition_of_M_max": float(np.nanmax(deep["same"]["cond"])),
        },
        {
            "same_function_below": SAME_FUNCTION,
            "different_weights_above": DIFFERENT_WEIGHTS,
            "related_below": RELATED,
        },
        ("convex-deep",),
        interval={
            f"{k}_distance" if k != "residual" else "invertible_residual": iv
            for k, iv in same.items()
        },
        control=control,
        premise=premise,
    )


# ---- figures ----------------------------------------------------------------------------------
def _figures(parts: Mapping[str, Any], findings: Mapping[str, Finding]) -> list[FigureSpec]:
    figs = []
    if "linear" in parts and "relu" in parts:
        lin, relu = parts["linear"], parts["relu"]
        v = findings["ols"].verdict if "ols" in findings else "inconclusive"
        figs.append(
            FigureSpec(
                "convex-ols",
                "lines",
                "Relative distance of each start's fitted values to the reference fit over "
                "training (log scale), one thin line per start: linear regression against the "
                "least-squares fit, and the ReLU control against its best start.",
                {
                    "x": lin["steps"],
                    "series": {
                        "linear: to OLS": np.maximum(lin["to_ols"].T, 1e-17),
                        "ReLU control: to best start": np.maximum(relu["to_best"].T, 1e-17),
                    },
                    "y_scale": "log",
                    "x_scale": "log1p",
                    "y_label": "relative distance",
                    "baselines": {"tolerance": OLS_TOLERANCE},
                },
                worded(
                    v,
                    supported="Every start reaches the OLS solution",
                    refuted="The starts do not all reach the OLS solution",
                    other="Do the starts reach the OLS solution? No decision",
                ),
            )
        )
    if "equal" in findings:
        f = findings["equal"]
        ctrl = f.control.numbers if f.control else {}
        rows = [
            [
                "exchangeable",
                fmt_interval(f.interval["trained_difference_exchangeable"]),
                fmt_interval(f.interval["equal_rate_exchangeable"]),
                fmt_interval(f.interval["rejection_rate_exchangeable"]),
            ],
            [
                f"small effect ({SMALL_EFFECT})",
                fmt_interval(Interval(**ctrl["trained_difference"])),
                fmt_interval(Interval(**ctrl["equal_rate"])),
                fmt_interval(f.interval["power_small_effect"]),
            ],
        ]
        figs.append(
            FigureSpec(
                "convex-equal",
                "table",
                f"Two correlated features (rho {RHO}) with equal weights or weights "
                f"{SMALL_EFFECT} apart. First column: the trained weights' difference with its "
                f"90% interval (TOST shows equality when it lies inside ±{MARGIN}); then, over "
                f"data sets, how often TOST shows equality and how often the Wald test (alpha "
                f"{ALPHA}) rejects it.",
                {
                    "columns": ["pair", "trained beta_i - beta_j", "TOST: equal", "Wald: rejects"],
                    "rows": rows,
                },
                worded(
                    f.verdict,
                    supported="Exchangeable features get equal weights; a small effect does not",
                    refuted="Exchangeable features are not shown to get equal weights",
                    other="Equal weights for exchangeable features: no decision",
                ),
            )
        )
    if "deep" in findings:
        f = findings["deep"]
        ctrl = f.control.numbers if f.control else {}
        names = {
            "function": "function_distance",
            "weights": "weights_distance",
            "residual": "invertible_residual",
        }
        rows = [
            [label, fmt_interval(f.interval[key]), fmt_interval(Interval(**ctrl[part_]))]
            for (part_, key), label in zip(
                names.items(),
                [
                    "output distance",
                    "weight distance after signed permutation",
                    "residual of (M W1, W2 M⁻¹)",
                ],
            )
        ]
        figs.append(
            FigureSpec(
                "convex-deep",
                "table",
                "Pairs of deep linear networks (6 -> 3 -> 4, no bias): trained from different "
                "seeds on the same teacher, and on two different teachers (control). Relative "
                "distances with 95% intervals that resample seeds.",
                {"columns": ["measure", "same teacher", "different teachers"], "rows": rows},
                worded(
                    f.verdict,
                    supported="Same function, weights related by an invertible matrix",
                    refuted="The deep linear networks are not related as claimed",
                    other="Deep linear networks: no decision",
                ),
            )
        )
    return figs


def _runs(result: StudyResult, scale: Scale, progress: ProgressFn | None) -> dict[str, Any]:
    n_samples = 1024  # 768 to train
    parts: dict[str, Any] = {}
    lin_cfg = _regression_config(scale, [], "linear", 0.2)
    with part(result, "linear regression (exchangeable)", progress):
        parts["linear"] = _fit_regression(lin_cfg, pair_data(0, n_samples))
    with part(result, "linear regression (small effect)", progress):
        parts["small"] = _fit_regression(lin_cfg, pair_data(0, n_samples, SMALL_EFFECT))
    with part(result, "ReLU network (control)", progress):
        relu_cfg = _regression_config(scale, [8], "relu", 0.05)
        parts["relu"] = _fit_regression(relu_cfg, pair_data(0, n_samples))
    with part(result, "repeated equality tests", progress):
        n_train = int(n_samples * 0.75)
        seeds = range(1, 1 + pick(scale, 200, 1000, 4000))
        parts["tests"] = {
            "exchangeable": repeated_tests(0.0, n_train, seeds),
            "small_effect": repeated_tests(SMALL_EFFECT, n_train, seeds),
        }
    with part(result, "deep linear network", progress):
        parts["deep"] = _deep_runs(scale)
    return parts


def _trained_difference(fitted: Mapping[str, Any]) -> Interval:
    """beta_i - beta_j of the trained weights (mean over starts) with its 90% interval."""
    beta = fitted["rec"].params["out.weight"][-1, :, 0, :].mean(0)  # (d,)
    _, cov, sigma2, dof = fitted["ols"]
    return difference_interval(beta, cov, sigma2, dof, *PAIR)


def _findings(parts: Mapping[str, Any]) -> dict[str, Finding]:
    findings: dict[str, Finding] = {}
    if "linear" in parts and "relu" in parts:
        findings["ols"] = _converges_finding(parts["linear"], parts["relu"])
    if {"linear", "small", "tests"} <= parts.keys():
        trained = {
            "exchangeable": _trained_difference(parts["linear"]),
            "small_effect": _trained_difference(parts["small"]),
        }
        to_ols = float(parts["linear"]["to_ols"][-1].max())
        findings["equal"] = _equal_finding(parts["tests"], trained, to_ols)
    if "deep" in parts:
        findings["deep"] = _deep_finding(parts["deep"])
    return findings


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    parts = _runs(result, scale, progress)
    findings = _findings(parts)
    result.findings = list(findings.values())
    result.figures = _figures(parts, findings)
    result.numbers = _numbers(parts)
    result.elapsed_s = time.perf_counter() - start
    return result


def _numbers(parts: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("linear", "small", "relu"):
        if key in parts:
            p = parts[key]
            out[key] = {
                "steps": p["steps"].tolist(),
                "distance_to_ols": p["to_ols"].tolist(),
                "distance_to_best": p["to_best"].tolist(),
                "final_loss": p["final_loss"].tolist(),
                "beta_ols": p["ols"][0].tolist(),
                "condition_number": p["condition"],
            }
    if "tests" in parts:
        out["tests"] = {
            k: {kk: vv.astype(float).tolist() for kk, vv in v.items()}
            for k, v in parts["tests"].items()
        }
    if "deep" in parts:
        d = parts["deep"]
        out["deep"] = {
            **{f"same_{k}": v.tolist() for k, v in d["same"].items()},
            **{f"other_{k}": v.tolist() for k, v in d["other"].items()},
            "excess_loss": d["excess_loss"],
            "rank_ratio": d["rank_ratio"],
        }
    return out
