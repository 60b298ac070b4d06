"""Study ``capacity``: units differ because differing fits better.

A network whose hidden units are kept identical computes what a single unit computes, however
wide it is. Comparing it with the same network from a random start, width by width, measures
what the differences between units buy; at width 1 the two are the same network class, so the
gap there is the control. Merging the two most similar units of a trained network (average
their incoming weights, add their outgoing weights, then refit the output layer) measures what
one difference is worth; a duplicate unit planted in the same network is the control, and a
random pair the baseline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..measures import unit_correlation
from ..models._layers import get_activation
from ..record import Recording
from ..train import Config, fit, prepare_data
from ._common import ProgressFn, Scale, config, part, pick
from ._finding import Control, FigureSpec, Finding, Interval, Premise, StudyResult, Verdict
from ._stats import (
    family_verdict,
    fmt_interval,
    holm_intervals,
    interval_verdict,
    t_interval,
    worded,
)

NAME = "capacity"
TITLE = "Differing fits better: identical units against free ones"
QUESTION = (
    "If the optimizer makes units differ, is it because a network with differing "
    "units fits the data better than one whose units are all the same?"
)

# Free units fit better at a width when the relative gap 1 - loss_free / loss_symmetric is
# above this, decided from its interval over seeds (Holm across widths).
BETTER_BY = 0.10
# Merging two units costs loss when the train loss after the refit rises by more than this
# fraction, decided from its interval over seeds (Holm across widths).
COSTS = 0.01
# Premise: the free networks trained (mean train accuracy at the widest width) ...
TRAINED_ACCURACY = 0.9
# ... and the symmetric ones stopped improving: their mean train loss fell by less than this
# fraction over the last quarter of training (else the gap could be a speed difference).
PLATEAU = 0.02
# Symmetric runs draw their template unit from other seeds than the free runs, so at width 1
# the two are independent draws of the same network class.
SYMMETRIC_SEED_OFFSET = 1000
RANDOM_PAIRS = 8  # random pairs merged per network for the baseline


# ---- verdicts ---------------------------------------------------------------------------------
def relative_gap(symmetric: Sequence[float], free: Sequence[float]) -> np.ndarray:
    """Per seed, ``1 - loss_free / loss_symmetric`` (seed k of each kind; independent draws)."""
    return 1.0 - np.asarray(free, dtype=np.float64) / np.asarray(symmetric, dtype=np.float64)


def verdict_fits_better(gaps: Mapping[int, Interval]) -> Verdict:
    """Per width, ``supported`` when the gap's interval lies above ``BETTER_BY``, ``refuted``
    when below; one verdict over the widths (``mixed`` when they disagree)."""
    return family_verdict([interval_verdict(iv, BETTER_BY) for iv in gaps.values()])


def verdict_merge_costs(costs: Mapping[int, Interval]) -> Verdict:
    """Per width, ``supported`` when the interval of the relative loss rise after merging
    lies above ``COSTS``, ``refuted`` when below; one verdict over the widths."""
    return family_verdict([interval_verdict(iv, COSTS) for iv in costs.values()])


# ---- one trained network as arrays; merging and refitting ----------------------------------
@dataclass(frozen=True)
class Net:
    """A one-hidden-layer network, float64: ``w1`` (U, d), ``b1`` (U,), ``w2`` (C, U),
    ``b2`` (C,), and its hidden activation's name."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    activation: str = "relu"

    @classmethod
    def from_recording(cls, rec: Recording, member: int) -> Net:
        p = {k: np.asarray(v[-1, member], dtype=np.float64) for k, v in rec.params.items()}
        act = rec.config["model"]["activation"]
        return cls(p["hidden.0.weight"], p["hidden.0.bias"], p["out.weight"], p["out.bias"], act)

    def hidden(self, x: np.ndarray) -> np.ndarray:
        """Hidden activations (n, U)."""
        pre = torch.from_numpy(x @ self.w1.T + self.b1)
        return get_activation(self.activation)(pre).numpy()

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Outputs (n, C)."""
        return self.hidden(x) @ self.w2.T + self.b2


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of (n, C) logits against (n,) labels."""
    z = logits - logits.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]))


