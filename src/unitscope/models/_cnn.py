"""A small convolutional network, K members at once."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._errors import UnitscopeError
from ._base import Noise, UnitModel
from ._layers import ACTIVATIONS, INPLACE, BatchedConv2d, BatchedLinear, get_activation
from ._unit_axes import ParamAxis, UnitAxes

POOLS = ("max", "avg", "none")
MONOTONE = ("relu", "tanh", "sigmoid", "linear")  # non-decreasing: they commute with max


class SmallCNN(UnitModel):
    """``[conv -> activation -> pool] * len(channels) -> flatten -> linear`` with K members.

    Convolutions keep the spatial size (padding ``kernel_size // 2``); each pool halves it.
    The studied layers are ``conv.0``, ``conv.1``, ... whose units are the feature maps
    (channels); the dense head is ``out``.

    Args:
        in_channels: channels of the input images.
        image_size: (height, width) of the input images.
        channels: number of feature maps of each conv layer.
        out_features: number of outputs.
        kernel_size: odd kernel size of every conv layer.
        pool: ``"max"``, ``"avg"`` or ``"none"`` (2x2, stride 2).
        activation: as for :class:`MLP`.
        bias: whether every layer has a bias.
        members: K.

    Example:
        >>> import torch
        >>> net = SmallCNN(1, (8, 8), [4, 6], 10, members=3)
        >>> out, hidden = net.forward_hidden(torch.zeros(5, 1, 8, 8))
        >>> out.shape, hidden["conv.1"].shape
        (torch.Size([3, 5, 10]), torch.Size([3, 5, 6, 4, 4]))
    """

    def __init__(
        self,
        in_channels: int,
        image_size: Sequence[int],
        channels: Sequence[int] = (8, 16),
        out_features: int = 10,
        *,
        kernel_size: int = 3,
        pool: str = "max",
        activation: str = "relu",
        bias: bool = True,
        members: int = 1,
    ):
        super().__init__()
        chans = [int(c) for c in channels]
        if pool not in POOLS:
            raise UnitscopeError(f"`pool` must be one of {POOLS}, got {pool!r}.")
        if not chans or min(chans) < 1 or members < 1:
            raise UnitscopeError(
                f"SmallCNN needs >= 1 conv layer with >= 1 channel, got channels={chans}."
            )
        h, w = (int(s) for s in image_size)
        shrink = 2 ** len(chans) if pool != "none" else 1
        if h < shrink or w < shrink:
            raise UnitscopeError(
                f"images of {h}x{w} are too small for {len(chans)} pooling layers; upsample them "
                "or use fewer conv layers."
            )
        self.act = get_activation(activation)
        self.pool = pool
        self.spec = dict(
            kind="cnn",
            in_channels=in_channels,
            image_size=[h, w],
            channels=chans,
            out_features=out_features,
            kernel_size=kernel_size,
            pool=pool,
            activation=activation,
            bias=bias,
        )
        sizes = [in_channels, *chans]
        self.conv = nn.ModuleList(
            BatchedConv2d(members, a, b, kernel_size, bias) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.final_hw = (h // shrink, w // shrink)
        self.out = BatchedLinear(
            members, chans[-1] * self.final_hw[0] * self.final_hw[1], out_features, bias
        )

    def forward_hidden(
        self, x: Tensor, noise: Noise | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        return self._run(x, noise, maps=True)

    def forward(self, x: Tensor, noise: Noise | None = None) -> Tensor:
        return self._run(x, noise, maps=False)[0]

    def _run(self, x: Tensor, noise: Noise | None, maps: bool) -> tuple[Tensor, dict[str, Tensor]]:
        """Outputs and, with ``maps``, every conv layer's activations (K, n, C, H, W).

        Without ``maps`` or dropout, a max-pooled layer is pooled before its activation: for a
        non-decreasing activation ``act(max(z)) == max(act(z))`` exactly, and the activation
        then runs on a quarter of the numbers (the gradient is the same too, but for exact
        ties between positive values).
        """
        K = self.members
        if x.dim() == 5 and x.shape[0] == K:  # one batch per member (K, n, C, H, W)
            n, shared = x.shape[1], False
            x = x.transpose(0, 1).reshape(n, -1, *x.shape[3:])  # packed (n, K*C_in, H, W)
        elif x.dim() == 4:  # (n, C_in, H, W) shared by all members
            n, shared = x.shape[0], True
        else:
            raise UnitscopeError(
                "SmallCNN expects images (n, channels, height, width) or (K, n, channels, height, "
                f"width), got shape {tuple(x.shape)}."
            )
        name = self.spec["activation"]
        act = self.act
        standard = act is ACTIVATIONS[name]  # not replaced (views.deconvnet swaps it)
        if standard:
            act = INPLACE.get(name, act)  # on the fresh outputs of conv and pool
        pool_first = not maps and noise is None and self.pool == "max" and standard
        pool_first = pool_first and name in MONOTONE
        hidden = {}
        h = x
        for i, layer in enumerate(self.conv):
            h = layer(h, shared=shared and i == 0)  # (n, K*C_i, H_i, W_i), packed, channels-last
            if pool_first:
                h = act(F.max_pool2d(h, 2))
                continue
            h = act(h)
            C = self.spec["channels"][i]
            # reshape, not view: the layout is channels-last; splitting K*C into (K, C) is a view
            hidden[f"conv.{i}"] = h.reshape(n, K, C, *h.shape[2:]).transpose(
                0, 1
            )  # (K, n, C, H, W)
            if noise is not None:
                dropped = noise(i, hidden[f"conv.{i}"])  # (K, n, C, H, W)
                h = dropped.transpose(0, 1).reshape(h.shape)
                h = h.contiguous(memory_format=torch.channels_last)
            if self.pool == "max":
                h = F.max_pool2d(h, 2)
            elif self.pool == "avg":
                h = F.avg_pool2d(h, 2)
        # (K, n, C*H*W), channel-major per member; a contiguous copy first (it is small) keeps
        # the gradient coming back in the layout the pooling's backward reads fastest
        flat = h.contiguous().reshape(n, K, -1).transpose(0, 1)
        return self.out(flat), hidden

    def per_sample_numel(self) -> int:
        h, w = self.spec["image_size"]
        total = self.spec["out_features"]
        for channels in self.spec["channels"]:  # odd kernels, padding k // 2: size kept
            total += channels * h * w
            if self.pool != "none":
                h, w = h // 2, w // 2
        return self.members * total

    def layer_kinds(self) -> dict[str, str]:
        return {name: "conv" for name in self.layers}

    def unit_axes(self) -> dict[str, UnitAxes]:
        axes = {}
        last = len(self.conv) - 1
        for i, channels in enumerate(self.spec["channels"]):
            name = f"conv.{i}"
            incoming = [ParamAxis(f"{name}.weight", 1)]
            if self.spec["bias"]:
                incoming.append(ParamAxis(f"{name}.bias", 1))
            if i < last:
                outgoing = ParamAxis(f"conv.{i + 1}.weight", 2)
            else:
                outgoing = ParamAxis("out.weight", 2, block=self.final_hw[0] * self.final_hw[1])
            axes[name] = UnitAxes(name, channels, tuple(incoming), (outgoing,))
        return axes
