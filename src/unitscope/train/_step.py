"""One training step for all K members: loss, gradients into the flat buffer, update.

An MLP's gradients are computed by hand (``_dense``); any other model's by autograd and then
copied into the flat buffer. The L1 / L2 penalties act on the flat gradient of the weights
(``l1 * sign(w)``, ``2 * l2 * w``: what autograd gives for ``l1 * |w| + l2 * w**2``), and the
optimizer updates the whole buffer at once (``_optim``). Nothing here loops over members, and
nothing waits for the device: the step is the same handful of kernels whatever K is.
"""

from __future__ import annotations

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


def dense_masks(model: MLP, p: float, seeds: Tensor, step: int, n: int) -> list[Tensor]:
    """The masks of :func:`dropout_noise` for an MLP's hidden layers, unit-major (K, U, n)."""
    return [
        _rng.keep_mask(seeds, _rng.counter(2, step, i), (n, u), p, seeds.device, transpose=True)
        for i, u in enumerate(model.spec["hidden"])
    ]


class Trainer:
    """Holds the flat buffer and the optimizer; :meth:`step` trains every member one step.

    Args:
        model: the K members; its parameters become views of one flat buffer.
        optim: the ``optim`` section of the config.
        loss: ``cross_entropy`` or ``mse``.
        dropout: the dropout probability of the hidden layers.
        drop_seeds: (K,) dropout seeds.
    """

    def __init__(self, model: UnitModel, optim, loss: str, dropout: float, drop_seeds: Tensor):
        self.model, self.loss, self.p, self.drop_seeds = model, loss, dropout, drop_seeds
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

    def step(self, x: Tensor, y: Tensor, step: int) -> Tensor:
        """One update from the batch x (n, ...) shared or (K, n, ...); returns the members'
        losses (K,) before the update."""
        losses = self._gradients(x, y, step)
        flat = self.flat
        with torch.no_grad():
            if self.l1:
                flat.weight_grad.add_(flat.weights.sign(), alpha=self.l1)
            if self.l2:
                flat.weight_grad.add_(flat.weights, alpha=2 * self.l2)
            self.opt.step()
            if self.shrink:  # proximal L1: w <- sign(w) * max(|w| - lr * l1, 0), exact zeros
                w = flat.weights
                w.copy_(w.sign() * (w.abs() - self.shrink).clamp_min(0.0))
        return losses

    def _gradients(self, x: Tensor, y: Tensor, step: int) -> Tensor:
        """Write the gradient of the summed loss into the flat buffer; return the losses."""
        model = self.model
        if isinstance(model, MLP):
            n = x.shape[-2] if x.dim() == 3 else x.shape[0]
            masks = dense_masks(model, self.p, self.drop_seeds, step, n) if self.p else None
            with torch.no_grad():
                out, layers = _dense.forward(model, x, masks, self.p)  # (K, C, n)
                losses, g = _dense.loss_and_grad(out, y, self.loss)
                _dense.backward(model, x, layers, g, self.flat.grads)
            return losses
        noise = dropout_noise(self.p, self.drop_seeds, step) if self.p else None
        losses = member_loss(model(x, noise), y, self.loss)  # (K,)
        grads = torch.autograd.grad(losses.sum(), self.flat.params, allow_unused=True)
        self.flat.take(grads)
        return losses.detach()
