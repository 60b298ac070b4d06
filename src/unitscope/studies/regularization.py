"""Study ``regularization``: L1 pins weights near zero; what do L1, L2 and dropout do to units?

The answer's footnote: "strong L1 penalties could cause a number of weights to be pinned very
near to 0". An L1 sweep on an MLP trained on digits measures the fraction of weights pinned
near zero — ``|w| < PINNED_BELOW × RMS`` of that layer's weights at init, per member — and
the fraction exactly 0, for both ways of applying the penalty (``optim.l1_mode``):

- **subgradient** (the default): ``l1 · sign(w)`` is part of the gradient, so a weight the
  data does not hold up is pushed back and forth across 0 — near 0, never exactly 0;
- **proximal**: after each step every weight is soft-thresholded by ``lr · l1``; a weight that
  crosses 0 stops there — exact zeros.

Then L2 and dropout. For every setting, the diversity measures of the hidden layer (mean
|corr| between units, effective rank, ...; see :mod:`.diversity`) are compared with the
unregularized run of the *same* seeds (paired by seed): does the regularizer make units
more alike (mean |corr| up and effective rank down, both intervals excluding 0), more
different (the opposite), or has it **no effect** (both intervals inside ±10% of the
unregularized value)? The settings of one regularizer form a Holm family. Beside every
interval stands the minimum detectable effect (α = 0.05 Holm-adjusted, power 0.8), so an
answer of "no effect" can be told from "too few seeds".

Control: a placebo — the unregularized network again, with other init seeds — judged by the
same verdict functions; it must not come out "pins many weights" or "more alike". Premise:
the unregularized network trained, the tested settings still learn, and the study could
detect an effect of the margin's size.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..record import Recording
from ..train import Config, fit
from ._common import ProgressFn, Scale, config, fmt, mean_ci, part, pick
from ._finding import Control, FigureSpec, Finding, Interval, Premise, StudyResult, Verdict
from ._stats import (
    family_verdict,
    fmt_interval,
    holm_intervals,
    min_detectable,
    t_interval,
    worded,
)
from .diversity import MEASURES, diversity_measures, layer_units

NAME = "regularization"
TITLE = "Regularization: L1 pins weights near zero; L2 and dropout change how alike units are"
QUESTION = (
    "The answer's footnote: strong L1 penalties pin many weights very near 0. Does it — as "
    "a subgradient or as a proximal step — and do L1, L2 or dropout make the units of a "
    "layer more alike?"
)

PINNED_BELOW = 0.05  # a weight is pinned when |w| < this fraction of its layer's init RMS
PINNED_MANY = 0.5  # "many" weights: at least this fraction of all weights
PINNED_GAIN = 0.05  # L1 must pin at least this much more than no L1 to be the cause
# "Strong" L1 is the strongest in the sweep that still learns: test accuracy at least this
# fraction of the unregularized run's (a penalty that zeroes the whole network pins every
# weight trivially). Settings that no longer learn are left out of the "alike" tests.
STILL_LEARNS = 0.9
TRAINED_ACC = 0.9  # premise: the unregularized net's train-accuracy interval lies above this
# "No effect": a change whose interval lies within ±EFFECT_SHARE of the unregularized value.
EFFECT_SHARE = 0.1
ALPHA, POWER = 0.05, 0.8  # of the minimum detectable effect
LAYER = "hidden.0"
BASE = "no regularization"  # the run every setting is compared with (same seeds)
PLACEBO = "placebo: no regularization, other seeds"  # the control
MODES = {"L1": "subgradient", "L1 prox": "proximal"}  # L1 group -> optim.l1_mode
ALIKE, DIFFERENT, NO_EFFECT = "more alike", "more different", "no effect"
NOT_ALIKE, UNCLEAR = "not more alike", "unclear"


@dataclass(frozen=True)
class Run:
    """One setting's K seeds at the end of training (arrays over seeds are (K,))."""

    group: str  # "none", "placebo", "L1", "L1 prox", "L2" or "dropout"
    strength: float  # the penalty or dropout rate (0 for none and placebo)
    pinned: np.ndarray  # (T, K) fraction of weights pinned near 0, over training
    zeros: np.ndarray  # fraction of weights exactly 0 at the end
    measures: dict[str, np.ndarray]  # diversity measures of LAYER at the end
    accuracy: np.ndarray  # test accuracy at the end
    train_accuracy: np.ndarray
    weights: np.ndarray  # (U, fan_in) LAYER of seed 0 at the end
    init_weights: np.ndarray  # (U, fan_in) LAYER of seed 0 at init

    @property
    def width(self) -> int:
        return int(self.weights.shape[0])

    @property
    def dead_fraction(self) -> np.ndarray:
        return self.measures["dead_units"] / self.width


