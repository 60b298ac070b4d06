"""One training step for all K members: loss, gradients into the flat buffer, update.

An MLP's gradients are computed by hand (``_dense``); any other model's by autograd and then
copied into the flat buffer. The L1 / L2 penalties act on the flat gradient of the weights
(``l1 * sign(w)``, ``2 * l2 * w``: what autograd gives for ``l1 * |w| + l2 * w**2``), and the
optimizer updates the whole buffer at once (``_optim``). Nothing here loops over members, and
nothing waits for the device: the step is the same handful of kernels whatever K is.

With several CPU threads the members are split into as many groups, one per thread, and each
thread runs its group's whole step (forward, backward, penalties, update) with one-thread
kernels: the threads meet once a step, instead of at each of the step's kernels, which is
what PyTorch's own threads do and what costs most on small models or a busy machine (a CNN
step on two busy cores ran 6x slower with PyTorch's threads than with one). An MLP's group
is a slice of its tensors; any other model's is a copy of the model whose parameters are
views of its members' slices of the flat buffer. Members are independent, so the numbers are
those of one group of all members.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor, nn

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


def member_view(model: UnitModel, start: int, stop: int) -> UnitModel:
    """A copy of ``model`` holding members ``start:stop`` whose parameters are views of the
    model's: an update of the model's parameters is one of the view's."""
    own = dict(model.named_parameters())

    def clone(module: nn.Module, prefix: str) -> nn.Module:
        new = copy.copy(module)  # shallow; its parameters and children replaced below
        new._parameters = {
            k: None if p is None else nn.Parameter(own[prefix + k].data[start:stop])
            for k, p in module._parameters.items()
        }
        new._modules = {
            k: None if m is None else clone(m, f"{prefix}{k}.") for k, m in module._modules.items()
        }
        return new

    return clone(model, "")  # type: ignore[return-value]


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
        self.groups = member_groups(model.members, threads if on_cpu else 1)
        self.pool = ThreadPoolExecutor(len(self.groups) - 1) if len(self.groups) > 1 else None
        if self.dense:
            assert isinstance(model, MLP)
            self.net = _dense.Dense.of(model)
            self.grads = _dense.Dense.of(model, self.flat.grads)
            self.widths = list(model.spec["hidden"])
        else:  # one model per group, its parameters views of the group's slices
            self.views = [member_view(model, a, b) for a, b in self.groups]

    def close(self) -> None:
        """Stop the worker threads (if any)."""
        if self.pool is not None:
            self.pool.shutdown()

    def step(self, x: Tensor, y: Tensor, step: int) -> Tensor:
        """One update from the batch x (n, ...) shared or (K, n, ...); returns the members'
        losses (K,) before the update."""
        self.opt.advance()
        work = self._group if self.dense else self._autograd
        if self.pool is None:
            return work(x, y, step, None)
        futures = [self.pool.submit(work, x, y, step, g) for g in self.groups[1:]]
        first = work(x, y, step, self.groups[0])  # this thread takes a group too
        return torch.cat([first, *(f.result() for f in futures)])

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

    def outputs(self, x: Tensor) -> Tensor:
        """Outputs without dropout for x (n, ...) shared: an MLP's unit-major (K, C, n), any
        other model's (K, n, C)."""
        if self.pool is None:
            return self._outputs(x, None)
        parts = [self.pool.submit(self._outputs, x, g) for g in range(1, len(self.groups))]
        first = self._outputs(x, 0)
        return torch.cat([first, *(f.result() for f in parts)])

    @torch.no_grad()
    def _outputs(self, x: Tensor, group: int | None) -> Tensor:
        if self.dense:
            net = self.net if group is None else self.net.members(*self.groups[group])
            return _dense.forward(net, x)[0]
        return (self.model if group is None else self.views[group])(x)

    def _autograd(self, x: Tensor, y: Tensor, step: int, group: tuple[int, int] | None) -> Tensor:
        """The gradients of members ``group`` (all: None) by autograd, copied into the flat
        buffer, then their update; returns their losses."""
        model, seeds, a, b = self.model, self.drop_seeds, 0, self.model.members
        if group is not None:
            a, b = group
            model, seeds = self.views[self.groups.index(group)], seeds[a:b]
            if x.dim() == 5:  # one batch per member (K, n, C, H, W)
                x, y = x[a:b], y[a:b]
        noise = dropout_noise(self.p, seeds, step) if self.p else None
        names, params = zip(*model.named_parameters())
        with torch.enable_grad():
            losses = member_loss(model(x, noise), y, self.loss)  # (K,)
            found = torch.autograd.grad(losses.sum(), params, allow_unused=True)
        with torch.no_grad():
            for name, g in zip(names, found):
                slot = self.flat.grads[name][a:b]
                if g is None:
                    slot.zero_()
                elif g.data_ptr() != slot.data_ptr():
                    slot.copy_(g)
        self._update(group)
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
