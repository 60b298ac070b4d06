"""The multilayer perceptron, K members at once."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from .._errors import UnitscopeError
from ._base import Noise, UnitModel
from ._layers import BatchedLinear, get_activation
from ._unit_axes import ParamAxis, UnitAxes


class MLP(UnitModel):
    """Dense network ``in -> hidden[0] -> ... -> hidden[-1] -> out`` with K members.

    Args:
        in_features: input dimension.
        hidden: widths of the hidden layers, named ``hidden.0``, ``hidden.1``, ...
        out_features: number of outputs (classes or regression targets).
        activation: ``relu``, ``tanh``, ``sigmoid``, ``gelu`` or ``linear``.
        bias: whether every layer has a bias.
        members: K, the number of independent networks held side by side.

    Example:
        >>> import torch
        >>> net = MLP(2, [8, 8], 3, members=4)
        >>> net(torch.zeros(5, 2)).shape
        torch.Size([4, 5, 3])
        >>> net.layers
        ['hidden.0', 'hidden.1']
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (32,),
        out_features: int = 1,
        *,
        activation: str = "relu",
        bias: bool = True,
        members: int = 1,
    ):
        super().__init__()
        widths = [int(w) for w in hidden]
        if any(w < 1 for w in widths) or in_features < 1 or out_features < 1 or members < 1:
            raise UnitscopeError(
                f"MLP sizes must be >= 1, got in_features={in_features}, hidden={widths}, "
                f"out_features={out_features}, members={members}."
            )
        self.act = get_activation(activation)
        self.spec = dict(
            kind="mlp",
            in_features=in_features,
            hidden=widths,
            out_features=out_features,
            activation=activation,
            bias=bias,
        )
        sizes = [in_features, *widths]
        self.hidden = nn.ModuleList(
            BatchedLinear(members, a, b, bias) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.out = BatchedLinear(members, sizes[-1], out_features, bias)

    @classmethod
    def from_torch(cls, seq: nn.Module) -> MLP:
        """unitscope's MLP (K=1) from a plain ``nn.Sequential`` of Linear and activation layers.

        ``[Flatten,] Linear, act, ..., Linear`` with one activation kind (ReLU, Tanh, Sigmoid or
        exact GELU) and biases on every Linear or on none; the weights are copied exactly, in
        their own dtype. Anything else is refused with one line.

        Example:
            >>> import torch
            >>> seq = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(),
            ...                           torch.nn.Linear(5, 2)).double()
            >>> net = MLP.from_torch(seq)
            >>> x = torch.randn(4, 3, dtype=torch.float64)
            >>> net.layers, bool(torch.allclose(net(x)[0], seq(x), rtol=0, atol=1e-12))
            (['hidden.0'], True)
        """
        from ._convert import mlp_from_sequential

        return mlp_from_sequential(seq)

    def forward_hidden(
        self, x: Tensor, noise: Noise | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        if x.dim() > 2 and x.dim() != 3:
            x = x.flatten(1)  # images (n, C, H, W) -> (n, C*H*W)
        hidden = {}
        h = x  # (n, in) or (K, n, in)
        for i, layer in enumerate(self.hidden):
            h = self.act(layer(h))  # (K, n, U_i)
            hidden[f"hidden.{i}"] = h
            if noise is not None:
                h = noise(i, h)
        return self.out(h), hidden  # (K, n, out)

    def per_sample_numel(self) -> int:
        return self.members * (sum(self.spec["hidden"]) + self.spec["out_features"])

    def layer_kinds(self) -> dict[str, str]:
        return {name: "dense" for name in self.layers}

    def unit_axes(self) -> dict[str, UnitAxes]:
        axes = {}
        names = [f"hidden.{i}" for i in range(len(self.hidden))] + ["out"]
        for i, width in enumerate(self.spec["hidden"]):
            incoming = [ParamAxis(f"{names[i]}.weight", 1)]
            if self.spec["bias"]:
                incoming.append(ParamAxis(f"{names[i]}.bias", 1))
            outgoing = (ParamAxis(f"{names[i + 1]}.weight", 2),)
            axes[names[i]] = UnitAxes(names[i], width, tuple(incoming), outgoing)
        return axes