@dataclass(frozen=True)
class AlikeTest:
    """One regularizer's settings against the baseline: Holm intervals of the per-seed
    changes, their minimum detectable effects, and each setting's effect label."""

    group: str
    tested: list[str]  # settings that still learn (all of them when none does)
    dropped: list[str]  # settings that no longer learn (left out)
    intervals: dict[str, Interval]  # "<setting> Δ mean |corr|" / "<setting> Δ effective rank"
    mde: dict[str, float]  # same keys
    margins: dict[str, float]  # "corr", "rank": half-widths of "no effect"
    effects: dict[str, str]  # setting -> ALIKE | DIFFERENT | NO_EFFECT | UNCLEAR


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


def zero_fraction(rec: Recording) -> np.ndarray:
    """(K,) fraction of all weights (not biases) exactly 0 at the last checkpoint."""
    zeros, total = 0.0, 0
    for name in weight_names(rec):
        w = rec.params[name][-1].reshape(rec.params[name].shape[1], -1)  # (K, n)
        zeros = zeros + (w == 0).sum(axis=-1)
        total += w.shape[-1]
    return np.asarray(zeros, dtype=np.float64) / total


def final(rec: Recording, curve: str) -> np.ndarray:
    """(K,) last value of ``curve`` (NaN when not recorded, e.g. accuracy for regression)."""
    if curve not in rec.curves:
        return np.full(rec.members, np.nan)
    return rec.curves[curve][:, -1]


def measure(rec: Recording, group: str, strength: float) -> Run:
    units = layer_units(rec, LAYER)[-1:]  # (1, K, n, U)
    return Run(
        group=group,
        strength=strength,
        pinned=pinned_fraction(rec),
        zeros=zero_fraction(rec),
        measures={k: v[0] for k, v in diversity_measures(units).items()},
        accuracy=final(rec, "test_acc"),
        train_accuracy=final(rec, "train_acc"),
        weights=rec.weights(LAYER)[-1, 0],
        init_weights=rec.weights(LAYER)[0, 0],
    )


def strong_l1(accuracy: dict[str, float], baseline: float) -> str:
    """The strongest L1 setting (``accuracy`` in increasing strength) whose accuracy is at
    least ``STILL_LEARNS`` x ``baseline``; the strongest of all when none is (or no accuracy)."""
    names = list(accuracy)
    learning = [k for k in names if learns(accuracy[k], baseline)]
    return learning[-1] if learning else names[-1]


def learns(accuracy: float, baseline: float) -> bool:
    """A setting still learns: accuracy >= STILL_LEARNS x baseline (True when unknown)."""
    if not (np.isfinite(baseline) and np.isfinite(accuracy)):
        return True
    return bool(accuracy >= STILL_LEARNS * baseline)


# ---- verdicts ------------------------------------------------------------------------------
def verdict_l1_pins(pinned: Interval, gain: Interval) -> Verdict:
    """Strong L1 pins many weights near zero, from the intervals over seeds of the pinned
    fraction and of its gain over no L1 (paired by seed).

    Supported when the pinned interval lies above :data:`PINNED_MANY` and the gain interval
    above :data:`PINNED_GAIN`; refuted when the gain interval lies below :data:`PINNED_GAIN`
    (L1 is not what pins them); mixed when L1 clearly pins more but clearly not many;
    inconclusive when an interval straddles its threshold.
    """
    if not (pinned.finite and gain.finite):
        return "inconclusive"
    if gain.below(PINNED_GAIN):
        return "refuted"
    if gain.above(PINNED_GAIN):
        if pinned.above(PINNED_MANY):
            return "supported"
        if pinned.below(PINNED_MANY):
            return "mixed"
    return "inconclusive"


