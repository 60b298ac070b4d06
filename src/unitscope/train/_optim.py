"""Optimizers over one flat buffer: every member's parameters in one tensor, one update.

:class:`FlatParams` makes the model's parameters views of one flat tensor (weights first,
then biases) and keeps their gradients in a second one; :class:`FlatOptimizer` updates the
whole buffer with SGD (momentum, Nesterov), Adam or AdamW in one fused kernel where PyTorch
has one for the device (``torch._fused_sgd_``, ``_fused_adam_``, ``_fused_adamw_``: the
kernels behind ``torch.optim``'s ``fused=True``), else with a few elementwise operations.
Either way the work per step is a fixed number of kernels, whatever K and the number of
layers. All three act elementwise, so members stay independent.

The arithmetic is ``torch.optim``'s, step for step (``tests/train/test_optim.py`` checks both
paths against ``torch.optim`` in float64). ``torch.optim`` itself is not used: its constructor
imports ``torch._dynamo``, a second or two in every process that trains.

Example:
    >>> from unitscope.models import MLP
    >>> net = MLP(3, [4], 2, members=5)
    >>> flat = FlatParams(net)
    >>> flat.flat.shape, flat.n_weights   # 5 members x (4*3 + 2*4 weights, 4 + 2 biases)
    (torch.Size([130]), 100)
    >>> net.hidden[0].weight.data_ptr() == flat.flat.data_ptr()
    True
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class FlatParams:
    """The parameters of ``model`` as views of one flat tensor, and their gradients.

    Attributes:
        flat: (P,) every parameter, weights (names ending in ``.weight``) first.
        grad: (P,) their gradients, written by the trainer before each step.
        n_weights: the weights are ``flat[:n_weights]``.
        grads: name -> the view of ``grad`` shaped like that parameter.
    """

    def __init__(self, model: nn.Module):
        named = list(model.named_parameters())
        ordered = [p for p in named if p[0].endswith(".weight")]
        ordered += [p for p in named if not p[0].endswith(".weight")]
        first = named[0][1]
        total = sum(p.numel() for _, p in named)
        self.flat = torch.empty(total, dtype=first.dtype, device=first.device)
        self.grad = torch.zeros_like(self.flat)
        self.n_weights = sum(p.numel() for n, p in ordered if n.endswith(".weight"))
        self.params: list[nn.Parameter] = []
        self.grads: dict[str, Tensor] = {}
        self._spans: list[tuple[int, int, bool]] = []  # (start, numel per member, is weight)
        start = 0
        for name, p in ordered:
            stop = start + p.numel()
            self._spans.append((start, p[0].numel(), name.endswith(".weight")))
            view = self.flat[start:stop].view_as(p)
            view.copy_(p.detach())
            p.data = view
            self.params.append(p)
            self.grads[name] = self.grad[start:stop].view_as(p)
            start = stop

    def ranges(self, members: tuple[int, int] | None = None, weights: bool = False) -> list[slice]:
        """The parts of the buffer that hold members ``start:stop`` (all: None), one
        contiguous slice per parameter (``weights``: of the weights only)."""
        if members is None:
            return [slice(0, self.n_weights if weights else len(self.flat))]
        a, b = members
        return [
            slice(start + a * per, start + b * per)
            for start, per, is_weight in self._spans
            if is_weight or not weights
        ]

    @property
    def weights(self) -> Tensor:
        """(n_weights,) every weight (not bias) of every member."""
        return self.flat[: self.n_weights]


class FlatOptimizer:
    """SGD, Adam or AdamW on a :class:`FlatParams` buffer, as ``torch.optim`` computes them.

    Args:
        flat: the buffer; ``flat.grad`` must hold the gradient when :meth:`step` is called.
        name: ``sgd``, ``adam`` or ``adamw``.
        lr, momentum, nesterov, betas, weight_decay, eps: as in ``torch.optim`` (weight
            decay is coupled for sgd and adam, decoupled for adamw).
        fused: use PyTorch's fused kernel; None: when the device has one.
    """

    def __init__(
        self,
        flat: FlatParams,
        name: str,
        *,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        eps: float = 1e-8,
        fused: bool | None = None,
    ):
        self.flat, self.name = flat, name
        self.lr, self.momentum, self.nesterov = float(lr), float(momentum), bool(nesterov)
        self.betas, self.weight_decay, self.eps = tuple(map(float, betas)), weight_decay, eps
        kernel = {"sgd": "_fused_sgd_", "adam": "_fused_adam_", "adamw": "_fused_adamw_"}[name]
        has_kernel = hasattr(torch, kernel) and flat.flat.device.type in ("cpu", "cuda")
        self.fused = has_kernel if fused is None else fused and has_kernel
        self.steps = 0
        p = flat.flat
        self.buf = torch.zeros_like(p) if name != "sgd" or momentum else None  # m or momentum
        self.sq = torch.zeros_like(p) if name != "sgd" else None  # Adam's second moment
        self.step_t = torch.zeros((), dtype=torch.float32, device=p.device)

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter from ``flat.grad``."""
        self.advance()
        self.update()

    def advance(self) -> None:
        """Count one more step (before :meth:`update` of its parts)."""
        self.steps += 1
        self.step_t += 1

    @torch.no_grad()
    def update(self, parts: list[slice] | None = None) -> None:
        """Update the parameters in ``parts`` of the buffer (all: None) for the current step.
        Disjoint parts can be updated from different threads."""
        parts = parts if parts is not None else [slice(0, len(self.flat.flat))]
        p, g = [self.flat.flat[s] for s in parts], [self.flat.grad[s] for s in parts]
        buf = [] if self.buf is None else [self.buf[s] for s in parts]
        if self.name == "sgd":
            self._sgd(p, g, buf)
        else:
            assert self.sq is not None
            self._adam(p, g, buf, [self.sq[s] for s in parts])

    def _sgd(self, params: list[Tensor], grads: list[Tensor], bufs: list[Tensor]) -> None:
        if self.fused:
            torch._fused_sgd_(
                params,
                grads,
                bufs,
                weight_decay=self.weight_decay,
                momentum=self.momentum,
                lr=self.lr,
                dampening=0.0,
                nesterov=self.nesterov,
                maximize=False,
                is_first_step=self.steps == 1,
            )
            return
        for i, (p, g) in enumerate(zip(params, grads)):
            if self.weight_decay:
                g = g.add(p, alpha=self.weight_decay)
            if bufs:
                if self.steps == 1:
                    bufs[i].copy_(g)
                else:
                    bufs[i].mul_(self.momentum).add_(g)
                g = g.add(bufs[i], alpha=self.momentum) if self.nesterov else bufs[i]
            p.add_(g, alpha=-self.lr)

    def _adam(
        self, params: list[Tensor], grads: list[Tensor], bufs: list[Tensor], sqs: list[Tensor]
    ) -> None:
        beta1, beta2 = self.betas
        if self.fused:
            kernel = torch._fused_adam_ if self.name == "adam" else torch._fused_adamw_
            kernel(
                params,
                grads,
                bufs,
                sqs,
                [],
                [self.step_t] * len(params),  # read only
                lr=self.lr,
                beta1=beta1,
                beta2=beta2,
                weight_decay=self.weight_decay,
                eps=self.eps,
                amsgrad=False,
                maximize=False,
            )
            return
        bias1 = 1 - beta1**self.steps
        bias2_sqrt = math.sqrt(1 - beta2**self.steps)
        for p, g, m, v in zip(params, grads, bufs, sqs):
            if self.weight_decay:
                if self.name == "adamw":
                    p.mul_(1 - self.lr * self.weight_decay)
                else:
                    g = g.add(p, alpha=self.weight_decay)
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = (v.sqrt() / bias2_sqrt).add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / bias1)
