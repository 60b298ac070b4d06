"""Study ``symmetry``: identical units stay identical unless something breaks the symmetry.

Start every hidden layer with identical units (same incoming weights, bias and outgoing
weights) and train. Identical units receive identical gradients in exact arithmetic, so every
deterministic optimizer and penalty keeps them identical; only a source that treats units
differently (dropout masks, outgoing weights that differ) separates them.

Floating point is not exact arithmetic. The study therefore also asks:

- *how unstable is the symmetric configuration?* An eps sweep plants a difference of relative
  size eps between the units and measures its growth rate per step, under full-batch GD, Adam,
  and minibatch SGD with momentum or weight decay; the growth is fitted as an exponential and
  as a straight line, and the better fit is reported;
- *where do identical units first round differently?* Each product of a training step is run
  on inputs with identical unit columns, and the groups of columns that stay bitwise
  identical are listed (a BLAS kernel computes output columns in blocks; columns in different
  blocks may accumulate in another order);
- *does rounding alone separate identical units?* From the measured rate, a difference of one
  rounding unit ρ should reach the separation threshold after ``ln(threshold / ρ) / rate``
  steps. A float64 run started bitwise identical is trained past twice that time, next to a
  run with a planted difference of 1e-12, and the outcome is reported as measured.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch

from ..init import initialize
from ..measures import symmetry_spread
from ..models import BatchedLinear
from ..record import Recording
from ..train import Config, build_model, fit, prepare_data
from ._common import ProgressFn, Scale, config, fmt, part, pick, rounding_tolerance
from ._finding import Control, FigureSpec, Finding, Interval, Premise, StudyResult, Verdict
from ._stats import family_verdict, fmt_interval, holm_intervals, t_interval, worded

NAME = "symmetry"
TITLE = "Exchangeable units: what keeps them identical, what breaks them"
QUESTION = (
    "The units of a layer are interchangeable. If they start identical, does training "
    "ever make them differ, and what does it take? Is floating-point rounding enough?"
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
    "incoming-only symmetry": {"init.scheme": "incoming_symmetric"},
}
# The eps sweep: the optimizers under which a planted difference is followed.
SWEEP: dict[str, dict[str, Any]] = {
    "full-batch GD": {},
    "Adam": {"optim.name": "adam", "optim.lr": 0.01},
    "SGD + momentum, minibatch": {
        "train.batch_size": 32,
        "optim.momentum": 0.9,
        "optim.lr": 0.05,
    },
    "SGD + weight decay, minibatch": {"train.batch_size": 32, "optim.weight_decay": 0.01},
}
# Control of the instability: decay strong enough that every difference must shrink.
DECAY_CONTROL: dict[str, Any] = {"optim.weight_decay": 0.5}

SEPARATED = 1e-3  # units are separated when their spread exceeds this x max(weight scale, 1)
AMPLIFIED = 10.0  # a planted difference "grew" when it is this many times its start
MOVED = 1e-2  # premise: training moved the weights by more than this
EXP_BETTER = 0.5  # exponential fits better than a line in more than this share of runs
PAST = 1.5  # premise: the long run lasts at least this many predicted separation times
PLANTED = 1e-12  # the difference planted next to the rounding run
FLOOR = 1e-6  # spread ratios below this (0 included) are counted as this, on the log scale


# ---- measurements of one recording ---------------------------------------------------------


def unit_rows(rec: Recording, layer: str) -> np.ndarray:
    """(T, K, n_units, fan_in + 1): each unit's incoming weights and bias."""
    w = rec.weights(layer)
    b = rec.bias(layer)
    return w if b is None else np.concatenate([w, b[..., None]], axis=-1)


def spread_curve(rec: Recording, layer: str = "hidden.0") -> np.ndarray:
    """(T, K) max spread (:func:`~unitscope.measures.symmetry_spread`) of ``layer``."""
    units = unit_rows(rec, layer)
    return np.array([[symmetry_spread(m).max_distance for m in per_k] for per_k in units])


def distinct_curve(rec: Recording, layer: str = "hidden.0") -> np.ndarray:
    """(T, K) max distance of a unit's incoming, bias and outgoing weights from unit 0's.

    Exactly 0 when the units are bitwise identical (the layer mean used by the spread rounds,
    so the spread of identical units can be ~1e-17).
    """
    units = np.concatenate([unit_rows(rec, layer), rec.outgoing(layer)], axis=-1)
    return np.linalg.norm(units - units[:, :, :1], axis=-1).max(-1)


def per_member(rec: Recording) -> dict[str, np.ndarray]:
    """Per member (K,): final spread (max over layers), weight scale, how far training
    moved the weights, the largest start difference between a unit's incoming weights and
    bias and unit 0's (0 exactly when they start bitwise identical), the final accuracy."""
    spreads = np.max([spread_curve(rec, layer) for layer in rec.layers], axis=0)  # (T, K)
    rows = [unit_rows(rec, layer) for layer in rec.layers]
    scale = np.max([np.abs(r[-1]).max(axis=(1, 2)) for r in rows], axis=0)
    moved = np.max([np.abs(r[-1] - r[0]).max(axis=(1, 2)) for r in rows], axis=0)
    acc = rec.curves.get("train_acc")
    start = [np.abs(r[0] - r[0][:, :1]).max(axis=(1, 2)) for r in rows]  # exact comparison
    return {
        "spread": spreads[-1],
        "start_spread": np.max(start, axis=0),
        "scale": scale,
        "moved": moved,
        "accuracy": acc[:, -1] if acc is not None else np.full(rec.members, np.nan),
    }


