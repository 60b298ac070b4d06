"""Study ``init_scale``: does training make units alike? It depends on the scale of the start.

A teacher with ``r`` ReLU units labels low-dimensional Gaussian inputs; students of several
widths start from kaiming weights multiplied by a gain γ and train by full-batch gradient
descent. At each checkpoint we count the distinct directions of the students' incoming
weight vectors (:func:`~unitscope.measures.orientation_clusters`) and how far the weights
moved from their start (:func:`~unitscope.measures.relative_change`).

With γ = 1 the units barely move (relative change ≪ 1: the lazy regime of Chizat & Bach)
and stay as different as the random start made them; with small γ the incoming weights
condense onto a few directions early in training (Luo, Xu, Ma & Zhang 2021), so training
*does* make the units alike. The verdicts below are computed per γ, with intervals over seeds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..measures import effective_rank, orientation_clusters, relative_change, unit_correlation
from ..record import Recording
from ..train import Config, fit, prepare_data
from ._common import ProgressFn, Scale, config, fmt, part, pick
from ._finding import Control, FigureSpec, Finding, Interval, Premise, StudyResult, Verdict
from ._stats import family_verdict, fmt_interval, holm_intervals, t_interval, worded
from ._stats import interval_verdict as decide

NAME = "init_scale"
TITLE = "Lazy or condensed: the scale of the initialization decides whether units become alike"
QUESTION = (
    "Is it only the random initialization that makes units differ, and should training make "
    "them more alike? Vary the scale γ of the start and count the distinct directions the "
    "units' incoming weights point in, before and after training."
)

# Units became alike when at least this fraction of the distinct directions at the start is
# gone at the end.
ALIKE = 0.5
# Condensed: the student ends with at most this many directions per teacher unit (+1 slack).
PER_TEACHER_UNIT = 2
# Lazy: the hidden layer's weights moved by less than this fraction of their initial norm.
LAZY = 0.5
# Trained: the final train loss is under this fraction of the zero predictor's loss.
TRAINED = 0.05
TEACHER_UNITS = 3


@dataclass(frozen=True)
class Condition:
    """One cell of the grid: a gain, a width and a dropout rate, with K seeds."""

    gain: float
    width: int
    dropout: float = 0.0

    @property
    def key(self) -> str:
        return f"gain={self.gain:g} width={self.width} dropout={self.dropout:g}"


def verdict_alike(fall: Interval) -> Verdict:
    """Supported when the interval of the fall in distinct directions lies above ``ALIKE``."""
    return decide(fall, ALIKE)


def verdict_condensed(clusters: Interval, teacher_units: int = TEACHER_UNITS) -> Verdict:
    """Supported when the interval of final clusters lies under
    ``PER_TEACHER_UNIT * teacher_units + 1``."""
    return decide(clusters, PER_TEACHER_UNIT * teacher_units + 1, greater=False)


def verdict_lazy(change: Interval) -> Verdict:
    """Supported when the interval of the relative change lies under ``LAZY``."""
    return decide(change, LAZY, greater=False)


def verdict_dropout(difference: Interval) -> Verdict:
    """Supported when dropout ends with fewer clusters: the interval of (clusters without
    dropout − clusters with) lies above 0."""
    return decide(difference, 0.0)


# ---- runs ----------------------------------------------------------------------------------


def _base(scale: Scale) -> Config:
    return config(
        data={
            "name": "teacher",
            "options": {
                "n_samples": pick(scale, 120, 200, 400),
                "n_features": 5,
                "width": TEACHER_UNITS,
            },
            "n_probe": 100,
        },
        optim={"name": "sgd", "lr": 0.05},
        train={"steps": pick(scale, 300, 1000, 2000), "n_checkpoints": pick(scale, 4, 6, 10)},
        seeds={"init": list(range(pick(scale, 3, 6, 8)))},
    )


def _cfg(base: Config, c: Condition) -> Config:
    # Gradient descent from a standard start diverges past width ~128 at a fixed rate (the
    # curvature grows with width): the rate shrinks as 1/width beyond 64.
    lr = base.optim.lr * min(1.0, 64 / c.width)
    return base.override(
        {
            "model.hidden": [c.width],
            "model.dropout": c.dropout,
            "init.gain": c.gain,
            "optim.lr": lr,
        }
    )


def clusters_over_training(rec: Recording, layer: str = "hidden.0") -> np.ndarray:
    """(T, K) distinct directions of ``layer`` at every checkpoint."""
    w, b, a = rec.weights(layer), rec.bias(layer), rec.outgoing(layer)
    T, K = w.shape[:2]
    return np.array(
        [
            [
                orientation_clusters(w[t, k], a[t, k].T, bias=None if b is None else b[t, k]).count
                for k in range(K)
            ]
            for t in range(T)
        ],
        dtype=np.float64,
    )


def floor_control(rec: Recording, layer: str = "hidden.0") -> np.ndarray:
    """(K,) clusters of a layer with its *trained* magnitudes but its *initial* directions.

    The weight floor drops units that training left small; if that alone made the count fall,
    this control would fall as much as the trained layer. It cannot condense: its directions
    are the random ones of the start.
    """
    w, b, a = rec.weights(layer), rec.bias(layer), rec.outgoing(layer)
    inc0 = np.concatenate([w[0], b[0][..., None]], -1) if b is not None else w[0]
    inc1 = np.concatenate([w[-1], b[-1][..., None]], -1) if b is not None else w[-1]
    n0 = np.linalg.norm(inc0, axis=-1, keepdims=True)
    mixed = inc0 / np.where(n0 > 0, n0, 1.0) * np.linalg.norm(inc1, axis=-1, keepdims=True)
    return np.array(
        [orientation_clusters(mixed[k], a[-1, k].T).count for k in range(w.shape[1])],
        dtype=np.float64,
    )


def measure(rec: Recording, baseline_loss: float) -> dict[str, Any]:
    """Every number of one condition, per seed."""
    clusters = clusters_over_training(rec)  # (T, K)
    w, b = rec.weights("hidden.0"), rec.bias("hidden.0")
    inc = np.concatenate([w, b[..., None]], -1) if b is not None else w  # (T, K, U, d+1)
    K = w.shape[1]
    acts = rec.activations("hidden.0")  # (T, K, n, U)
    corr, rank = [], []
    for k in range(K):
        live = acts[-1, k][:, acts[-1, k].std(0) > 0]
        if live.shape[1] > 1:
            c = unit_correlation(live)
            corr.append(float(np.abs(c[~np.eye(len(c), dtype=bool)]).mean()))
        else:
            corr.append(float("nan"))
        rank.append(effective_rank(acts[-1, k]) if live.shape[1] else 0.0)
    final_loss = rec.curves["train_loss"][:, -1]
    return {
        "steps": [int(s) for s in rec.steps],
        "clusters": clusters.T.tolist(),  # (K, T)
        "clusters_init": clusters[0].tolist(),
        "clusters_final": clusters[-1].tolist(),
        "fall": (1 - clusters[-1] / clusters[0]).tolist(),
        "floor_control": floor_control(rec).tolist(),
        "relative_change": [relative_change(inc[-1, k], inc[0, k]).layer for k in range(K)],
        "train_loss": final_loss.tolist(),
        "relative_loss": (final_loss / baseline_loss).tolist(),
        "mean_abs_corr": corr,
        "effective_rank": rank,
    }


def run_grid(
    scale: Scale, result: StudyResult, progress: ProgressFn | None
) -> tuple[list[Condition], dict[str, dict[str, Any]]]:
    base = _base(scale)
    train, _, _ = prepare_data(base)
    baseline = float(np.mean(np.asarray(train.y, dtype=np.float64) ** 2))  # zero predictor
    gains = pick(scale, [1e-4, 1.0], [1e-4, 1e-2, 1.0], [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    widths = pick(scale, [16], [16, 32], [16, 64, 128])
    grid = [Condition(g, w) for w in widths for g in gains]
    grid.append(Condition(1e-2, widths[-1], 0.1))  # does dropout promote condensation?
    out: dict[str, dict[str, Any]] = {}
    for c in grid:
        with part(result, c.key, progress):
            out[c.key] = measure(fit(_cfg(base, c)), baseline) | {"baseline_loss": baseline}
    return grid, out


def run_digits(
    scale: Scale, result: StudyResult, progress: ProgressFn | None
) -> dict[str, dict[str, Any]]:
    """The same measures on digits (64 inputs, 10 classes), width 64, full batch: ten classes
    need many more directions than the teacher's three. Only at ``full`` scale."""
    if scale != "full":
        return {}
    base = config(
        data={"name": "digits", "options": {"flatten": True}, "n_probe": 200},
        optim={"name": "sgd", "lr": 0.2},
        train={"steps": 1500, "n_checkpoints": 8},
        seeds={"init": list(range(6))},
    )
    out = {}
    for gain in (1e-3, 1e-2, 1.0):
        c = Condition(gain, 64)
        with part(result, f"digits {c.key}", progress):
            rec = fit(_cfg(base, c))
            out[c.key] = {
                "steps": [int(s) for s in rec.steps],
                "clusters": clusters_over_training(rec).T.tolist(),
                "test_acc": rec.curves["test_acc"][:, -1].tolist(),
            }
    return out