def side(iv: Interval, margin: float, alike_up: bool) -> str:
    """Where one measure's change lies for the claim "more alike": ``"null"`` when the whole
    interval is inside ±``margin`` (checked first: a significant change smaller than the
    margin is no change worth the name), ``"for"`` when it excludes 0 on the alike side
    (up for mean |corr|, down for effective rank), ``"against"`` when it excludes 0 on the
    other side, ``"unsure"`` otherwise."""
    if not iv.finite:
        return "unsure"
    if iv.above(-margin) and iv.below(margin):
        return "null"
    up, down = iv.above(0.0), iv.below(0.0)
    if up or down:
        return "for" if up == alike_up else "against"
    return "unsure"


def effect(corr: Interval, rank: Interval, margins: dict[str, float]) -> str:
    """How a setting changed the units, from the intervals of the per-seed change of mean
    |corr| and of effective rank (see :func:`side`): :data:`ALIKE` when both moved the alike
    way (|corr| up, rank down); :data:`DIFFERENT` when both moved the other way;
    :data:`NO_EFFECT` when both stayed inside their margins; :data:`NOT_ALIKE` when neither
    of those but one measure decidedly did not move the alike way; :data:`UNCLEAR` when the
    intervals cannot tell."""
    c, r = side(corr, margins["corr"], True), side(rank, margins["rank"], False)
    if c == r == "for":
        return ALIKE
    if c == r == "against":
        return DIFFERENT
    if c == r == "null":
        return NO_EFFECT
    if "null" in (c, r) or "against" in (c, r):
        return NOT_ALIKE
    return UNCLEAR


def verdict_alike(effects: Iterable[str]) -> Verdict:
    """ "The regularizer makes units more alike" (|corr| up AND rank down), over its settings.

    A setting supports it when :data:`ALIKE`, refutes it when one measure decidedly did not
    move the alike way (:data:`DIFFERENT`, :data:`NO_EFFECT`, :data:`NOT_ALIKE`), decides
    nothing when :data:`UNCLEAR`. Supported when every setting supports it, refuted when
    every one refutes it, mixed when some do each, inconclusive otherwise (none, or some
    settings undecided).
    """
    labels = list(effects)
    votes = ["for" if e == ALIKE else "unsure" if e == UNCLEAR else "against" for e in labels]
    if not votes or "unsure" in votes and not ("for" in votes and "against" in votes):
        return "inconclusive"
    if all(v == "for" for v in votes):
        return "supported"
    if all(v == "against" for v in votes):
        return "refuted"
    return "mixed"


# ---- runs ----------------------------------------------------------------------------------
def settings(scale: Scale) -> dict[str, tuple[str, float, dict[str, Any]]]:
    """Setting name -> (group, strength, config overrides); the baseline and placebo first."""
    K = len(base_config(scale).seeds.init)
    l1 = pick(scale, [3e-2], [1e-3, 3e-3, 1e-2, 3e-2], [1e-4, 1e-3, 3e-3, 1e-2, 3e-2])
    l2 = pick(scale, [1e-2], [1e-3, 1e-2], [1e-3, 1e-2, 3e-2])
    drop = pick(scale, [0.3], [0.2, 0.5], [0.1, 0.3, 0.5])
    out: dict[str, tuple[str, float, dict[str, Any]]] = {
        BASE: ("none", 0.0, {}),
        PLACEBO: ("placebo", 0.0, {"seeds.init": list(range(K, 2 * K))}),
    }
    for group, mode in MODES.items():
        out |= {f"{group} {v:g}": (group, v, {"optim.l1": v, "optim.l1_mode": mode}) for v in l1}
    out |= {f"L2 {v:g}": ("L2", v, {"optim.l2": v}) for v in l2}
    out |= {f"dropout {v:g}": ("dropout", v, {"model.dropout": v}) for v in drop}
    return out


