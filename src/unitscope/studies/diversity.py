"""Study ``diversity``: does training make the units of a layer more alike or more different?

The asker's intuition: training should make the outputs of the units *more similar*. From a
random start, this study tracks how alike the units of a layer are over training — mean
|correlation| between units, effective rank and participation ratio of the layer's
activations, near-twin pairs and dead units — for several widths, datasets (2-D toys,
teacher–student regression, digits) and for an MLP and a CNN, each with K seeds trained in one
batched run. Conv layers are measured on their full feature maps, every (image, position) an
observation of a channel.

Every number is a per-seed change from init to the end of training, with a 95% interval over
seeds; the conditions form one family, so the intervals are Holm-corrected (simultaneous,
Bonferroni level). A condition made its units **more alike** when mean |corr| rose and the
effective rank fell, both intervals excluding 0; **more different** when the opposite holds.
The control is an untrained network measured the same way: a second, independent
initialization in place of the trained network (it must show no change). A condition whose
network did not train says nothing about training, so every condition's final loss and
accuracy are reported and checked (the premise).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..measures import DegenerateInputWarning, unit_correlation, unit_summary
from ..record import Recording
from ..train import Config, fit
from ._common import ProgressFn, Scale, config, fmt, mean_ci, no_progress, part, pick
from ._finding import Control, FigureSpec, Finding, Interval, Premise, StudyResult, Verdict
from ._stats import family_verdict, holm_intervals, interval_verdict, worded

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
CI_LEVEL = 0.95  # level of the (family-wise) intervals over seeds
DUPLICATE_CORR = 0.99  # |corr| at which two units count as computing the same thing
TWIN_MARGIN = 0.01  # training "makes twins" when near-twin pairs grow by > 1% of live pairs
TRAINED_LOSS = 0.5  # a condition trained: final train loss <= this fraction of the initial
TRAINED_ACC = 0.8  # ... and, for classification, final train accuracy >= this
ALIKE, DIFFERENT, UNCLEAR = "more alike", "more different", "unclear"
MEASURES = (
    "mean_abs_corr",
    "effective_rank",
    "participation_ratio",
    "distinct_units",
    "dead_units",
)
SHOWN = ("mean_abs_corr", "effective_rank", "participation_ratio", "dead_units")


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


def near_twin_pairs(
    units: np.ndarray, threshold: float = DUPLICATE_CORR
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of live units with ``|corr| >= threshold``, and the number of live pairs.

    A pair is counted on its own (no chaining: a~b and b~c do not make a~c a twin). Live
    units are the ones that vary over the observations.

    Args:
        units: (..., n_obs, U) activations.

    Returns:
        ``(twins, live_pairs)``, each of the leading shape ``(...)``.

    >>> x = np.random.default_rng(0).standard_normal((100, 3))
    >>> near_twin_pairs(np.column_stack([x, 2 * x[:, 0], np.ones(100)]))
    (array(1.), array(6.))
    """
    a = np.asarray(units, dtype=np.float64)
    lead = a.shape[:-2]
    twins, live_pairs = np.zeros(lead), np.zeros(lead)
    for idx in np.ndindex(*lead):
        x = a[idx] - a[idx].mean(axis=0)  # (n, U)
        norms = np.linalg.norm(x, axis=0)
        live = norms > 1e-12 * max(float(norms.max(initial=0.0)), 1.0)
        z = x[:, live] / norms[live]
        r = np.abs(z.T @ z)  # (L, L)
        upper = np.triu_indices(len(r), 1)
        twins[idx] = float((r[upper] >= threshold).sum())
        live_pairs[idx] = float(len(upper[0]))
    return twins, live_pairs


def twin_fraction(units: np.ndarray) -> np.ndarray:
    """Near-twin pairs as a fraction of the live pairs: (..., n_obs, U) -> (...), 0 if none."""
    twins, pairs = near_twin_pairs(units)
    return np.where(pairs > 0, twins / np.maximum(pairs, 1.0), 0.0)


