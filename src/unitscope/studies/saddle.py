"""Study ``saddle``: beyond the thread (Fukumizu & Amari 2000).

Take a trained narrow network and duplicate one hidden unit, splitting its outgoing weight
between the two copies. The wider network computes exactly the same function, and the
duplicated point is a critical point of its loss whenever the narrow one was. Is it a
minimum or a saddle? The network is small enough for the exact Hessian: a negative smallest
eigenvalue means a saddle, a direction in which the copies can move apart and lower the loss.
Finally the wide network is trained from the duplicated point plus a tiny perturbation, to
see whether the two copies separate.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ..models import MLP, UnitModel
from ..train import fit, prepare_data
from ._common import ProgressFn, Scale, config, fmt, part, pick, share_verdict
from ._finding import FigureSpec, Finding, StudyResult

NAME = "saddle"
TITLE = "A duplicated unit: same function, but a saddle?"
QUESTION = (
    "If two units of a wider network copy one unit of a trained narrow network, the "
    "function is unchanged. Is that point a minimum of the wider network, or a saddle "
    "from which the copies separate?"
)

SAME_FUNCTION = 1e-10  # max |output difference| after duplicating
NEGATIVE = 1e-6  # a Hessian eigenvalue below -NEGATIVE * max|eigenvalue| is negative
SEPARATE = 10.0  # the copies separate when their distance grows this many times


def duplicate(
    params: dict[str, torch.Tensor], unit: int, share: float = 0.5
) -> dict[str, torch.Tensor]:
    """Parameters of a network one unit wider: ``unit`` copied, its outgoing weight split
    ``share`` / ``1 - share`` between the original and the copy (appended last).

    Shapes (K members): hidden.0.weight (K, U, d) -> (K, U+1, d); out.weight (K, C, U) ->
    (K, C, U+1).
    """
    w, b, a = params["hidden.0.weight"], params["hidden.0.bias"], params["out.weight"]
    out = dict(params)
    out["hidden.0.weight"] = torch.cat([w, w[:, unit : unit + 1]], dim=1)
    out["hidden.0.bias"] = torch.cat([b, b[:, unit : unit + 1]], dim=1)
    a = a.clone()
    copy = (1 - share) * a[:, :, unit : unit + 1]
    a[:, :, unit] = share * a[:, :, unit]
    out["out.weight"] = torch.cat([a, copy], dim=2)
    return out


def loss_and_hessian(
    net: UnitModel, x: torch.Tensor, y: torch.Tensor
) -> tuple[float, np.ndarray, np.ndarray]:
    """MSE loss, its gradient and its exact Hessian over all parameters of a K=1 network."""
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for _, p in net.named_parameters()]
    flat = torch.cat([p.detach().reshape(-1) for _, p in net.named_parameters()])

    def loss(theta: torch.Tensor) -> torch.Tensor:
        params, i = {}, 0
        for name, shape in zip(names, shapes):
            n = int(np.prod(shape))
            params[name] = theta[i : i + n].reshape(shape)
            i += n
        out = torch.func.functional_call(net, params, (x,))
        return (out - y).pow(2).mean()

    theta = flat.clone().requires_grad_(True)
    value = loss(theta)
    grad = torch.autograd.grad(value, theta)[0]
    hess = torch.autograd.functional.hessian(loss, flat)
    return float(value.detach()), grad.numpy(), hess.numpy()


def verdict_same_function(max_diff: float) -> str:
    return "supported" if max_diff <= SAME_FUNCTION else "refuted"


def verdict_saddle(eig_min: float, eig_max_abs: float) -> str:
    return "supported" if eig_min < -NEGATIVE * eig_max_abs else "refuted"


def verdict_separate(growth: list[float]) -> str:
    return share_verdict([g > SEPARATE for g in growth])


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    width = 2
    cfg = config(
        data={
            "name": "teacher",
            "options": {
                "n_samples": pick(scale, 128, 256, 1024),
                "n_features": 2,
                "width": 3,
                "activation": "tanh",
            },
            "n_probe": 64,
        },
        model={"hidden": [width], "activation": "tanh"},
        optim={"name": "adam", "lr": 0.03},
        train={"steps": pick(scale, 800, 2000, 20000), "dtype": "float64", "n_checkpoints": 4},
        seeds={"init": [0]},
    )
    numbers: dict[str, Any] = {}
    with part(result, "narrow network and its duplicate", progress):
        narrow = fit(cfg)
        train, _, _ = prepare_data(cfg)
        x = torch.as_tensor(train.x)
        y = torch.as_tensor(train.y)
        net = narrow.model()
        params = net.param_dict()
        wide_params = duplicate(params, unit=0)
        wide = MLP(2, [width + 1], 1, activation="tanh").double().load_params(wide_params)
        with torch.no_grad():
            diff = float((net(x) - wide(x)).abs().max())
        l_narrow, g_narrow, h_narrow = loss_and_hessian(net, x, y)
        l_wide, g_wide, h_wide = loss_and_hessian(wide, x, y)
        eig_n = np.linalg.eigvalsh(h_narrow)
        eig_w = np.linalg.eigvalsh(h_wide)
        numbers.update(
            {
                "loss_narrow": l_narrow,
                "loss_wide": l_wide,
                "max_output_difference": diff,
                "grad_norm_narrow": float(np.linalg.norm(g_narrow)),
                "grad_norm_wide": float(np.linalg.norm(g_wide)),
                "eigenvalues_narrow": eig_n.tolist(),
                "eigenvalues_wide": eig_w.tolist(),
            }
        )
    with part(result, "training from the duplicated point", progress):
        K, eps = 3, 1e-4
        gen = torch.Generator().manual_seed(0)
        start_params = {k: v.expand(K, *v.shape[1:]).clone() for k, v in wide_params.items()}
        noise = torch.randn(
            start_params["hidden.0.weight"].shape, generator=gen, dtype=torch.float64
        )
        start_params["hidden.0.weight"] += eps * noise
        lin = [int(s) for s in np.linspace(0, pick(scale, 800, 1500, 5000), 21)]
        rec = fit(
            cfg.override(
                {
                    "model.hidden": [width + 1],
                    "train.checkpoints": lin,
                    "optim.name": "sgd",
                    "optim.lr": 0.4,
                    "train.eval_every": 100,
                    "seeds.init": list(range(K)),
                }
            ),
            start=start_params,
        )
        w = rec.weights("hidden.0")  # (T, K, U+1, d)
        dist = np.linalg.norm(w[:, :, 0] - w[:, :, -1], axis=-1)  # (T, K): copy distance
        numbers["copy_distance"] = dist.T.tolist()
        numbers["separation_growth"] = (dist[-1] / dist[0]).tolist()
        numbers["wide_loss_after"] = rec.curves["train_loss"][:, -1].tolist()
        result.figures.append(
            FigureSpec(
                "saddle-separation",
                "lines",
                "Distance between the two copies of the duplicated unit (incoming weights) while "
                "the wider network trains from the duplicated point plus a perturbation of 1e-4; "
                "one line per perturbation seed, log scale. Rising lines: the copies separate.",
                {
                    "x": rec.steps,
                    "series": {"copy distance": dist.T},
                    "y_scale": "log",
                    "y_label": "distance",
                },
                "Do the copies separate?",
            )
        )
    result.numbers = numbers
    if "eigenvalues_wide" in numbers:
        eig = np.array(numbers["eigenvalues_wide"])
        result.figures.append(
            FigureSpec(
                "saddle-spectrum",
                "table",
                "Hessian eigenvalues of the loss at the trained narrow network and at its "
                "duplicate (smallest three and the largest). A negative eigenvalue is a descent "
                "direction: the point is a saddle.",
                {
                    "columns": ["network", "loss", "|gradient|", "smallest eigenvalues", "largest"],
                    "rows": [
                        [
                            f"width {width}",
                            numbers["loss_narrow"],
                            numbers["grad_norm_narrow"],
                            ", ".join(fmt(v) for v in numbers["eigenvalues_narrow"][:3]),
                            numbers["eigenvalues_narrow"][-1],
                        ],
                        [
                            f"width {width + 1} (duplicated)",
                            numbers["loss_wide"],
                            numbers["grad_norm_wide"],
                            ", ".join(fmt(v) for v in eig[:3]),
                            float(eig[-1]),
                        ],
                    ],
                },
                "Minimum or saddle?",
            )
        )
        result.findings += [
            Finding(
                NAME,
                "Duplicating a unit and splitting its outgoing weight leaves the "
                "function unchanged.",
                verdict_same_function(numbers["max_output_difference"]),  # type: ignore
                f"largest output difference {fmt(numbers['max_output_difference'])}; loss "
                f"{fmt(numbers['loss_narrow'])} before and {fmt(numbers['loss_wide'])} "
                "after.",
                {"max_output_difference": numbers["max_output_difference"]},
                {"same_below": SAME_FUNCTION},
                ("saddle-spectrum",),
            ),
            Finding(
                NAME,
                "The duplicated point is a saddle of the wider network, not a minimum.",
                verdict_saddle(float(eig[0]), float(np.abs(eig).max())),  # type: ignore
                f"smallest Hessian eigenvalue {fmt(float(eig[0]))} (largest "
                f"{fmt(float(eig[-1]))}); gradient norm {fmt(numbers['grad_norm_wide'])}.",
                {"eig_min": float(eig[0]), "eig_max_abs": float(np.abs(eig).max())},
                {"negative_below": f"-{NEGATIVE} * max|eigenvalue|"},
                ("saddle-spectrum",),
            ),
        ]
    if "separation_growth" in numbers:
        result.findings.append(
            Finding(
                NAME,
                "Trained from the duplicated point plus a tiny perturbation, the two copies "
                "separate.",
                verdict_separate(numbers["separation_growth"]),  # type: ignore[arg-type]
                "distance between the copies grew by "
                + ", ".join(f"x{fmt(g)}" for g in numbers["separation_growth"])
                + ".",
                {"growth": numbers["separation_growth"]},
                {"separate_above": SEPARATE},
                ("saddle-separation",),
            )
        )
    result.elapsed_s = time.perf_counter() - start
    return result
