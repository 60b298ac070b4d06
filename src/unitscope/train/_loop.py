"""The training loop: K members, one vectorized step, snapshots at the checkpoints."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .._errors import UnitscopeError
from .._timing import section
from ..data import Dataset
from ..models import UnitModel
from . import _rng


@dataclass
class Batches:
    """Minibatch indices per member, keyed by each member's data seed.

    Step s belongs to epoch ``s // per_epoch``; each epoch is a fresh permutation of the
    training set per member, cut into batches of ``size`` (the last one may be smaller).
    ``size == 0`` means full batch: every step sees the whole training set in order.
    """

    seeds: Tensor  # (K,) int64
    n: int
    size: int

    @property
    def per_epoch(self) -> int:
        return 1 if self.size == 0 else math.ceil(self.n / self.size)

    def __post_init__(self) -> None:
        self._epoch = -1
        self._order: Tensor | None = None

    def indices(self, step: int) -> Tensor | None:
        """Sample indices for ``step``: (K, batch), or (batch,) when every member has the same
        data seed (one shared batch is cheaper), or None for the full batch."""
        if self.size == 0 or self.size >= self.n:
            return None
        epoch, b = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            shared = bool((self.seeds == self.seeds[0]).all())
            seeds = self.seeds[:1] if shared else self.seeds
            order = _rng.permutations(seeds, _rng.counter(1, epoch), self.n)
            self._order = order[0] if shared else order
            self._epoch = epoch
        assert self._order is not None
        return self._order[..., b * self.size : (b + 1) * self.size]  # (K, B) or (B,)


def dropout_noise(p: float, seeds: Tensor, step: int) -> Callable[[int, Tensor], Tensor]:
    """Inverted dropout whose mask for member k depends only on (seeds[k], step, layer)."""

    def apply(layer: int, h: Tensor) -> Tensor:  # h: (K, n, U)
        u = _rng.uniform(seeds, _rng.counter(2, step, layer), tuple(h.shape[1:]), h.device)
        keep = (u >= p).to(h.dtype)
        return h * keep / (1.0 - p)

    return apply


def member_loss(out: Tensor, y: Tensor, loss: str) -> Tensor:
    """Mean loss of each member, shape (K,). out (K, n, C); y (n,) / (K, n) labels or targets.

    Cross-entropy is written out (log-sum-exp minus the true logit) because it runs several
    times faster than ``F.cross_entropy`` on many small rows on the CPU; the value is the same.
    """
    K, n, _ = out.shape
    if loss == "cross_entropy":
        target = (y.expand(K, n) if y.dim() == 1 else y).unsqueeze(-1)  # (K, n, 1)
        z = out - out.detach().amax(-1, keepdim=True)  # (K, n, C), stable
        nll = z.exp().sum(-1).log() - z.gather(-1, target).squeeze(-1)  # (K, n)
        return nll.mean(1)
    target = y.expand(K, *y.shape) if y.dim() == 2 else y
    return (out - target).pow(2).mean(dim=(1, 2))


def accuracy(out: Tensor, y: Tensor) -> Tensor:
    """Fraction of correct argmax predictions per member, shape (K,)."""
    return (out.argmax(-1) == y).to(torch.float64).mean(-1)


def penalty(model: UnitModel, l1: float, l2: float) -> Tensor | float:
    """l1 * sum|w| + l2 * sum w^2 over weights (not biases), per member (K,)."""
    if l1 == 0 and l2 == 0:
        return 0.0
    total: Tensor | float = 0.0
    for name, p in model.named_parameters():
        if name.endswith(".weight"):
            flat = p.flatten(1)  # (K, n_params)
            if l1:
                total = total + l1 * flat.abs().sum(1)
            if l2:
                total = total + l2 * flat.pow(2).sum(1)
    return total


def soft_threshold(model: UnitModel, amount: float) -> None:
    """The proximal step of an L1 penalty: ``w <- sign(w) * max(|w| - amount, 0)`` for every
    weight (not biases), in place. Weights within ``amount`` of 0 become exactly 0."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".weight"):
                p.copy_(p.sign() * (p.abs() - amount).clamp_min(0.0))


def make_optimizer(model: UnitModel, optim) -> torch.optim.Optimizer:
    """The configured optimizer. All of them act elementwise, so members stay independent."""
    params = list(model.parameters())
    if optim.name == "sgd":
        return torch.optim.SGD(
            params,
            lr=optim.lr,
            momentum=optim.momentum,
            nesterov=optim.nesterov,
            weight_decay=optim.weight_decay,
            fused=True,
        )
    cls = torch.optim.Adam if optim.name == "adam" else torch.optim.AdamW
    return cls(
        params, lr=optim.lr, betas=tuple(optim.betas), weight_decay=optim.weight_decay, fused=True
    )


def checkpoint_steps(steps: int, n: int, chosen: tuple[int, ...]) -> list[int]:
    """The chosen steps, or ``n`` log-spaced steps from 0 to ``steps`` (both included)."""
    if chosen:
        return sorted(set(int(c) for c in chosen))
    logs = np.geomspace(1, steps, num=max(n - 1, 1)) if steps > 1 else np.array([steps])
    return sorted({0, steps, *(int(round(s)) for s in logs)})


@dataclass
class Snapshot:
    """Everything captured at one checkpoint, each tensor (K, ...)."""

    step: int
    params: dict[str, Tensor]
    activations: dict[str, Tensor]


@dataclass
class History:
    """Curves evaluated on the full train and test sets, each (K, n_evals)."""

    steps: list[int]
    values: dict[str, list[Tensor]]


