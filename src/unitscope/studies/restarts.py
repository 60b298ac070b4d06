"""Study ``restarts``: non-convexity. Do different seeds find different solutions, or the same
units in another order? And which source of randomness decides which unit computes what?

Many seeds of one network (two hidden layers, so that weight matching is a real coordinate
descent over layers) are trained in one batched run on the digits. Pairs of members are
compared before and after their units are matched (Li et al. 2015 activation matching;
Ainsworth et al. 2023 weight matching): distance of the aligned weights, disagreement of
their predictions, matched unit correlations and the loss barrier on the straight line
between them. Then one source of randomness is varied at a time (init, data order, dropout)
with the others held fixed. Finally students learn a teacher network whose units are known,
and each teacher unit looks for its best student unit.

Seeds are the independent units: every number about *pairs* of seeds has an interval that
resamples seeds (:func:`~unitscope.studies._stats.pair_interval`), and every verdict is decided
from an interval. Each finding has a control in which it should fail — the same seed trained
twice; untrained networks; a random permutation instead of the matched one; units relabelled at
random; students before training — and a premise measured on the runs (they trained, their
units are alive).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .._errors import UnitscopeError
from ..match import Comparison, Curve, interpolate, pairs, permute, random_perms, relative_reduction
from ..match._compare import recording_data
from ..measures import unit_correlation
from ..record import Recording
from ..train import Config, fit, prepare_data
from ._common import ProgressFn, Scale, config, fmt, part, pick
from ._finding import Control, FigureSpec, Finding, Interval, Premise, StudyResult, Verdict
from ._stats import (
    family_verdict,
    fmt_interval,
    interval_verdict,
    pair_interval,
    t_interval,
    worded,
)

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
DISAGREE_MIN = 0.01  # restarts predict differently: they disagree on more than 1% of points
BARRIER_REMOVED = 0.5  # alignment removes at least this fraction of the barrier
IDENTITY_KEPT = 0.8  # unaligned correlation above: units keep their identity
RECOVERED = 0.9  # a teacher unit is recovered when a student unit correlates this much
RECOVERED_MOST, RECOVERED_FEW = 0.75, 0.25  # share of teacher units: supported / refuted
TRAINED_ACC = 0.9  # premise: every member's final train accuracy at least this
TEACHER_R2 = 0.9  # premise: every student explains this much of the test variance
LIVE_SHARE = 0.75  # premise: at least this share of each layer's units vary on the probe set
N_SAME = 3  # members trained from one and the same seed (the "same seed twice" control)
SOURCES = ("init", "data", "dropout")


# ---- verdicts ------------------------------------------------------------------------------
def zone(iv: Interval, high: float, low: float) -> Verdict:
    """Three zones: supported when the interval lies at or above ``high``, refuted when below
    ``low``, mixed when wholly between, inconclusive when it straddles a threshold."""
    if not iv.finite:
        return "inconclusive"
    if iv.lo >= high:
        return "supported"
    if iv.hi < low:
        return "refuted"
    return "mixed" if iv.lo >= low and iv.hi < high else "inconclusive"


def verdict_different_solutions(distance: Interval) -> Verdict:
    """Relative distance of the aligned weights above :data:`DIFFERENT_WEIGHTS`."""
    return interval_verdict(distance, DIFFERENT_WEIGHTS)


def verdict_disagree(disagreement: Interval) -> Verdict:
    """Share of test points on which two restarts predict different classes above
    :data:`DISAGREE_MIN`."""
    return interval_verdict(disagreement, DISAGREE_MIN)


def verdict_same_units(matched: Mapping[str, Interval]) -> Verdict:
    """Per layer :func:`zone` of the mean matched correlation (:data:`SAME_UNITS`,
    :data:`DIFFERENT_UNITS`), the layers together by :func:`family_verdict`."""
    return family_verdict([zone(iv, SAME_UNITS, DIFFERENT_UNITS) for iv in matched.values()])


def verdict_barrier(reduction: Interval) -> Verdict:
    """Alignment removes at least :data:`BARRIER_REMOVED` of the loss barrier."""
    return interval_verdict(reduction, BARRIER_REMOVED)


def verdict_init_decides(identity: Mapping[str, Interval]) -> Verdict:
    """Units keep their identity (same-position correlation above :data:`IDENTITY_KEPT`)
    when only the data order or the dropout masks change, and lose it when the init changes.

    Supported when every interval is on the claimed side; refuted when one is wholly on the
    other side (a data or dropout change alone scrambles the units, or an init change leaves
    them in place); inconclusive otherwise.
    """
    others = [identity[s] for s in ("data", "dropout") if s in identity]
    if "init" not in identity or not others:
        return "inconclusive"
    parts = [interval_verdict(identity["init"], IDENTITY_KEPT, greater=False)]
    parts += [interval_verdict(iv, IDENTITY_KEPT) for iv in others]
    if "refuted" in parts:
        return "refuted"
    return "supported" if all(p == "supported" for p in parts) else "inconclusive"


def verdict_teacher(recovered: Interval) -> Verdict:
    """:func:`zone` of the share of teacher units recovered (:data:`RECOVERED_MOST`,
    :data:`RECOVERED_FEW`)."""
    return zone(recovered, RECOVERED_MOST, RECOVERED_FEW)


# ---- statistics of pairs of seeds ----------------------------------------------------------
def pair_matrix(K: int, pair_list: Sequence[Sequence[int]], values: Sequence[float]) -> np.ndarray:
    """(K, K) with ``values[p]`` at ``pair_list[p]``, NaN elsewhere."""
    m = np.full((K, K), np.nan)
    for (i, j), v in zip(pair_list, values, strict=True):
        m[int(i), int(j)] = float(v)
    return m


def pairwise(block: Mapping[str, Any], values: Sequence[float]) -> Interval:
    """The mean over the pairs of a block's K seeds, with the interval that resamples seeds."""
    return pair_interval(pair_matrix(block["K"], block["pairs"], values))


