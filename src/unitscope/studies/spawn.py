"""Study ``spawn``: is it only the initialization? Copies of one run that differ in one source.

One parent run trains on digits. At steps k of its training we take its parameters and spawn K
copies (one batched fit from the checkpoint) that differ in exactly one source of randomness:
the data order, the dropout masks, or a perturbation of one weight by ε. Every copy trains to
the parent's final step. Between copies we measure the identity-order unit correlation (unit i
against unit i: do the same units compute the same thing?), the matched correlation, the
test-loss barrier on the straight line between them, and how often their predictions differ
(Frankle et al. 2020, linear mode connectivity; Kwok et al. 2025, single-weight perturbations).

The control is the source these three are compared against: copies with *different
initializations* (same data order and masks), which should end with different units.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from .. import match
from ..record import Recording
from ..train import Config, fit, prepare_data
from ._common import ProgressFn, Scale, config, part, pick
from ._finding import Control, FigureSpec, Finding, Interval, Premise, StudyResult, Verdict
from ._stats import LEVEL, family_verdict, fmt_interval, pair_interval, pair_matrix, worded
from ._stats import interval_verdict as decide

NAME = "spawn"
TITLE = "Spawned copies: which source of randomness changes which unit computes what"
QUESTION = (
    "Is it only the initialization? Copies of one run, spawned at step k, differ in exactly "
    "one source of randomness: do they still end with the same units in the same order?"
)

SOURCES = ("data order", "dropout masks", "perturbation")
CONTROL = "different init"
# Same units in the same order: identity-order correlation above this.
SAME_UNITS = 0.9
# Linearly connected: test-loss barrier under this.
CONNECTED = 0.05
# The copies trained: every copy's test accuracy at least this.
TRAINED = 0.85
# The perturbation: one weight of the first layer moved by EPS times the layer's RMS.
EPS = 0.01
LAYER = "hidden.1"


def verdict_same_units(identity: Interval) -> Verdict:
    """Supported when the identity-order correlation's interval lies above ``SAME_UNITS``."""
    return decide(identity, SAME_UNITS)


def verdict_connected(barrier: Interval) -> Verdict:
    """Supported when the test-loss barrier's interval lies under ``CONNECTED``."""
    return decide(barrier, CONNECTED, greater=False)


def earliest(verdicts: dict[int, Verdict]) -> int | None:
    """The smallest k from which on every later k is supported (None if the last is not)."""
    found = None
    for k in sorted(verdicts, reverse=True):
        if verdicts[k] != "supported":
            break
        found = k
    return found


# ---- runs ------------------------------------------------------------------------------------


def _base(scale: Scale) -> Config:
    steps = pick(scale, 100, 400, 2000)
    return config(
        data={
            "name": "digits",
            "options": {"flatten": True, "n_samples": pick(scale, 400, 1797, 1797)},
            "n_probe": 256,
        },
        model={"hidden": pick(scale, [16, 16], [64, 64], [64, 64]), "dropout": 0.1},
        optim={"name": "sgd", "lr": 0.1},
        train={"steps": steps, "batch_size": 64},
        seeds={"init": [0]},
    )


def spawn_steps(scale: Scale) -> list[int]:
    return pick(scale, [0, 10], [0, 10, 100], [0, 1, 10, 100, 1000])


def _write(params: dict[str, np.ndarray], path: Path) -> str:
    save_file({n: torch.as_tensor(np.ascontiguousarray(v)) for n, v in params.items()}, str(path))
    return str(path)


def perturbed(params: dict[str, np.ndarray], K: int, seed: int = 0) -> dict[str, np.ndarray]:
    """K copies of one member's parameters (each (1, ...)); copy c has one weight of the first
    layer moved by ``EPS`` times that layer's RMS, a different weight for each copy."""
    out = {n: np.repeat(v, K, axis=0) for n, v in params.items()}
    w = out["hidden.0.weight"]  # (K, U, fan_in)
    rms = float(np.sqrt(np.mean(params["hidden.0.weight"] ** 2)))
    rng = np.random.default_rng(seed)
    flat = rng.choice(w[0].size, size=K, replace=False)
    for c, index in enumerate(flat):
        w[c].reshape(-1)[index] += EPS * rms
    return out


def spawn(parent: Recording, base: Config, k: int, source: str, K: int, folder: Path) -> Recording:
    """K copies from the parent's checkpoint at step k, differing in ``source`` only."""
    t = parent.step_index(k)
    params = {n: v[t] for n, v in parent.params.items()}  # each (1, ...)
    seeds = {"init": [0] * K, "data": [0] * K, "dropout": [0] * K}
    if source == "perturbation":
        path = _write(perturbed(params, K), folder / f"k{k}-perturbed.safetensors")
    else:
        path = _write(params, folder / f"k{k}.safetensors")
        seeds["data" if source == "data order" else "dropout"] = list(range(1, K + 1))
    remaining = int(parent.steps[-1]) - k
    return fit(
        base.override(
            {
                "init.scheme": "checkpoint",
                "init.path": path,
                "train.steps": remaining,
                "train.checkpoints": [0, remaining],
                "seeds.init": seeds["init"],
                "seeds.data": seeds["data"],
                "seeds.dropout": seeds["dropout"],
            }
        )
    )