def base_config(scale: Scale) -> Config:
    steps = pick(scale, 40, 300, 1000)
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
            "batch_size": pick(scale, 0, 0, 128),  # full: minibatches keep it under 2.5 min
            "n_checkpoints": pick(scale, 5, 10, 16),
            "eval_every": max(1, steps // 10),
        },
        seeds={"init": list(range(pick(scale, 3, 16, 24)))},
    )


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    base = base_config(scale)
    runs: dict[str, Run] = {}
    steps = np.zeros(0)
    for name, (group, strength, overrides) in settings(scale).items():
        with part(result, name, progress):
            rec = fit(base.override(overrides))
            steps = rec.steps
            runs[name] = measure(rec, group, strength)
    if BASE not in runs or PLACEBO not in runs:
        result.failures.append(f"{BASE} or its placebo failed; nothing to compare with.")
    else:
        tests = {g: alike_test(runs, g) for g in ("L1", "L2", "dropout") if group_of(runs, g)}
        result.findings = findings(runs, tests)
        result.figures = figures(runs, tests, steps)
        result.numbers = {
            "settings": {k: numbers_of(r) for k, r in runs.items()},
            "alike_tests": {g: alike_numbers(t) for g, t in tests.items()},
            "pinned_below_x_init_rms": PINNED_BELOW,
            "steps": base.train.steps,
            "seeds": base.seeds.members,
        }
    result.elapsed_s = time.perf_counter() - start
    return result


def numbers_of(r: Run) -> dict[str, Any]:
    return {
        "group": r.group,
        "strength": r.strength,
        "pinned_end": mean_ci(r.pinned[-1]),
        "pinned_init": mean_ci(r.pinned[0]),
        "exactly_zero": mean_ci(r.zeros),
        "dead_fraction": mean_ci(r.dead_fraction),
        "test_accuracy": mean_ci(r.accuracy),
        "train_accuracy": mean_ci(r.train_accuracy),
        "end": {k: mean_ci(v) for k, v in r.measures.items()},
    }


def alike_numbers(t: AlikeTest) -> dict[str, Any]:
    return {
        "tested": t.tested,
        "dropped": t.dropped,
        "intervals": {k: iv.to_dict() for k, iv in t.intervals.items()},
        "mde": t.mde,
        "margins": t.margins,
        "effects": t.effects,
    }


# ---- tests of the claims -------------------------------------------------------------------
def group_of(runs: dict[str, Run], group: str) -> list[str]:
    """The settings of ``group``, in increasing strength."""
    return sorted((k for k, r in runs.items() if r.group == group), key=lambda k: runs[k].strength)


def mean_accuracy(r: Run) -> float:
    finite = r.accuracy[np.isfinite(r.accuracy)]
    return float(finite.mean()) if finite.size else float("nan")


def margins_of(base: Run) -> dict[str, float]:
    """Half-widths of "no effect": EFFECT_SHARE of the baseline's mean |corr| and rank."""
    return {
        "corr": EFFECT_SHARE * float(np.nanmean(base.measures["mean_abs_corr"])),
        "rank": EFFECT_SHARE * float(np.nanmean(base.measures["effective_rank"])),
    }


def changes(runs: dict[str, Run], name: str, against: str = BASE) -> dict[str, np.ndarray]:
    """Per-seed change of mean |corr| and effective rank of ``name`` against ``against``."""
    a, b = runs[name].measures, runs[against].measures
    return {
        f"{name} Δ mean |corr|": a["mean_abs_corr"] - b["mean_abs_corr"],
        f"{name} Δ effective rank": a["effective_rank"] - b["effective_rank"],
    }


def alike_test(runs: dict[str, Run], group: str) -> AlikeTest:
    base_acc = mean_accuracy(runs[BASE])
    named = group_of(runs, group)
    tested = [k for k in named if learns(mean_accuracy(runs[k]), base_acc)] or named
    series: dict[str, np.ndarray] = {}
    for k in tested:
        series |= changes(runs, k)
    ivs = holm_intervals(series)
    alpha = ALPHA / max(len(series), 1)
    margins = margins_of(runs[BASE])
    return AlikeTest(
        group=group,
        tested=tested,
        dropped=[k for k in named if k not in tested],
        intervals=ivs,
        mde={k: min_detectable(v, alpha=alpha, power=POWER) for k, v in series.items()},
        margins=margins,
        effects={
            k: effect(ivs[f"{k} Δ mean |corr|"], ivs[f"{k} Δ effective rank"], margins)
            for k in tested
        },
    )


def trained_premise(runs: dict[str, Run], tested: list[str], mde_ok: bool, what: str) -> Premise:
    base = t_interval(runs[BASE].train_accuracy)
    acc = {k: mean_accuracy(runs[k]) for k in tested}
    base_acc = mean_accuracy(runs[BASE])
    learning = bool(tested) and all(learns(a, base_acc) for a in acc.values())
    return Premise(
        f"the unregularized net trained (train accuracy above {TRAINED_ACC:g}), the tested "
        f"settings still learn (test accuracy >= {STILL_LEARNS:g} × unregularized) and {what}",
        bool(base.above(TRAINED_ACC)) and learning and mde_ok,
        {
            "baseline_train_accuracy": base.to_dict(),
            "baseline_test_accuracy": base_acc,
            "test_accuracy": acc,
            "detectable": mde_ok,
        },
    )


