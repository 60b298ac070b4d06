"""Study ``restarts``: non-convexity. Do different seeds find different solutions, or the same
units in another order? And which source of randomness decides which unit computes what?

Many seeds of one network are trained in one batched run. Pairs of members are compared
before and after their units are matched (Li et al. 2015 activation matching; Ainsworth et
al. 2023 weight matching): matched unit correlations, weight distances and the loss barrier
on the straight line between them. Then one source of randomness is varied at a time (init,
data order, dropout) with the others held fixed. Finally students learn a teacher network
whose units are known, and each teacher unit looks for its best student unit.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..match import pairs, relative_reduction
from ..measures import unit_correlation
from ..train import fit, prepare_data
from ._common import ProgressFn, Scale, config, fmt, part, pick
from ._finding import FigureSpec, Finding, StudyResult

NAME = "restarts"
TITLE = "Restarts: different solutions, or the same units reordered?"
QUESTION = (
    "Training is non-convex, so restarts can land in different places. Do two runs "
    "learn different units, or the same units in another order? Which randomness "
    "decides?"
)

SAME_UNITS = 0.9  # mean matched correlation at or above: the same units, reordered
DIFFERENT_UNITS = 0.5  # below: different units
DIFFERENT_WEIGHTS = 0.1  # relative distance of aligned weights above: different solutions
BARRIER_REMOVED = 0.5  # alignment removes at least this fraction of the barrier
IDENTITY_KEPT = 0.8  # unaligned correlation at or above: units keep their identity
RECOVERED = 0.9  # a teacher unit is recovered when a student unit correlates this much


def verdict_same_units(matched_mean: float) -> str:
    if matched_mean >= SAME_UNITS:
        return "supported"
    return "refuted" if matched_mean < DIFFERENT_UNITS else "mixed"


def verdict_different_solutions(aligned_distance: float) -> str:
    return "supported" if aligned_distance > DIFFERENT_WEIGHTS else "refuted"


def verdict_barrier(naive: float, reduction: float) -> str:
    """Supported when there is a barrier and alignment removes most of it."""
    if not naive > 0:
        return "inconclusive"
    return "supported" if reduction >= BARRIER_REMOVED else "refuted"


def verdict_init_decides(identity: dict[str, float]) -> str:
    """Supported when units keep their identity (unaligned corr ≥ IDENTITY_KEPT) under data-
    order and dropout changes but not under an init change; refuted when a data or dropout
    change alone scrambles them as much as an init change."""
    others = [identity[s] for s in ("data", "dropout") if s in identity]
    if "init" not in identity or not others:
        return "inconclusive"
    if identity["init"] < IDENTITY_KEPT and all(v >= IDENTITY_KEPT for v in others):
        return "supported"
    if any(v <= identity["init"] for v in others):
        return "refuted"
    return "mixed"


def verdict_teacher(recovered_fraction: float) -> str:
    if recovered_fraction >= 0.75:
        return "supported"
    return "refuted" if recovered_fraction < 0.25 else "mixed"


def _base(scale: Scale) -> Any:
    return config(
        data={
            "name": "moons",
            "options": {"n_samples": pick(scale, 150, 300, 1000), "noise": 0.2},
            "n_probe": 128,
        },
        model={"hidden": [16], "dropout": 0.1},
        optim={"name": "adam", "lr": 0.01},
        train={"steps": pick(scale, 150, 500, 3000), "batch_size": 32, "n_checkpoints": 4},
    )


def _weight_distance(rec: Any, comp: Any) -> tuple[float, float]:
    """Mean relative distance of hidden.0's incoming weights over pairs, (unaligned, aligned)."""
    w = rec.weights("hidden.0")[-1]  # (K, U, fan_in)
    raw, aligned = [], []
    for p, (i, j) in enumerate(comp.pairs):
        norm = np.linalg.norm(w[i])
        raw.append(np.linalg.norm(w[i] - w[j]) / norm)
        aligned.append(np.linalg.norm(w[i] - w[j][comp.perms["hidden.0"][p]]) / norm)
    return float(np.mean(raw)), float(np.mean(aligned))