# ---- runs ----------------------------------------------------------------------------------
def base_config(scale: Scale) -> Config:
    return config(
        data={
            "name": "digits",
            "options": {"n_samples": pick(scale, 300, 1000, 1797)},
            "n_probe": pick(scale, 128, 256, 256),
        },
        model={"hidden": pick(scale, [8, 8], [32, 32], [64, 64]), "dropout": 0.1},
        optim={"name": "adam", "lr": 0.003},
        train={"steps": pick(scale, 150, 500, 1500), "batch_size": 32, "n_checkpoints": 4},
    )


def n_points(scale: Scale) -> int:
    return int(pick(scale, 5, 13, 17))


def seeds_run(scale: Scale) -> tuple[Recording, Recording]:
    """K members with seeds 0..K-1 (every source), plus the control: :data:`N_SAME` members
    all trained from seed 0, in the same batched run."""
    K = pick(scale, 4, 10, 16)
    seeds = list(range(K)) + [0] * (N_SAME - 1)
    rec = fit(
        base_config(scale).override(
            {"seeds.init": seeds, "seeds.data": seeds, "seeds.dropout": seeds}
        )
    )
    return rec.select(list(range(K))), rec.select([0, *range(K, K + N_SAME - 1)])


def source_run(scale: Scale, source: str) -> Recording:
    """Only the ``source`` seed varies over the members; the other two are held at 0."""
    K = pick(scale, 3, 6, 10)
    seeds: dict[str, Any] = {"seeds.init": [0], "seeds.data": [0], "seeds.dropout": [0]}
    seeds[f"seeds.{source}"] = list(range(K))
    return fit(base_config(scale).override(seeds))


def teacher_config(scale: Scale) -> Config:
    return config(
        data={
            "name": "teacher",
            "options": {"n_samples": pick(scale, 256, 1024, 2048), "width": 4, "n_features": 5},
            "n_probe": 256,
        },
        model={"hidden": [8]},
        optim={"name": "adam", "lr": 0.01},
        train={"steps": pick(scale, 300, 1500, 3000), "n_checkpoints": 4},
        seeds={"init": list(range(pick(scale, 3, 16, 32)))},
    )