def most_similar_pair(net: Net, probe: np.ndarray) -> tuple[int, int, float]:
    """The two live hidden units with the most correlated activations on ``probe``.

    Dead (constant) units are never picked; returns ``(i, j, correlation)``, i < j.
    """
    acts = net.hidden(probe)  # (n, U)
    live = acts.std(0) > 0
    safe = acts + np.where(live, 0.0, 1.0) * np.linspace(0, 1e-12, len(acts))[:, None]
    corr = np.where(np.outer(live, live), unit_correlation(safe), -np.inf)
    np.fill_diagonal(corr, -np.inf)
    i, j = sorted(int(v) for v in np.unravel_index(np.argmax(corr), corr.shape))
    return i, j, float(corr[i, j])


def merge(net: Net, i: int, j: int) -> Net:
    """Units i and j replaced by one: the mean of their incoming weights and biases, the sum
    of their outgoing weights (so two identical units merge without changing the function)."""
    keep = [u for u in range(len(net.b1)) if u != j]
    w1, b1, w2 = net.w1.copy(), net.b1.copy(), net.w2.copy()
    w1[i], b1[i] = (w1[i] + w1[j]) / 2, (b1[i] + b1[j]) / 2
    w2[:, i] = w2[:, i] + w2[:, j]
    return Net(w1[keep], b1[keep], w2[:, keep], net.b2.copy(), net.activation)


def plant_duplicate(net: Net, unit: int, share: float = 0.5) -> Net:
    """The same function with one more unit: a copy of ``unit`` that takes ``1 - share`` of
    its outgoing weights."""
    w2 = net.w2.copy()
    copy = (1 - share) * w2[:, unit]
    w2[:, unit] *= share
    return Net(
        np.vstack([net.w1, net.w1[unit]]),
        np.append(net.b1, net.b1[unit]),
        np.hstack([w2, copy[:, None]]),
        net.b2.copy(),
        net.activation,
    )


def refit_output(net: Net, x: np.ndarray, target: np.ndarray) -> Net:
    """The output layer refit by least squares on the logits: ``[H, 1] [w2ᵀ; b2] ≈ target``,
    H the hidden activations on ``x``. With ``target`` the unmerged network's logits, a merge
    that loses nothing reproduces them exactly."""
    h = net.hidden(x)
    design = np.hstack([h, np.ones((len(h), 1))])  # (n, U + 1)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)  # (U + 1, C)
    return Net(net.w1, net.b1, coef[:-1].T.copy(), coef[-1].copy(), net.activation)


def merge_cost(net: Net, i: int, j: int, x: np.ndarray, y: np.ndarray) -> float:
    """Relative rise of the train loss when units i and j are merged and the output layer is
    refit (least squares on ``net``'s logits): ``(L_merged - L) / L``."""
    before = cross_entropy(net.logits(x), y)
    merged = refit_output(merge(net, i, j), x, net.logits(x))
    return (cross_entropy(merged.logits(x), y) - before) / before


def random_pairs(live: np.ndarray, n: int, seed: int) -> list[tuple[int, int]]:
    """Up to ``n`` distinct random pairs of live units."""
    units = np.flatnonzero(live)
    pairs = [(int(a), int(b)) for a in units for b in units if a < b]
    rng = np.random.default_rng(seed)
    return [pairs[k] for k in rng.permutation(len(pairs))[:n]]


def merge_numbers(
    net: Net, x: np.ndarray, y: np.ndarray, probe: np.ndarray, seed: int
) -> dict[str, float]:
    """One network's merge costs: the most similar pair, random pairs (mean), and a planted
    duplicate of a random live unit (the control: its merge must cost nothing)."""
    i, j, corr = most_similar_pair(net, probe)
    live = net.hidden(probe).std(0) > 0
    rand = [merge_cost(net, a, b, x, y) for a, b in random_pairs(live, RANDOM_PAIRS, seed)]
    unit = int(np.random.default_rng(seed).choice(np.flatnonzero(live)))
    planted = plant_duplicate(net, unit)
    pi, pj, _ = most_similar_pair(planted, probe)
    return {
        "similar": merge_cost(net, i, j, x, y),
        "pair_correlation": corr,
        "random": float(np.mean(rand)) if rand else math.nan,
        "planted": merge_cost(planted, pi, pj, x, y),
        "planted_found": float({pi, pj} == {unit, len(net.b1)}),
    }