def different_inits(base: Config, K: int) -> Recording:
    """The control: K fresh starts (init seeds 1..K), same data order and masks."""
    steps = base.train.steps
    return fit(
        base.override(
            {
                "seeds.init": list(range(1, K + 1)),
                "seeds.data": [0] * K,
                "seeds.dropout": [0] * K,
                "train.checkpoints": [0, steps],
            }
        )
    )


def between_copies(rec: Recording, test: Any) -> dict[str, Any]:
    """Identity-order and matched correlation, test barrier and disagreement of every pair."""
    c = match.pairs(rec, method="activations", barrier=False, null="none")
    K = rec.members
    with torch.no_grad():
        pred = rec.model(-1)(torch.as_tensor(test.x, dtype=torch.float32)).argmax(-1).numpy()
    disagree = [float((pred[i] != pred[j]).mean()) for i, j in c.pairs]
    unit = c.units[LAYER]
    # The straight line between the copies as they are (no matching: the claim is about
    # the identity order).
    naive = match.interpolate(
        rec.model(-1, members=[i for i, _ in c.pairs]),
        rec.model(-1, members=[j for _, j in c.pairs]),
        {"test": (test.x, test.y)},
        n_points=7,
        loss=rec.config["train"]["loss"],
    )
    return {
        "identity": pair_matrix(K, c.pairs, unit.unaligned.mean(-1)),
        "matched": pair_matrix(K, c.pairs, unit.mean),
        "barrier": pair_matrix(K, c.pairs, naive.barrier("test")),
        "disagreement": pair_matrix(K, c.pairs, np.array(disagree)),
        "test_acc": rec.curves["test_acc"][:, -1].tolist(),
    }


def run_grid(
    scale: Scale, result: StudyResult, progress: ProgressFn | None
) -> dict[str, dict[str, Any]]:
    base = _base(scale)
    ks = spawn_steps(scale)
    K = pick(scale, 3, 4, 6)
    _, test, _ = prepare_data(base)
    parent = fit(base.override({"train.checkpoints": sorted({*ks, base.train.steps})}))
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in ks:
            for source in SOURCES:
                with part(result, f"{source} at step {k}", progress):
                    rec = spawn(parent, base, k, source, K, Path(tmp))
                    rows[f"{source}|{k}"] = between_copies(rec, test)
    with part(result, CONTROL, progress):
        rows[CONTROL] = between_copies(different_inits(base, K), test)
    rows["parent"] = {"test_acc": parent.curves["test_acc"][:, -1].tolist()}
    return rows


# ---- findings ----------------------------------------------------------------------------------


def _intervals(rows: dict[str, dict[str, Any]], key: str, level: float) -> dict[str, Interval]:
    return {name: pair_interval(r[key], level=level) for name, r in rows.items() if key in r}


def _trained(rows: dict[str, dict[str, Any]]) -> Premise:
    worst = float(min(min(r["test_acc"]) for r in rows.values()))
    return Premise(
        f"the parent and every copy trained: test accuracy at least {TRAINED:g}",
        worst >= TRAINED,
        {"worst_test_acc": worst, "limit": TRAINED},
    )


def _by_source(rows: dict[str, dict[str, Any]], ks: list[int], key: str, fn, level: float):
    ivs = {s: {k: pair_interval(rows[f"{s}|{k}"][key], level=level) for k in ks} for s in SOURCES}
    verdicts = {s: {k: fn(iv) for k, iv in ivs[s].items()} for s in SOURCES}
    return ivs, verdicts


def finding_same_units(rows: dict[str, dict[str, Any]], ks: list[int]) -> Finding:
    level = 1 - (1 - LEVEL) / len(SOURCES)  # Bonferroni over the three sources
    ivs = {s: pair_interval(rows[f"{s}|{ks[0]}"]["identity"], level=level) for s in SOURCES}
    per = {s: verdict_same_units(iv) for s, iv in ivs.items()}
    control = pair_interval(rows[CONTROL]["identity"])
    measured = family_verdict(list(per.values()))
    return Finding(
        NAME,
        f"The initialization decides which unit computes what: copies from the same start "
        f"(step {ks[0]}) that differ in one other source end with the same units in the same "
        "order.",
        measured,
        "identity-order correlation of the units of "
        f"{LAYER} between copies spawned at step {ks[0]}: "
        + "; ".join(f"{s}: {fmt_interval(iv)}" for s, iv in ivs.items())
        + f"; different inits: {fmt_interval(control)} (limit {SAME_UNITS}, intervals over "
        "copies, Bonferroni over sources).",
        {"per_source": per},
        {"same_units_above": SAME_UNITS, "correction": "bonferroni"},
        ("spawn-identity",),
        interval={f"identity {s}": iv for s, iv in ivs.items()},
        control=Control(
            "copies with different initializations",
            verdict_same_units(control),
            {"identity": control.to_dict()},
        ),
        premise=_trained(rows),
    )


