"""Study ``saddle``: beyond the thread (Fukumizu & Amari 2000).

Take a narrow network at a true minimum of its loss and duplicate one hidden unit, keeping a
share λ of its outgoing weight and giving the copy ``1 - λ``. The wider network computes the
same function, and for every λ the duplicated point is a critical point of the wider loss.
Fukumizu & Amari show that, in coordinates that separate the two copies, its Hessian is
block diagonal: the narrow Hessian, a zero (the line itself), and ``λ(1 - λ) B`` on the
*split* ``w_1 - w_2`` between the copies, with

    B = a Σ_i ∂L/∂f_i · φ''(w·x_i + b) · x̃_i x̃_iᵀ,   x̃ = (x, 1),

so the point is a saddle wherever ``λ(1 - λ) B`` has a negative eigenvalue. At λ = 1/2 the
split is an eigen-direction of the Hessian and its eigenvalues are exactly ``B / 2``.

The study checks every step of that argument on small tanh students of a random teacher,
one per seed (teacher, data and initialization seeded together):

1. the narrow net is converged in float64 (Adam, then L-BFGS, then Newton steps) to a
   gradient norm far below 1e-9, and its Hessian is positive semi-definite (the premise);
2. the duplicated point is a saddle whose descent direction is the split between the copies;
3. along the line of λ (inside and outside [0, 1]) the number of negative Hessian
   eigenvalues is the number ``λ(1 - λ) B`` predicts;
4. gradient descent started from the duplicated point plus a tiny split grows the distance
   between the copies at the rate the Hessian predicts.

Controls: the same measurements where the claims must fail — the teacher itself duplicated
(it fits its data exactly, so B = 0), a narrow net stopped early (not a critical point), a
duplicate whose copy keeps the whole outgoing weight (the function changes).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data import load, train_test_split
from ..init import initialize
from ..models import MLP, UnitModel
from ._common import ProgressFn, Scale, fmt, part, pick
from ._finding import Control, FigureSpec, Finding, Interval, Premise, StudyResult, Verdict
from ._stats import fmt_interval, interval_verdict, t_interval, worded

NAME = "saddle"
TITLE = "A duplicated unit: same function, but a saddle?"
QUESTION = (
    "If two units of a wider network copy one unit of a narrow network at a minimum, the "
    "function is unchanged. Is that point a minimum of the wider network, or a saddle from "
    "which the copies separate, and where along the ways of splitting the outgoing weight?"
)

N_FEATURES = 2
TEACHER_WIDTH = 4  # the teacher has more units than the student: the student cannot fit it
NARROW = 1  # hidden units of the narrow student (its one unit is duplicated)
ACTIVATION = "tanh"  # smooth: the split curvature B needs φ'' (zero for ReLU)

CRITICAL = 1e-9  # premise: narrow gradient norm at most this
PSD_TOL = 1e-9  # premise: narrow Hessian eigenvalues >= -PSD_TOL * max|eigenvalue|
SAME_FUNCTION = 1e-10  # max |output difference| after duplicating
LIVE = 1e-3  # the duplicated unit changes the output by more than this (premise)
NEGATIVE = 1e-6  # an eigenvalue below -NEGATIVE * max|eigenvalue| makes a saddle
COUNT_TOL = 1e-9  # eigenvalues below -COUNT_TOL * max|eigenvalue| are counted as negative
ALONG = 0.9  # the descent direction lies along the split: overlap above this
AGREE = 0.95  # share of λ where the measured and predicted counts agree
RATE_MATCH = 0.1  # measured growth rate within 10% of the Hessian's prediction
LINEAR = 1e-4  # the copies' distance is in the linear regime below this
SPLIT_START = 1e-10  # size of the split that starts the gradient descent
RATE_FLOOR = 1e-6  # a distance growing slower than this per step does not separate the copies
STEP = 1.5  # gradient descent learning rate, times 1 / (largest Hessian eigenvalue): stable


# ---- the network as a flat parameter vector ------------------------------------------------


class Flat:
    """A K=1 tanh MLP of one hidden layer as a function of a flat parameter vector.

    Parameters are flattened in the model's own order (``hidden.0.weight`` (U, d),
    ``hidden.0.bias`` (U,), ``out.weight`` (1, U), ``out.bias`` (1,)). The batched maps
    (``loss``, ``grad``, ``hess``, ``out``) take ``theta`` (S, P) and per-seed data x (S, n, d),
    y (S, n, 1): one network per seed.
    """

    def __init__(self, width: int, d: int = N_FEATURES):
        self.width = width
        self.net = MLP(d, [width], 1, activation=ACTIVATION).double()
        self.names = [n for n, _ in self.net.named_parameters()]
        self.shapes = [tuple(p.shape[1:]) for _, p in self.net.named_parameters()]
        self.sizes = [math.prod(s) for s in self.shapes]
        self.out = torch.vmap(self._out)
        self.loss = torch.vmap(self._loss)
        self.grad = torch.vmap(torch.func.grad(self._loss))
        self.hess = torch.vmap(torch.func.hessian(self._loss))

    def params(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """(..., P) -> name -> (..., *shape)."""
        out, i = {}, 0
        for name, shape, size in zip(self.names, self.shapes, self.sizes):
            out[name] = theta[..., i : i + size].reshape(*theta.shape[:-1], *shape)
            i += size
        return out

    def flat(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """name -> (S, *shape) -> (S, P)."""
        return torch.cat([params[n].reshape(params[n].shape[0], -1) for n in self.names], 1)

    def _out(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        p = {k: v[None] for k, v in self.params(theta).items()}
        return torch.func.functional_call(self.net, p, (x,))[0]  # (n, 1)

    def _loss(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self._out(theta, x) - y).pow(2).mean()


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


# ---- converging the narrow network ---------------------------------------------------------


def adam(flat: Flat, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, steps: int):
    """``steps`` of Adam (lr 0.03) on every seed's network at once; returns (S, P)."""
    net = MLP(x.shape[-1], [flat.width], 1, activation=ACTIVATION, members=theta.shape[0])
    net.double().load_params(flat.params(theta))
    opt = torch.optim.Adam(net.parameters(), lr=0.03)
    for _ in range(steps):
        opt.zero_grad()
        (net(x) - y).pow(2).mean(dim=(1, 2)).sum().backward()
        opt.step()
    return flat.flat(net.param_dict())