# ---- runs -----------------------------------------------------------------------------------
def _base_config(scale: Scale) -> Config:
    return config(
        data={
            "name": "spiral",
            "options": {"n_samples": pick(scale, 150, 300, 600), "noise": 0.05},
            "n_probe": 128,
        },
        optim={"name": "adam", "lr": 0.03},
        train={"steps": pick(scale, 150, 400, 1000), "n_checkpoints": 4},
    )


def _train_widths(
    result: StudyResult, scale: Scale, progress: ProgressFn | None
) -> tuple[dict[str, dict[int, Recording]], Config]:
    widths = pick(scale, [1, 8], [1, 2, 4, 8, 16, 32], [1, 2, 4, 8, 16, 32, 64])
    K = pick(scale, 4, 16, 24)
    base = _base_config(scale)
    recs: dict[str, dict[int, Recording]] = {"symmetric": {}, "free": {}}
    for width in widths:
        for kind, scheme, offset in (
            ("symmetric", "symmetric", SYMMETRIC_SEED_OFFSET),
            ("free", "kaiming", 0),
        ):
            with part(result, f"width {width} {kind}", progress):
                recs[kind][width] = fit(
                    base.override(
                        {
                            "model.hidden": [width],
                            "init.scheme": scheme,
                            "seeds.init": list(range(offset, offset + K)),
                        }
                    )
                )
    return recs, base


def _final(rec: Recording, key: str) -> list[float]:
    return [float(v) for v in rec.curves[key][:, -1]]


def _plateau_drop(rec: Recording) -> float:
    """Relative fall of the members' mean train loss over the last quarter of training."""
    curve = rec.curves["train_loss"].mean(0)  # (E,)
    q = int(rec.curve_steps.searchsorted(0.75 * rec.curve_steps[-1]))
    return float(1 - curve[-1] / curve[q])


@dataclass(frozen=True)
class WidthNumbers:
    """Final train losses per seed, by width, and what the premise needs."""

    widths: list[int]
    symmetric: dict[int, list[float]]
    free: dict[int, list[float]]
    free_accuracy: dict[int, list[float]]
    symmetric_plateau: dict[int, float]
    n_classes: int


def _width_numbers(recs: dict[str, dict[int, Recording]], n_classes: int) -> WidthNumbers:
    done = sorted(w for w in recs["free"] if w in recs["symmetric"])
    return WidthNumbers(
        done,
        {w: _final(recs["symmetric"][w], "train_loss") for w in done},
        {w: _final(recs["free"][w], "train_loss") for w in done},
        {w: _final(recs["free"][w], "train_acc") for w in done},
        {w: _plateau_drop(recs["symmetric"][w]) for w in done},
        n_classes,
    )


def _merge_runs(recs: dict[int, Recording], base: Config) -> dict[int, dict[str, list[float]]]:
    train, _, probe = prepare_data(base)
    x, y, p = train.x.astype(np.float64), np.asarray(train.y), probe.x.astype(np.float64)
    out: dict[int, dict[str, list[float]]] = {}
    for width in sorted(w for w in recs if w >= 4):
        rows = [
            merge_numbers(Net.from_recording(recs[width], k), x, y, p, seed=1000 * width + k)
            for k in range(recs[width].members)
        ]
        out[width] = {key: [r[key] for r in rows] for key in rows[0]}
    return out


# ---- findings -------------------------------------------------------------------------------
def trained_premise(nums: WidthNumbers) -> Premise:
    """The free networks trained (mean train accuracy at the widest width) and the symmetric
    ones stopped improving (so the gap is not a speed difference)."""
    widest = max(nums.widths)
    acc = float(np.mean(nums.free_accuracy[widest]))
    drop = max(nums.symmetric_plateau.values())
    return Premise(
        f"the free networks trained (mean train accuracy at width {widest} >= "
        f"{TRAINED_ACCURACY}) and the symmetric ones converged (their mean train loss "
        f"fell < {PLATEAU:.0%} over the last quarter, every width)",
        acc >= TRAINED_ACCURACY and drop < PLATEAU,
        {
            "free_accuracy_widest": acc,
            "symmetric_plateau_drop": drop,
            "accuracy_limit": TRAINED_ACCURACY,
            "plateau_limit": PLATEAU,
        },
    )


