"""Study ``capacity``: units differ because differing fits better.

A network whose hidden units are kept identical computes what a single unit computes, however
wide it is. Comparing it with the same network from a random start, width by width, measures
what the differences between units buy. Merging the two most similar units of a trained
network (average their incoming weights, add their outgoing weights) measures what one
difference is worth.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ..measures import unit_correlation
from ..models import MLP, UnitModel
from ..record import Recording
from ..train import fit, member_loss, prepare_data
from ._common import ProgressFn, Scale, config, fmt, part, pick, share_verdict
from ._finding import FigureSpec, Finding, StudyResult

NAME = "capacity"
TITLE = "Differing fits better: identical units against free ones"
QUESTION = (
    "If the optimizer makes units differ, is it because a network with differing "
    "units fits the data better than one whose units are all the same?"
)

# Random init beats symmetric init at a width when its final train loss is lower by this
# fraction of the symmetric loss.
BETTER_BY = 0.10
# Merging two units costs loss when the train loss rises by more than this fraction.
COSTS = 0.01


def verdict_fits_better(sym: dict[int, float], rand: dict[int, float]) -> str:
    """Supported when, at every width > 1, random init ends with a loss at least
    ``BETTER_BY`` lower than the symmetric network."""
    return share_verdict([rand[w] < (1 - BETTER_BY) * sym[w] for w in sym if w > 1])


def verdict_merge_costs(increase: list[float], base: list[float]) -> str:
    """Supported when merging the most similar pair raises the loss by > ``COSTS`` relative,
    for every member."""
    return share_verdict([inc > COSTS * b for inc, b in zip(increase, base)])


def merge_most_similar(net: UnitModel, probe: torch.Tensor) -> tuple[MLP, tuple[int, int], float]:
    """Replace the two most correlated units of ``hidden.0`` by one (K=1 one-layer MLP).

    The merged unit takes the mean of the two incoming weight vectors and biases and the sum
    of their outgoing weights, so it reproduces both when they are identical.
    """
    with torch.no_grad():
        acts = net.forward_hidden(probe)[1]["hidden.0"][0].double().numpy()  # (n, U)
    active = acts.std(0) > 0
    corr = np.where(np.outer(active, active), unit_correlation(_safe(acts)), -np.inf)
    np.fill_diagonal(corr, -np.inf)
    i, j = (int(v) for v in np.unravel_index(np.argmax(corr), corr.shape))
    p = {k: v[0].clone() for k, v in net.param_dict().items()}  # one member, no K axis
    U = p["hidden.0.weight"].shape[0]
    keep = [u for u in range(U) if u != j]
    p["hidden.0.weight"][i] = (p["hidden.0.weight"][i] + p["hidden.0.weight"][j]) / 2
    p["hidden.0.bias"][i] = (p["hidden.0.bias"][i] + p["hidden.0.bias"][j]) / 2
    p["out.weight"][:, i] = p["out.weight"][:, i] + p["out.weight"][:, j]
    p["hidden.0.weight"], p["hidden.0.bias"] = p["hidden.0.weight"][keep], p["hidden.0.bias"][keep]
    p["out.weight"] = p["out.weight"][:, keep]
    spec = net.spec
    merged = MLP(
        spec["in_features"], [U - 1], spec["out_features"], activation=spec["activation"]
    ).to(p["out.weight"].dtype)
    merged.load_params({k: v.unsqueeze(0) for k, v in p.items()})
    return merged, (i, j), float(corr[i, j])


def _safe(acts: np.ndarray) -> np.ndarray:
    """Give dead (constant) units a tiny deterministic ramp so correlations are defined; they
    then correlate with nothing and are never picked as the most similar pair."""
    out = acts.copy()
    dead = out.std(0) == 0
    out[:, dead] += np.linspace(0, 1e-12, len(out))[:, None]
    return out


def train_loss(net: UnitModel, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(member_loss(net(x), y, "cross_entropy")[0])


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    widths = pick(scale, [1, 4], [1, 2, 4, 8, 16, 32], [1, 2, 4, 8, 16, 32, 64, 128, 256])
    K = pick(scale, 2, 3, 8)
    base = config(
        data={
            "name": "spiral",
            "options": {"n_samples": pick(scale, 150, 300, 600), "noise": 0.05},
            "n_probe": 128,
        },
        optim={"name": "adam", "lr": 0.02},
        train={"steps": pick(scale, 150, 400, 3000), "n_checkpoints": 4},
        seeds={"init": list(range(K))},
    )
    losses: dict[str, dict[int, dict[str, list[float]]]] = {"symmetric": {}, "random": {}}
    recs: dict[int, Recording] = {}
    for width in widths:
        for init in ("symmetric", "kaiming"):
            with part(result, f"width {width} {init}", progress):
                rec = fit(base.override({"model.hidden": [width], "init.scheme": init}))
                key = "symmetric" if init == "symmetric" else "random"
                losses[key][width] = {
                    m: rec.curves[f"{m}_loss"][:, -1].tolist() for m in ("train", "test")
                }
                if init == "kaiming":
                    recs[width] = rec
    done = [w for w in widths if w in losses["symmetric"] and w in losses["random"]]
    sym = {w: float(np.mean(losses["symmetric"][w]["train"])) for w in done}
    rand = {w: float(np.mean(losses["random"][w]["train"])) for w in done}

    # ---- merging the two most similar units -------------------------------------------
    merge: dict[int, dict[str, Any]] = {}
    with part(result, "merge", progress):
        train, _, probe = prepare_data(base)
        x = torch.as_tensor(train.x, dtype=torch.float32)
        y = torch.as_tensor(train.y)
        p = torch.as_tensor(probe.x, dtype=torch.float32)
        for width in (w for w in recs if w >= 4):
            rows = []
            for k in range(recs[width].members):
                net = recs[width].model(members=[k])
                merged, pair, corr = merge_most_similar(net, p)
                rows.append((train_loss(net, x, y), train_loss(merged, x, y), corr))
            merge[width] = {
                "loss": [r[0] for r in rows],
                "merged_loss": [r[1] for r in rows],
                "pair_correlation": [r[2] for r in rows],
                "increase": [r[1] - r[0] for r in rows],
            }

    # ---- figures and findings ----------------------------------------------------------
    xs = np.array(done, dtype=np.float64)
    result.figures.append(
        FigureSpec(
            "capacity-width",
            "lines",
            "Final train loss against width (x axis: number of hidden units) for networks whose "
            "units start identical (they stay identical: effectively one unit) and for the same "
            "networks from a random start. One thin line per seed; the gap is what differing "
            "units buy.",
            {
                "x": xs,
                "series": {
                    "symmetric start": np.array([losses["symmetric"][w]["train"] for w in done]).T,
                    "random start": np.array([losses["random"][w]["train"] for w in done]).T,
                },
                "x_label": "width",
                "x_scale": "log1p",
                "y_label": "train loss",
                "y_scale": "log",
            },
            "Identical units fit like one unit",
        )
    )
    if merge:
        mw = sorted(merge)
        result.figures.append(
            FigureSpec(
                "capacity-merge",
                "lines",
                "Relative rise of the train loss when the two most correlated hidden units of a "
                "trained network are merged into one (mean incoming weights, summed outgoing "
                "weights), against width. Near 0: the pair was redundant.",
                {
                    "x": np.array(mw, dtype=np.float64),
                    "series": {
                        "loss increase / loss": np.array(
                            [
                                np.array(merge[w]["increase"]) / np.array(merge[w]["loss"])
                                for w in mw
                            ]
                        ).T
                    },
                    "x_label": "width",
                    "x_scale": "log1p",
                    "y_label": "relative loss increase",
                },
                "What merging the most similar pair costs",
            )
        )
    result.numbers = {"widths": done, "loss": losses, "merge": merge}
    if len(done) > 1:
        gaps = {w: 1 - rand[w] / sym[w] for w in done if w > 1}
        result.findings.append(
            Finding(
                NAME,
                "Units differ because differing fits better: a network kept symmetric fits "
                "worse than the same network with free units.",
                verdict_fits_better(sym, rand),  # type: ignore[arg-type]
                "train loss symmetric vs random: "
                + ", ".join(f"width {w}: {fmt(sym[w])} vs {fmt(rand[w])}" for w in done)
                + ".",
                {"symmetric_loss": sym, "random_loss": rand, "relative_gap": gaps},
                {"better_by": BETTER_BY},
                ("capacity-width",),
            )
        )
    if merge:
        increase = [v for m in merge.values() for v in m["increase"]]
        base_loss = [v for m in merge.values() for v in m["loss"]]
        result.findings.append(
            Finding(
                NAME,
                "Even the two most similar units of a trained network are worth keeping "
                "apart: merging them raises the loss.",
                verdict_merge_costs(increase, base_loss),  # type: ignore[arg-type]
                "train loss increase after merging the most correlated pair: "
                + ", ".join(
                    f"width {w}: {fmt(float(np.mean(m['increase'])))} (pair corr "
                    f"{fmt(float(np.mean(m['pair_correlation'])))})"
                    for w, m in merge.items()
                )
                + ".",
                {"increase": increase, "loss": base_loss},
                {"costs": COSTS},
                ("capacity-merge",),
            )
        )
    result.elapsed_s = time.perf_counter() - start
    return result