def converge(
    flat: Flat, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, newton: int = 60
) -> torch.Tensor:
    """Drive every seed's network to a critical point: L-BFGS, then Newton steps.

    Newton uses ``|H|`` (eigenvalues made positive) so each step descends, with a
    backtracking line search per seed; a step is also taken when the loss no longer
    changes in float64 but the gradient shrinks. Stops at gradient norms below 1e-13.
    """
    theta = theta.clone()
    for k in range(theta.shape[0]):
        t = theta[k].clone().requires_grad_(True)
        opt = torch.optim.LBFGS(
            [t],
            max_iter=100,
            tolerance_grad=1e-13,
            tolerance_change=1e-18,
            history_size=20,
            line_search_fn="strong_wolfe",
        )

        def closure(t=t, opt=opt, k=k) -> torch.Tensor:
            opt.zero_grad()
            value = flat._loss(t, x[k], y[k])
            value.backward()
            return value

        opt.step(closure)
        theta[k] = t.detach()
    for _ in range(newton):
        g = flat.grad(theta, x, y)  # (S, P)
        gnorm = g.norm(dim=1)
        if float(gnorm.max()) < 1e-13:
            break
        ev, vec = torch.linalg.eigh(flat.hess(theta, x, y))
        inv = 1.0 / ev.abs().clamp_min(1e-12)
        step = -(vec @ (inv[..., None] * (vec.transpose(1, 2) @ g[..., None])))[..., 0]
        before = flat.loss(theta, x, y)
        alpha = torch.ones(theta.shape[0], dtype=theta.dtype)
        for _ in range(40):
            trial = theta + alpha[:, None] * step
            after = flat.loss(trial, x, y)
            flat_loss = (after - before).abs() <= 1e-14 * before.abs()
            smaller = flat.grad(trial, x, y).norm(dim=1) < gnorm
            ok = (after <= before + 1e-4 * alpha * (g * step).sum(1)) | (flat_loss & smaller)
            if bool(ok.all()):
                break
            alpha = torch.where(ok, alpha, alpha / 2)
        theta = theta + alpha[:, None] * step
    return theta


# ---- the split between two copies ---------------------------------------------------------


def split_matrix(
    flat: Flat, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, unit: list[int]
) -> torch.Tensor:
    """(S, d+1, d+1): ``B = a Σ_i ∂L/∂f_i φ''(z_i) x̃_i x̃_iᵀ`` for each seed's ``unit``.

    ``L`` is the mean squared error, so ``∂L/∂f_i = 2 (f_i - y_i) / n``; for tanh,
    ``φ''(z) = -2 tanh(z) (1 - tanh(z)^2)``.
    """
    p = flat.params(theta)
    resid = 2 * (flat.out(theta, x) - y)[..., 0] / x.shape[1]  # (S, n)
    out = []
    for k, u in enumerate(unit):
        z = x[k] @ p["hidden.0.weight"][k, u] + p["hidden.0.bias"][k, u]  # (n,)
        t = torch.tanh(z)
        xt = torch.cat([x[k], torch.ones_like(x[k][:, :1])], 1)  # (n, d+1)
        weight = p["out.weight"][k, 0, u] * resid[k] * (-2 * t * (1 - t * t))
        out.append((xt.T * weight) @ xt)
    return torch.stack(out)