def snapshot(model: UnitModel, probe: Tensor, step: int, maps: bool) -> Snapshot:
    """Copy the parameters and the studied layers' activations on the probe set."""
    with torch.no_grad():
        _, hidden = model.forward_hidden(probe)
        acts = {}
        for name, h in hidden.items():
            if h.dim() == 5:  # conv: (K, n, C, H, W) -> per-channel spatial mean (K, n, C)
                acts[name] = h.mean(dim=(3, 4)).float()
                if maps:
                    acts[name + "#maps"] = h.float()
            else:
                acts[name] = h.float()  # (K, n_probe, U)
        params = {n: p.detach().clone() for n, p in model.named_parameters()}
    return Snapshot(step, params, acts)


def train_loop(
    model: UnitModel,
    train: Dataset,
    test: Dataset,
    probe: Tensor,
    cfg,
    seeds: dict[str, list[int]],
    device: torch.device,
    dtype: torch.dtype,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Snapshot], History, np.ndarray, float]:
    """Train all members for ``cfg.train.steps`` steps; return snapshots, curves, divergence."""
    # ---- data on the device ------------------------------------------------------------
    classify = train.task == "classification"
    loss_name = (
        cfg.train.loss if cfg.train.loss != "auto" else ("cross_entropy" if classify else "mse")
    )
    if loss_name == "cross_entropy" and not classify:
        raise UnitscopeError(
            "`train.loss` = 'cross_entropy' needs a classification dataset; "
            "use 'mse' or 'auto' for regression."
        )
    splits = {
        name: _on_device(d, loss_name, train.n_outputs, dtype, device)
        for name, d in (("train", train), ("test", test))
    }
    x_train, y_train = splits["train"]
    labels = {
        name: torch.as_tensor(d.y, device=device) for name, d in (("train", train), ("test", test))
    }

    # ---- schedule --------------------------------------------------------------------------
    steps = cfg.train.steps
    ckpts = set(checkpoint_steps(steps, cfg.train.n_checkpoints, cfg.train.checkpoints))
    every = cfg.train.eval_every or max(1, steps // 25)
    evals = ckpts | set(range(0, steps + 1, every))
    batches = Batches(torch.tensor(seeds["data"]), train.n_samples, cfg.train.batch_size)
    drop_seeds = torch.tensor(seeds["dropout"], device=device)
    opt = make_optimizer(model, cfg.optim)
    proximal = cfg.optim.l1_mode == "proximal"
    l1_in_loss = 0.0 if proximal else cfg.optim.l1  # subgradient: l1 * sign(w) in the gradient
    shrink = cfg.optim.lr * cfg.optim.l1 if proximal else 0.0  # proximal: soft-threshold
    K = model.members
    diverged = np.full(K, -1, dtype=np.int64)
    snaps: list[Snapshot] = []
    history = History([], {})
    start = time.perf_counter()

    for step in range(steps + 1):
        # ---- record and evaluate --------------------------------------------------------
        if step in ckpts:
            with section("record"):
                snaps.append(snapshot(model, probe, step, cfg.train.record_maps))
        if step in evals:
            with section("evaluate"):
                metrics = evaluate(model, splits, labels, loss_name, classify)
            history.steps.append(step)
            for key, v in metrics.items():
                history.values.setdefault(key, []).append(v.cpu())
        if step == steps:
            break

        # ---- one step for all members ---------------------------------------------------
        with section("train"):
            idx = batches.indices(step)
            if idx is None:
                xb, yb = x_train, y_train  # (n, ...) shared by all members
            else:
                idx = idx.to(device)
                xb, yb = x_train[idx], y_train[idx]  # (K, B, ...) or shared (B, ...)
            noise = (
                dropout_noise(cfg.model.dropout, drop_seeds, step) if cfg.model.dropout else None
            )
            out = model(xb, noise)  # (K, batch, n_outputs)
            losses = member_loss(out, yb, loss_name)  # (K,)
            total = (losses + penalty(model, l1_in_loss, cfg.optim.l2)).sum()
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            if shrink:
                soft_threshold(model, shrink)  # proximal L1: exact zeros

            # ---- divergence ------------------------------------------------------------------
            bad = ~torch.isfinite(losses.detach())
            if bool(bad.any()):
                newly = bad.cpu().numpy() & (diverged < 0)
                diverged[newly] = step
        if progress is not None:
            progress(step + 1)
    return snaps, history, diverged, time.perf_counter() - start


def _on_device(
    data: Dataset, loss: str, n_classes: int, dtype: torch.dtype, device: torch.device
) -> tuple[Tensor, Tensor]:
    """(x, y) as tensors; class labels become one-hot targets when the loss is MSE."""
    x = torch.as_tensor(data.x, dtype=dtype, device=device)
    if data.task != "classification":
        return x, torch.as_tensor(data.y, dtype=dtype, device=device)
    y = torch.as_tensor(data.y, dtype=torch.int64, device=device)
    return x, (F.one_hot(y, n_classes).to(dtype) if loss == "mse" else y)


def evaluate(
    model: UnitModel,
    splits: dict[str, tuple[Tensor, Tensor]],
    labels: dict[str, Tensor],
    loss_name: str,
    classify: bool,
) -> dict[str, Tensor]:
    """Loss (and accuracy) of every member on each named split, without dropout: (K,) each."""
    out = {}
    with torch.no_grad():
        for split, (x, y) in splits.items():
            pred = model(x)
            out[f"{split}_loss"] = member_loss(pred, y, loss_name).to(torch.float64)
            if classify:
                out[f"{split}_acc"] = accuracy(pred, labels[split])
    return out