def l1_finding(runs: dict[str, Run]) -> Finding:
    base, placebo = runs[BASE], runs[PLACEBO]
    base_acc = mean_accuracy(base)
    strong = {
        g: strong_l1({k: mean_accuracy(runs[k]) for k in group_of(runs, g)}, base_acc)
        for g in MODES
        if group_of(runs, g)
    }
    series: dict[str, np.ndarray] = {}
    for g, k in strong.items():
        series[f"{g} pinned"] = runs[k].pinned[-1]
        series[f"{g} gain"] = runs[k].pinned[-1] - base.pinned[-1]
    ivs = holm_intervals(series)
    alpha = ALPHA / len(series)
    mde = {k: min_detectable(series[k], alpha=alpha, power=POWER) for k in series}
    per_mode = {g: verdict_l1_pins(ivs[f"{g} pinned"], ivs[f"{g} gain"]) for g in strong}
    measured = family_verdict(list(per_mode.values()))
    zeros = {f"{g} exactly 0": t_interval(runs[k].zeros) for g, k in strong.items()}
    ctrl = {"pinned": t_interval(placebo.pinned[-1])}
    ctrl["gain"] = t_interval(placebo.pinned[-1] - base.pinned[-1])
    lead = worded(
        measured,
        supported="Many weights end pinned near 0 under strong L1",
        refuted="Strong L1 does not pin more weights than no L1",
        mixed="Strong L1 pins more weights, but not many (or not in every mode)",
        other="Undecided",
    )
    still = {g: learns(mean_accuracy(runs[k]), base_acc) for g, k in strong.items()}
    parts = [
        f"{MODES[g]} ({k}, "
        f"{'the strongest that still learns' if still[g] else 'none learns; the strongest'}): "
        "pinned "
        f"{fmt_interval(ivs[f'{g} pinned'])}, gain over no L1 {fmt_interval(ivs[f'{g} gain'])} "
        f"(MDE {fmt(mde[f'{g} gain'])}), exactly 0 {fmt_interval(zeros[f'{g} exactly 0'])}"
        for g, k in strong.items()
    ]
    return Finding(
        NAME,
        "Strong L1 penalties pin many weights very near 0 (the answer's footnote).",
        measured,
        f"{lead}: " + "; ".join(parts) + f"; no L1 pins {fmt(float(base.pinned[-1].mean()))} "
        f"(Holm over {len(series)} intervals).",
        {
            "per_mode": per_mode,
            "setting": strong,
            "mde": mde,
            "accuracy": {k: mean_accuracy(runs[k]) for k in [BASE, *strong.values()]},
        },
        {
            "pinned_below_x_init_rms": PINNED_BELOW,
            "pinned_many": PINNED_MANY,
            "pinned_gain": PINNED_GAIN,
            "still_learns": STILL_LEARNS,
            "correction": "holm",
        },
        ("regularization-l1-sweep", "regularization-weight-histogram", "regularization-table"),
        interval={**ivs, **zeros},
        control=Control(
            "placebo: no regularization with other init seeds, against the baseline",
            verdict_l1_pins(ctrl["pinned"], ctrl["gain"]),
            {k: iv.to_dict() for k, iv in ctrl.items()},
        ),
        premise=trained_premise(
            runs,
            list(strong.values()),
            all(mde[f"{g} gain"] <= PINNED_GAIN for g in strong),
            f"the study detects a gain of {PINNED_GAIN:g} (MDE of the gain)",
        ),
    )