def widen(flat: Flat, wide: Flat, theta: torch.Tensor, unit: list[int], share: float):
    """(S, P_wide): each seed's network with ``unit`` duplicated at split share ``share``."""
    p = flat.params(theta)
    rows = [
        wide.flat(duplicate({n: v[k : k + 1] for n, v in p.items()}, u, share))[0]
        for k, u in enumerate(unit)
    ]
    return torch.stack(rows)


def split_overlap(wide: Flat, vectors: torch.Tensor, unit: list[int]) -> np.ndarray:
    """(S,): the norm of each unit vector's antisymmetric part between the two copies
    (``unit`` and the last unit): 1 when it moves the copies apart and nothing else, 0 when
    it moves them together or moves other parameters."""
    p = wide.params(vectors)
    last = wide.width - 1
    out = []
    for k, u in enumerate(unit):
        diff = torch.cat(
            [
                p["hidden.0.weight"][k, u] - p["hidden.0.weight"][k, last],
                (p["hidden.0.bias"][k, u] - p["hidden.0.bias"][k, last])[None],
                p["out.weight"][k, :, u] - p["out.weight"][k, :, last],
            ]
        )
        out.append(float(diff.norm() / math.sqrt(2) / vectors[k].norm()))
    return np.array(out)


def split_direction(wide: Flat, unit: list[int], gen: torch.Generator) -> torch.Tensor:
    """(S, P_wide) unit vectors that move the incoming weights and bias of the two copies
    apart (``+η`` on one, ``-η`` on the other, η random)."""
    S, d, last = len(unit), N_FEATURES, wide.width - 1
    eta = torch.randn(S, d + 1, generator=gen, dtype=torch.float64)
    p = {
        n: torch.zeros(S, *shape, dtype=torch.float64) for n, shape in zip(wide.names, wide.shapes)
    }
    for k, u in enumerate(unit):
        p["hidden.0.weight"][k, u] += eta[k, :d]
        p["hidden.0.weight"][k, last] -= eta[k, :d]
        p["hidden.0.bias"][k, u] += eta[k, d]
        p["hidden.0.bias"][k, last] -= eta[k, d]
    vec = wide.flat(p)
    return vec / vec.norm(dim=1, keepdim=True)


def count_negative(eigenvalues: torch.Tensor, scale: torch.Tensor) -> np.ndarray:
    """(S,) number of eigenvalues below ``-COUNT_TOL * scale`` (scale: (S,) max|eig|)."""
    return (eigenvalues < -COUNT_TOL * scale[:, None]).sum(1).numpy()


def line_counts(
    flat: Flat,
    wide: Flat,
    theta: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    unit: list[int],
    shares: list[float],
) -> dict[str, np.ndarray]:
    """Along the line of duplicated points: measured and predicted negative counts, the
    normalized smallest eigenvalue and the wide gradient norm, each (S, len(shares))."""
    beta = torch.linalg.eigvalsh(split_matrix(flat, theta, x, y, unit))  # (S, d+1)
    measured, predicted, smallest, grads = [], [], [], []
    for lam in shares:
        w = widen(flat, wide, theta, unit, lam)
        ev = torch.linalg.eigvalsh(wide.hess(w, x, y))
        scale = ev.abs().max(1).values
        measured.append(count_negative(ev, scale))
        predicted.append(count_negative(lam * (1 - lam) * beta, scale))
        smallest.append((ev[:, 0] / scale).numpy())
        grads.append(wide.grad(w, x, y).norm(dim=1).numpy())
    return {
        "measured": np.stack(measured, 1),
        "predicted": np.stack(predicted, 1),
        "smallest": np.stack(smallest, 1),
        "grad": np.stack(grads, 1),
        "beta": beta.numpy(),
    }


