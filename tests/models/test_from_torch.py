"""MLP.from_torch: a plain nn.Sequential becomes unitscope's MLP computing the same function
(float64, 1e-12); every layout it cannot represent is refused with one line."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from unitscope._errors import UnitscopeError
from unitscope.match import permute, random_perms, weights
from unitscope.models import MLP


def _seq(*layers: nn.Module, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(*layers).double()


@pytest.mark.parametrize(
    ("act", "name"),
    [(nn.ReLU, "relu"), (nn.Tanh, "tanh"), (nn.Sigmoid, "sigmoid"), (nn.GELU, "gelu")],
)
@pytest.mark.parametrize("bias", [True, False])
def test_same_outputs_and_hidden_units_in_float64(act, name, bias):
    seq = _seq(
        nn.Linear(5, 7, bias=bias),
        act(),
        nn.Linear(7, 6, bias=bias),
        act(),
        nn.Linear(6, 3, bias=bias),
    )
    net = MLP.from_torch(seq)
    assert net.spec["activation"] == name and net.spec["hidden"] == [7, 6]
    assert net.spec["bias"] is bias and net.members == 1
    assert next(net.parameters()).dtype == torch.float64
    x = torch.randn(50, 5, dtype=torch.float64)
    out, hidden = net.forward_hidden(x)
    with torch.no_grad():
        want = seq(x)
        h0 = seq[1](seq[0](x))
    torch.testing.assert_close(out[0], want, rtol=0, atol=1e-12)
    torch.testing.assert_close(hidden["hidden.0"][0], h0, rtol=0, atol=1e-12)
    assert torch.equal(net.hidden[0].weight[0], seq[0].weight)  # copied, not recomputed


def test_flatten_first_and_no_hidden_layer():
    seq = _seq(nn.Flatten(), nn.Linear(12, 4), nn.ReLU(), nn.Linear(4, 2))
    x = torch.randn(9, 3, 2, 2, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(MLP.from_torch(seq)(x)[0], seq(x), rtol=0, atol=1e-12)
    linear = MLP.from_torch(_seq(nn.Linear(3, 2)))
    assert linear.layers == [] and linear.spec["activation"] == "linear"


def test_the_converted_pair_goes_through_weight_matching():
    a = MLP.from_torch(_seq(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2), seed=1))
    b = permute(a, random_perms(a, seed=3))
    found = weights(a, b)
    x = torch.randn(20, 4, dtype=torch.float64)
    torch.testing.assert_close(permute(b, found.perms)(x), a(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            (nn.Linear(3, 4), nn.ReLU(), nn.Dropout(), nn.Linear(4, 2)),
            "layer 2 is Dropout where a Linear",
        ),
        ((nn.ReLU(), nn.Linear(3, 2)), "layer 0 is ReLU where a Linear"),
        ((nn.Linear(3, 4), nn.ReLU()), "must start and end with a Linear"),
        ((), "must start and end with a Linear"),
        ((nn.Linear(3, 4), nn.Linear(4, 2)), "layer 1 is Linear where an activation"),
        ((nn.Linear(3, 4), nn.LeakyReLU(), nn.Linear(4, 2)), "layer 1 is LeakyReLU"),
        (
            (nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)),
            r"different activations \['relu', 'tanh'\]",
        ),
        (
            (nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 2)),
            "some Linear layers have a bias",
        ),
        ((nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 2)), "Linear 2 reads 5 features but the layer"),
        ((nn.Linear(3, 4), nn.GELU("tanh"), nn.Linear(4, 2)), "GELU\\(approximate='tanh'\\)"),
        ((nn.Flatten(2), nn.Linear(3, 2)), "must flatten every axis after the batch"),
        ((nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Linear(2, 2)), "layer 0 is Conv2d"),
    ],
)
def test_anything_else_is_refused(layers, message):
    with pytest.raises(UnitscopeError, match=message):
        MLP.from_torch(nn.Sequential(*layers))


def test_only_a_sequential():
    with pytest.raises(UnitscopeError, match="takes an nn.Sequential .* got Linear"):
        MLP.from_torch(nn.Linear(3, 2))