def alike_finding(runs: dict[str, Run], t: AlikeTest) -> Finding:
    measured = verdict_alike(t.effects.values())
    delta = changes(runs, PLACEBO)  # unpaired: seed i of the placebo minus seed i of the base
    placebo = {k.replace(PLACEBO, "placebo"): t_interval(v) for k, v in delta.items()}
    ctrl_effect = effect(
        placebo["placebo Δ mean |corr|"], placebo["placebo Δ effective rank"], t.margins
    )
    mde_ok = bool(t.mde) and all(
        v <= t.margins["corr" if "corr" in k else "rank"] for k, v in t.mde.items()
    )
    labels = list(t.effects.values())
    counts = ", ".join(
        f"{labels.count(e)} {e}"
        for e in (ALIKE, DIFFERENT, NO_EFFECT, NOT_ALIKE, UNCLEAR)
        if e in labels
    )
    lead = worded(
        measured,
        supported=f"{t.group} makes the units more alike at every setting",
        refuted=f"{t.group} does not make the units more alike at any setting",
        mixed=f"{t.group} makes the units more alike at some settings, not at others",
        other="Undecided",
    )
    mode = " (subgradient)" if t.group == "L1" else ""

    def beside(key: str) -> str:
        return f"{fmt_interval(t.intervals[key])}, MDE {fmt(t.mde[key])}"

    per_setting = "; ".join(
        f"{k}: {t.effects[k]} (Δ mean |corr| {beside(f'{k} Δ mean |corr|')}; "
        f"Δ eff. rank {beside(f'{k} Δ effective rank')})"
        for k in t.tested
    )
    left_out = f"; left out (no longer learn): {', '.join(t.dropped)}" if t.dropped else ""
    return Finding(
        NAME,
        f"{t.group}{mode} makes the units of a layer more alike than training without it.",
        measured,
        f"{lead} ({counts or 'none'} of {len(t.tested)} settings): "
        f"{per_setting or 'no setting still learns'}"
        f"{left_out}. No effect = "
        f"both intervals within ±{fmt(t.margins['corr'])} (|corr|) and "
        f"±{fmt(t.margins['rank'])} (rank); Holm over {len(t.intervals)} intervals.",
        {"effects": t.effects, "mde": t.mde, "dropped": t.dropped},
        {"margins": t.margins, "effect_share": EFFECT_SHARE, "correction": "holm"},
        ("regularization-table",),
        interval=t.intervals,
        control=Control(
            "placebo: no regularization with other init seeds, against the baseline",
            verdict_alike([ctrl_effect]),
            {"effect": ctrl_effect, **{k: iv.to_dict() for k, iv in placebo.items()}},
        ),
        premise=trained_premise(
            runs,
            t.tested,
            mde_ok,
            "the study detects a change of the margin's size (MDE <= margin)",
        ),
    )


def findings(runs: dict[str, Run], tests: dict[str, AlikeTest]) -> list[Finding]:
    out = [l1_finding(runs)] if any(group_of(runs, g) for g in MODES) else []
    return out + [alike_finding(runs, t) for t in tests.values()]


# ---- figures -------------------------------------------------------------------------------
def figures(
    runs: dict[str, Run], tests: dict[str, AlikeTest], steps: np.ndarray
) -> list[FigureSpec]:
    figs = [table_figure(runs, tests), *sweep_figures(runs, steps)]
    strong = {
        g: strong_l1(
            {k: mean_accuracy(runs[k]) for k in group_of(runs, g)}, mean_accuracy(runs[BASE])
        )
        for g in MODES
        if group_of(runs, g)
    }
    if strong:
        figs += weight_figures(runs, list(strong.values()))
    return figs


