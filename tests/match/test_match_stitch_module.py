"""Stitching plain torch modules: the same numbers as unitscope's MLP for the same network, a
planted channel permutation recovered position by position, residual nets, channels-last
layers, and every error path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from unitscope._errors import UnitscopeError
from unitscope.match import stitch
from unitscope.models import MLP


def _seq(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 7), nn.Tanh(), nn.Linear(7, 3)
    ).double()


def _data(shape: tuple[int, ...], classes: int = 3, n: int = 96, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=g)
    return {"train": (x[:64], y[:64]), "test": (x[64:], y[64:])}


def test_a_sequential_stitches_exactly_like_its_mlp():
    a, b = _seq(0), _seq(1)
    data = _data((6,))
    kw = dict(fits=["direct", "permutation", "task"], controls=["self", "input", "untrained"])
    mine = stitch(
        a, b, data, layers_a=["1", "3"], layers_b=["1", "3"], untrained=_seq(2), task_steps=20, **kw
    )
    ref = stitch(
        MLP.from_torch(a),
        MLP.from_torch(b),
        data,
        untrained=MLP.from_torch(_seq(2)),
        task_steps=20,
        **kw,
    )
    assert mine.target == pytest.approx(ref.target, abs=1e-12)
    for source in ("trained", "self", "input", "untrained"):
        for fit in ("direct", "permutation", "task"):
            got, want = mine.matrix(fit, source, "loss"), ref.matrix(fit, source, "loss")
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert mine.layers_a == ["1", "3"] and ref.layers_a == ["hidden.0", "hidden.1"]


class ConvNet(nn.Module):
    """conv -> relu -> conv -> relu -> mean -> fc, on 1x6x6 images."""

    def __init__(self, seed: int, c: int = 5) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv1, self.act1 = nn.Conv2d(1, c, 3, padding=1), nn.ReLU()
        self.conv2, self.act2 = nn.Conv2d(c, 4, 3, padding=1), nn.ReLU()
        self.pool, self.fc = nn.AvgPool2d(2), nn.Linear(4 * 9, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act2(self.conv2(self.act1(self.conv1(x))))
        return self.fc(self.pool(h).flatten(1))


def _permuted(net: ConvNet, perm: list[int]) -> ConvNet:
    """The same function with conv1's channels in another order."""
    other = ConvNet(0).double()
    other.load_state_dict(net.state_dict())
    with torch.no_grad():
        other.conv1.weight.copy_(net.conv1.weight[perm])
        other.conv1.bias.copy_(net.conv1.bias[perm])
        other.conv2.weight.copy_(net.conv2.weight[:, perm])
    return other


def test_a_planted_channel_permutation_is_recovered_at_every_position():
    a = ConvNet(3).double()
    perm = [3, 0, 4, 1, 2]  # channel i of B is channel perm[i] of A
    b = _permuted(a, perm)
    data = _data((1, 6, 6))
    s = stitch(
        a,
        b,
        data,
        layers_a=["act1"],
        layers_b=["act1"],
        fits=["permutation", "direct"],
        controls=["input"],
        layout={"act1": "NCHW"},  # the input has no layout: flattened per sample
    )
    e = s.entry("trained", "permutation", "act1", "act1")
    assert e.map is not None and e.map.perm is not None
    assert [perm.index(i) for i in range(5)] == e.map.perm.tolist()  # unit i of A -> B's slot
    assert e.penalty["test_loss"] == pytest.approx(0.0, abs=1e-12)
    assert s.entry("trained", "direct", "act1", "act1").penalty["test_loss"] == pytest.approx(
        0.0, abs=1e-8
    )
    raw = s.entry("input", "direct", "input", "act1")  # flattened input vs 36 positions
    assert math.isnan(raw.penalty["test_loss"]) and "position(s) per sample" in raw.note


def test_the_raw_input_stitches_position_by_position_when_its_layout_is_given():
    a, b = ConvNet(0).double(), ConvNet(1).double()
    s = stitch(
        a,
        b,
        _data((1, 6, 6)),
        layers_a=["act1"],
        layers_b=["act1", "fc"],
        fits=["direct"],
        controls=["input"],
        layout={"input": "NCHW", "act1": "NCHW"},
    )
    into_maps = s.entry("input", "direct", "input", "act1")
    assert np.isfinite(into_maps.penalty["test_loss"]) and not into_maps.note
    across = s.entry("trained", "direct", "act1", "fc")  # 36 positions into a dense layer
    assert math.isnan(across.penalty["test_loss"]) and "36 position(s)" in across.note


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + x)