def _seeds_part(scale: Scale) -> dict[str, Any]:
    K = pick(scale, 3, 8, 32)
    rec = fit(
        _base(scale).override(
            {
                "seeds.init": list(range(K)),
                "seeds.data": list(range(K)),
                "seeds.dropout": list(range(K)),
            }
        )
    )
    comp = pairs(rec, method="weights", n_points=pick(scale, 9, 17, 25))
    act = comp.units["hidden.0"]
    raw, aligned = _weight_distance(rec, comp)
    before, after = comp.naive.barrier("test"), comp.aligned.barrier("test")  # type: ignore
    return {
        "final_train_loss": rec.curves["train_loss"][:, -1].tolist(),
        "final_test_loss": rec.curves["test_loss"][:, -1].tolist(),
        "matched": act.matched.ravel().tolist(),
        "unaligned": act.unaligned.ravel().tolist(),
        "null": act.null.ravel().tolist(),
        "matched_mean": float(act.matched.mean()),
        "unaligned_mean": float(act.unaligned.mean()),
        "distance_unaligned": raw,
        "distance_aligned": aligned,
        "barrier_naive": before.tolist(),
        "barrier_aligned": after.tolist(),
        "barrier_reduction": float(relative_reduction(before.mean(), after.mean())),
        "lambdas": comp.naive.lambdas.tolist(),  # type: ignore[union-attr]
        "curve_naive": comp.naive.loss("test").mean(0).tolist(),  # type: ignore[union-attr]
        "curve_aligned": comp.aligned.loss("test").mean(0).tolist(),  # type: ignore[union-attr]
    }


def _source_part(scale: Scale, source: str) -> dict[str, Any]:
    K = pick(scale, 3, 6, 16)
    seeds = {"seeds.init": [0], "seeds.data": [0], "seeds.dropout": [0]}
    seeds[f"seeds.{source}"] = list(range(K))
    rec = fit(_base(scale).override(seeds))
    comp = pairs(rec, method="activations", barrier=False)
    act = comp.units["hidden.0"]
    return {
        "matched_mean": float(act.matched.mean()),
        "unaligned_mean": float(act.unaligned.mean()),
    }


def _teacher_part(scale: Scale) -> dict[str, Any]:
    K, width = pick(scale, 2, 4, 16), 4
    cfg = config(
        data={
            "name": "teacher",
            "options": {"n_samples": pick(scale, 256, 1024, 4096), "width": width, "n_features": 5},
            "n_probe": 256,
        },
        model={"hidden": [8]},
        optim={"name": "adam", "lr": 0.01},
        train={"steps": pick(scale, 300, 1500, 6000), "n_checkpoints": 4},
        seeds={"init": list(range(K))},
    )
    rec = fit(cfg)
    _, _, probe = prepare_data(cfg)
    e = probe.extras  # the teacher's weights travel with the data
    teacher = np.maximum(probe.x @ e["teacher.weight"].T + e["teacher.bias"], 0)  # (n, r)
    students = rec.activations("hidden.0")[-1].astype(np.float64)  # (K, n, 8)
    best = []
    for k in range(K):
        both = np.concatenate([teacher, students[k]], axis=1)
        both = both + np.linspace(0, 1e-12, len(both))[:, None] * (both.std(0) == 0)
        corr = unit_correlation(both)[:width, width:]  # (r, 8)
        best.append(np.nanmax(corr, axis=1))
    best_arr = np.array(best)  # (K, r)
    return {
        "best_corr": best_arr.tolist(),
        "recovered_fraction": float((best_arr >= RECOVERED).mean()),
        "final_test_loss": rec.curves["test_loss"][:, -1].tolist(),
    }


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    numbers: dict[str, Any] = {}
    with part(result, "many seeds", progress):
        numbers["seeds"] = _seeds_part(scale)
    numbers["sources"] = {}
    for source in ("init", "data", "dropout"):
        with part(result, f"vary only the {source} seed", progress):
            numbers["sources"][source] = _source_part(scale, source)
    with part(result, "teacher-student", progress):
        numbers["teacher"] = _teacher_part(scale)
    result.numbers = numbers
    _findings(result, numbers)
    result.elapsed_s = time.perf_counter() - start
    return result


