"""Reused modules: one call of a module that runs several times per forward pass, by ``#k`` or
``call=``; without a choice the calls are listed. Unknown names show the closest few only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from unitscope._errors import UnitscopeError
from unitscope.measures import model_similarity_matrix
from unitscope.record import record_activations
from unitscope.record._hooks import module_names


class Block(nn.Module):
    """torchvision's BasicBlock in small: one ReLU module called twice per forward pass."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + x)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.layer1 = nn.Sequential(Block(4), Block(4))
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.layer1(self.stem(x)).mean((2, 3)))


@pytest.fixture
def net() -> Net:
    torch.manual_seed(0)
    return Net().double().eval()


def _by_hand(net: Net, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two outputs of layer1.0.relu, computed without hooks."""
    b = net.layer1[0]
    with torch.no_grad():
        h = net.stem(x)
        first = torch.relu(b.bn1(b.conv1(h)))
        second = torch.relu(b.bn2(b.conv2(first)) + h)
    return first, second


def test_a_reused_module_is_refused_with_its_calls_listed(net):
    x = torch.randn(3, 1, 5, 5, dtype=torch.float64)
    with pytest.raises(
        UnitscopeError,
        match=r"module 'layer1.0.relu' ran 2 times .* 'layer1.0.relu#0' or 'layer1.0.relu#1'",
    ):
        record_activations(net, x, ["layer1.0.relu", "fc"])
    assert all(not m._forward_hooks for m in net.modules())


def test_each_call_is_recorded_as_computed_by_hand(net):
    x = torch.randn(6, 1, 5, 5, dtype=torch.float64)
    first, second = _by_hand(net, x)
    got = record_activations(net, x, ["layer1.0.relu#0", "layer1.0.relu#1", "fc"])
    assert list(got) == ["layer1.0.relu#0", "layer1.0.relu#1", "fc"]
    np.testing.assert_allclose(got["layer1.0.relu#0"], first.numpy(), rtol=1e-6)
    np.testing.assert_allclose(got["layer1.0.relu#1"], second.numpy(), rtol=1e-6)
    assert not np.allclose(got["layer1.0.relu#0"], got["layer1.0.relu#1"])
    by_call = record_activations(net, x, "layer1.0.relu", call=1)["layer1.0.relu"]
    np.testing.assert_array_equal(by_call, got["layer1.0.relu#1"])
    per_layer = record_activations(net, x, ["layer1.1.relu", "fc"], call={"layer1.1.relu": 0})
    assert per_layer["layer1.1.relu"].shape == (6, 4, 5, 5)


def test_a_chosen_call_feeds_the_layer_matrix(net):
    x = torch.randn(40, 1, 5, 5, dtype=torch.float64)
    m = model_similarity_matrix(
        net, None, x, layers_a=["layer1.0.relu#1", "layer1.1.relu#1", "fc"], layout="NCHW"
    )
    assert m.rows == ["layer1.0.relu#1", "layer1.1.relu#1", "fc"]
    np.testing.assert_allclose(np.diag(m.values), 1.0, atol=1e-10)


@pytest.mark.parametrize(
    ("layers", "call", "message"),
    [
        ("layer1.0.relu#2", None, r"module 'layer1.0.relu' ran 2 time\(s\) .* call 2 does not"),
        ("layer1.0.relu#x", None, r"after '#' comes the call to record, .* 'layer1.0.relu#1'"),
        ("fc", 1, r"layer 'fc': module 'fc' ran 1 time\(s\) .* record 'fc#0'"),
        ("fc", -1, "`call` must be a call index >= 0"),
        ("fc", {"fc2": 0}, "unknown layer in `call` 'fc2'"),
    ],
)
def test_bad_calls_are_one_clear_line(net, layers, call, message):
    with pytest.raises(UnitscopeError, match=message):
        record_activations(net, torch.randn(2, 1, 5, 5, dtype=torch.float64), layers, call=call)


def test_an_unknown_name_lists_only_the_closest_names():
    wide = nn.Sequential(*[nn.Sequential(nn.Linear(2, 2), nn.ReLU()) for _ in range(70)])
    assert len(module_names(wide)) == 210
    with pytest.raises(UnitscopeError) as err:
        record_activations(wide, torch.randn(2, 2), "12.relu")
    text = str(err.value)
    assert "Closest of 210:" in text and "module_names(model)" in text
    assert text.count("'") <= 2 * 6 + 2  # the name asked for and five close ones
    assert len(text) < 300