# ---- findings -------------------------------------------------------------------------------


def _trained(rows: dict[str, dict[str, Any]], keys: list[str]) -> Premise:
    worst = {k: float(np.max(rows[k]["relative_loss"])) for k in keys}
    return Premise(
        f"every student trained: final train loss under {TRAINED:g} × the zero predictor's",
        all(v < TRAINED for v in worst.values()),
        {"worst_relative_loss": worst, "limit": TRAINED},
    )


def finding_alike(grid: list[Condition], rows: dict[str, dict[str, Any]]) -> Finding:
    width = max(c.width for c in grid)
    conds = [c for c in grid if c.width == width and c.dropout == 0 and c.key in rows]
    ivs = holm_intervals({f"gain={c.gain:g}": rows[c.key]["fall"] for c in conds})
    per_gain = {name: verdict_alike(iv) for name, iv in ivs.items()}
    smallest = min(conds, key=lambda c: c.gain)
    control_fall = t_interval(
        1 - np.array(rows[smallest.key]["floor_control"]) / rows[smallest.key]["clusters_init"]
    )
    alike = [g for g, v in per_gain.items() if v == "supported"]
    apart = [g for g, v in per_gain.items() if v == "refuted"]
    measured = family_verdict(list(per_gain.values()))
    regime = worded(
        measured,
        mixed="regime-dependent: ",
        supported="at every gain: ",
        refuted="at no gain: ",
        other="undecided: ",
    )
    summary = (
        f"{regime}units became alike at {', '.join(alike) or 'no gain'}"
        f" and stayed apart at {', '.join(apart) or 'no gain'} (width {width}); fall in "
        "distinct directions "
        + "; ".join(f"{g}: {fmt_interval(iv)}" for g, iv in ivs.items())
        + " (Holm-corrected intervals)."
    )
    return Finding(
        NAME,
        "Training makes the units of a layer more alike: at least half of the distinct "
        "directions of the start are gone at the end.",
        measured,
        summary,
        {"per_gain": per_gain, "fall": {g: rows[c.key]["fall"] for g, c in zip(ivs, conds)}},
        {"alike": ALIKE, "correction": "holm"},
        ("init_scale-clusters", "init_scale-phase"),
        interval={f"fall {g}": iv for g, iv in ivs.items()},
        control=Control(
            f"gain {smallest.gain:g}: trained magnitudes with the initial directions (the "
            "weight floor alone)",
            verdict_alike(control_fall),
            {"fall": control_fall.to_dict()},
        ),
        premise=_trained(rows, [c.key for c in conds]),
    )