def training_numbers(rec: Recording) -> dict[str, Any]:
    """Initial and final loss (and accuracy) of a run, mean over seeds, and whether it trained:
    final train loss <= :data:`TRAINED_LOSS` x the initial, and (classification) final train
    accuracy >= :data:`TRAINED_ACC`."""
    c = rec.curves
    out: dict[str, Any] = {
        "init_train_loss": float(np.mean(c["train_loss"][:, 0])),
        "final_train_loss": float(np.mean(c["train_loss"][:, -1])),
        "final_test_loss": float(np.mean(c["test_loss"][:, -1])),
    }
    if "train_acc" in c:
        out["final_train_acc"] = float(np.mean(c["train_acc"][:, -1]))
        out["final_test_acc"] = float(np.mean(c["test_acc"][:, -1]))
    out["trained"] = trained(out)
    return out


def trained(t: Mapping[str, Any]) -> bool:
    """The premise of one condition (see :func:`training_numbers`)."""
    loss_ok = t["final_train_loss"] <= TRAINED_LOSS * t["init_train_loss"]
    return bool(loss_ok and t.get("final_train_acc", 1.0) >= TRAINED_ACC)


# ---- verdicts ------------------------------------------------------------------------------
def _lo_hi(c: Interval | Mapping[str, float]) -> tuple[float, float]:
    if isinstance(c, Interval):
        return (c.lo, c.hi) if c.finite else (np.nan, np.nan)
    return float(c["lo"]), float(c["hi"])


def direction(corr: Interval | Mapping[str, float], rank: Interval | Mapping[str, float]) -> str:
    """``more alike`` (|corr| up and rank down, both intervals excluding 0), ``more
    different`` (the opposite), else ``unclear``. Takes :class:`Interval` or
    ``{"lo", "hi"}`` mappings."""
    (c_lo, c_hi), (r_lo, r_hi) = _lo_hi(corr), _lo_hi(rank)
    if c_lo > 0 and r_hi < 0:
        return ALIKE
    if c_hi < 0 and r_lo > 0:
        return DIFFERENT
    return UNCLEAR


def alike_verdict(labels: list[str]) -> Verdict:
    """The claim "training makes units more alike" from the direction of every condition.

    Supported when every condition made its units more alike; refuted when none did and at
    least :data:`REFUTE_SHARE` of them made them clearly more different; inconclusive when no
    condition changed clearly; mixed otherwise.
    """
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


def verdict_alike(corr_change: Mapping[str, Any], rank_change: Mapping[str, Any]) -> Verdict:
    """:func:`alike_verdict` of the directions of per-condition intervals of the changes."""
    return alike_verdict([direction(corr_change[c], rank_change[c]) for c in corr_change])


def alike_test(
    delta_corr: Mapping[str, Any], delta_rank: Mapping[str, Any]
) -> tuple[Verdict, dict[str, str], dict[str, Interval], dict[str, Interval]]:
    """The whole test from per-seed changes (row -> values over seeds): Holm intervals of
    Δ mean |corr| and Δ effective rank over the family of rows, each row's direction and the
    verdict. Applied the same way to the trained runs and to the control."""
    corr = holm_intervals(delta_corr, CI_LEVEL)
    rank = holm_intervals(delta_rank, CI_LEVEL)
    labels = {r: direction(corr[r], rank[r]) for r in corr}
    return alike_verdict(list(labels.values())), labels, corr, rank


def twins_test(
    delta_twins: Mapping[str, Any],
) -> tuple[Verdict, dict[str, Verdict], dict[str, Interval]]:
    """The claim "training turns units into near-copies" from per-seed changes of the
    near-twin fraction (row -> values over seeds): each row is supported when its Holm
    interval lies above :data:`TWIN_MARGIN`, refuted when below, inconclusive when it
    straddles; the rows together by :func:`family_verdict`."""
    ivs = holm_intervals(delta_twins, CI_LEVEL)
    rows = {r: interval_verdict(iv, TWIN_MARGIN) for r, iv in ivs.items()}
    return family_verdict(list(rows.values())), rows, ivs