class ResNet(nn.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.layer1, self.layer2 = Block(4), Block(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.layer2(self.layer1(self.stem(x))).mean((2, 3)))


def _trained_bn(net: ResNet, x: torch.Tensor) -> ResNet:
    net.train()
    with torch.no_grad():
        net(x)  # BatchNorm running statistics that differ from the defaults
    return net


def test_a_resnet_into_itself_costs_nothing_and_is_left_as_it_was():
    data = _data((1, 6, 6))
    a = _trained_bn(ResNet(0).double(), data["train"][0])
    a.layer2.eval()  # a mixed train/eval state must come back as it was
    stats = {k: v.clone() for k, v in a.state_dict().items()}
    s = stitch(
        a,
        a,
        data,
        layers_a=["layer1", "layer1.relu#0"],
        layers_b=["layer1", "layer2"],
        fits=["direct", "task"],
        controls=["self"],
        layout="NCHW",
        task_steps=5,
    )
    self_direct = s.matrix("direct", "self", "loss")
    np.testing.assert_allclose(np.diag(self_direct), 0.0, atol=1e-8)
    assert s.entry("trained", "direct", "layer1", "layer1").penalty["test_loss"] == pytest.approx(
        0.0, abs=1e-8
    )
    assert np.isfinite(s.matrix("task", "trained", "loss")).all()
    assert all(torch.equal(stats[k], v) for k, v in a.state_dict().items())
    assert a.training and not a.layer2.training and a.layer1.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in a.modules())
    assert all(p.requires_grad for p in a.parameters())


class ChannelsLast(nn.Module):
    """A ConvNeXt-like pointwise layer that works channels-last: (N, H, W, C)."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pw = nn.Linear(4, 6)
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.pw(self.conv(x).permute(0, 2, 3, 1)))  # (N, H, W, 6)
        return self.fc(h.mean((1, 2)))


def test_channels_last_layers_are_stitched_with_their_layout():
    a = ChannelsLast(0).double()
    data = _data((1, 5, 5))
    with pytest.raises(UnitscopeError, match=r"layer 'pw' of `model_a`: .*could be .*'NHWC'"):
        stitch(a, a, data, layers_a=["pw"], layers_b=["pw"], controls=[])
    s = stitch(
        a,
        a,
        data,
        layers_a=["pw"],
        layers_b=["pw"],
        fits=["permutation"],
        controls=[],
        layout={"pw": "NHWC"},
    )
    e = s.entry("trained", "permutation", "pw", "pw")
    assert e.map is not None and e.map.perm is not None
    assert e.map.perm.tolist() == list(range(6)) and e.penalty["test_loss"] == pytest.approx(0.0)
    wrong = stitch(
        a,
        a,
        data,
        layers_a=["pw"],
        layers_b=["pw"],
        fits=["permutation"],
        controls=[],
        layout={"pw": "NCHW"},  # reading W as the units: 5 "units", not the same function
    )
    assert wrong.entry("trained", "permutation", "pw", "pw").map.perm.shape == (5,)


class TupleOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor):
        return self.fc(x), x


def test_errors_are_one_clear_line():
    a, data = _seq(0), _data((6,))
    with pytest.raises(UnitscopeError, match=r"is a torch module, so name its layers .*layers_a="):
        stitch(a, a, data)
    with pytest.raises(UnitscopeError, match="unknown layer '9'"):
        stitch(a, a, data, layers_a=["9"], layers_b=["1"])
    with pytest.raises(UnitscopeError, match="`layers_b` names a layer twice"):
        stitch(a, a, data, layers_a=["1"], layers_b=["1", "1"])
    with pytest.raises(UnitscopeError, match=r"must return \(n, n_outputs\) .* got tuple"):
        stitch(TupleOut().double(), a, data, layers_a=["fc"], layers_b=["1"], controls=[])
    wide = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 5)).double()
    with pytest.raises(UnitscopeError, match=r"outputs of the same shape .* \(2, 3\) and \(2, 5\)"):
        stitch(a, wide, data, layers_a=["1"], layers_b=["1"], controls=[])
    with pytest.raises(UnitscopeError, match="must be a unitscope MLP or a torch nn.Module"):
        stitch("net", a, data, controls=[])