def _fits_better_finding(nums: WidthNumbers) -> Finding:
    gaps = {w: relative_gap(nums.symmetric[w], nums.free[w]) for w in nums.widths}
    family = holm_intervals({w: gaps[w] for w in nums.widths if w > 1})
    control_iv = t_interval(gaps[1])  # one condition: no correction
    measured = verdict_fits_better(family)
    control = Control(
        "width 1: symmetric and free starts are the same network class (independent seeds)",
        verdict_fits_better({1: control_iv}),
        {"relative_gap_width_1": control_iv.to_dict()},
    )
    per = {w: interval_verdict(iv, BETTER_BY) for w, iv in family.items()}
    summary = (
        "relative train-loss gap 1 - free/symmetric (95% intervals, Holm across widths): "
        + "; ".join(f"width {w}: {fmt_interval(iv)} ({per[w]})" for w, iv in family.items())
        + f". Control, width 1: {fmt_interval(control_iv)} ({control.verdict})."
    )
    return Finding(
        NAME,
        "Units differ because differing fits better: a network kept symmetric fits "
        "worse than the same network with free units.",
        measured,
        summary,
        {
            "symmetric_loss": {w: float(np.mean(v)) for w, v in nums.symmetric.items()},
            "free_loss": {w: float(np.mean(v)) for w, v in nums.free.items()},
            "relative_gap": {w: gaps[w].tolist() for w in nums.widths},
            "verdict_by_width": per,
        },
        {"better_by": BETTER_BY, "multiple_comparisons": "Holm (Bonferroni level) over widths"},
        ("capacity-width",),
        interval={f"relative_gap_width_{w}": iv for w, iv in family.items()},
        control=control,
        premise=trained_premise(nums),
    )


def merge_premise(nums: WidthNumbers, merged: Mapping[int, Mapping[str, list[float]]]) -> Premise:
    """The merged networks trained: mean train accuracy at the widest width, and at every
    merged width a train loss below chance (ln C)."""
    widest = max(nums.widths)
    acc = float(np.mean(nums.free_accuracy[widest]))
    chance = math.log(nums.n_classes)
    worst = max(float(np.mean(nums.free[w])) for w in merged)
    return Premise(
        f"the merged networks trained (mean train accuracy at width {widest} >= "
        f"{TRAINED_ACCURACY}; mean train loss below chance, ln {nums.n_classes}, at every "
        "merged width)",
        acc >= TRAINED_ACCURACY and worst < chance,
        {
            "free_accuracy_widest": acc,
            "worst_mean_loss": worst,
            "chance_loss": chance,
            "accuracy_limit": TRAINED_ACCURACY,
        },
    )


def _merge_finding(nums: WidthNumbers, merged: Mapping[int, Mapping[str, list[float]]]) -> Finding:
    similar = holm_intervals({w: m["similar"] for w, m in merged.items()})
    planted = holm_intervals({w: m["planted"] for w, m in merged.items()})
    rand = holm_intervals({w: m["random"] for w, m in merged.items()})
    measured = verdict_merge_costs(similar)
    per = {w: interval_verdict(iv, COSTS) for w, iv in similar.items()}
    control = Control(
        "a duplicate of a random live unit planted in the same networks (a redundant pair)",
        verdict_merge_costs(planted),
        {
            "relative_rise": {w: iv.to_dict() for w, iv in planted.items()},
            "duplicate_picked": {w: float(np.mean(m["planted_found"])) for w, m in merged.items()},
        },
    )
    summary = (
        "relative train-loss rise after merging the most correlated pair and refitting the "
        "output layer (95% intervals, Holm across widths): "
        + "; ".join(f"width {w}: {fmt_interval(iv)} ({per[w]})" for w, iv in similar.items())
        + ". Baseline, a random pair: "
        + "; ".join(f"width {w}: {fmt_interval(iv)}" for w, iv in rand.items())
        + f". Control, planted duplicate: {control.verdict}."
    )
    return Finding(
        NAME,
        "Even the two most similar units of a trained network are worth keeping "
        "apart: merging them raises the loss.",
        measured,
        summary,
        {
            "relative_rise": {w: m["similar"] for w, m in merged.items()},
            "random_pair_rise": {w: m["random"] for w, m in merged.items()},
            "pair_correlation": {w: m["pair_correlation"] for w, m in merged.items()},
            "verdict_by_width": per,
        },
        {
            "costs": COSTS,
            "refit": "output layer refit by least squares on the unmerged network's logits",
            "multiple_comparisons": "Holm (Bonferroni level) over widths",
        },
        ("capacity-merge",),
        interval={
            **{f"relative_rise_width_{w}": iv for w, iv in similar.items()},
            **{f"random_pair_rise_width_{w}": iv for w, iv in rand.items()},
        },
        control=control,
        premise=merge_premise(nums, merged),
    )


