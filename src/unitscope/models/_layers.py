"""Layers that hold K independent members in one tensor, so one call runs all of them.

Every parameter carries a leading member axis ``K``. A dense layer computes, for each member
k, ``x[k] @ weight[k].T + bias[k]`` with one batched matrix product; a conv layer runs all
members as one grouped convolution.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._errors import UnitscopeError, unknown_name

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,
    "linear": lambda t: t,
}

# In-place versions, where the backward needs only the result (safe on a fresh tensor).
INPLACE: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu_,
    "tanh": torch.tanh_,
    "sigmoid": torch.sigmoid_,
    "linear": lambda t: t,
}

# Gain of each activation for variance-preserving (Kaiming-style) initialization.
GAINS = {"relu": 2.0**0.5, "gelu": 2.0**0.5, "tanh": 5.0 / 3.0, "sigmoid": 1.0, "linear": 1.0}


def get_activation(name: str) -> Callable[[Tensor], Tensor]:
    """The activation function called ``name`` (relu, tanh, sigmoid, gelu, linear)."""
    if name not in ACTIVATIONS:
        raise unknown_name("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]


def linear_units(w: Tensor, b: Tensor | None, x: Tensor) -> Tensor:
    """K dense layers on unit-major activations: ``w[k] @ x[k] + b[k]`` -> (K, U, n).

    w (K, U, d); b (K, U) or None; x (n, d) shared by all members (one (K*U, d) x (d, n)
    product), or (K, d, n) (any strides: a transposed (K, n, d) is fine). Unit-major layers
    chain without copies and give contiguous gradients; on short batches (training's) their
    products run faster than the sample-major ones of :class:`BatchedLinear` (K=64, n=128:
    ~10%), on long ones slower (n=1347: ~25%).
    """
    K, U, d = w.shape
    if x.dim() == 2:
        w2 = w.reshape(K * U, d)
        z = w2 @ x.t() if b is None else torch.addmm(b.reshape(K * U, 1), w2, x.t())
        return z.view(K, U, -1)
    return torch.bmm(w, x) if b is None else torch.baddbmm(b.unsqueeze(2), w, x)


class BatchedLinear(nn.Module):
    """K dense layers side by side.

    Args:
        members: number of members K.
        in_features, out_features: fan-in and number of units.
        bias: whether the layer has a bias.

    Shapes: weight (K, out_features, in_features), bias (K, out_features).
    Input (n, in_features) shared by all members, or (K, n, in_features); output (K, n, out).
    (The trainer's MLP step uses :func:`linear_units` instead: unit-major is faster for the
    short batches of training, this layout for the long ones of evaluation.)
    """

    def __init__(self, members: int, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(members, out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(members, out_features)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        K, U, d = self.weight.shape
        if x.dim() == 2:  # shared input: one wide product for all members
            out = (x @ self.weight.reshape(K * U, d).T).view(-1, K, U).transpose(0, 1)
            return out if self.bias is None else out + self.bias.unsqueeze(1)  # (K, n, U)
        wt = self.weight.transpose(1, 2)  # (K, in, out)
        if self.bias is None:
            return torch.bmm(x, wt)  # (K, n, out)
        return torch.baddbmm(self.bias.unsqueeze(1), x, wt)  # (K, n, out)


class BatchedConv2d(nn.Module):
    """K conv layers side by side, run as one grouped convolution.

    Shapes: weight (K, C_out, C_in, k, k), bias (K, C_out). The input and output use the
    packed layout (N, K*C, H, W) so consecutive layers need no transposes; a shared first-layer
    input (N, C_in, H, W) is convolved with all K*C_out filters at once (``shared=True``).

    Inputs are taken channels-last (C innermost in memory), so outputs come out channels-last:
    oneDNN's convolutions and PyTorch's pooling are several times faster on that layout on the
    CPU (max-pooling a packed NCHW layer costs as much as its convolution). A single-channel
    shared input is instead repeated into one channel per member (groups=K): oneDNN has no
    fast kernel for one input channel (3x3: ~7x slower), and channels-last cannot be told
    apart from the plain layout when C is 1.
    """

    def __init__(
        self,
        members: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
    ):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise UnitscopeError(f"`kernel_size` must be an odd integer >= 1, got {kernel_size}.")
        self.padding = kernel_size // 2
        k = kernel_size
        self.weight = nn.Parameter(torch.zeros(members, out_channels, in_channels, k, k))
        self.bias = nn.Parameter(torch.zeros(members, out_channels)) if bias else None

    def forward(self, x: Tensor, shared: bool = False) -> Tensor:
        """``shared``: x is (N, C_in, H, W) for every member; else packed (N, K*C_in, H, W).
        Returns (N, K*C_out, H, W), channels-last in memory."""
        K, c_out, c_in = self.weight.shape[:3]
        w = self.weight.reshape(K * c_out, *self.weight.shape[2:])  # (K*C_out, C_in, k, k)
        b = None if self.bias is None else self.bias.reshape(K * c_out)
        groups = 1 if shared else K
        if shared and c_in == 1 and K > 1:  # one channel per member: (N, K, H, W)
            x, groups = x.expand(-1, K, -1, -1), K
        x = x.contiguous(memory_format=torch.channels_last)
        return F.conv2d(x, w, b, padding=self.padding, groups=groups)