# ---- numbers -------------------------------------------------------------------------------
def training_numbers(rec: Recording) -> dict[str, Any]:
    """Final train/test accuracy and loss per member, and the smallest share of live units
    (units that vary on the probe set) of each layer over members."""
    c = rec.curves
    out: dict[str, Any] = {
        "final_train_loss": c["train_loss"][:, -1].tolist(),
        "final_test_loss": c["test_loss"][:, -1].tolist(),
    }
    if "train_acc" in c:
        out["final_train_acc"] = c["train_acc"][:, -1].tolist()
        out["final_test_acc"] = c["test_acc"][:, -1].tolist()
    out["live_share"] = {
        layer: float((rec.activations(layer)[-1].std(axis=1) > 0).mean(axis=1).min())
        for layer in rec.layers
    }
    return out


def trained_premise(t: Mapping[str, Any], what: str) -> Premise:
    """Every member reached :data:`TRAINED_ACC` train accuracy and every layer keeps
    :data:`LIVE_SHARE` of its units alive."""
    acc = min(t["final_train_acc"])
    live = min(t["live_share"].values())
    return Premise(
        f"{what}: every member trained (train accuracy ≥ {TRAINED_ACC}) and ≥ "
        f"{LIVE_SHARE:.0%} of each layer's units are alive",
        bool(acc >= TRAINED_ACC and live >= LIVE_SHARE),
        {
            "lowest_train_acc": acc,
            "train_acc_at_least": TRAINED_ACC,
            "lowest_live_share": live,
            "live_share_at_least": LIVE_SHARE,
            "final_test_acc": t.get("final_test_acc"),
        },
    )


def _models(rec: Recording, comp: Comparison) -> tuple[Any, Any]:
    return (
        rec.model(-1, members=[i for i, _ in comp.pairs]),
        rec.model(-1, members=[j for _, j in comp.pairs]),
    )


def _flat(model: Any) -> torch.Tensor:
    return torch.cat([p.reshape(p.shape[0], -1) for p in model.param_dict().values()], dim=1)


def weight_distances(rec: Recording, comp: Comparison) -> tuple[np.ndarray, np.ndarray]:
    """(P,) each: ``‖θ_A − θ_B‖ / ‖θ_A‖`` over every parameter, unaligned and after
    permuting B with the comparison's permutations."""
    a, b = _models(rec, comp)
    ta, tb, tm = _flat(a), _flat(b), _flat(permute(b, comp.perms))
    norm = ta.norm(dim=1)
    raw = ((ta - tb).norm(dim=1) / norm).double().numpy()
    return raw, ((ta - tm).norm(dim=1) / norm).double().numpy()


def disagreement(rec: Recording, pair_list: Sequence[tuple[int, int]]) -> np.ndarray:
    """(P,) share of test points on which the two members predict different classes."""
    _, test, _ = prepare_data(Config.from_dict(rec.config))
    net = rec.model(-1)
    x = torch.as_tensor(test.x.reshape(test.n_samples, -1), dtype=next(net.parameters()).dtype)
    with torch.no_grad():
        pred = net(x).argmax(dim=-1).numpy()  # (K, n_test)
    return np.array([float((pred[i] != pred[j]).mean()) for i, j in pair_list])


def curves(comp: Comparison) -> tuple[Curve, Curve]:
    """The naive and aligned curves of a comparison run with ``barrier=True``."""
    if comp.naive is None or comp.aligned is None:
        raise UnitscopeError("the comparison has no barrier curves; run it with barrier=True.")
    return comp.naive, comp.aligned


def test_split(rec: Recording) -> dict[str, Any]:
    """The recording's test split alone: every barrier and curve of the study is on test
    data, so the train split is not evaluated along the lines."""
    return {"test": recording_data(rec)["test"]}


def _pair_part(rec: Recording, comp: Comparison) -> dict[str, Any]:
    return {"K": rec.members, "pairs": [list(p) for p in comp.pairs]}