# ---- figures --------------------------------------------------------------------------------
def _figures(
    nums: WidthNumbers,
    merged: Mapping[int, Mapping[str, list[float]]],
    verdicts: Mapping[str, Verdict],
) -> list[FigureSpec]:
    figs = [
        FigureSpec(
            "capacity-width",
            "lines",
            "Final train loss against width (x axis: number of hidden units) for networks whose "
            "units start identical (they stay identical: effectively one unit) and for the same "
            "networks from a random start; one thin line per seed. The finding compares the two "
            "per seed, width by width.",
            {
                "x": np.array(nums.widths, dtype=np.float64),
                "series": {
                    "symmetric start": np.array([nums.symmetric[w] for w in nums.widths]).T,
                    "random start": np.array([nums.free[w] for w in nums.widths]).T,
                },
                "x_label": "width",
                "x_scale": "log1p",
                "y_label": "train loss",
                "y_scale": "log",
            },
            worded(
                verdicts.get("fits_better", "inconclusive"),
                supported="Free units fit better than identical ones at every width",
                refuted="Free units do not fit clearly better than identical ones",
                mixed="Free units fit clearly better at some widths only",
                other="Identical against free units: no decision",
            ),
        )
    ]
    if merged:
        mw = sorted(merged)
        figs.append(
            FigureSpec(
                "capacity-merge",
                "lines",
                "Relative rise of the train loss when two hidden units of a trained network are "
                "merged into one (mean incoming weights, summed outgoing weights) and the output "
                "layer is refit by least squares on the original logits, against width: the most "
                "correlated pair, a random pair (mean of several) and a planted duplicate "
                "(control). The dashed line is the threshold.",
                {
                    "x": np.array(mw, dtype=np.float64),
                    "series": {
                        name: np.array([merged[w][key] for w in mw]).T
                        for name, key in (
                            ("most similar pair", "similar"),
                            ("random pair", "random"),
                            ("planted duplicate", "planted"),
                        )
                    },
                    "x_label": "width",
                    "x_scale": "log1p",
                    "y_label": "relative loss rise",
                    "baselines": {"threshold": COSTS},
                },
                worded(
                    verdicts.get("merge", "inconclusive"),
                    supported="Merging even the most similar pair costs loss",
                    refuted="Merging the most similar pair costs almost nothing",
                    mixed="Merging the most similar pair costs loss at some widths only",
                    other="Merging the most similar pair: no decision",
                ),
            )
        )
    return figs


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    recs, base = _train_widths(result, scale, progress)
    n_classes = prepare_data(base)[0].n_outputs
    nums = _width_numbers(recs, n_classes)
    merged: dict[int, dict[str, list[float]]] = {}
    with part(result, "merge", progress):
        merged = _merge_runs(recs["free"], base)

    verdicts: dict[str, Verdict] = {}  # judged verdicts (control and premise applied)
    if len(nums.widths) > 1 and 1 in nums.widths:
        finding = _fits_better_finding(nums)
        result.findings.append(finding)
        verdicts["fits_better"] = finding.verdict
    if merged:
        finding = _merge_finding(nums, merged)
        result.findings.append(finding)
        verdicts["merge"] = finding.verdict
    result.figures = _figures(nums, merged, verdicts)
    result.numbers = {
        "widths": nums.widths,
        "loss": {"symmetric": nums.symmetric, "free": nums.free},
        "free_accuracy": nums.free_accuracy,
        "symmetric_plateau_drop": nums.symmetric_plateau,
        "merge": merged,
    }
    result.elapsed_s = time.perf_counter() - start
    return result