def growth_rate(steps: np.ndarray, spread: np.ndarray) -> float:
    """Exponential growth rate per step of the spread, fitted before it saturates.

    Least squares of log(spread) on step over the checkpoints after step 0 where the spread
    is below half of its maximum (the phase where a linearization holds). Needs 3 points.
    """
    return growth_fits(steps, spread)["rate"]


def fit_window(steps: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Checkpoints after step 0 with a positive spread below half its maximum (before it
    saturates); all positive ones when fewer than 3 qualify."""
    s = np.asarray(spread, dtype=np.float64)
    ok = (steps > 0) & (s > 0) & (s < 0.5 * np.nanmax(s))
    return ok if ok.sum() >= 3 else (steps > 0) & (s > 0)


def growth_fits(steps: np.ndarray, spread: np.ndarray) -> dict[str, float]:
    """The spread's growth fitted two ways over :func:`fit_window`.

    ``rate``: slope of log(spread) on step (exponential growth ``s0 e^(rate t)``).
    ``r2_exp``: R² of that fit on the log scale, ``r2_exp_linear`` on the linear scale.
    ``r2_line_log``: R² of a straight line ``a + b t`` fitted to the spread, measured on
    the same log scale (so the two compare);
    ``r2_line``: the line's R² on its own linear scale. ``exp_better``: 1.0 when the
    exponential leaves the smaller log-scale residuals.
    """
    s = np.asarray(spread, dtype=np.float64)
    t = np.asarray(steps, dtype=np.float64)
    ok = fit_window(t, s)
    keys = ("rate", "r2_exp", "r2_exp_linear", "r2_line_log", "r2_line", "exp_better")
    nan = {k: math.nan for k in keys}
    if ok.sum() < 3:
        return nan
    tt, ss = t[ok], s[ok]
    ls = np.log(ss)
    total = float(((ls - ls.mean()) ** 2).sum())
    slope, icpt = np.polyfit(tt, ls, 1)
    res_exp = float(((ls - (icpt + slope * tt)) ** 2).sum())
    b, a = np.polyfit(tt, ss, 1)
    line = a + b * tt
    res_line_log = float(((ls - np.log(np.maximum(line, 1e-300))) ** 2).sum())
    res_line = float(((ss - line) ** 2).sum())
    res_exp_linear = float(((ss - np.exp(icpt + slope * tt)) ** 2).sum())
    lin_total = float(((ss - ss.mean()) ** 2).sum())
    return {
        "rate": float(slope),
        "r2_exp": 1 - res_exp / total if total > 0 else math.nan,
        "r2_exp_linear": 1 - res_exp_linear / lin_total if lin_total > 0 else math.nan,
        "r2_line_log": 1 - res_line_log / total if total > 0 else math.nan,
        "r2_line": 1 - res_line / lin_total if lin_total > 0 else math.nan,
        "exp_better": float(res_exp < res_line_log),
    }


# ---- where identical columns round differently ----------------------------------------------


def _groups(t: torch.Tensor) -> list[list[int]]:
    """Units (last axis) grouped by bitwise-identical columns, in order of first unit."""
    cols = t.detach().reshape(-1, t.shape[-1]).T.contiguous()
    groups: dict[bytes, list[int]] = {}
    for u in range(cols.shape[0]):
        groups.setdefault(cols[u].numpy().tobytes(), []).append(u)
    return sorted(groups.values())


def _ranges(groups: list[list[int]]) -> str:
    """``0-11 | 12-15`` for [[0..11], [12..15]] (a group that is not a run is listed)."""

    def one(g: list[int]) -> str:
        if g == list(range(g[0], g[-1] + 1)):
            return f"{g[0]}-{g[-1]}" if len(g) > 1 else str(g[0])
        return ",".join(map(str, g))

    return " | ".join(one(g) for g in groups)


def rounding_sources(cfg: Config) -> dict[str, dict[str, Any]]:
    """Each product of a training step, run on inputs whose unit columns are bitwise
    identical, with the model and data of ``cfg`` (K members as in the runs).

    Returns, per operation, the groups of units that stay bitwise identical in each member
    (``groups``: one list of groups per member) and the largest difference between a unit's
    column and unit 0's. One group per member: the operation keeps identical units identical.
    """
    dtype = torch.float64 if cfg.train.dtype == "float64" else torch.float32
    train, _, _ = prepare_data(cfg)
    K = cfg.seeds.members
    model = build_model(cfg, train, K).to(dtype)
    initialize(model, "symmetric", seeds=cfg.seeds.per_member()["init"], base=cfg.init.base)
    x = torch.as_tensor(train.x, dtype=dtype).reshape(train.n_samples, -1)
    modules = dict(model.named_modules())
    layer = cast(BatchedLinear, modules["hidden.0"])
    out = cast(BatchedLinear, modules["out"])
    gen = torch.Generator().manual_seed(0)
    n, U, C = x.shape[0], layer.weight.shape[1], out.weight.shape[1]

    def same_columns(*shape: int) -> torch.Tensor:  # (K, n, U) with identical unit columns
        col = torch.randn(*shape[:-1], 1, generator=gen, dtype=dtype)
        return col.expand(*shape).contiguous()

    ops: dict[str, torch.Tensor | None] = {}
    pre = layer(x)  # forward: x W^T + b, (K, n, U)
    ops["forward x·Wᵀ + b (hidden pre-activation)"] = pre
    g_pre = same_columns(K, n, U)
    layer.zero_grad()
    pre.backward(g_pre)
    ops["backward ∂L/∂W = gᵀ·x (incoming weights)"] = layer.weight.grad  # (K, U, d): rows
    if layer.bias is not None:
        grad_b = layer.bias.grad
        ops["backward ∂L/∂b = Σ g (bias)"] = None if grad_b is None else grad_b[:, None, :]
    h = same_columns(K, n, U).requires_grad_(True)
    z = out(h)  # (K, n, C)
    out.zero_grad()
    z.backward(torch.randn(K, n, C, generator=gen, dtype=dtype))
    ops["backward ∂L/∂h = g·A (into the units)"] = h.grad
    ops["backward ∂L/∂A = gᵀ·h (outgoing weights)"] = out.weight.grad  # (K, C, U)
    result = {}
    for name, grad in ops.items():
        if grad is None:
            continue
        t = grad.detach()
        if name.startswith("backward ∂L/∂W"):
            t = t.transpose(1, 2)  # units on the last axis
        groups = [_groups(t[k]) for k in range(K)]
        diff = float((t - t[..., :1]).abs().max())
        result[name] = {"groups": groups, "max_difference": diff}
    return result


# ---- verdicts ----------------------------------------------------------------------------


def verdict_keeps(ratios: dict[str, Interval]) -> Verdict:
    """Every setting keeps units identical: the (Holm) interval of log10(spread / rounding
    tolerance) lies below 0."""
    return family_verdict([_below(iv, 0.0) for iv in ratios.values()])


def verdict_breaks(ratios: dict[str, Interval]) -> Verdict:
    """Every source separates the units: the (Holm) interval of log10(spread / separation
    threshold) lies above 0."""
    return family_verdict([_above(iv, 0.0) for iv in ratios.values()])


def verdict_unstable(rates: dict[str, Interval], exp_share: dict[str, Interval]) -> Verdict:
    """Under every optimizer a planted difference grows (rate interval above 0) and grows
    exponentially (in the runs where it grew, the exponential fits better than a line in
    more than ``EXP_BETTER`` of them). Refuted for an optimizer where it shrinks or where a
    line fits better."""
    out: list[Verdict] = []
    for k, rate in rates.items():
        share = exp_share.get(k, Interval(math.nan, math.nan, math.nan, 0))
        grows, shape = _above(rate, 0.0), _above(share, EXP_BETTER)
        if grows == "supported" and shape == "supported":
            out.append("supported")
        elif "refuted" in (grows, shape):
            out.append("refuted")
        else:
            out.append("inconclusive")
    return family_verdict(out)


def verdict_rounding(excess: Interval) -> Verdict:
    """Rounding alone separated the units: the interval of log10(final spread / separation
    threshold) lies above 0; refuted when it lies below."""
    return _above(excess, 0.0)


def _above(iv: Interval, threshold: float) -> Verdict:
    if not iv.finite:
        return "inconclusive"
    return (
        "supported"
        if iv.above(threshold)
        else "refuted"
        if iv.below(threshold)
        else ("inconclusive")
    )


def _below(iv: Interval, threshold: float) -> Verdict:
    if not iv.finite:
        return "inconclusive"
    return (
        "supported"
        if iv.below(threshold)
        else "refuted"
        if iv.above(threshold)
        else ("inconclusive")
    )


# ---- the runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """The scale of each part."""

    steps: int
    sweep_steps: int  # eps sweep (the growth is fitted before it saturates)
    n_samples: int
    seeds: int  # keeps / breaks / long runs
    sweep_seeds: int  # eps sweep
    eps: tuple[float, ...]
    long_cap: int  # most steps of the rounding run


def setup(scale: Scale) -> Setup:
    return Setup(
        steps=pick(scale, 60, 300, 2000),
        sweep_steps=pick(scale, 60, 300, 800),
        n_samples=pick(scale, 80, 200, 500),
        seeds=pick(scale, 3, 8, 16),
        sweep_seeds=pick(scale, 4, 32, 32),
        eps=pick(scale, (1e-6,), (1e-8, 1e-4), (1e-10, 1e-7, 1e-4)),
        long_cap=pick(scale, 400, 4000, 12000),
    )


def base_config(scale: Scale, seeds: int) -> Config:
    s = setup(scale)
    k = list(range(seeds))
    return config(
        data={"name": "moons", "options": {"n_samples": s.n_samples, "noise": 0.1}, "n_probe": 64},
        model={"hidden": [16]},
        init={"scheme": "symmetric"},
        optim={"lr": 0.2},
        train={"steps": s.steps, "dtype": "float64", "n_checkpoints": 12},
        seeds={"init": k, "data": k, "dropout": k},
    )


@dataclass
class Measured:
    """Everything the runs measured (arrays with one entry per seed)."""

    setup: Setup
    settings: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    tolerance: dict[str, np.ndarray] = field(default_factory=dict)
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sweep: dict[str, dict[float, dict[str, Any]]] = field(default_factory=dict)
    control_sweep: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    long: dict[str, Any] = field(default_factory=dict)


def sweep_run(cfg: Config, eps: float, steps: int) -> dict[str, Any]:
    """One eps run: spread curves (K, T) and per-seed growth fits."""
    lin = [int(s) for s in np.linspace(0, steps, 31)]
    rec = fit(
        cfg.override({"init.scheme": "symmetric_eps", "init.eps": eps, "train.checkpoints": lin})
    )
    curve = spread_curve(rec)  # (T, K)
    fits = [growth_fits(rec.steps, curve[:, k]) for k in range(rec.members)]
    return {
        "steps": np.asarray(rec.steps),
        "curves": curve.T,
        "amplification": curve[-1] / curve[0],
        "start": curve[0],
        "scale": per_member(rec)["scale"],
        **{key: np.array([f[key] for f in fits]) for key in fits[0]},
    }


def long_config(scale: Scale, seeds: int, steps: int) -> Config:
    """The rounding run: 2 x ``seeds`` members (seeds 0..seeds-1 twice), full batch."""
    k = list(range(seeds)) * 2
    checkpoints = [int(s) for s in np.linspace(0, steps, 41)]
    return base_config(scale, seeds).override(
        {
            "seeds.init": k,
            "seeds.data": k,
            "seeds.dropout": k,
            "train.steps": steps,
            "train.checkpoints": checkpoints,
        }
    )


def long_start(cfg: Config, seeds: int) -> dict[str, torch.Tensor]:
    """Members 0..seeds-1 start bitwise identical (``symmetric``); members seeds..2 seeds-1
    start from the same units plus a planted difference of relative size ``PLANTED``."""
    train, _, _ = prepare_data(cfg)
    same = build_model(cfg, train, seeds).double()
    planted = build_model(cfg, train, seeds).double()
    k = list(range(seeds))
    initialize(same, "symmetric", seeds=k, base=cfg.init.base)
    initialize(planted, "symmetric_eps", seeds=k, base=cfg.init.base, eps=PLANTED)
    a, b = same.param_dict(), planted.param_dict()
    return {n: torch.cat([a[n], b[n]]) for n in a}


def long_runs(m: Measured, scale: Scale, result: StudyResult, progress) -> None:
    """The rounding run: bitwise-identical float64 units trained past twice the predicted
    separation time, next to the same units with a planted difference of ``PLANTED`` (one
    batched run)."""
    K = m.setup.seeds
    gd = m.sweep.get("full-batch GD", {}).get(min(m.setup.eps))
    if gd is None:
        return
    rate = float(np.nanmean(gd["rate"]))
    scale_w = float(np.nanmedian(gd["scale"]))
    rho = float(np.finfo(np.float64).eps) * max(scale_w, 1.0)
    threshold = SEPARATED * max(scale_w, 1.0)
    t_sep = math.log(threshold / rho) / rate if rate > 0 else math.inf
    steps = int(min(m.setup.long_cap, math.ceil(2 * t_sep) if math.isfinite(t_sep) else 1e12))
    with part(result, f"rounding alone, {steps} steps", progress):
        cfg = long_config(scale, K, steps)
        rec = fit(cfg, start=long_start(cfg, K))
        both = distinct_curve(rec)  # (T, 2K)
        dist, plant = both[:, :K], both[:, K:]
        t = np.asarray(rec.steps)
        late = t >= t[-1] / 2
        nonzero = [
            int(t[np.argmax(dist[:, k] > 0)]) if (dist[:, k] > 0).any() else -1 for k in range(K)
        ]
        quarter = int(np.argmin(np.abs(t - t_sep / 4))) if math.isfinite(t_sep) else 0
        rates = gd["rate"][:K]

        def excess(d: np.ndarray) -> np.ndarray:  # below a tenth of a rounding unit: floored
            return np.log10(np.maximum(d, rho / 10) / threshold)

        m.long = {
            "steps": t,
            "distinct": dist.T,
            "planted": plant.T,
            "rate": rate,
            "seed_rates": rates,
            "rho": rho,
            "threshold": threshold,
            "t_sep": t_sep,
            "seed_t_sep": np.where(
                rates > 0, np.log(threshold / rho) / np.maximum(rates, 1e-300), np.inf
            ),
            "horizon": steps,
            "first_nonzero": np.array(nonzero),
            "excess": excess(dist[-1]),
            "planted_excess": excess(plant[-1]),
            "planted_late_rate": np.array(
                [growth_fits(t[late], plant[late, k])["rate"] for k in range(K)]
            ),
            "start_distinct": dist[0],
            "control_step": int(t[quarter]),
            "control_excess": excess(dist[quarter]),
        }


def measure(scale: Scale, result: StudyResult, progress: ProgressFn | None) -> Measured:
    s = setup(scale)
    m = Measured(s)
    base = base_config(scale, s.seeds)
    for name, change in {**KEEPS, **BREAKS}.items():
        with part(result, name, progress):
            rec = fit(base.override(change))
            m.settings[name] = per_member(rec)
            m.curves[name] = spread_curve(rec).T  # (K, T)
            m.steps = np.asarray(rec.steps)
            if name in KEEPS:
                dtype = base.override(change).train.dtype
                m.tolerance[name] = np.array(
                    [rounding_tolerance(dtype, float(v)) for v in m.settings[name]["scale"]]
                )
    sweep_base = base_config(scale, s.sweep_seeds)
    for name, change in SWEEP.items():
        for eps in s.eps:
            with part(result, f"{name}, eps={eps:g}", progress):
                m.sweep.setdefault(name, {})[eps] = sweep_run(
                    sweep_base.override(change), eps, s.sweep_steps
                )
    with part(result, "control: strong weight decay", progress):
        m.control_sweep = sweep_run(sweep_base.override(DECAY_CONTROL), min(s.eps), s.sweep_steps)
    with part(result, "where identical columns round differently", progress):
        m.sources = rounding_sources(long_config(scale, s.seeds, 1))
    long_runs(m, scale, result, progress)
    return m


# ---- findings ----------------------------------------------------------------------------


def log_ratio(spread: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """log10(spread / limit), with a spread below ``FLOOR`` x limit (0 included) counted as
    ``FLOOR`` x limit: the ratios span many decades, so they are compared on a log scale."""
    return np.asarray(np.log10(np.maximum(np.asarray(spread) / np.asarray(limit), FLOOR)))


def keep_ratios(m: Measured) -> dict[str, np.ndarray]:
    """Per keeping setting: log10(final spread / rounding tolerance), one per seed."""
    return {
        k: log_ratio(m.settings[k]["spread"], m.tolerance[k]) for k in KEEPS if k in m.tolerance
    }


def break_ratios(m: Measured, names) -> dict[str, np.ndarray]:
    """log10(final spread / separation threshold), one per seed."""
    return {
        k: log_ratio(m.settings[k]["spread"], SEPARATED * np.maximum(m.settings[k]["scale"], 1.0))
        for k in names
        if k in m.settings
    }


def sweep_intervals(m: Measured) -> tuple[dict[str, Interval], dict[str, Interval]]:
    """Holm intervals of each optimizer's rate at the smallest eps; and the share of grown
    runs (amplified > AMPLIFIED) where the exponential fits better."""
    eps = min(m.setup.eps)
    runs = {k: v[eps] for k, v in m.sweep.items() if eps in v}
    rates = holm_intervals({k: r["rate"] for k, r in runs.items()})
    shares = holm_intervals(
        {k: r["exp_better"][r["amplification"] > AMPLIFIED] for k, r in runs.items()}
    )
    return rates, shares


def findings(m: Measured) -> dict[str, Finding]:
    """The four claims by key (``keeps``, ``breaks``, ``unstable``, ``rounding``); a claim
    whose runs failed is left out."""
    out: dict[str, Finding] = {}
    s = m.setup
    long = m.long
    horizon = (
        f"; the predicted rounding separation time is {fmt(long['t_sep'])} steps" if long else ""
    )

    # -- identical units stay identical -----------------------------------------------------
    ratios = keep_ratios(m)
    if ratios and "dropout 0.2" in m.settings:
        ivs = holm_intervals(ratios)
        worst = max(ivs, key=lambda k: ivs[k].hi)
        drop = m.settings["dropout 0.2"]
        drop_tol = np.array([rounding_tolerance("float64", float(v)) for v in drop["scale"]])
        drop_ratio = log_ratio(drop["spread"], drop_tol)
        drop_iv = t_interval(drop_ratio)
        starts = max(float(m.settings[k]["start_spread"].max()) for k in ratios)
        moved = min(float(m.settings[k]["moved"].min()) for k in ratios)
        out["keeps"] = Finding(
            NAME,
            "Identical units stay identical under every deterministic optimizer, loss "
            "and penalty: symmetry is kept unless something breaks it.",
            verdict_keeps(ivs),
            f"log10(spread / rounding tolerance) after {s.steps} steps, Holm over "
            f"{len(ivs)} settings: largest {worst} {fmt_interval(ivs[worst])}; dropout "
            f"(control) {fmt_interval(drop_iv)}{horizon}.",
            {"log10_spread_over_tolerance": {k: v.tolist() for k, v in ratios.items()}},
            {
                "below": 0.0,
                "tolerance": "1000 machine epsilons x max(weight scale, 1)",
                "floor": FLOOR,
                "correction": "Holm over the settings",
            },
            ("symmetry-table",),
            interval=ivs,
            control=Control(
                "dropout 0.2: masks differ per unit",
                verdict_keeps({"dropout 0.2": drop_iv}),
                {"log10_spread_over_tolerance": drop_ratio.tolist()},
            ),
            premise=Premise(
                f"units start bitwise identical and training moves the weights (by more "
                f"than {MOVED:g}) in every setting",
                starts == 0.0 and moved > MOVED,
                {"max_start_spread": starts, "min_weight_change": moved, "limit": MOVED},
            ),
        )

    # -- sources that break it --------------------------------------------------------------
    b = break_ratios(m, BREAKS)
    if b and "full-batch GD" in m.settings:
        ivs = holm_intervals(b)
        ctrl = break_ratios(m, ["full-batch GD"])["full-batch GD"]
        ctrl_iv = t_interval(ctrl)
        b_starts = {k: float(m.settings[k]["start_spread"].max()) for k in b}
        out["breaks"] = Finding(
            NAME,
            "Dropout, or outgoing weights that differ, separate units whose incoming "
            "weights start identical.",
            verdict_breaks(ivs),
            "log10(spread / separation threshold) (Holm): "
            + ", ".join(f"{k} {fmt_interval(v)}" for k, v in ivs.items())
            + f"; full-batch GD (control) {fmt_interval(ctrl_iv)}.",
            {"log10_spread_over_threshold": {k: v.tolist() for k, v in b.items()}},
            {
                "above": 0.0,
                "threshold": f"{SEPARATED:g} x max(weight scale, 1)",
                "floor": FLOOR,
                "correction": "Holm over the sources",
            },
            ("symmetry-table", "symmetry-breakers"),
            interval=ivs,
            control=Control(
                "full-batch GD: nothing treats the units differently",
                verdict_breaks({"full-batch GD": ctrl_iv}),
                {"log10_spread_over_threshold": ctrl.tolist()},
            ),
            premise=Premise(
                "the incoming weights start identical, so training, not the start, "
                "separates the units",
                all(v == 0.0 for v in b_starts.values()),
                {"start_spread": b_starts},
            ),
        )

    # -- the symmetric configuration is unstable --------------------------------------------
    if m.sweep and m.control_sweep:
        rates, shares = sweep_intervals(m)
        c = m.control_sweep
        c_rate = t_interval(c["rate"])
        c_share = t_interval(c["exp_better"][c["amplification"] > AMPLIFIED])
        eps = min(s.eps)
        runs = {k: v[eps] for k, v in m.sweep.items() if eps in v}
        grown = {k: int((r["amplification"] > AMPLIFIED).sum()) for k, r in runs.items()}
        start_max = max(
            float(np.max(r["start"] / np.maximum(r["scale"], 1.0))) for r in runs.values()
        )
        r2 = {
            k: (float(np.nanmean(r["r2_exp"])), float(np.nanmean(r["r2_line_log"])))
            for k, r in runs.items()
        }
        out["unstable"] = Finding(
            NAME,
            "The symmetric configuration is unstable: a tiny difference between units "
            "grows, and grows exponentially, under GD, Adam and minibatch SGD with "
            "momentum or weight decay.",
            verdict_unstable(rates, shares),
            f"growth rate per step at eps={eps:g} (Holm over {len(rates)} optimizers): "
            + ", ".join(f"{k} {fmt_interval(v)}" for k, v in rates.items())
            + "; exponential vs line, R² on the log scale: "
            + ", ".join(f"{k} {fmt(a)} vs {fmt(b_)}" for k, (a, b_) in r2.items())
            + " (runs grown >10x: "
            + ", ".join(f"{v}/{len(runs[k]['rate'])}" for k, v in grown.items())
            + f"); strong weight decay (control) {fmt_interval(c_rate)}.",
            {
                "growth_rate_per_step": {k: r["rate"].tolist() for k, r in runs.items()},
                "amplification": {k: r["amplification"].tolist() for k, r in runs.items()},
                "exp_better": {k: r["exp_better"].tolist() for k, r in runs.items()},
                "r2_exp_log": {k: r["r2_exp"].tolist() for k, r in runs.items()},
                "r2_line_log": {k: r["r2_line_log"].tolist() for k, r in runs.items()},
                "r2_line_linear": {k: r["r2_line"].tolist() for k, r in runs.items()},
                "rate_by_eps": {
                    k: {f"{e:g}": float(np.nanmean(v[e]["rate"])) for e in v}
                    for k, v in m.sweep.items()
                },
            },
            {
                "rate_above": 0.0,
                "exp_better_share_above": EXP_BETTER,
                "grown": f"amplification > {AMPLIFIED:g}",
                "correction": "Holm over the optimizers",
            },
            ("symmetry-eps", "symmetry-fits"),
            interval={
                **{f"rate: {k}": v for k, v in rates.items()},
                **{f"exp better: {k}": v for k, v in shares.items() if v.n > 0},
            },
            control=Control(
                "weight decay 0.5: every weight, and every difference, shrinks",
                verdict_unstable({"control": c_rate}, {"control": c_share}),
                {"growth_rate_per_step": c["rate"].tolist()},
            ),
            premise=Premise(
                "the planted difference starts small (below 1% of the weights) and far "
                "above rounding, and every run has a fit window",
                start_max < 1e-2
                and all(
                    (r["start"] > rounding_tolerance("float64", float(np.max(r["scale"])))).all()
                    for r in runs.values()
                )
                and all(np.isfinite(r["rate"]).all() for r in runs.values()),
                {"max_start_relative": start_max},
            ),
        )

    # -- rounding alone -----------------------------------------------------------------------
    if long:
        over = t_interval(long["excess"])
        early = t_interval(long["control_excess"])
        planted = t_interval(long["planted_excess"])
        differ = long["first_nonzero"][long["first_nonzero"] >= 0]
        first = (
            f"{int(np.median(differ))} (median; {len(differ)}/{len(long['excess'])} seeds)"
            if len(differ)
            else "never"
        )
        ops = [k for k, v in m.sources.items() if any(len(g) > 1 for g in v["groups"])]
        where = (
            "identical columns round differently in "
            + "; ".join(
                f"{k} (groups {_ranges(max(m.sources[k]['groups'], key=len))})" for k in ops
            )
            if ops
            else "no product of a step rounds identical columns differently"
        )
        out["rounding"] = Finding(
            NAME,
            "Floating-point rounding alone separates identical units: trained past the "
            "separation time predicted from the measured instability, float64 units that "
            "start bitwise identical end separated.",
            verdict_rounding(over),
            f"predicted separation after ln({fmt(long['threshold'])} / "
            f"{fmt(long['rho'])}) / {fmt(long['rate'])} = {fmt(long['t_sep'])} steps; after "
            f"{long['horizon']} steps log10(spread / threshold) is {fmt_interval(over)} "
            f"(a planted 1e-12 difference: {fmt_interval(planted)}; its late growth rate "
            f"{fmt_interval(t_interval(long['planted_late_rate']))}); units first differ "
            f"by step {first}; {where}.",
            {
                "log10_spread_over_threshold": long["excess"].tolist(),
                "planted_log10_spread_over_threshold": long["planted_excess"].tolist(),
                "planted_late_rate": long["planted_late_rate"].tolist(),
                "first_nonzero_step": long["first_nonzero"].tolist(),
                "predicted_separation_step": long["t_sep"],
                "predicted_separation_step_per_seed": long["seed_t_sep"].tolist(),
                "rate": long["rate"],
                "rounding_unit": long["rho"],
                "horizon": long["horizon"],
            },
            {
                "above": 0.0,
                "threshold": long["threshold"],
                "prediction": "ln(threshold / rounding unit) / mean GD rate of the eps sweep",
            },
            ("symmetry-rounding", "symmetry-sources"),
            interval={"log10_spread_over_threshold": over},
            control=Control(
                f"the same runs at step {long['control_step']}, a quarter of the predicted "
                "separation time",
                verdict_rounding(early),
                {"log10_spread_over_threshold": long["control_excess"].tolist()},
            ),
            premise=Premise(
                f"the units start bitwise identical and the run lasts at least {PAST:g}x "
                "the predicted separation time",
                float(np.max(long["start_distinct"])) == 0.0
                and long["horizon"] >= PAST * long["t_sep"],
                {
                    "horizon": long["horizon"],
                    "predicted_separation_step": long["t_sep"],
                    "max_start_difference": float(np.max(long["start_distinct"])),
                },
            ),
        )
    return out


# ---- figures -----------------------------------------------------------------------------


def figures(m: Measured, found: dict[str, Verdict]) -> list[FigureSpec]:
    figs: list[FigureSpec] = []
    ratios = keep_ratios(m)
    ivs = holm_intervals(ratios) if ratios else {}
    b_ivs = holm_intervals(break_ratios(m, BREAKS))
    rows = []
    for k, v in m.settings.items():
        if k in ivs:
            state = worded(
                _below(ivs[k], 0.0), supported="identical", refuted="separated", other="undecided"
            )
            rows.append([k, "keeps", float(np.mean(v["spread"])), fmt_interval(ivs[k]), state])
        elif k in b_ivs:
            state = worded(
                _above(b_ivs[k], 0.0), supported="separated", refuted="identical", other="undecided"
            )
            rows.append([k, "breaks", float(np.mean(v["spread"])), fmt_interval(b_ivs[k]), state])
    figs.append(
        FigureSpec(
            "symmetry-table",
            "table",
            "Final spread (max distance of a unit's incoming weights and bias from the layer's "
            "mean unit, mean over seeds) for each setting started from identical units, and "
            "its ratio to the rounding tolerance (settings expected to keep) or to the "
            "separation threshold (sources expected to break), with Holm intervals over seeds.",
            {
                "columns": ["setting", "expected", "final spread", "log10 ratio", "units"],
                "rows": rows,
            },
            worded(
                found.get("keeps", "inconclusive"),
                supported="Deterministic training keeps identical units identical",
                refuted="Deterministic training does not keep identical units identical",
                other="Does deterministic training keep identical units identical?",
            ),
        )
    )
    figs.append(
        FigureSpec(
            "symmetry-breakers",
            "lines",
            "Spread of hidden.0 over training (log scale) for the sources expected to break "
            "the symmetry; one thin line per seed, the bold line is the mean.",
            {
                "x": m.steps,
                "series": {k: m.curves[k] for k in BREAKS if k in m.curves},
                "y_scale": "log",
                "x_scale": "log1p",
                "y_label": "spread",
            },
            worded(
                found.get("breaks", "inconclusive"),
                supported="Symmetry breakers separate the units",
                refuted="Symmetry breakers do not separate the units",
                other="Do symmetry breakers separate the units?",
            ),
        )
    )
    eps = min(m.setup.eps)
    series = {k: v[eps]["curves"] for k, v in m.sweep.items() if eps in v}
    if m.control_sweep:
        series["weight decay 0.5 (control)"] = m.control_sweep["curves"]
    if series:
        x = next(iter(m.sweep.values()))[eps]["steps"]
        figs.append(
            FigureSpec(
                "symmetry-eps",
                "lines",
                f"Spread of hidden.0 after a planted difference of relative size eps={eps:g}, "
                "per optimizer (log scale; one thin line per seed). A straight rising line is "
                "exponential growth.",
                {"x": x, "series": series, "y_scale": "log", "y_label": "spread"},
                worded(
                    found.get("unstable", "inconclusive"),
                    supported="A planted difference grows exponentially",
                    refuted="A planted difference does not grow exponentially",
                    other="Does a planted difference grow exponentially?",
                ),
            )
        )
        fit_rows = []
        for k, by_eps in m.sweep.items():
            for e, r in by_eps.items():
                fit_rows.append(
                    [
                        k,
                        f"{e:g}",
                        fmt_interval(t_interval(r["rate"])),
                        float(np.nanmean(r["r2_exp"])),
                        float(np.nanmean(r["r2_line_log"])),
                        float(np.nanmean(r["r2_exp_linear"])),
                        float(np.nanmean(r["r2_line"])),
                        f"{int(np.nansum(r['exp_better']))}/{len(r['rate'])}",
                    ]
                )
        figs.append(
            FigureSpec(
                "symmetry-fits",
                "table",
                "Growth of a planted difference fitted as an exponential (log spread linear in "
                "the step) and as a straight line, before saturation: mean R² over seeds, the "
                "each model's R² on the log scale and on the linear scale; runs where the "
                "exponential leaves the smaller log-scale residuals.",
                {
                    "columns": [
                        "optimizer",
                        "eps",
                        "rate per step",
                        "R² exp (log)",
                        "R² line (log)",
                        "R² exp (linear)",
                        "R² line (linear)",
                        "exp better",
                    ],
                    "rows": fit_rows,
                },
                "Exponential or linear growth",
            )
        )
    if m.long:
        lg = m.long
        figs.append(
            FigureSpec(
                "symmetry-rounding",
                "lines",
                "Largest difference between a unit and unit 0 (incoming, bias and outgoing "
                "weights) in float64 runs started bitwise identical ('rounding only') and with "
                f"a planted difference of {PLANTED:g}; one thin line per seed, log scale. "
                f"Predicted separation step: {fmt(lg['t_sep'])}.",
                {
                    "x": lg["steps"],
                    "series": {
                        "rounding only": np.maximum(lg["distinct"], 1e-20),
                        "planted 1e-12": lg["planted"],
                    },
                    "y_scale": "log",
                    "y_label": "max difference between units",
                    "baselines": {
                        "separation threshold": lg["threshold"],
                        "one rounding unit": lg["rho"],
                    },
                },
                worded(
                    found.get("rounding", "inconclusive"),
                    supported="Rounding alone separates identical units",
                    refuted="Rounding alone does not separate identical units",
                    other="Does rounding alone separate identical units?",
                ),
            )
        )
    if m.sources:
        rows = []
        for k, v in m.sources.items():
            split = [g for g in v["groups"] if len(g) > 1]
            patterns = sorted({_ranges(g) for g in split})
            rows.append(
                [
                    k,
                    f"{len(split)}/{len(v['groups'])}",
                    "; ".join(patterns) or "-",
                    v["max_difference"],
                ]
            )
        figs.append(
            FigureSpec(
                "symmetry-sources",
                "table",
                "Each product of a training step run on inputs whose unit columns are bitwise "
                "identical (the rounding run's model, data and members): how many members get "
                "units that round differently, the groups of units that stay bitwise identical "
                "there, and the largest difference from unit 0. More than one group: the BLAS "
                "kernel treats those columns differently (they fall in different blocks).",
                {
                    "columns": [
                        "operation",
                        "members split",
                        "groups of identical units",
                        "max difference",
                    ],
                    "rows": rows,
                },
                "Where identical columns round differently",
            )
        )
    return figs


def numbers(m: Measured) -> dict[str, Any]:
    def listed(d: dict[str, Any]) -> dict[str, Any]:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}

    return {
        "setup": dict(m.setup.__dict__),
        "settings": {k: listed(v) for k, v in m.settings.items()},
        "tolerance": {k: v.tolist() for k, v in m.tolerance.items()},
        "sweep": {k: {f"{e:g}": listed(r) for e, r in v.items()} for k, v in m.sweep.items()},
        "control_sweep": listed(m.control_sweep),
        "sources": m.sources,
        "long": listed(m.long),
    }


def finish(result: StudyResult, m: Measured) -> StudyResult:
    """Findings, figures and numbers of the measured runs, into ``result``."""
    found = findings(m)
    result.findings = list(found.values())
    result.figures = figures(m, {k: f.verdict for k, f in found.items()})
    result.numbers = numbers(m)
    return result


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    finish(result, measure(scale, result, progress))
    result.elapsed_s = time.perf_counter() - start
    return result