def finding_condensed(grid: list[Condition], rows: dict[str, dict[str, Any]]) -> Finding:
    width = max(c.width for c in grid)
    conds = sorted(
        (c for c in grid if c.width == width and c.dropout == 0 and c.key in rows),
        key=lambda c: c.gain,
    )
    small, standard = conds[0], conds[-1]
    iv = t_interval(rows[small.key]["clusters_final"])
    control = t_interval(rows[standard.key]["clusters_final"])
    measured = verdict_condensed(iv)
    limit = PER_TEACHER_UNIT * TEACHER_UNITS + 1
    return Finding(
        NAME,
        f"From a small start (gain {small.gain:g}) the units condense onto about as many "
        f"directions as the teacher has units ({TEACHER_UNITS}).",
        measured,
        f"final distinct directions at gain {small.gain:g}: {fmt_interval(iv)} against "
        f"{fmt_interval(control)} at gain {standard.gain:g} (width {width}; limit {limit}).",
        {"clusters_final": rows[small.key]["clusters_final"]},
        {"at_most": limit},
        ("init_scale-clusters",),
        interval={"clusters_final": iv},
        control=Control(
            f"standard start (gain {standard.gain:g})",
            verdict_condensed(control),
            {"clusters_final": control.to_dict()},
        ),
        premise=_trained(rows, [small.key]),
    )