def finding_earliest(rows: dict[str, dict[str, Any]], ks: list[int]) -> Finding:
    level = 1 - (1 - LEVEL) / (len(SOURCES) * len(ks))
    ivs, verdicts = _by_source(rows, ks, "barrier", verdict_connected, level)
    first = {s: earliest(verdicts[s]) for s in SOURCES}
    per = {s: ("supported" if first[s] is not None else "refuted") for s in SOURCES}
    control = pair_interval(rows[CONTROL]["barrier"])
    measured = family_verdict(list(per.values()))  # type: ignore[arg-type]

    def said(s: str) -> str:
        return "never" if first[s] is None else f"from step {first[s]}"

    headline = {
        f"barrier {s} at step {first[s] if first[s] is not None else ks[-1]}": ivs[s][
            first[s] if first[s] is not None else ks[-1]
        ]
        for s in SOURCES
    }
    return Finding(
        NAME,
        "From some step k on, copies that differ in one source of randomness are linearly "
        "connected (no test-loss barrier between them).",
        measured,
        "copies are connected "
        + "; ".join(f"{s}: {said(s)}" for s in SOURCES)
        + f" (barrier limit {CONNECTED}, steps {ks}); different inits: barrier "
        f"{fmt_interval(control)}.",
        {"earliest_step": first, "verdicts": {s: verdicts[s] for s in SOURCES}},
        {"connected_below": CONNECTED, "correction": "bonferroni"},
        ("spawn-barrier",),
        interval=headline,
        control=Control(
            "copies with different initializations",
            verdict_connected(control),
            {"barrier": control.to_dict()},
        ),
        premise=_trained(rows),
    )


# ---- figures ------------------------------------------------------------------------------------


def _over_k(rows: dict[str, dict[str, Any]], ks: list[int], key: str) -> dict[str, np.ndarray]:
    series = {}
    for s in SOURCES:
        per_k = []
        for k in ks:
            m = np.asarray(rows[f"{s}|{k}"][key])
            per_k.append(m[np.triu_indices(len(m), 1)])
        series[s] = np.array(per_k).T  # (pairs, len(ks))
    ctrl = np.asarray(rows[CONTROL][key])
    series[CONTROL] = np.tile(ctrl[np.triu_indices(len(ctrl), 1)][:, None], (1, len(ks)))
    return series


def figures(rows: dict[str, dict[str, Any]], ks: list[int], same: Verdict) -> list[FigureSpec]:
    x = np.array(ks, dtype=np.float64)
    return [
        FigureSpec(
            "spawn-identity",
            "lines",
            f"Identity-order correlation of the units of {LAYER} between copies spawned at "
            "step k (x axis) that differ in one source; one thin line per pair of copies. The "
            "flat line is the control: fresh starts with different initializations.",
            {
                "x": x,
                "series": _over_k(rows, ks, "identity"),
                "x_label": "spawn step k",
                "x_scale": "log1p",
                "y_label": "identity-order correlation",
                "baselines": {"same units": SAME_UNITS},
            },
            worded(
                same,
                supported="The start decides which unit computes what",
                refuted="The other sources change which unit computes what",
                other="Which unit computes what, per source of randomness",
            ),
        ),
        FigureSpec(
            "spawn-barrier",
            "lines",
            "Test-loss barrier on the straight line between copies spawned at step k, per "
            "source; the flat line is the different-init control.",
            {
                "x": x,
                "series": _over_k(rows, ks, "barrier"),
                "x_label": "spawn step k",
                "x_scale": "log1p",
                "y_label": "test-loss barrier",
                "baselines": {"connected": CONNECTED},
            },
            "Barrier between copies against the spawn step",
        ),
        FigureSpec(
            "spawn-disagreement",
            "lines",
            "Fraction of test digits on which two copies predict different classes, per "
            "source and spawn step.",
            {
                "x": x,
                "series": _over_k(rows, ks, "disagreement"),
                "x_label": "spawn step k",
                "x_scale": "log1p",
                "y_label": "prediction disagreement",
            },
            "Prediction disagreement between copies",
        ),
    ]


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    ks = spawn_steps(scale)
    rows = run_grid(scale, result, progress)
    result.numbers = {"spawn_steps": ks, "pairs": rows, "epsilon": EPS}
    with part(result, "findings", progress):
        same = finding_same_units(rows, ks)
        result.findings = [same, finding_earliest(rows, ks)]
        result.figures = figures(rows, ks, same.verdict)
        result.numbers["disagreement_at_first_step"] = {
            s: float(np.nanmean(rows[f"{s}|{ks[0]}"]["disagreement"])) for s in SOURCES
        }
    result.elapsed_s = time.perf_counter() - start
    return result