def descend(
    wide: Flat,
    start: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    unit: list[int],
    lr: torch.Tensor,
    steps: int,
    every: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Plain gradient descent from ``start`` (S, P), one learning rate per seed, with the
    library's batched MLP. Returns (steps recorded (T,), copy distance (S, T)): the distance
    between the incoming weights and bias of ``unit`` and of the copy (the last unit)."""
    net = MLP(x.shape[-1], [wide.width], 1, activation=ACTIVATION, members=start.shape[0])
    net.double().load_params(wide.params(start))
    idx = torch.tensor(unit)
    rows = torch.arange(len(unit))
    recorded, dist = [], []
    for step in range(steps + 1):
        if step % every == 0 or step == steps:
            with torch.no_grad():
                p = net.param_dict()
                w = torch.cat([p["hidden.0.weight"], p["hidden.0.bias"][..., None]], -1)
                dist.append((w[rows, idx] - w[:, -1]).norm(dim=-1))
                recorded.append(step)
        if step == steps:
            break
        net.zero_grad()
        (net(x) - y).pow(2).mean(dim=(1, 2)).sum().backward()
        with torch.no_grad():
            for param in net.parameters():
                if param.grad is not None:
                    param.sub_(lr.view(-1, *[1] * (param.dim() - 1)) * param.grad)
    return np.array(recorded), torch.stack(dist, 1).numpy()


def linearized_distance(
    wide: Flat,
    hess: torch.Tensor,
    start: torch.Tensor,
    unit: list[int],
    lr: torch.Tensor,
    steps: np.ndarray,
) -> np.ndarray:
    """(S, T): the copies' distance predicted by ``δ ← (I - lr H) δ`` from ``start`` (S, P)."""
    ev, vec = torch.linalg.eigh(hess)  # (S, P), (S, P, P)
    coef = (vec.transpose(1, 2) @ start[..., None])[..., 0]  # (S, P)
    factor = 1 - lr[:, None] * ev  # (S, P)
    out = []
    for t in steps:
        delta = (vec @ (coef * factor ** int(t))[..., None])[..., 0]
        p = wide.params(delta)
        w = torch.cat([p["hidden.0.weight"], p["hidden.0.bias"][..., None]], -1)
        out.append(torch.stack([(w[k, u] - w[k, -1]).norm() for k, u in enumerate(unit)]))
    return torch.stack(out, 1).numpy()


def fitted_rate(steps: np.ndarray, dist: np.ndarray, window: np.ndarray) -> float:
    """Least-squares slope of log(distance) on step over ``window`` (a mask); NaN if < 3."""
    if window.sum() < 3:
        return float("nan")
    return float(np.polyfit(steps[window], np.log(dist[window]), 1)[0])


# ---- verdicts ----------------------------------------------------------------------------


def verdict_same_function(diff: Interval) -> Verdict:
    """The function is unchanged when the whole interval of the largest output difference
    lies below ``SAME_FUNCTION``."""
    return interval_verdict(diff, SAME_FUNCTION, greater=False)


def verdict_saddle(smallest: Interval, overlap: Interval) -> Verdict:
    """A saddle along the split: the normalized smallest eigenvalue is negative (interval
    below ``-NEGATIVE``) and its eigenvector lies along the split (overlap above ``ALONG``)."""
    negative = interval_verdict(smallest, -NEGATIVE, greater=False)
    along = interval_verdict(overlap, ALONG)
    if negative == "supported" and along == "supported":
        return "supported"
    if "refuted" in (negative, along):
        return "refuted"
    return "inconclusive"


def verdict_line(agreement: Interval) -> Verdict:
    """The predicted counts hold along the line: agreement interval above ``AGREE``."""
    return interval_verdict(agreement, AGREE)


def verdict_growth(rate: Interval, error: Interval) -> Verdict:
    """The copies separate (their distance grows: rate interval above ``RATE_FLOOR`` per
    step) at the predicted rate (error interval below ``RATE_MATCH``). Refuted when the
    distance does not grow (interval at or below the floor) or the rate is wrong (error
    interval above)."""
    if not (rate.finite and error.finite):
        return "inconclusive"
    if rate.lo > RATE_FLOOR and error.hi < RATE_MATCH:
        return "supported"
    if rate.hi <= RATE_FLOOR or error.lo > RATE_MATCH:
        return "refuted"
    return "inconclusive"


# ---- the runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    seeds: int
    n_samples: int
    adam_steps: int
    early_steps: int
    shares: tuple[float, ...]
    gd_steps: int


def setup(scale: Scale) -> Setup:
    line = (-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
    return Setup(
        seeds=pick(scale, 3, 8, 16),
        n_samples=pick(scale, 128, 256, 512),
        adam_steps=pick(scale, 150, 300, 600),
        early_steps=pick(scale, 20, 30, 30),
        shares=pick(scale, (-0.5, 0.0, 0.5, 1.0, 1.5), line, line),
        gd_steps=pick(scale, 300, 1000, 3000),
    )


def teacher_data(seeds: int, n_samples: int) -> tuple[torch.Tensor, torch.Tensor, list[Any]]:
    """Per seed s: the training split of a tanh teacher drawn with seed s. x (S, n, d),
    y (S, n, 1), and the teachers' parameters."""
    xs, ys, teachers = [], [], []
    for s in range(seeds):
        ds = load(
            "teacher",
            seed=s,
            n_samples=n_samples,
            n_features=N_FEATURES,
            width=TEACHER_WIDTH,
            activation=ACTIVATION,
        )
        train, _ = train_test_split(ds, test_fraction=0.25, seed=0)
        xs.append(train.x)
        ys.append(train.y)
        teachers.append(ds.extras)
    return torch.tensor(np.stack(xs)), torch.tensor(np.stack(ys)), teachers


def contribution(flat: Flat, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(S, U): max over the data of |a_u φ(w_u·x + b_u)|, each unit's share of the output."""
    p = flat.params(theta)
    h = torch.tanh(x @ p["hidden.0.weight"].transpose(1, 2) + p["hidden.0.bias"][:, None])
    return (h * p["out.weight"][:, :1, :]).abs().amax(1)


def narrow_numbers(flat: Flat, theta, x, y) -> dict[str, np.ndarray]:
    ev = torch.linalg.eigvalsh(flat.hess(theta, x, y))
    return {
        "loss": flat.loss(theta, x, y).numpy(),
        "grad_norm": flat.grad(theta, x, y).norm(dim=1).numpy(),
        "eig_min": ev[:, 0].numpy(),
        "eig_max": ev[:, -1].numpy(),
        "eig_min_rel": (ev[:, 0] / ev.abs().max(1).values).numpy(),
    }


def at_half(flat: Flat, wide: Flat, theta, x, y, unit) -> dict[str, Any]:
    """The duplicated point at λ = 1/2: spectrum, descent direction, and B's prediction."""
    w = widen(flat, wide, theta, unit, 0.5)
    hess = wide.hess(w, x, y)
    ev, vec = torch.linalg.eigh(hess)
    scale = ev.abs().max(1).values
    beta_min = torch.linalg.eigvalsh(split_matrix(flat, theta, x, y, unit))[:, 0]
    with torch.no_grad():
        diff = (flat.out(theta, x) - wide.out(w, x)).abs().amax(dim=(1, 2))
    return {
        "theta": w,
        "hess": hess,
        "eig_min": ev[:, 0].numpy(),
        "eig_max": ev[:, -1].numpy(),
        "smallest": (ev[:, 0] / scale).numpy(),
        "overlap": split_overlap(wide, vec[:, :, 0], unit),
        "half_beta_min": (0.5 * beta_min).numpy(),
        "max_output_difference": diff.numpy(),
    }


def growth(wide: Flat, half: dict[str, Any], x, y, unit, steps: int) -> dict[str, np.ndarray]:
    """Gradient descent (lr = STEP / max eigenvalue per seed) from the duplicated point plus a
    split of size ``SPLIT_START``; measured and linearized copy distances and their rates."""
    gen = torch.Generator().manual_seed(0)
    delta = SPLIT_START * split_direction(wide, unit, gen)
    lr = torch.as_tensor(STEP / np.abs(half["eig_max"]))
    every = max(1, steps // 60)
    t, measured = descend(wide, half["theta"] + delta, x, y, unit, lr, steps, every)
    predicted = linearized_distance(wide, half["hess"], delta, unit, lr, t)
    rates, pred_rates, log_growth = [], [], []
    for k in range(len(unit)):
        window = (t >= t[-1] / 2) & (measured[k] < LINEAR) & (measured[k] > 0)
        rates.append(fitted_rate(t, measured[k], window))
        pred_rates.append(fitted_rate(t, predicted[k], window))
        log_growth.append(float(np.log(measured[k, -1] / measured[k, 0])))
    asymptotic = -np.log1p(-lr.numpy() * half["eig_min"])
    rate, pred = np.array(rates), np.array(pred_rates)
    return {
        "steps": t,
        "distance": measured,
        "linearized": predicted,
        "rate": rate,
        "predicted_rate": pred,
        "asymptotic_rate": asymptotic,
        "rate_error": np.abs(rate - pred) / np.maximum(np.abs(pred), RATE_FLOOR),
        "log_growth": np.array(log_growth),
    }


def teacher_params(flat: Flat, teachers: list[Any]) -> torch.Tensor:
    """(S, P): each teacher as a student of the teacher's width (output bias 0)."""
    params = {
        "hidden.0.weight": torch.tensor(np.stack([t["teacher.weight"] for t in teachers])),
        "hidden.0.bias": torch.tensor(np.stack([t["teacher.bias"] for t in teachers])),
        "out.weight": torch.tensor(np.stack([t["teacher.out_weight"] for t in teachers])),
        "out.bias": torch.zeros(len(teachers), 1, dtype=torch.float64),
    }
    return flat.flat(params)


def measure(scale: Scale, result: StudyResult, progress: ProgressFn | None) -> dict[str, Any]:
    """Every run of the study; returns the measured arrays (one row per seed)."""
    cfg = setup(scale)
    x, y, teachers = teacher_data(cfg.seeds, cfg.n_samples)
    flat, wide = Flat(NARROW), Flat(NARROW + 1)
    m: dict[str, Any] = {"setup": cfg}
    with part(result, "narrow networks to a critical point", progress):
        net = initialize(
            MLP(N_FEATURES, [NARROW], 1, activation=ACTIVATION, members=cfg.seeds),
            "kaiming",
            seeds=list(range(cfg.seeds)),
        ).double()
        start = flat.flat(net.param_dict())
        theta = converge(flat, adam(flat, start, x, y, cfg.adam_steps), x, y)
        unit = contribution(flat, theta, x).argmax(1).tolist()
        m.update(theta=theta, unit=unit, narrow=narrow_numbers(flat, theta, x, y))
        m["live"] = contribution(flat, theta, x).amax(1).numpy()
    with part(result, "the duplicated point and the line of splits", progress):
        m["half"] = at_half(flat, wide, theta, x, y, unit)
        m["line"] = line_counts(flat, wide, theta, x, y, unit, list(cfg.shares))
        p = {k: v.clone() for k, v in wide.params(widen(flat, wide, theta, unit, 1.0)).items()}
        p["out.weight"][:, :, -1] = p["out.weight"][torch.arange(cfg.seeds), :, unit]
        whole = wide.flat(p)  # the copy keeps the whole outgoing weight too
        m["unsplit_difference"] = (
            (flat.out(theta, x) - wide.out(whole, x)).abs().amax(dim=(1, 2)).numpy()
        )
    with part(result, "controls: the teacher duplicated, a net stopped early", progress):
        t_flat, t_wide = Flat(TEACHER_WIDTH), Flat(TEACHER_WIDTH + 1)
        t_theta = teacher_params(t_flat, teachers)
        t_unit = contribution(t_flat, t_theta, x).argmax(1).tolist()
        m["teacher"] = at_half(t_flat, t_wide, t_theta, x, y, t_unit)
        m["teacher"]["loss"] = t_flat.loss(t_theta, x, y).numpy()
        m["teacher_growth"] = growth(t_wide, m["teacher"], x, y, t_unit, cfg.gd_steps)
        early = adam(flat, start, x, y, cfg.early_steps)
        e_unit = contribution(flat, early, x).argmax(1).tolist()
        m["early"] = narrow_numbers(flat, early, x, y)
        m["early_line"] = line_counts(flat, wide, early, x, y, e_unit, list(cfg.shares))
    with part(result, "gradient descent from the duplicated point", progress):
        m["growth"] = growth(wide, m["half"], x, y, unit, cfg.gd_steps)
    return m


# ---- findings ----------------------------------------------------------------------------


def critical_premise(m: dict[str, Any]) -> Premise:
    """The narrow nets are at a minimum: gradient <= CRITICAL and Hessian PSD, every seed."""
    n = m["narrow"]
    grad, rel = float(n["grad_norm"].max()), float(n["eig_min_rel"].min())
    return Premise(
        f"every narrow net is at a critical point (|gradient| <= {CRITICAL:g}) with a "
        f"positive semi-definite Hessian (eigenvalues >= -{PSD_TOL:g} x the largest)",
        grad <= CRITICAL and rel >= -PSD_TOL,
        {
            "max_grad_norm": grad,
            "min_eigenvalue": float(n["eig_min"].min()),
            "min_eigenvalue_relative": rel,
            "grad_limit": CRITICAL,
            "psd_tolerance": PSD_TOL,
        },
    )


def agreement(line: dict[str, np.ndarray]) -> np.ndarray:
    """(S,) share of λ where the measured count of negative eigenvalues is the predicted."""
    return (line["measured"] == line["predicted"]).mean(1)


def saddle_places(shares: tuple[float, ...], line: dict[str, np.ndarray]) -> str:
    """Where on the line the points are saddles, in words generated from the counts."""
    saddle = line["measured"] > 0  # (S, L)
    every = [s for s, col in zip(shares, saddle.T) if col.all()]
    never = [s for s, col in zip(shares, saddle.T) if not col.any()]
    some = [s for s, col in zip(shares, saddle.T) if col.any() and not col.all()]
    parts = []
    if every:
        parts.append("saddles in every seed at λ = " + ", ".join(f"{s:g}" for s in every))
    if never:
        parts.append(
            "no negative eigenvalue in any seed at λ = " + ", ".join(f"{s:g}" for s in never)
        )
    if some:
        parts.append("saddles in some seeds at λ = " + ", ".join(f"{s:g}" for s in some))
    return "; ".join(parts)


def findings(m: dict[str, Any]) -> list[Finding]:
    """The four claims, each with its interval, control and premise."""
    out: list[Finding] = []
    premise = critical_premise(m)
    half, teacher, line, cfg = m["half"], m["teacher"], m["line"], m["setup"]

    diff = t_interval(half["max_output_difference"])
    unsplit = t_interval(m["unsplit_difference"])
    live = float(m["live"].min())
    out.append(
        Finding(
            NAME,
            "Duplicating a unit and splitting its outgoing weight leaves the function unchanged.",
            verdict_same_function(diff),
            f"largest output difference {fmt_interval(diff)}; a copy that keeps the whole "
            f"outgoing weight changes the output by {fmt_interval(unsplit)}.",
            {"max_output_difference": half["max_output_difference"].tolist()},
            {"same_below": SAME_FUNCTION},
            ("saddle-table",),
            interval={"max_output_difference": diff},
            control=Control(
                "no split: the copy keeps the whole outgoing weight",
                verdict_same_function(unsplit),
                {"max_output_difference": m["unsplit_difference"].tolist()},
            ),
            premise=Premise(
                f"the duplicated unit changes the output (by more than {LIVE:g}) in every seed",
                live > LIVE,
                {"min_contribution": live, "limit": LIVE},
            ),
        )
    )

    smallest, overlap = t_interval(half["smallest"]), t_interval(half["overlap"])
    t_small, t_over = t_interval(teacher["smallest"]), t_interval(teacher["overlap"])
    theory = np.abs(half["eig_min"] - half["half_beta_min"]) / np.abs(half["eig_min"])
    out.append(
        Finding(
            NAME,
            "The duplicated point (λ = 1/2) of a narrow minimum is a saddle of the wider "
            "network, and its descent direction is the split between the two copies.",
            verdict_saddle(smallest, overlap),
            f"smallest Hessian eigenvalue / largest {fmt_interval(smallest)}; overlap of its "
            f"eigenvector with the split {fmt_interval(overlap)}; it equals B_min / 2 to a "
            f"relative {fmt(float(theory.max()))}. The teacher duplicated: "
            f"{fmt_interval(t_small)}.",
            {
                "smallest_relative": half["smallest"].tolist(),
                "eig_min": half["eig_min"].tolist(),
                "half_beta_min": half["half_beta_min"].tolist(),
                "overlap": half["overlap"].tolist(),
                "theory_relative_error": theory.tolist(),
            },
            {"negative_below": -NEGATIVE, "overlap_above": ALONG},
            ("saddle-table", "saddle-line"),
            interval={"smallest_relative": smallest, "overlap": overlap},
            control=Control(
                "the teacher duplicated: it fits the data exactly, so B = 0",
                verdict_saddle(t_small, t_over),
                {
                    "smallest_relative": teacher["smallest"].tolist(),
                    "overlap": teacher["overlap"].tolist(),
                    "teacher_loss": teacher["loss"].tolist(),
                },
            ),
            premise=premise,
        )
    )

    agree, e_agree = agreement(line), agreement(m["early_line"])
    iv, e_iv = t_interval(agree), t_interval(e_agree)
    beta = line["beta"]
    indefinite = int(((beta.min(1) < 0) & (beta.max(1) > 0)).sum())
    out.append(
        Finding(
            NAME,
            "Along the line of splits λ (inside and outside [0, 1]) the duplicated points are "
            "saddles exactly where λ(1 - λ) B has a negative eigenvalue (Fukumizu & Amari "
            "2000): the Hessian has as many negative eigenvalues as λ(1 - λ) B.",
            verdict_line(iv),
            f"counts agree at a share {fmt_interval(iv)} of the λ values; "
            f"{saddle_places(cfg.shares, line)}; B is indefinite in {indefinite}/"
            f"{len(beta)} seeds; largest wide gradient on the line "
            f"{fmt(float(line['grad'].max()))}.",
            {
                "shares": list(cfg.shares),
                "agreement": agree.tolist(),
                "measured_counts": line["measured"].tolist(),
                "predicted_counts": line["predicted"].tolist(),
                "b_eigenvalues": beta.tolist(),
                "max_wide_grad_norm": float(line["grad"].max()),
            },
            {"agree_above": AGREE, "negative_below": f"-{COUNT_TOL:g} x max|eigenvalue|"},
            ("saddle-line",),
            interval={"agreement": iv},
            control=Control(
                f"a narrow net stopped after {cfg.early_steps} Adam steps (not critical)",
                verdict_line(e_iv),
                {
                    "agreement": e_agree.tolist(),
                    "grad_norm": m["early"]["grad_norm"].tolist(),
                },
            ),
            premise=premise,
        )
    )

    g, tg = m["growth"], m["teacher_growth"]
    rate, err, grow = (
        t_interval(g["rate"]),
        t_interval(g["rate_error"]),
        t_interval(g["log_growth"]),
    )
    t_rate, t_grow = t_interval(tg["rate"]), t_interval(tg["log_growth"])
    out.append(
        Finding(
            NAME,
            "Gradient descent from the duplicated point plus a tiny split separates the two "
            "copies at the rate the Hessian predicts.",
            verdict_growth(rate, err),
            f"growth rate of the copies' distance {fmt_interval(rate)} per step against "
            f"{fmt_interval(t_interval(g['predicted_rate']))} predicted by δ ← (I - lr H) δ "
            f"(relative error {fmt_interval(err)}); log growth over {g['steps'][-1]} steps "
            f"{fmt_interval(grow)}; teacher duplicated: rate {fmt_interval(t_rate)}, log "
            f"growth {fmt_interval(t_grow)}.",
            {
                "rate": g["rate"].tolist(),
                "predicted_rate": g["predicted_rate"].tolist(),
                "asymptotic_rate": g["asymptotic_rate"].tolist(),
                "rate_error": g["rate_error"].tolist(),
                "log_growth": g["log_growth"].tolist(),
            },
            {
                "rate_above": RATE_FLOOR,
                "rate_error_below": RATE_MATCH,
                "rate_error": "|measured - predicted| / max(|predicted|, rate_above)",
            },
            ("saddle-separation",),
            interval={"rate": rate, "rate_error": err, "log_growth": grow},
            control=Control(
                "the teacher duplicated (B = 0): no direction separates the copies",
                verdict_growth(t_rate, t_interval(tg["rate_error"])),
                {
                    "rate": tg["rate"].tolist(),
                    "rate_error": tg["rate_error"].tolist(),
                    "log_growth": tg["log_growth"].tolist(),
                },
            ),
            premise=premise,
        )
    )
    return out


def figures(m: dict[str, Any], found: dict[str, Verdict]) -> list[FigureSpec]:
    n, half, line, g = m["narrow"], m["half"], m["line"], m["growth"]
    rows = [
        [
            k,
            float(n["loss"][k]),
            float(n["grad_norm"][k]),
            float(n["eig_min"][k]),
            float(half["eig_min"][k]),
            float(half["half_beta_min"][k]),
            float(half["overlap"][k]),
            float(g["rate"][k]),
            float(g["predicted_rate"][k]),
        ]
        for k in range(len(n["loss"]))
    ]
    shares = np.array(m["setup"].shares)
    return [
        FigureSpec(
            "saddle-table",
            "table",
            "One row per seed (teacher, data and start). The narrow net after Adam, L-BFGS "
            "and Newton steps: its loss, gradient norm and smallest Hessian eigenvalue. The "
            "duplicated point at λ = 1/2: smallest Hessian eigenvalue, the prediction B_min/2, "
            "the overlap of its eigenvector with the split between the copies, and the "
            "growth rate of the copies' distance under gradient descent against the Hessian's.",
            {
                "columns": [
                    "seed",
                    "narrow loss",
                    "|gradient|",
                    "narrow min eig",
                    "duplicate min eig",
                    "B_min / 2",
                    "overlap with split",
                    "rate",
                    "predicted rate",
                ],
                "rows": rows,
            },
            worded(
                found.get("saddle", "inconclusive"),
                supported="Narrow minimum, duplicated: a saddle along the split",
                refuted="Narrow minimum, duplicated: no saddle along the split",
                other="Narrow minimum, duplicated: saddle or not?",
            ),
        ),
        FigureSpec(
            "saddle-line",
            "lines",
            "Smallest Hessian eigenvalue (divided by the largest) at the duplicated points of "
            "the line λ, for the converged narrow nets (one thin line per seed) and for nets "
            "stopped early (control). Below zero: a saddle. Endpoints λ = 0 and 1 put the "
            "whole outgoing weight on one copy.",
            {
                "x": shares,
                "series": {
                    "converged": line["smallest"],
                    "stopped early": m["early_line"]["smallest"],
                },
                "x_label": "λ (share of the outgoing weight kept by the original)",
                "y_label": "min eigenvalue / max |eigenvalue|",
            },
            worded(
                found.get("line", "inconclusive"),
                supported="Saddles where λ(1-λ)B predicts them",
                refuted="Saddles not where λ(1-λ)B predicts them",
                other="Saddles along the line of splits",
            ),
        ),
        FigureSpec(
            "saddle-separation",
            "lines",
            "Distance between the two copies (incoming weights and bias) under gradient "
            f"descent from the duplicated point plus a split of {SPLIT_START:g}, one thin "
            "line per seed; 'linearized' is the Hessian's prediction δ ← (I - lr H) δ from "
            "the same start; 'teacher' is the control (B = 0). Log scale.",
            {
                "x": g["steps"],
                "series": {
                    "measured": g["distance"],
                    "linearized": g["linearized"],
                    "teacher": m["teacher_growth"]["distance"],
                },
                "y_scale": "log",
                "y_label": "distance between the copies",
            },
            worded(
                found.get("growth", "inconclusive"),
                supported="The copies separate at the Hessian's rate",
                refuted="The copies do not separate at the Hessian's rate",
                other="Do the copies separate at the Hessian's rate?",
            ),
        ),
    ]


def numbers(m: dict[str, Any]) -> dict[str, Any]:
    """Every measured number, JSON-able."""

    def listed(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v.tolist() for k, v in d.items() if isinstance(v, np.ndarray)}

    out: dict[str, Any] = {"setup": dict(m["setup"].__dict__), "unit": m.get("unit")}
    for key in ("narrow", "half", "line", "teacher", "early", "early_line", "growth"):
        if key in m:
            out[key] = listed(m[key])
    out["teacher_growth"] = listed(m["teacher_growth"]) if "teacher_growth" in m else None
    return out


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    result = StudyResult(NAME, TITLE, QUESTION)
    with torch.random.fork_rng():
        m = measure(scale, result, progress)
    if not result.failures:
        result.findings = findings(m)
        keys = ("same", "saddle", "line", "growth")
        found = {k: f.verdict for k, f in zip(keys, result.findings)}
        result.figures = figures(m, found)
    result.numbers = numbers(m)
    result.elapsed_s = time.perf_counter() - start
    return result