def table_figure(runs: dict[str, Run], tests: dict[str, AlikeTest]) -> FigureSpec:
    def cell(v: np.ndarray) -> str:
        return fmt(float(np.nanmean(v))) if np.isfinite(v).any() else "nan"

    effects = {k: e for t in tests.values() for k, e in t.effects.items()}
    dropped = {k for t in tests.values() for k in t.dropped}
    rows = [
        [
            k,
            r.group,
            f"{np.mean(r.pinned[-1]):.1%}",
            f"{np.mean(r.zeros):.1%}",
            f"{np.mean(r.dead_fraction):.1%}",
            cell(r.accuracy),
            *(cell(r.measures[m]) for m in MEASURES),
            effects.get(k, "no longer learns" if k in dropped else "—"),
        ]
        for k, r in runs.items()
    ]
    return FigureSpec(
        "regularization-table",
        "table",
        f"End of training, mean over seeds. Pinned: |w| < {PINNED_BELOW} × the layer's RMS at "
        "init, over all weights; 'exactly 0' tells the subgradient L1 (never) from the proximal "
        f"one. Diversity measures of {LAYER}; the last column compares each setting with the "
        "unregularized run of the same seeds (Holm intervals of the per-seed change: 'more "
        "alike' = mean |corr| up and effective rank down, 'no effect' = both within "
        f"±{EFFECT_SHARE:.0%} of the unregularized value).",
        {
            "columns": [
                "setting",
                "kind",
                "weights pinned",
                "exactly 0",
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


def sweep_figures(runs: dict[str, Run], steps: np.ndarray) -> list[FigureSpec]:
    """Pinned and exactly-zero weights, and dead units, against the L1 strength, and pinning
    over training."""
    by_mode = {g: group_of(runs, g) for g in MODES}
    sub = by_mode["L1"]
    if not sub or any(len(v) != len(sub) for v in by_mode.values()):
        return []
    base = runs[BASE]
    series = {}
    for g, names in by_mode.items():
        series[f"pinned, {MODES[g]}"] = np.stack([runs[k].pinned[-1] for k in names], 1)
        series[f"exactly 0, {MODES[g]}"] = np.stack([runs[k].zeros for k in names], 1)
    series["dead units, subgradient"] = np.stack([runs[k].dead_fraction for k in sub], 1)
    return [
        FigureSpec(
            "regularization-l1-sweep",
            "lines",
            f"Fraction of weights pinned near zero (|w| < {PINNED_BELOW} × init RMS) and "
            "exactly zero, for L1 as a subgradient and as a proximal step, and the fraction of "
            "dead hidden units, against the L1 strength (log10); thin lines are seeds. "
            "Baselines: the same fractions without L1.",
            {
                "x": np.log10([runs[k].strength for k in sub]),
                "series": series,
                "baselines": {
                    "pinned, no L1": float(np.mean(base.pinned[-1])),
                    "dead, no L1": float(np.mean(base.dead_fraction)),
                },
                "x_label": "log10 L1 strength",
                "y_label": "fraction",
            },
            "L1 sweep: pinned weights and dead units",
        ),
        FigureSpec(
            "regularization-pinned-over-training",
            "lines",
            "Fraction of weights pinned near zero over training for each L1 strength and mode.",
            {
                "x": steps,
                "series": {k: runs[k].pinned.T for k in [BASE, *sum(by_mode.values(), [])]},
                "x_scale": "log1p",
                "y_label": "fraction pinned",
                "x_label": "step",
            },
            "Pinning over training",
        ),
    ]


def weight_figures(runs: dict[str, Run], strong: list[str]) -> list[FigureSpec]:
    """Weight magnitudes, and the units' weights as images when the inputs are images."""
    none = runs[BASE].weights  # (U, fan_in) seed 0
    rms = float(np.sqrt((runs[BASE].init_weights ** 2).mean()))
    tiny = 1e-8  # |w| below this (exact zeros) is drawn at log10 = -8
    samples = {"no L1": none, **{k: runs[k].weights for k in strong}}
    figs = [
        FigureSpec(
            "regularization-weight-histogram",
            "histogram",
            f"log10 |w| of the {LAYER} weights (seed 0) without L1 and with the strongest L1 "
            f"that still learns, in each mode; exact zeros are drawn at log10 |w| = -8. The "
            f"marker is the pinned threshold ({PINNED_BELOW} × init RMS).",
            {
                "samples": {k: np.log10(np.maximum(np.abs(w), tiny)) for k, w in samples.items()},
                "markers": {"pinned below": float(np.log10(PINNED_BELOW * rms))},
                "x_label": "log10 |w|",
            },
            "Weight magnitudes",
        )
    ]
    side = int(round(np.sqrt(none.shape[1])))
    if side * side == none.shape[1]:  # image inputs: each unit's weights as an image
        n = min(16, none.shape[0])
        figs.append(
            FigureSpec(
                "regularization-filters",
                "image_grid",
                f"Incoming weights of the first {n} units of {LAYER} (seed 0) as images, one "
                "row per setting: without L1, then the strongest L1 that still learns in each "
                "mode. White = 0.",
                {
                    "images": np.concatenate([w[:n] for w in samples.values()]).reshape(
                        len(samples) * n, side, side
                    ),
                    "cmap": "diverging",
                    "scale": "each",
                    "cols": n,
                    "row_labels": list(samples),
                },
                "What L1 leaves of the units' weights",
            )
        )
    return figs