def seeds_numbers(rec: Recording, same: Recording, scale: Scale) -> dict[str, Any]:
    """Every pairwise number of the K seeds, their untrained state, the random-permutation
    barrier and the same-seed control."""
    data = test_split(rec)
    comp = pairs(rec, method="weights", n_points=n_points(scale), data=data, null="none")
    naive_curve, aligned_curve = curves(comp)
    untrained = pairs(rec, step=0, method="activations", barrier=False, null="none")
    raw, aligned = weight_distances(rec, comp)
    a, b = _models(rec, comp)
    shuffled = interpolate(
        a,
        permute(b, random_perms(b, seed=1)),
        data,
        n_points=n_points(scale),
        loss=rec.config["train"]["loss"],
    )
    naive, after, rand = (c.barrier("test") for c in (naive_curve, aligned_curve, shuffled))
    layers = list(comp.units)
    out: dict[str, Any] = {
        **_pair_part(rec, comp),
        "layers": layers,
        "training": training_numbers(rec),
        "distance_unaligned": raw.tolist(),
        "distance_aligned": aligned.tolist(),
        "disagreement": disagreement(rec, comp.pairs).tolist(),
        "matched": {n: comp.units[n].mean.tolist() for n in layers},
        "unaligned": {n: comp.units[n].unaligned.mean(axis=1).tolist() for n in layers},
        "untrained_matched": {n: untrained.units[n].mean.tolist() for n in layers},
        "barrier_naive": naive.tolist(),
        "barrier_aligned": after.tolist(),
        "barrier_random": rand.tolist(),
        "reduction": relative_reduction(naive, after).tolist(),
        "reduction_random": relative_reduction(naive, rand).tolist(),
        "weight_matching": {
            "sweeps": comp.weight_match.sweeps if comp.weight_match else 0,
            "converged": comp.weight_match.converged if comp.weight_match else False,
        },
        "lambdas": naive_curve.lambdas.tolist(),
        "curve_naive": naive_curve.loss("test").mean(0).tolist(),
        "curve_aligned": aligned_curve.loss("test").mean(0).tolist(),
        "curve_random": shuffled.loss("test").mean(0).tolist(),
        "unit_corr": {
            "matched": np.concatenate([comp.units[n].matched.ravel() for n in layers]).tolist(),
            "unaligned": np.concatenate([comp.units[n].unaligned.ravel() for n in layers]).tolist(),
            "untrained matched": np.concatenate(
                [untrained.units[n].matched.ravel() for n in layers]
            ).tolist(),
        },
    }
    c_same = pairs(same, method="weights", barrier=False, null="none")
    out["same_seed"] = {
        **_pair_part(same, c_same),
        "distance_aligned": weight_distances(same, c_same)[1].tolist(),
        "disagreement": disagreement(same, c_same.pairs).tolist(),
    }
    return out


def source_numbers(rec: Recording, scale: Scale) -> dict[str, Any]:
    """Same-position and matched correlation (mean over layers) and the barriers of every
    pair of a run in which one randomness source varies; the same-position correlation
    after relabelling every member's units at random (the control)."""
    comp = pairs(rec, method="weights", n_points=n_points(scale), data=test_split(rec), null="none")
    naive_curve, aligned_curve = curves(comp)
    rng = np.random.default_rng(0)
    layers = list(comp.units)
    relabelled = []
    for p in range(len(comp.pairs)):
        per_layer = []
        for n in layers:
            corr = comp.units[n].corr[p]  # (U, U)
            perm = rng.permutation(corr.shape[0])
            per_layer.append(np.nanmean(corr[np.arange(corr.shape[0]), perm]))
        relabelled.append(float(np.mean(per_layer)))
    naive, after = naive_curve.barrier("test"), aligned_curve.barrier("test")
    return {
        **_pair_part(rec, comp),
        "identity": np.mean([comp.units[n].unaligned.mean(axis=1) for n in layers], 0).tolist(),
        "matched": np.mean([comp.units[n].mean for n in layers], 0).tolist(),
        "identity_relabelled": relabelled,
        "barrier_naive": naive.tolist(),
        "barrier_aligned": after.tolist(),
        "training": training_numbers(rec),
    }


