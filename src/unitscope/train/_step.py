"""One training step for all K members: loss, gradients into the flat buffer, update.

An MLP's gradients are computed by hand (``_dense``); any other model's by autograd and then
copied into the flat buffer. The L1 / L2 penalties act on the flat gradient of the weights
(``l1 * sign(w)``, ``2 * l2 * w``: what autograd gives for ``l1 * |w| + l2 * w**2``), and the
optimizer updates the whole buffer at once (``_optim``). Nothing here loops over members, and
nothing waits for the device: the step is the same handful of kernels whatever K is.

With several CPU threads an MLP's members are split into as many groups, one per thread, and
each thread runs its group's whole step (forward, backward, penalties, update) with one-thread
kernels: the threads meet once a step, instead of at each of the step's ~30 small kernels,
which is what PyTorch's own threads do and what costs most on small models or a busy machine.
Members are independent, so the numbers are those of one group of all members.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

from ..models import MLP, UnitModel
from . import _dense, _rng
from ._loss import member_loss
from ._optim import FlatOptimizer, FlatParams


def dropout_noise(p: float, seeds: Tensor, step: int):
    """Inverted dropout whose mask for member k depends only on (seeds[k], step, layer)."""

    def apply(layer: int, h: Tensor) -> Tensor:  # h: (K, n, ...)
        keep = _rng.keep_mask(seeds, _rng.counter(2, step, layer), tuple(h.shape[1:]), p, h.device)
        return h * keep.to(h.dtype) / (1.0 - p)

    return apply


def dense_masks(
    widths: list[int], p: float, seeds: Tensor, step: int, n: int, device: torch.device
) -> list[Tensor]:
    """The masks of :func:`dropout_noise` for an MLP's hidden layers, unit-major (K, U, n)."""
    return [
        _rng.keep_mask(seeds, _rng.counter(2, step, i), (n, u), p, device, transpose=True)
        for i, u in enumerate(widths)
    ]


def member_groups(members: int, threads: int) -> list[tuple[int, int]]:
    """``threads`` near-equal contiguous groups of members: [(start, stop), ...]."""
    n = max(1, min(threads, members))
    cuts = [round(i * members / n) for i in range(n + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


class Trainer:
    """Holds the flat buffer and the optimizer; :meth:`step` trains every member one step.

    Args:
        model: the K members; its parameters become views of one flat buffer.
        optim: the ``optim`` section of the config.
        loss: ``cross_entropy`` or ``mse``.
        dropout: the dropout probability of the hidden layers.
        drop_seeds: (K,) dropout seeds, on the CPU (dropout keys are made on the host).
        threads: CPU threads; an MLP on the CPU splits its members into this many groups.
        classify: whether the task is classification (evaluation reports accuracy).
    """

    def __init__(
        self,
        model: UnitModel,
        optim,
        loss: str,
        dropout: float,
        drop_seeds: Tensor,
        threads: int = 1,
        *,
        classify: bool = False,
    ):
        self.model, self.loss, self.p, self.drop_seeds = model, loss, dropout, drop_seeds
        self.classify = classify
        self.flat = FlatParams(model)
        self.opt = FlatOptimizer(
            self.flat,
            optim.name,
            lr=optim.lr,
            momentum=optim.momentum,
            nesterov=optim.nesterov,
            betas=tuple(optim.betas),
            weight_decay=optim.weight_decay,
        )
        proximal = optim.l1_mode == "proximal"
        self.l1 = 0.0 if proximal else optim.l1  # subgradient: l1 * sign(w) in the gradient
        self.l2 = optim.l2
        self.shrink = optim.lr * optim.l1 if proximal else 0.0  # proximal: soft-threshold
        self.dense = isinstance(model, MLP)
        on_cpu = self.flat.flat.device.type == "cpu"
        self.groups = member_groups(model.members, threads if self.dense and on_cpu else 1)
        self.pool = ThreadPoolExecutor(len(self.groups)) if len(self.groups) > 1 else None
        if self.dense:
            assert isinstance(model, MLP)
            self.net = _dense.Dense.of(model)
            self.grads = _dense.Dense.of(model, self.flat.grads)
            self.widths = list(model.spec["hidden"])

    def close(self) -> None:
        """Stop the worker threads (if any)."""
        if self.pool is not None:
            self.pool.shutdown()

    def step(self, x: Tensor, y: Tensor, step: int) -> Tensor:
        """One update from the batch x (n, ...) shared or (K, n, ...); returns the members'
        losses (K,) before the update."""
        self.opt.advance()
        if not self.dense:
            losses = self._autograd(x, y, step)
            self._update(None)
            return losses
        if self.pool is None:
            return self._group(x, y, step, None)
        futures = [self.pool.submit(self._group, x, y, step, g) for g in self.groups]
        return torch.cat([f.result() for f in futures])

    @torch.no_grad()
    def _group(self, x: Tensor, y: Tensor, step: int, group: tuple[int, int] | None) -> Tensor:
        """The whole step of members ``group`` (all: None), by hand; returns their losses."""
        net, grads, seeds = self.net, self.grads, self.drop_seeds
        if group is not None:
            a, b = group
            net, grads, seeds = net.members(a, b), grads.members(a, b), seeds[a:b]
            if x.dim() == 3:  # one batch per member
                x, y = x[a:b], y[a:b]
        n = x.shape[-2]
        masks = dense_masks(self.widths, self.p, seeds, step, n, x.device) if self.p else None
        out, layers = _dense.forward(net, x, masks, self.p)  # (K, C, n)
        losses, g = _dense.loss_and_grad(out, y, self.loss)
        _dense.backward(net, x, layers, g, grads)
        self._update(group)
        return losses

    @torch.no_grad()
    def outputs(self, x: Tensor) -> Tensor:
        """An MLP's outputs (K, C, n), unit-major, without dropout; x (n, d) shared."""
        if self.pool is None:
            return _dense.forward(self.net, x)[0]
        parts = [self.pool.submit(self._outputs, x, g) for g in self.groups]
        return torch.cat([f.result() for f in parts])

    @torch.no_grad()
    def _outputs(self, x: Tensor, group: tuple[int, int]) -> Tensor:
        return _dense.forward(self.net.members(*group), x)[0]

    def _autograd(self, x: Tensor, y: Tensor, step: int) -> Tensor:
        """The gradients of any model by autograd, copied into the flat buffer."""
        noise = dropout_noise(self.p, self.drop_seeds, step) if self.p else None
        losses = member_loss(self.model(x, noise), y, self.loss)  # (K,)
        grads = torch.autograd.grad(losses.sum(), self.flat.params, allow_unused=True)
        self.flat.take(grads)
        return losses.detach()

    @torch.no_grad()
    def _update(self, group: tuple[int, int] | None) -> None:
        """Penalties, the optimizer and the proximal step for members ``group`` (all: None)."""
        flat = self.flat
        if self.l1 or self.l2:
            for s in flat.ranges(group, weights=True):
                g, w = flat.grad[s], flat.flat[s]
                if self.l1:
                    g.add_(w.sign(), alpha=self.l1)
                if self.l2:
                    g.add_(w, alpha=2 * self.l2)
        self.opt.update(flat.ranges(group))
        if self.shrink:  # proximal L1: w <- sign(w) * max(|w| - lr * l1, 0), exact zeros
            for s in flat.ranges(group, weights=True):
                w = flat.flat[s]
                w.copy_(w.sign() * (w.abs() - self.shrink).clamp_min(0.0))
