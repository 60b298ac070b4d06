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
from . import _dense, _rng
from ._loss import member_loss
from ._step import Trainer


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
    labels = {
        name: torch.as_tensor(d.y, device=device) for name, d in (("train", train), ("test", test))
    }

    # ---- the trainer: flat buffer, optimizer, threads ------------------------------------
    drop_seeds = torch.tensor(seeds["dropout"])  # on the host, where dropout keys are made
    threads = torch.get_num_threads()
    trainer = Trainer(
        model, cfg.optim, loss_name, cfg.model.dropout, drop_seeds, threads, classify=classify
    )
    if len(trainer.groups) > 1:  # one thread per group of members, one-thread kernels
        torch.set_num_threads(1)
    try:
        return _loop(model, trainer, splits, labels, probe, cfg, seeds, progress)
    finally:
        trainer.close()
        torch.set_num_threads(threads)


def _loop(
    model: UnitModel,
    trainer: Trainer,
    splits: dict[str, tuple[Tensor, Tensor]],
    labels: dict[str, Tensor],
    probe: Tensor,
    cfg,
    seeds: dict[str, list[int]],
    progress: Callable[[int], None] | None,
) -> tuple[list[Snapshot], History, np.ndarray, float]:
    """The loop of :func:`train_loop`: record, evaluate, step."""
    # ---- schedule --------------------------------------------------------------------------
    steps, n = cfg.train.steps, splits["train"][0].shape[0]
    x_train, y_train = splits["train"]
    ckpts = set(checkpoint_steps(steps, cfg.train.n_checkpoints, cfg.train.checkpoints))
    every = cfg.train.eval_every or max(1, steps // 25)
    evals = ckpts | set(range(0, steps + 1, every))
    batches = Batches(torch.tensor(seeds["data"]), n, cfg.train.batch_size)
    K, device = model.members, x_train.device
    first_bad = torch.full((K,), -1, dtype=torch.int64, device=device)  # step a loss went bad
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
                metrics = evaluate(trainer, splits, labels)
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
            losses = trainer.step(xb, yb, step)  # (K,)
            # divergence, on the device (no wait): the first step whose loss is not finite
            newly = ~torch.isfinite(losses) & (first_bad < 0)
            first_bad.masked_fill_(newly, step)
        if progress is not None:
            progress(step + 1)
    diverged = first_bad.cpu().numpy()
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


# Evaluation runs over chunks of rows holding about this many numbers of activations: big
# enough for efficient kernels, small enough to stay in cache and off fresh pages (one pass
# over a whole 1347-image set at 16x16 allocated ~200 MB per layer, most of it page faults).
EVAL_CHUNK = 1 << 20


def evaluate(
    trainer: Trainer, splits: dict[str, tuple[Tensor, Tensor]], labels: dict[str, Tensor]
) -> dict[str, Tensor]:
    """Loss (and accuracy) of every member on each named split, without dropout: (K,) each.

    The rows are taken in chunks; each chunk's mean loss is weighted by its rows in float64.
    """
    out = {}
    rows = max(1, EVAL_CHUNK // trainer.model.per_sample_numel())
    with torch.no_grad():
        for split, (x, y) in splits.items():
            n = x.shape[0]
            total = torch.zeros(trainer.model.members, dtype=torch.float64, device=x.device)
            hits = torch.zeros_like(total)
            for start in range(0, n, rows):
                xc, yc = x[start : start + rows], y[start : start + rows]
                if trainer.dense:  # unit-major, as in training: (K, C, n)
                    pred = trainer.outputs(xc)
                    losses, _ = _dense.loss_and_grad(pred, yc, trainer.loss, grad=False)
                    guess = pred.argmax(1)
                else:
                    pred = trainer.outputs(xc)  # (K, n, C)
                    losses = member_loss(pred, yc, trainer.loss)
                    guess = pred.argmax(-1)
                total += losses.to(torch.float64) * len(xc)
                if trainer.classify:
                    hits += (guess == labels[split][start : start + rows]).sum(-1)
            out[f"{split}_loss"] = total / n
            if trainer.classify:
                out[f"{split}_acc"] = hits / n
    return out