def teacher_numbers(rec: Recording, cfg: Config) -> dict[str, Any]:
    """Each teacher unit's best student unit, after training and at init (the control); the
    share recovered (≥ :data:`RECOVERED`) per student; the students' test R²."""
    _, test, probe = prepare_data(cfg)
    e = probe.extras  # the teacher's weights travel with the data
    teacher = np.maximum(probe.x @ e["teacher.weight"].T + e["teacher.bias"], 0)  # (n, r)
    width = teacher.shape[1]
    acts = rec.activations("hidden.0").astype(np.float64)  # (T, K, n, U)

    def best(students: np.ndarray) -> np.ndarray:  # (K, n, U) -> (K, r)
        out = []
        for s in students:
            both = np.concatenate([teacher, s], axis=1)
            both = both + np.linspace(0, 1e-12, len(both))[:, None] * (both.std(0) == 0)
            out.append(np.nanmax(unit_correlation(both)[:width, width:], axis=1))
        return np.array(out)

    end, init = best(acts[-1]), best(acts[0])
    var = float(np.var(test.y))
    r2 = 1.0 - rec.curves["test_loss"][:, -1] / var
    return {
        "best_corr": end.tolist(),
        "best_corr_init": init.tolist(),
        "recovered": (end >= RECOVERED).mean(axis=1).tolist(),  # per student seed
        "recovered_init": (init >= RECOVERED).mean(axis=1).tolist(),
        "test_r2": r2.tolist(),
    }


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    numbers: dict[str, Any] = {"sources": {}}
    with part(result, "many seeds", progress):
        numbers["seeds"] = seeds_numbers(*seeds_run(scale), scale)
    for source in SOURCES:
        with part(result, f"vary only the {source} seed", progress):
            numbers["sources"][source] = source_numbers(source_run(scale, source), scale)
    with part(result, "teacher-student", progress):
        cfg = teacher_config(scale)
        numbers["teacher"] = teacher_numbers(fit(cfg), cfg)
    result.numbers = numbers
    if "seeds" in numbers:
        iv = seeds_intervals(numbers["seeds"])
        result.findings += seeds_findings(numbers["seeds"], iv)
        result.figures += seeds_figures(numbers["seeds"], iv)
    if numbers["sources"]:
        siv = sources_intervals(numbers["sources"])
        result.findings.append(sources_finding(numbers["sources"], siv))
        result.figures.append(sources_figure(numbers["sources"], siv))
    if "teacher" in numbers:
        result.findings.append(teacher_finding(numbers["teacher"]))
        result.figures.append(teacher_figure(numbers["teacher"]))
    result.elapsed_s = time.perf_counter() - start
    return result


# ---- findings ------------------------------------------------------------------------------
SAME_SEED = "the same seed trained twice (init, data order and dropout all equal)"


def seeds_intervals(s: Mapping[str, Any]) -> dict[str, Any]:
    """Every interval of the seeds part, by name (the findings and the tests use these)."""
    same = s["same_seed"]
    return {
        "distance": pairwise(s, s["distance_aligned"]),
        "distance_unaligned": pairwise(s, s["distance_unaligned"]),
        "distance_same": pairwise(same, same["distance_aligned"]),
        "disagreement": pairwise(s, s["disagreement"]),
        "disagreement_same": pairwise(same, same["disagreement"]),
        "matched": {n: pairwise(s, v) for n, v in s["matched"].items()},
        "unaligned": {n: pairwise(s, v) for n, v in s["unaligned"].items()},
        "untrained": {n: pairwise(s, v) for n, v in s["untrained_matched"].items()},
        "reduction": pairwise(s, s["reduction"]),
        "reduction_random": pairwise(s, s["reduction_random"]),
        "barrier_naive": pairwise(s, s["barrier_naive"]),
        "barrier_aligned": pairwise(s, s["barrier_aligned"]),
    }