def verdict_no_duplicates(duplicates_at_end: Mapping[str, float]) -> Verdict:
    """Kept for studies that count duplicates at one point: supported when no condition has
    a duplicate, refuted when all have, mixed otherwise."""
    flags = [d == 0 for d in duplicates_at_end.values()]
    if not flags:
        return "inconclusive"
    return "supported" if all(flags) else "refuted" if not any(flags) else "mixed"


def change(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """Mean and CI over seeds of the per-seed change ``after - before`` ((K,) each)."""
    return mean_ci(
        np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64), CI_LEVEL
    )


# ---- runs ----------------------------------------------------------------------------------
def conditions(scale: Scale) -> dict[str, dict[str, Any]]:
    """Condition name -> config overrides of :func:`base_config`."""
    toy = {"data.name": "moons", "data.options": {"n_samples": 300, "noise": 0.1}}
    teacher = {"data.name": "teacher", "data.options": {"n_samples": 512}}
    digits = {"data.name": "digits", "data.options": {"n_samples": pick(scale, 300, 800, 1000)}}
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
    }
    return dict(pick(scale, tiny, small, full))


def base_config(scale: Scale) -> Config:
    steps = pick(scale, 40, 300, 1000)
    return config(
        data={"n_probe": 128},
        model={"hidden": [16]},
        optim={"lr": 0.05, "momentum": 0.9},
        train={
            "steps": steps,
            "n_checkpoints": pick(scale, 6, 14, 20),
            "eval_every": max(1, steps // 10),
        },
        seeds={"init": list(range(pick(scale, 3, 12, 16)))},
    )


def untrained(cfg: Config) -> Recording:
    """The control: the same network with K other init seeds, not trained (its step-0
    checkpoint), on the same probe set."""
    K = cfg.seeds.members
    return fit(
        cfg.override(
            {
                "seeds.init": list(range(K, 2 * K)),
                "train.steps": 1,
                "train.checkpoints": [0, 1],
                "train.eval_every": 1,
            }
        )
    )


def measure_row(units: np.ndarray, control: np.ndarray) -> dict[str, Any]:
    """Every number of one (condition, layer) row.

    Args:
        units: (T, K, n_obs, U) the trained run's units over training.
        control: (K, n_obs, U) an untrained network's units (other init seeds).
    """
    m = diversity_measures(units)  # each (T, K)
    c = diversity_measures(control[None])  # each (1, K)
    tw = twin_fraction(units)  # (T, K)
    tw_c = twin_fraction(control)  # (K,)
    counts, live_pairs = near_twin_pairs(units[[0, -1]])  # (2, K) each
    out: dict[str, Any] = {"width": int(units.shape[-1])}
    for key, v in m.items():
        out[key] = {"init": mean_ci(v[0], CI_LEVEL), "end": mean_ci(v[-1], CI_LEVEL)}
    out["twins"] = {
        "pairs_init": float(counts[0].mean()),
        "pairs_end": float(counts[1].mean()),
        "pairs_untrained": float(near_twin_pairs(control)[0].mean()),
        "fraction_init": float(tw[0].mean()),
        "fraction_end": float(tw[-1].mean()),
        "fewest_live_pairs": float(live_pairs.min()),
    }
    out["delta"] = {  # per seed, end - init
        "mean_abs_corr": (m["mean_abs_corr"][-1] - m["mean_abs_corr"][0]).tolist(),
        "effective_rank": (m["effective_rank"][-1] - m["effective_rank"][0]).tolist(),
        "twin_fraction": (tw[-1] - tw[0]).tolist(),
    }
    out["control_delta"] = {  # per seed, untrained (other seed) - init
        "mean_abs_corr": (c["mean_abs_corr"][0] - m["mean_abs_corr"][0]).tolist(),
        "effective_rank": (c["effective_rank"][0] - m["effective_rank"][0]).tolist(),
        "twin_fraction": (tw_c - tw[0]).tolist(),
    }
    out["_curves"] = {**m, "twin_fraction": tw, "width": np.asarray(units.shape[-1])}
    return out


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    say = progress or no_progress
    result = StudyResult(NAME, TITLE, QUESTION)
    base = base_config(scale)
    rows: dict[str, dict[str, Any]] = {}
    steps_axis = np.zeros(0)
    example: tuple[str, np.ndarray] | None = None
    for cond, change_cfg in conditions(scale).items():
        say(f"{NAME}: {cond}")
        with part(result, cond):
            cfg = base.override(change_cfg)
            rec, ctl = fit(cfg), untrained(cfg)
            steps_axis = rec.steps
            train = training_numbers(rec)
            for layer in rec.layers:
                row = cond if len(rec.layers) == 1 else f"{cond} {layer}"
                units = layer_units(rec, layer)  # (T, K, n_obs, U)
                rows[row] = {"condition": cond, "training": train}
                rows[row].update(measure_row(units, layer_units(ctl, layer)[0]))
                if example is None:
                    example = (row, units[[0, -1], 0])  # (2, n_obs, U) member 0, init and end
    curves = {r: t.pop("_curves") for r, t in rows.items()}
    if rows:
        alike, twins = findings(rows)
        result.findings += [alike, twins]
        result.figures += [
            table_figure(rows, alike, twins),
            *curve_figures(curves, steps_axis),
        ]
        if example is not None:
            result.figures.append(matrix_figure(*example))
    result.numbers = {
        "conditions": rows,
        "steps": base.train.steps,
        "seeds": base.seeds.members,
    }
    result.elapsed_s = time.perf_counter() - start
    return result


# ---- findings ------------------------------------------------------------------------------
def training_premise(rows: Mapping[str, Mapping[str, Any]], extra: str = "") -> Premise:
    """Every condition trained (see :func:`trained`); one entry per condition."""
    per = {t["condition"]: t["training"] for t in rows.values()}
    return Premise(
        f"every condition's network trained (final train loss <= {TRAINED_LOSS:g} x initial; "
        f"train accuracy >= {TRAINED_ACC:g} for classification){extra}",
        all(t["trained"] for t in per.values()),
        {
            "conditions": per,
            "loss_fraction_at_most": TRAINED_LOSS,
            "accuracy_at_least": TRAINED_ACC,
        },
    )


def alike_summary(verdict: Verdict, labels: Mapping[str, str], failed: list[str]) -> str:
    """The sentence of the first finding, worded from its verdict and counts."""
    counts = {d: sum(v == d for v in labels.values()) for d in (ALIKE, DIFFERENT, UNCLEAR)}
    lead = worded(
        verdict,
        supported="Training made the units more alike in every condition",
        refuted="Training made the units more alike in no condition and more different in most",
        mixed="The conditions do not agree",
        other="No condition changed clearly",
    )
    tail = f"; did not train: {', '.join(failed)}" if failed else ""
    return (
        f"{lead}: {counts[ALIKE]} of {len(labels)} more alike, {counts[DIFFERENT]} more "
        f"different, {counts[UNCLEAR]} unclear (Holm-corrected {CI_LEVEL:.0%} intervals over "
        f"{len(labels)} conditions){tail}."
    )


def twins_summary(verdict: Verdict, per_row: Mapping[str, Verdict], rows: Mapping[str, Any]) -> str:
    """The sentence of the near-twin finding, worded from its verdict and counts."""
    n = {v: sum(x == v for x in per_row.values()) for v in ("supported", "refuted")}
    lead = worded(
        verdict,
        supported="Training added near-twin pairs in every condition",
        refuted="In no condition did training add near-twin pairs beyond the margin",
        mixed="The conditions do not agree",
        other="No condition decided",
    )
    most = max(rows, key=lambda r: rows[r]["twins"]["pairs_end"])
    t = rows[most]["twins"]
    return (
        f"{lead}: {n['supported']} of {len(per_row)} conditions gained near-twin pairs beyond "
        f"{TWIN_MARGIN:g} of their live pairs, {n['refuted']} did not, "
        f"{len(per_row) - n['supported'] - n['refuted']} undecided (Holm over {len(per_row)} "
        f"conditions). Most twins: {most}, {fmt(t['pairs_init'])} pairs at init → "
        f"{fmt(t['pairs_end'])} at the end ({fmt(t['pairs_untrained'])} untrained)."
    )


def findings(rows: Mapping[str, Mapping[str, Any]]) -> tuple[Finding, Finding]:
    failed = [t["condition"] for t in rows.values() if not t["training"]["trained"]]
    failed = list(dict.fromkeys(failed))
    d_corr = {r: t["delta"]["mean_abs_corr"] for r, t in rows.items()}
    d_rank = {r: t["delta"]["effective_rank"] for r, t in rows.items()}
    c_corr = {r: t["control_delta"]["mean_abs_corr"] for r, t in rows.items()}
    c_rank = {r: t["control_delta"]["effective_rank"] for r, t in rows.items()}
    verdict, labels, corr, rank = alike_test(d_corr, d_rank)
    c_verdict, c_labels, _, _ = alike_test(c_corr, c_rank)
    untrained_what = "an untrained network: other init seeds in place of the trained net"
    alike = Finding(
        NAME,
        "Training makes the units of a layer more alike (the asker's intuition).",
        verdict,
        alike_summary(verdict, labels, failed),
        {"delta_corr": d_corr, "delta_rank": d_rank, "direction": labels},
        {
            "ci_level": CI_LEVEL,
            "correction": f"Holm (Bonferroni level) over {len(rows)} conditions",
            "ci_excludes": 0.0,
            "refute_share": REFUTE_SHARE,
        },
        ("diversity-table", "diversity-mean-abs-corr", "diversity-effective-rank"),
        interval={
            **{f"Δ mean |corr| {r}": iv for r, iv in corr.items()},
            **{f"Δ effective rank {r}": iv for r, iv in rank.items()},
        },
        control=Control(
            untrained_what,
            c_verdict,
            {"delta_corr": c_corr, "delta_rank": c_rank, "direction": c_labels},
        ),
        premise=training_premise(rows),
    )
    d_tw = {r: t["delta"]["twin_fraction"] for r, t in rows.items()}
    c_tw = {r: t["control_delta"]["twin_fraction"] for r, t in rows.items()}
    t_verdict, t_rows, t_ivs = twins_test(d_tw)
    ct_verdict, ct_rows, _ = twins_test(c_tw)
    fewest = {r: t["twins"]["fewest_live_pairs"] for r, t in rows.items()}
    base = training_premise(rows, "; every row has live pairs of units")
    premise = Premise(
        base.what,
        base.holds and all(v >= 1 for v in fewest.values()),
        {**base.numbers, "fewest_live_pairs": fewest},
    )
    twins = Finding(
        NAME,
        "Training turns units into near-copies: a trained layer has more near-twin pairs "
        f"(two live units with |corr| ≥ {DUPLICATE_CORR}) than it had at init.",
        t_verdict,
        twins_summary(t_verdict, t_rows, rows),
        {
            "delta_twin_fraction": d_tw,
            "row_verdicts": t_rows,
            "twin_pairs": {r: t["twins"] for r, t in rows.items()},
        },
        {
            "duplicate_corr": DUPLICATE_CORR,
            "margin": TWIN_MARGIN,
            "ci_level": CI_LEVEL,
            "correction": f"Holm (Bonferroni level) over {len(rows)} conditions",
        },
        ("diversity-table", "diversity-twin-fraction"),
        interval={f"Δ near-twin fraction {r}": iv for r, iv in t_ivs.items()},
        control=Control(
            untrained_what, ct_verdict, {"delta_twin_fraction": c_tw, "row_verdicts": ct_rows}
        ),
        premise=premise,
    )
    return alike, twins


# ---- figures -------------------------------------------------------------------------------
def _ci(iv: Interval) -> str:
    return f"{fmt(iv.lo)} … {fmt(iv.hi)}"


def table_figure(
    rows: Mapping[str, Mapping[str, Any]], alike: Finding, twins: Finding
) -> FigureSpec:
    out = []
    for r, t in rows.items():
        tr = t["training"]
        acc = (
            f"{fmt(tr['final_train_acc'])} / {fmt(tr['final_test_acc'])}"
            if "final_train_acc" in tr
            else "—"
        )
        out.append(
            [
                r,
                t["width"],
                f"{fmt(tr['init_train_loss'])} → {fmt(tr['final_train_loss'])}",
                acc,
                "yes" if tr["trained"] else "no",
                *(f"{fmt(t[k]['init']['mean'])} → {fmt(t[k]['end']['mean'])}" for k in SHOWN),
                f"{fmt(t['twins']['pairs_init'])} → {fmt(t['twins']['pairs_end'])} "
                f"({fmt(t['twins']['pairs_untrained'])})",
                _ci(alike.interval[f"Δ mean |corr| {r}"]),
                _ci(alike.interval[f"Δ effective rank {r}"]),
                _ci(twins.interval[f"Δ near-twin fraction {r}"]),
                alike.numbers["direction"][r],
            ]
        )
    k = next(iter(rows.values()))["mean_abs_corr"]["init"]["n"]
    return FigureSpec(
        "diversity-table",
        "table",
        f"Init → end of training, mean over {k} seeds, for every condition (conv layers: every "
        "image position is an observation). Loss and accuracy are the final train values (a "
        "condition that did not train says nothing about training). Near-twin pairs: pairs of "
        f"live units with |corr| ≥ {DUPLICATE_CORR} (in brackets: an untrained network). The Δ "
        f"columns are Holm-corrected {CI_LEVEL:.0%} intervals over seeds of the per-seed change "
        "(Δ twins: as a fraction of live pairs); 'more alike' = mean |corr| up and effective "
        "rank down, both intervals excluding 0.",
        {
            "columns": [
                "condition",
                "units",
                "train loss",
                "accuracy train / test",
                "trained",
                "mean |corr|",
                "effective rank",
                "participation ratio",
                "dead units",
                "near-twin pairs",
                "Δ mean |corr|",
                "Δ eff. rank",
                "Δ twin fraction",
                "training made units",
            ],
            "rows": out,
        },
        "Init versus end, per condition",
    )


def curve_figures(
    curves: Mapping[str, Mapping[str, np.ndarray]], steps: np.ndarray
) -> list[FigureSpec]:
    per_width = {
        "effective_rank": "effective rank / units",
        "participation_ratio": "participation ratio / units",
        "dead_units": "dead units / units",
    }
    labels = {
        "mean_abs_corr": "mean |corr| between units",
        **per_width,
        "twin_fraction": "near-twin pairs / live pairs",
    }
    figs = []
    for key, label in labels.items():
        series = {}
        for row, c in curves.items():
            v = np.asarray(c[key], dtype=np.float64)  # (T, K)
            series[row] = (v / float(c["width"]) if key in per_width else v).T
        figs.append(
            FigureSpec(
                f"diversity-{key.replace('_', '-')}",
                "lines",
                f"{label.capitalize()} over training, one thin line per seed, bold = mean. "
                + (
                    "Higher = units more alike."
                    if key in ("mean_abs_corr", "twin_fraction")
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