def finding_lazy(grid: list[Condition], rows: dict[str, dict[str, Any]]) -> Finding:
    width = max(c.width for c in grid)
    conds = sorted(
        (c for c in grid if c.width == width and c.dropout == 0 and c.key in rows),
        key=lambda c: c.gain,
    )
    small, standard = conds[0], conds[-1]
    iv = t_interval(rows[standard.key]["relative_change"])
    control = t_interval(rows[small.key]["relative_change"])
    return Finding(
        NAME,
        f"From a standard start (gain {standard.gain:g}) training is lazy: the units stay "
        "close to where the random start put them.",
        verdict_lazy(iv),
        f"relative change of the hidden weights ||W_T − W_0|| / ||W_0||: {fmt_interval(iv)} "
        f"at gain {standard.gain:g} against {fmt_interval(control)} at gain "
        f"{small.gain:g} (limit {LAZY}).",
        {"relative_change": rows[standard.key]["relative_change"]},
        {"lazy_below": LAZY},
        ("init_scale-change",),
        interval={"relative_change": iv},
        control=Control(
            f"small start (gain {small.gain:g})",
            verdict_lazy(control),
            {"relative_change": control.to_dict()},
        ),
        premise=_trained(rows, [standard.key]),
    )


def finding_dropout(grid: list[Condition], rows: dict[str, dict[str, Any]]) -> Finding | None:
    drop = next((c for c in grid if c.dropout > 0 and c.key in rows), None)
    plain = next(
        (
            c
            for c in grid
            if drop and c.dropout == 0 and (c.gain, c.width) == (drop.gain, drop.width)
        ),
        None,
    )
    if drop is None or plain is None or plain.key not in rows:
        return None
    a = np.array(rows[plain.key]["clusters_final"])
    b = np.array(rows[drop.key]["clusters_final"])
    iv = t_interval(a - b)  # same init seeds: paired by seed
    # control: the same comparison between two halves of the seeds without dropout
    half = len(a) // 2
    control = t_interval(a[:half] - a[half : 2 * half])
    return Finding(
        NAME,
        f"Dropout ({drop.dropout:g}) promotes condensation: it ends with fewer distinct "
        "directions than the same start without dropout.",
        verdict_dropout(iv),
        f"final directions without − with dropout at gain {drop.gain:g}, width {drop.width}: "
        f"{fmt_interval(iv)} (paired by init seed; without {fmt(float(a.mean()))}, with "
        f"{fmt(float(b.mean()))}).",
        {"without": a.tolist(), "with": b.tolist()},
        {"difference_above": 0.0},
        ("init_scale-clusters",),
        interval={"difference": iv},
        control=Control(
            "two groups of seeds, neither with dropout",
            verdict_dropout(control),
            {"difference": control.to_dict()},
        ),
        premise=_trained(rows, [plain.key, drop.key]),
    )


# ---- figures --------------------------------------------------------------------------------


