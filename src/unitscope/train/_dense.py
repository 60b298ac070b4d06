"""The MLP training step by hand: no autograd graph, activations laid out unit-major.

For an MLP the trainer computes the loss and every gradient itself and writes the gradients
straight into the optimizer's flat buffer. Three things make the step fast on the CPU:

- **Unit-major layout.** Each layer's activations are (K, n_units, batch): the first layer
  is one (K*U, d) x (d, batch) product, later layers are batched products whose long side
  is the batch, and the gradients come out contiguous, with no copies or transposes.
- **Few kernels, few allocations.** Activations are applied in place, their backward writes
  over the incoming gradient, and the weight and bias gradients are written into their slots
  of the flat buffer (``out=``).
- **The loss and its gradient together**: softmax minus one-hot (or the MSE residual),
  divided by the batch, from the same exponentials.

The numbers are those of ``model(x)``, ``member_loss`` and ``backward()`` to rounding (~1e-16
in float64; tests/train/test_dense.py), for every activation, with or without biases, with
dropout, shared or per-member batches, any depth, cross-entropy and MSE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..models import MLP
from ..models._layers import linear_units

aten = torch.ops.aten

# The activation, in place where its backward needs only the result: z (K, U, n) -> a.
FORWARD: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu_,
    "tanh": torch.tanh_,
    "sigmoid": torch.sigmoid_,
    "gelu": F.gelu,  # its backward needs z
    "linear": lambda z: z,
}

# Its backward, written over the incoming gradient g: (g, a, z) -> g * act'(z).
BACKWARD: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "relu": lambda g, a, z: aten.threshold_backward.grad_input(g, a, 0, grad_input=g),
    "tanh": lambda g, a, z: aten.tanh_backward.grad_input(g, a, grad_input=g),
    "sigmoid": lambda g, a, z: aten.sigmoid_backward.grad_input(g, a, grad_input=g),
    "gelu": lambda g, a, z: aten.gelu_backward.grad_input(g, z, grad_input=g),
    "linear": lambda g, a, z: g,
}


@dataclass
class Layer:
    """What the backward pass keeps of one hidden layer."""

    z: Tensor  # (K, U, n) pre-activation (the same memory as ``a`` unless gelu)
    a: Tensor  # (K, U, n) activation, before dropout
    scale: Tensor | None  # (K, U, n) dropout's keep / (1 - p), or None
    out: Tensor  # (K, U, n) what the next layer reads: a, or a * scale


@dataclass
class Dense:
    """The dense layers of an MLP, input to output (hidden.0, ..., out), as tensors: its
    parameters, or their gradients' slots, or those of some of its members.

    weights: (K, U_i, d_i) each; biases: (K, U_i) each, or None; act: the activation.
    """

    weights: list[Tensor]
    biases: list[Tensor | None]
    act: str

    @classmethod
    def of(cls, model: MLP, tensors: dict[str, Tensor] | None = None) -> Dense:
        """The model's parameters, or the tensors named like them (gradient slots)."""
        names = [f"hidden.{i}" for i in range(len(model.hidden))] + ["out"]
        own = dict(model.named_parameters())
        pick = own if tensors is None else tensors
        weights = [pick[f"{n}.weight"] for n in names]
        biases = [pick[f"{n}.bias"] if f"{n}.bias" in own else None for n in names]
        return cls(weights, biases, model.spec["activation"])

    def members(self, start: int, stop: int) -> Dense:
        """Members ``start:stop`` only (views)."""
        biases = [None if b is None else b[start:stop] for b in self.biases]
        return Dense([w[start:stop] for w in self.weights], biases, self.act)


linear = linear_units  # w (K, U, d), b, x (n, d) or (K, d, n) -> (K, U, n)


def linear_backward(
    g: Tensor, w: Tensor, inp: Tensor, gw: Tensor, gb: Tensor | None, need_input: bool
) -> Tensor | None:
    """Write the gradients of ``linear`` into ``gw`` (K, U, d) and ``gb`` (K, U); return the
    gradient of ``inp`` (K, d, n) when ``need_input``. g: (K, U, n)."""
    K, U, d = w.shape
    if inp.dim() == 2:
        torch.mm(g.reshape(K * U, -1), inp, out=gw.view(K * U, d))
    else:
        torch.bmm(g, inp.transpose(1, 2), out=gw)
    if gb is not None:
        torch.sum(g, dim=2, out=gb)
    return torch.bmm(w.transpose(1, 2), g) if need_input else None


def forward(
    net: Dense, x: Tensor, masks: list[Tensor] | None = None, p: float = 0.0
) -> tuple[Tensor, list[Layer]]:
    """Outputs (K, n_outputs, n) and the hidden layers, unit-major.

    x: (n, d) shared or (K, n, d) per member. masks: per hidden layer, dropout's keep
    decisions (K, U, n) (bool), applied as ``a * keep / (1 - p)``.
    """
    act = FORWARD[net.act]
    h = x if x.dim() == 2 else x.transpose(1, 2)  # (n, d) or (K, d, n)
    layers = []
    for i, (w, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
        z = linear(w, b, h)  # (K, U, n)
        a = act(z)
        scale = None
        if masks is not None:
            scale = masks[i].to(a.dtype).div_(1.0 - p)
            h = a * scale
        else:
            h = a
        layers.append(Layer(z, a, scale, h))
    return linear(net.weights[-1], net.biases[-1], h), layers


def loss_and_grad(out: Tensor, y: Tensor, loss: str, grad: bool = True) -> tuple[Tensor, Tensor]:
    """Each member's mean loss (K,) and, with ``grad``, the gradient of their sum with respect
    to ``out`` (K, C, n), written over ``out``'s exponentials or residuals.

    y: class labels (n,) / (K, n) for cross-entropy; targets (n, C) / (K, n, C) for MSE.
    """
    K, C, n = out.shape
    if loss == "cross_entropy":
        target = (y.expand(K, n) if y.dim() == 1 else y).unsqueeze(1)  # (K, 1, n)
        z = out - out.amax(1, keepdim=True)  # (K, C, n), stable
        e = z.exp()
        total = e.sum(1)  # (K, n)
        losses = (total.log() - z.gather(1, target).squeeze(1)).mean(1)
        if not grad:
            return losses, out
        g = e.div_(total.unsqueeze(1))  # softmax
        minus_one = torch.full((1, 1, 1), -1.0, dtype=g.dtype, device=g.device)
        g.scatter_add_(1, target, minus_one.expand(K, 1, n))  # minus one-hot
        return losses, g.mul_(1.0 / n)
    target = y.t() if y.dim() == 2 else y.transpose(1, 2)  # (C, n) or (K, C, n)
    diff = out - target
    losses = diff.square().mean(dim=(1, 2))
    return losses, diff.mul_(2.0 / (n * C)) if grad else diff


def backward(net: Dense, x: Tensor, layers: list[Layer], g: Tensor, grads: Dense) -> None:
    """Write the gradient of every parameter into ``grads`` (slots of the flat buffer), from
    g, the gradient of the summed loss with respect to the outputs (K, C, n)."""
    back = BACKWARD[net.act]
    inputs = [x if x.dim() == 2 else x.transpose(1, 2), *(layer.out for layer in layers)]
    for i in range(len(net.weights) - 1, -1, -1):
        gw, gb = grads.weights[i], grads.biases[i]
        g_in = linear_backward(g, net.weights[i], inputs[i], gw, gb, i > 0)
        if g_in is None:
            break
        layer = layers[i - 1]
        if layer.scale is not None:
            g_in.mul_(layer.scale)
        g = back(g_in, layer.a, layer.z)