def seeds_findings(s: Mapping[str, Any], iv: Mapping[str, Any] | None = None) -> list[Finding]:
    """The four findings of the seeds part (``iv``: its :func:`seeds_intervals`)."""
    iv = seeds_intervals(s) if iv is None else iv
    trained = trained_premise(s["training"], f"{s['K']} seeds")
    t = s["training"]
    v_dist = verdict_different_solutions(iv["distance"])
    v_dis = verdict_disagree(iv["disagreement"])
    v_same = verdict_same_units(iv["matched"])
    v_bar = verdict_barrier(iv["reduction"])
    barrier_there = bool(iv["barrier_naive"].lo > 0)
    return [
        Finding(
            NAME,
            "Restarts land in different places: after matching their units, different seeds "
            "still end with different weights.",
            v_dist,
            worded(
                v_dist,
                supported="Aligned restarts keep different weights",
                refuted="Aligned restarts have nearly the same weights",
                other="Whether aligned restarts differ is undecided",
            )
            + f": relative distance {fmt_interval(iv['distance'])} after weight matching "
            f"({fmt(iv['distance_unaligned'].value)} before); same seed twice: "
            f"{fmt_interval(iv['distance_same'])}.",
            {
                "distance_aligned": s["distance_aligned"],
                "distance_unaligned": s["distance_unaligned"],
            },
            {"different_above": DIFFERENT_WEIGHTS, "interval": "seeds resampled"},
            ("restarts-summary",),
            interval={"aligned distance": iv["distance"], "unaligned": iv["distance_unaligned"]},
            control=Control(
                SAME_SEED,
                verdict_different_solutions(iv["distance_same"]),
                {"distance_aligned": s["same_seed"]["distance_aligned"]},
            ),
            premise=trained,
        ),
        Finding(
            NAME,
            "Restarts compute different functions: two seeds predict different classes on "
            "some test points.",
            v_dis,
            worded(
                v_dis,
                supported="Restarts disagree on some test points",
                refuted="Restarts agree on nearly every test point",
                other="Whether restarts disagree is undecided",
            )
            + f": disagreement {fmt_interval(iv['disagreement'])} of test points (test "
            f"accuracy {fmt(min(t['final_test_acc']))}–{fmt(max(t['final_test_acc']))}); same "
            f"seed twice: {fmt_interval(iv['disagreement_same'])}.",
            {"disagreement": s["disagreement"]},
            {"disagree_above": DISAGREE_MIN, "interval": "seeds resampled"},
            ("restarts-summary",),
            interval={"disagreement": iv["disagreement"]},
            control=Control(
                SAME_SEED,
                verdict_disagree(iv["disagreement_same"]),
                {"disagreement": s["same_seed"]["disagreement"]},
            ),
            premise=trained,
        ),
        Finding(
            NAME,
            "Two trainings learn the same units in another order.",
            v_same,
            worded(
                v_same,
                supported="Matched units of two restarts are the same units",
                refuted="Matched units of two restarts are different units",
                mixed="Matched units of two restarts are partly alike",
                other="Whether restarts learn the same units is undecided",
            )
            + ": mean matched correlation "
            + "; ".join(
                f"{n} {fmt_interval(iv['matched'][n])} (in place "
                f"{fmt(iv['unaligned'][n].value)}, untrained {fmt(iv['untrained'][n].value)})"
                for n in s["layers"]
            )
            + ".",
            {"matched": s["matched"], "unaligned": s["unaligned"]},
            {"same_at_least": SAME_UNITS, "different_below": DIFFERENT_UNITS},
            ("restarts-matched", "restarts-summary"),
            interval={
                **{f"matched {n}": v for n, v in iv["matched"].items()},
                **{f"in place {n}": v for n, v in iv["unaligned"].items()},
            },
            control=Control(
                "untrained networks: the same seeds before training, matched the same way",
                verdict_same_units(iv["untrained"]),
                {
                    "matched": s["untrained_matched"],
                    "mean": {n: v.value for n, v in iv["untrained"].items()},
                },
            ),
            premise=trained,
        ),
        Finding(
            NAME,
            "Once units are matched, restarts are linearly connected: alignment removes most "
            "of the loss barrier between them.",
            v_bar,
            worded(
                v_bar,
                supported="Weight matching removes most of the barrier",
                refuted="Weight matching leaves most of the barrier",
                other="Whether weight matching removes most of the barrier is undecided",
            )
            + f": {fmt_interval(iv['reduction'])} of the test-loss barrier removed (barrier "
            f"{fmt_interval(iv['barrier_naive'])} before, {fmt(iv['barrier_aligned'].value)} "
            f"after; {s['weight_matching']['sweeps']} sweeps of weight matching over "
            f"{len(s['layers'])} layers); a random permutation: "
            f"{fmt_interval(iv['reduction_random'])}.",
            {"reduction": s["reduction"], "barrier_naive": s["barrier_naive"]},
            {"removed_at_least": BARRIER_REMOVED, "interval": "seeds resampled"},
            ("restarts-barrier", "restarts-summary"),
            interval={
                "share removed": iv["reduction"],
                "barrier before": iv["barrier_naive"],
                "barrier after": iv["barrier_aligned"],
            },
            control=Control(
                "a random permutation of each layer in place of the matched one",
                verdict_barrier(iv["reduction_random"]),
                {"reduction": s["reduction_random"]},
            ),
            premise=Premise(
                trained.what + "; there is a barrier to remove (its interval above 0)",
                trained.holds and barrier_there,
                {**trained.numbers, "barrier_before_lo": iv["barrier_naive"].lo},
            ),
        ),
    ]