def _findings(result: StudyResult, numbers: dict[str, Any]) -> None:
    s = numbers.get("seeds")
    if s:
        result.figures += [
            FigureSpec(
                "restarts-matched",
                "histogram",
                "Correlation of each hidden unit with its partner in another run, over "
                "all pairs of seeds: matched one-to-one by the Hungarian method, in the "
                "original order (unaligned), and against shuffled samples (null).",
                {
                    "samples": {
                        "matched": s["matched"],
                        "unaligned": s["unaligned"],
                        "null": s["null"],
                    },
                    "markers": {"same units": SAME_UNITS},
                    "x_label": "correlation",
                },
                "Do two runs learn the same units?",
            ),
            FigureSpec(
                "restarts-barrier",
                "lines",
                "Test loss along the straight line between two runs (λ = 0 and 1 are "
                "the runs), before and after permuting the second run's units to match "
                "the first (weight matching); mean over pairs.",
                {
                    "x": np.array(s["lambdas"]),
                    "series": {
                        "naive": np.array(s["curve_naive"]),
                        "aligned": np.array(s["curve_aligned"]),
                    },
                    "x_label": "λ",
                    "y_label": "test loss",
                },
                "The barrier between restarts",
            ),
        ]
        result.findings += [
            Finding(
                NAME,
                "Restarts land in different places: after matching their units, "
                "different seeds still end with different weights.",
                verdict_different_solutions(s["distance_aligned"]),  # type: ignore
                f"relative weight distance {fmt(s['distance_unaligned'])} unaligned, "
                f"{fmt(s['distance_aligned'])} after matching; final test loss "
                f"{fmt(min(s['final_test_loss']))}–{fmt(max(s['final_test_loss']))}.",
                {"distance_aligned": s["distance_aligned"]},
                {"different_above": DIFFERENT_WEIGHTS},
                ("restarts-matched",),
            ),
            Finding(
                NAME,
                "Two trainings learn the same units in another order.",
                verdict_same_units(s["matched_mean"]),  # type: ignore[arg-type]
                f"mean matched correlation {fmt(s['matched_mean'])} (unaligned "
                f"{fmt(s['unaligned_mean'])}).",
                {"matched_mean": s["matched_mean"]},
                {"same_at_least": SAME_UNITS, "different_below": DIFFERENT_UNITS},
                ("restarts-matched",),
            ),
            Finding(
                NAME,
                "Once units are matched, restarts are linearly connected: alignment "
                "removes most of the loss barrier between them.",
                verdict_barrier(
                    float(np.mean(s["barrier_naive"])),  # type: ignore
                    s["barrier_reduction"],
                ),
                f"test-loss barrier {fmt(float(np.mean(s['barrier_naive'])))} before, "
                f"{fmt(float(np.mean(s['barrier_aligned'])))} after matching "
                f"({fmt(100 * s['barrier_reduction'])}% removed).",
                {"naive": float(np.mean(s["barrier_naive"])), "reduction": s["barrier_reduction"]},
                {"removed_at_least": BARRIER_REMOVED},
                ("restarts-barrier",),
            ),
        ]
    src = numbers.get("sources", {})
    if src:
        identity = {k: v["unaligned_mean"] for k, v in src.items()}
        rows = [[k, v["unaligned_mean"], v["matched_mean"]] for k, v in src.items()]
        result.figures.append(
            FigureSpec(
                "restarts-sources",
                "table",
                "One randomness source varied, the others held fixed. 'same position' is the "
                "mean correlation of unit i in one run with unit i in another: high means each "
                "unit kept its identity. 'matched' is after one-to-one matching.",
                {"columns": ["source varied", "same position", "matched"], "rows": rows},
                "Which randomness decides which unit computes what?",
            )
        )
        result.findings.append(
            Finding(
                NAME,
                "The initialization alone decides which unit computes what: changing only "
                "the data order or the dropout masks leaves every unit in place.",
                verdict_init_decides(identity),  # type: ignore[arg-type]
                "same-position correlation when varying only "
                + ", ".join(f"{k}: {fmt(v)}" for k, v in identity.items())
                + ".",
                {"identity": identity},
                {"identity_kept_at_least": IDENTITY_KEPT},
                ("restarts-sources",),
            )
        )
    t = numbers.get("teacher")
    if t:
        result.figures.append(
            FigureSpec(
                "restarts-teacher",
                "histogram",
                "For each unit of the teacher network, the correlation of its best-matching "
                "student unit (students are wider than the teacher), over student seeds.",
                {
                    "samples": {"best student unit": np.ravel(t["best_corr"])},
                    "markers": {"recovered": RECOVERED},
                    "x_label": "correlation",
                },
                "Students and the teacher's ground-truth units",
            )
        )
        result.findings.append(
            Finding(
                NAME,
                "Students trained on a teacher's labels recover the teacher's units.",
                verdict_teacher(t["recovered_fraction"]),  # type: ignore[arg-type]
                f"{fmt(100 * t['recovered_fraction'])}% of teacher units have a student unit with "
                f"correlation ≥ {RECOVERED}.",
                {"recovered_fraction": t["recovered_fraction"]},
                {"recovered_at": RECOVERED, "supported_from": 0.75, "refuted_below": 0.25},
                ("restarts-teacher",),
            )
        )