def figures(grid: list[Condition], rows: dict[str, dict[str, Any]], alike: Verdict) -> list:
    width = max(c.width for c in grid)
    main = [c for c in grid if c.width == width and c.key in rows]
    figs = []
    if main:
        steps = np.array(rows[main[0].key]["steps"], dtype=np.float64)
        figs.append(
            FigureSpec(
                "init_scale-clusters",
                "lines",
                "Distinct directions among the hidden units' incoming weights (orientation "
                f"clusters, cosine ≥ 0.99) over training, width {width}, one thin line per "
                f"seed; the teacher has {TEACHER_UNITS} units.",
                {
                    "x": steps,
                    "series": {
                        f"gain {c.gain:g}" + (f", dropout {c.dropout:g}" if c.dropout else ""): (
                            np.array(rows[c.key]["clusters"])
                        )
                        for c in main
                    },
                    "x_label": "step",
                    "x_scale": "log1p",
                    "y_label": "distinct directions",
                },
                worded(
                    alike,
                    mixed="How alike units become depends on the scale of the start",
                    supported="Units become alike at every scale of the start",
                    refuted="Units stay as different as they started, at every scale",
                    other="Distinct directions over training, per scale of the start",
                ),
            )
        )
    gains = sorted({c.gain for c in grid if c.dropout == 0})
    widths = sorted({c.width for c in grid})
    cell = {(c.gain, c.width): c.key for c in grid if c.dropout == 0 and c.key in rows}
    phase = np.array(
        [
            [
                float(np.mean(rows[cell[(g, w)]]["clusters_final"])) / w
                if (g, w) in cell
                else np.nan
                for g in gains
            ]
            for w in widths
        ]
    )
    figs.append(
        FigureSpec(
            "init_scale-phase",
            "heatmap",
            "Final distinct directions as a fraction of the width (mean over seeds), for each "
            "gain (columns) and width (rows): near 0 the units condensed, near 1 every unit "
            "points its own way.",
            {
                "values": phase,
                "cmap": "sequential",
                "vmin": 0.0,
                "vmax": 1.0,
                "row_labels": [f"width {w}" for w in widths],
                "col_labels": [f"{g:g}" for g in gains],
                "x_label": "gain γ",
                "y_label": "width",
            },
            "Phase diagram: gain × width",
        )
    )
    if main:
        plain = sorted((c for c in main if c.dropout == 0), key=lambda c: c.gain)
        figs.append(
            FigureSpec(
                "init_scale-change",
                "lines",
                "Relative change of the hidden layer's weights ||W_T − W_0|| / ||W_0|| against "
                f"the gain of the start (width {width}); under {LAZY} the training is lazy.",
                {
                    "x": np.log10([c.gain for c in plain]),
                    "series": {
                        "relative change": np.array(
                            [rows[c.key]["relative_change"] for c in plain]
                        ).T
                    },
                    "x_label": "log10 gain γ",
                    "y_label": "relative change",
                    "y_scale": "log",
                    "baselines": {"lazy limit": LAZY},
                },
                "How far the units move, against the scale of the start",
            )
        )
    return figs


def digits_figure(digits: dict[str, dict[str, Any]]) -> list[FigureSpec]:
    if not digits:
        return []
    first = next(iter(digits.values()))
    return [
        FigureSpec(
            "init_scale-digits",
            "lines",
            "Digits, width 64: distinct directions of the hidden units' incoming weights over "
            "training, per gain of the start; one thin line per seed.",
            {
                "x": np.array(first["steps"], dtype=np.float64),
                "series": {
                    key.split(" width")[0]: np.array(row["clusters"]) for key, row in digits.items()
                },
                "x_label": "step",
                "x_scale": "log1p",
                "y_label": "distinct directions",
            },
            "Distinct directions on digits, per scale of the start",
        )
    ]


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    grid, rows = run_grid(scale, result, progress)
    digits = run_digits(scale, result, progress)
    result.numbers = {"conditions": rows, "teacher_units": TEACHER_UNITS, "digits": digits}
    with part(result, "findings", progress):
        found = [finding_alike(grid, rows), finding_condensed(grid, rows), finding_lazy(grid, rows)]
        drop = finding_dropout(grid, rows)
        result.findings = found + ([drop] if drop else [])
        result.figures = figures(grid, rows, found[0].verdict) + digits_figure(digits)
    result.elapsed_s = time.perf_counter() - start
    return result