def sources_intervals(src: Mapping[str, Any]) -> dict[str, dict[str, Interval]]:
    return {
        key: {s: pairwise(v, v[key]) for s, v in src.items()}
        for key in (
            "identity",
            "identity_relabelled",
            "matched",
            "barrier_naive",
            "barrier_aligned",
        )
    }


def sources_finding(
    src: Mapping[str, Any], iv: Mapping[str, Mapping[str, Interval]] | None = None
) -> Finding:
    """The randomness-source finding (``iv``: its :func:`sources_intervals`)."""
    iv = sources_intervals(src) if iv is None else iv
    verdict = verdict_init_decides(iv["identity"])
    premises = [trained_premise(v["training"], f"vary {s}") for s, v in src.items()]
    return Finding(
        NAME,
        "The initialization alone decides which unit computes what: changing only the data "
        "order or the dropout masks leaves every unit in place.",
        verdict,
        worded(
            verdict,
            supported="Only an init change moves the units",
            refuted="The init is not the only source that decides",
            other="Which source decides is undecided",
        )
        + ": same-position correlation when varying only "
        + ", ".join(f"{s}: {fmt_interval(v)}" for s, v in iv["identity"].items())
        + "; test-loss barrier before matching "
        + ", ".join(f"{s}: {fmt_interval(v)}" for s, v in iv["barrier_naive"].items())
        + ".",
        {"identity": {s: v["identity"] for s, v in src.items()}},
        {"identity_kept_above": IDENTITY_KEPT, "interval": "seeds resampled"},
        ("restarts-sources",),
        interval={
            **{f"same position, vary {s}": v for s, v in iv["identity"].items()},
            **{f"barrier, vary {s}": v for s, v in iv["barrier_naive"].items()},
        },
        control=Control(
            "the same runs with every member's units relabelled at random",
            verdict_init_decides(iv["identity_relabelled"]),
            {"identity": {s: v["identity_relabelled"] for s, v in src.items()}},
        ),
        premise=Premise(
            "every run trained and kept its units alive",
            all(p.holds for p in premises),
            {p.what: dict(p.numbers) for p in premises},
        ),
    )


def teacher_finding(t: Mapping[str, Any]) -> Finding:
    rec, init = t_interval(t["recovered"]), t_interval(t["recovered_init"])
    verdict = verdict_teacher(rec)
    r2 = min(t["test_r2"])
    return Finding(
        NAME,
        "Students trained on a teacher's labels recover the teacher's units.",
        verdict,
        worded(
            verdict,
            supported="Students recover most teacher units",
            refuted="Students recover few teacher units",
            mixed="Students recover some teacher units",
            other="How many teacher units students recover is undecided",
        )
        + f": {fmt_interval(rec)} of teacher units have a student unit with correlation ≥ "
        f"{RECOVERED} (at init: {fmt_interval(init)}); lowest test R² {fmt(r2)}.",
        {"recovered": t["recovered"], "best_corr": t["best_corr"]},
        {
            "recovered_at": RECOVERED,
            "supported_from": RECOVERED_MOST,
            "refuted_below": RECOVERED_FEW,
        },
        ("restarts-teacher",),
        interval={"share recovered": rec, "at init": init},
        control=Control(
            "the same students before training",
            verdict_teacher(init),
            {"recovered": t["recovered_init"]},
        ),
        premise=Premise(
            f"every student fits the teacher (test R² ≥ {TEACHER_R2})",
            bool(r2 >= TEACHER_R2),
            {"lowest_test_r2": r2, "r2_at_least": TEACHER_R2},
        ),
    )


# ---- figures -------------------------------------------------------------------------------
def _cell(iv: Interval) -> str:
    return fmt_interval(iv)


def seeds_figures(s: Mapping[str, Any], iv: Mapping[str, Any]) -> list[FigureSpec]:
    rows = [
        ["weight distance after matching", _cell(iv["distance"]), _cell(iv["distance_same"])],
        ["prediction disagreement", _cell(iv["disagreement"]), _cell(iv["disagreement_same"])],
        *(
            [f"matched correlation {n}", _cell(iv["matched"][n]), _cell(iv["untrained"][n])]
            for n in s["layers"]
        ),
        ["barrier removed by matching", _cell(iv["reduction"]), _cell(iv["reduction_random"])],
    ]
    return [
        FigureSpec(
            "restarts-summary",
            "table",
            f"Pairs of {s['K']} seeds: mean over pairs with a 95% interval that resamples seeds "
            "(pairs of seeds are not independent). Each row's control is the run in which the "
            "claim should fail: the same seed twice (distance, disagreement), untrained "
            "networks (matched correlation), a random permutation (barrier).",
            {"columns": ["quantity", "restarts", "control"], "rows": rows},
            "Restarts against their controls",
        ),
        FigureSpec(
            "restarts-matched",
            "histogram",
            "Correlation of each hidden unit (both layers) with its partner in another run, "
            "over all pairs of seeds: matched one-to-one by the Hungarian method, in the "
            "original order (unaligned), and matched between the same seeds before training.",
            {
                "samples": s["unit_corr"],
                "markers": {"same units": SAME_UNITS, "different below": DIFFERENT_UNITS},
                "x_label": "correlation",
            },
            "Do two runs learn the same units?",
        ),
        FigureSpec(
            "restarts-barrier",
            "lines",
            "Test loss along the straight line between two runs (λ = 0 and 1 are the runs), "
            "before and after permuting the second run's units to match the first (weight "
            "matching), and after a random permutation; mean over pairs.",
            {
                "x": np.array(s["lambdas"]),
                "series": {
                    "naive": np.array(s["curve_naive"]),
                    "aligned": np.array(s["curve_aligned"]),
                    "random permutation": np.array(s["curve_random"]),
                },
                "x_label": "λ",
                "y_label": "test loss",
            },
            "The barrier between restarts",
        ),
    ]


def sources_figure(src: Mapping[str, Any], iv: Mapping[str, Mapping[str, Interval]]) -> FigureSpec:
    rows = [
        [
            s,
            _cell(iv["identity"][s]),
            _cell(iv["matched"][s]),
            _cell(iv["barrier_naive"][s]),
            _cell(iv["barrier_aligned"][s]),
            _cell(iv["identity_relabelled"][s]),
        ]
        for s in src
    ]
    return FigureSpec(
        "restarts-sources",
        "table",
        "One randomness source varied, the others held fixed (mean over pairs of members, 95% "
        "interval resampling seeds, both hidden layers averaged). 'Same position' is the "
        "correlation of unit i in one run with unit i in another: high means each unit kept "
        "its identity. 'Matched' is after one-to-one matching; the barriers are on the test "
        "loss before and after weight matching; the last column relabels units at random "
        "(the control).",
        {
            "columns": [
                "source varied",
                "same position",
                "matched",
                "barrier before",
                "barrier after",
                "same position, relabelled",
            ],
            "rows": rows,
        },
        "Which randomness decides which unit computes what?",
    )


def teacher_figure(t: Mapping[str, Any]) -> FigureSpec:
    return FigureSpec(
        "restarts-teacher",
        "histogram",
        "For each unit of the teacher network, the correlation of its best-matching student "
        "unit (students are wider than the teacher), over student seeds, after training and "
        "at init.",
        {
            "samples": {
                "trained": np.ravel(t["best_corr"]),
                "at init": np.ravel(t["best_corr_init"]),
            },
            "markers": {"recovered": RECOVERED},
            "x_label": "correlation",
        },
        "Students and the teacher's ground-truth units",
    )
