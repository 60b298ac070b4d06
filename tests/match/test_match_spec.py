"""Tracing permutation specs of plain torch networks: what moves together, what stays fixed.

Every traced spec passes its own self-check (random permutations keep the outputs, float64);
here we also pin the groups' structure, permute and match each network, and check that what
cannot be permuted is said, with the reason, instead of guessed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unitscope import match
from unitscope._errors import UnitscopeError


def _randomized(net: nn.Module, seed: int = 0) -> nn.Module:
    """Float64, every parameter and BatchNorm statistic random, eval mode."""
    torch.manual_seed(seed)
    net = net.double()
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.is_floating_point():
                t.copy_(0.5 * torch.randn_like(t) + (1.0 if name.endswith("running_var") else 0))
                if name.endswith("running_var"):
                    t.abs_()
    return net.eval()


def _axes(spec, group: str) -> set[tuple[str, int, int, int]]:
    return {(a.tensor, a.axis, a.offset, a.block) for a in spec.groups[group].axes}


def _roundtrip(net: nn.Module, x: Tensor, spec, seed: int = 0) -> None:
    """Permuting keeps the function; a planted permutation is recovered exactly."""
    perms = match.random_perms(spec, seed=seed)
    moved = match.permute(net, perms, spec=spec)
    assert (moved(x) - net(x)).abs().max() <= 1e-10
    found = match.weights(net, moved, spec=spec)
    inverse = match.invert(perms)
    assert all(np.array_equal(found.perms[g][0], inverse[g]) for g in spec.groups)


class Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.left = nn.Conv2d(2, 3, 3, padding=1)
        self.right = nn.Conv2d(2, 5, 1)
        self.mix = nn.Conv2d(8, 4, 3, padding=1)
        self.head = nn.Linear(4 * 16, 3)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.cat([F.relu(self.left(x)), torch.tanh(self.right(x))], dim=1)
        h = F.relu(self.mix(h))
        return self.head(h.view(h.size(0), -1))  # channels -> blocks of 4 x 4 columns


class Depthwise(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.dw = nn.Conv2d(4, 8, 3, padding=1, groups=4)  # channel multiplier 2
        self.ln = nn.GroupNorm(1, 8)
        self.pw = nn.Conv2d(8, 6, 1)
        self.head = nn.Linear(6, 2)

    def forward(self, x: Tensor) -> Tensor:
        h = self.dw(F.relu(self.bn(self.stem(x))))
        h = F.gelu(self.pw(self.ln(h)))
        return self.head(h.mean(dim=(2, 3)))


class Shared(nn.Module):
    """One Linear applied twice (its input and output axes become one group), LayerNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(3, 6)
        self.hidden = nn.Linear(6, 6)
        self.norm = nn.LayerNorm(6)
        self.out = nn.Linear(6, 2)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.inp(x))
        h = torch.relu(self.hidden(h))
        h = self.norm(self.hidden(h))
        return self.out(h)


class SqueezeExcite(nn.Module):
    """A MobileNet-style block: depthwise conv, a squeeze-excitation gate, Hardswish."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(2, 6, 1)
        self.dw = nn.Conv2d(6, 6, 3, padding=1, groups=6)
        self.squeeze = nn.Conv2d(6, 3, 1)
        self.excite = nn.Conv2d(3, 6, 1)
        self.act = nn.Hardswish()
        self.head = nn.Linear(6, 2)

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.dw(self.stem(x)))
        gate = F.adaptive_avg_pool2d(h, 1)
        gate = F.hardsigmoid(self.excite(torch.relu(self.squeeze(gate))))
        h = h * gate  # the gate's channels are the gated channels
        return self.head(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class ChannelsLast(nn.Module):
    """A ConvNeXt-style block: depthwise conv, channels-last LayerNorm and MLP, a layer-scale
    parameter, a residual addition."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 2, stride=2)
        self.dw = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.norm = nn.LayerNorm(4)
        self.up = nn.Linear(4, 8)
        self.down = nn.Linear(8, 4)
        self.gamma = nn.Parameter(torch.ones(4))
        self.head = nn.Linear(4, 3)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        h = self.dw(x).permute(0, 2, 3, 1)  # (n, H, W, C)
        h = self.down(F.gelu(self.up(self.norm(h))))
        x = x + (self.gamma * h).permute(0, 3, 1, 2)
        return self.head(x.mean(dim=(2, 3)))


def test_sequential_mlp():
    net = _randomized(nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 6), nn.Tanh(),
                                    nn.Linear(6, 3)))  # fmt: skip
    x = torch.randn(9, 5, dtype=torch.float64)
    spec = match.permutation_spec(net, x)
    assert spec.sizes == {"0": 7, "2": 6}
    assert _axes(spec, "0") == {("0.weight", 0, 0, 1), ("0.bias", 0, 0, 1), ("2.weight", 1, 0, 1)}
    assert spec.fixed == {"4": "model output"}
    _roundtrip(net, x, spec)


def test_concatenation_and_flatten_lay_units_side_by_side():
    net = _randomized(Concat())
    x = torch.randn(6, 2, 4, 4, dtype=torch.float64)
    spec = match.permutation_spec(net, x)
    assert spec.sizes == {"left": 3, "right": 5, "mix": 4}
    assert ("mix.weight", 1, 0, 1) in _axes(spec, "left")
    assert ("mix.weight", 1, 3, 1) in _axes(spec, "right")  # after the 3 left channels
    assert ("head.weight", 1, 0, 16) in _axes(spec, "mix")  # 4 x 4 positions per channel
    _roundtrip(net, x, spec, seed=1)


def test_depthwise_convolution_passes_the_permutation_through():
    net = _randomized(Depthwise())
    x = torch.randn(5, 1, 6, 6, dtype=torch.float64)
    spec = match.permutation_spec(net, x)
    assert spec.sizes == {"stem": 4, "pw": 6}  # no group of its own for the depthwise conv
    stem = _axes(spec, "stem")
    assert {("dw.weight", 0, 0, 2), ("dw.bias", 0, 0, 2), ("ln.weight", 0, 0, 2)} <= stem
    assert ("bn.running_var", 0, 0, 1) in stem
    _roundtrip(net, x, spec, seed=2)


def test_a_gate_joins_its_units_with_the_gated_channels():
    net = _randomized(SqueezeExcite())
    x = torch.randn(5, 2, 4, 4, dtype=torch.float64)
    spec = match.permutation_spec(net, x)
    assert spec.sizes == {"stem": 6, "squeeze": 3}
    assert set(spec.groups["stem"].producers) == {"stem", "excite"}
    _roundtrip(net, x, spec, seed=6)


def test_channels_last_blocks_follow_the_moved_axis():
    net = _randomized(ChannelsLast())
    x = torch.randn(4, 1, 6, 6, dtype=torch.float64)
    spec = match.permutation_spec(net, x)
    assert spec.sizes == {"stem": 4, "up": 8}
    stem = _axes(spec, "stem")
    assert {("gamma", 0, 0, 1), ("norm.weight", 0, 0, 1), ("up.weight", 1, 0, 1)} <= stem
    assert {("down.weight", 0, 0, 1), ("head.weight", 1, 0, 1)} <= stem
    _roundtrip(net, x, spec, seed=7)


def test_a_module_called_twice_joins_its_input_and_output_units():
    net = _randomized(Shared())
    x = torch.randn(7, 3, dtype=torch.float64)
    spec = match.permutation_spec(net, x)
    assert spec.sizes == {"inp": 6}  # inp's units feed hidden, whose units feed hidden again
    assert ("hidden.weight", 1, 0, 1) in _axes(spec, "inp")
    assert ("norm.weight", 0, 0, 1) in _axes(spec, "inp")
    _roundtrip(net, x, spec, seed=3)


def test_repair_of_a_module_called_twice_goes_point_by_point():
    from unitscope.match._module_line import _repair_one_pass, channel_stats

    net = _randomized(Shared())
    x = torch.randn(40, 3, dtype=torch.float64)
    spec = match.permutation_spec(net, x)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    targets = channel_stats(net, lambda: iter([(x, None)]), spec.repair)
    assert not _repair_one_pass(net, targets, x, spec)  # `hidden` runs twice: refused ...
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # ... untouched
    other = _randomized(Shared(), seed=1)
    mid = match.repair(net, other, x, spec=spec)
    assert {p.module for p in spec.repair} == {"inp", "hidden", "norm"}
    halfway = {k: torch.lerp(v, other.state_dict()[k], 0.5) for k, v in before.items()}
    assert torch.equal(mid.out.weight, halfway["out.weight"])  # the head is no repair point
    assert not torch.allclose(mid.hidden.weight, halfway["hidden.weight"], atol=1e-3)


def test_a_module_that_reads_unpermuted_inputs_once_is_fixed():
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.out = nn.Linear(4, 2)

        def forward(self, x: Tensor) -> Tensor:
            return self.out(self.fc(torch.relu(self.fc(x))))

    net = _randomized(Twice())
    spec = match.permutation_spec(net, torch.randn(3, 4, dtype=torch.float64))
    assert spec.groups == {}
    assert "fc" in spec.fixed and "different unit layouts" in spec.fixed["fc"]


def test_what_cannot_be_permuted_is_fixed_with_the_reason():
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Linear(3, 8)
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.grouped = nn.Conv1d(8, 8, 1, groups=2)
            self.gn = nn.GroupNorm(2, 8)
            self.ff = nn.Linear(8, 5)
            self.out = nn.Linear(5, 2)

        def forward(self, x: Tensor) -> Tensor:
            h = self.embed(x)  # (n, tokens, 8)
            h = h + self.attn(h, h, h, need_weights=False)[0]
            h = self.grouped(self.gn(h.transpose(1, 2))).transpose(1, 2)
            return self.out(torch.relu(self.ff(h))).mean(1)

    net = _randomized(Mixed())
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    spec = match.permutation_spec(net, x)
    assert spec.sizes == {"ff": 5}
    assert "attention" in spec.fixed["attn"] and "attention" in spec.fixed["embed"]
    assert spec.fixed["grouped"] == "grouped convolution (groups=2): channels stay in place"
    assert "GroupNorm with 2 groups" in spec.fixed["gn"]
    assert spec.fixed["out"] == "model output"
    assert "kept in place:" in spec.describe()
    _roundtrip(net, x, spec, seed=4)


def test_transformer_layers_expose_their_feed_forward_units():
    """torch.nn's transformer layers are read whole: each layer's feed-forward hidden units
    are a group (in a stack too, and with a GELU), recovered exactly after a planted
    permutation; attention keeps the embedding axis, so the layer's input and output stay in
    place with the reason; a custom activation that mixes units leaves its layer alone."""

    class Tokens(nn.Module):
        def __init__(self, activation: object = "relu") -> None:
            super().__init__()
            self.embed = nn.Linear(3, 8)
            layer = nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, batch_first=True)
            self.stack = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.last = nn.TransformerEncoderLayer(
                8,
                2,
                10,
                dropout=0.0,
                activation=activation,
                batch_first=True,  # type: ignore[arg-type]
            )
            self.head = nn.Linear(8, 2)

        def forward(self, x: Tensor) -> Tensor:
            return self.head(self.last(self.stack(self.embed(x))).mean(1))

    x = torch.randn(4, 5, 3, dtype=torch.float64)
    net = _randomized(Tokens("gelu"))
    spec = match.permutation_spec(net, x)
    assert spec.sizes == {
        "stack.layers.0.linear1": 12,
        "stack.layers.1.linear1": 12,
        "last.linear1": 10,
    }
    assert _axes(spec, "last.linear1") == {
        ("last.linear1.weight", 0, 0, 1), ("last.linear1.bias", 0, 0, 1),
        ("last.linear2.weight", 1, 0, 1),
    }  # fmt: skip
    assert "attention keeps the embedding axis" in spec.fixed["embed"]
    assert "TransformerEncoder: attention" in spec.fixed["stack"]
    _roundtrip(net, x, spec, seed=2)

    mixing = _randomized(Tokens(lambda h: h - h.mean(-1, keepdim=True)))
    spec = match.permutation_spec(mixing, x)
    assert sorted(spec.sizes) == ["stack.layers.0.linear1", "stack.layers.1.linear1"]


def test_untraceable_control_flow_is_one_clear_line():
    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x: Tensor) -> Tensor:
            return self.fc(x) if x.sum() > 0 else -self.fc(x)

    with pytest.raises(
        UnitscopeError, match=r"^cannot trace Branchy with torch.fx \(.*\); control"
    ):
        match.permutation_spec(Branchy(), torch.randn(2, 3))
    with pytest.raises(UnitscopeError, match=r"the example input does not run through Sequential"):
        match.permutation_spec(nn.Sequential(nn.Linear(3, 2)), torch.randn(2, 4))
    with pytest.raises(UnitscopeError, match=r"`model` must be a torch nn.Module, got dict"):
        match.permutation_spec({}, torch.randn(2, 4))


def test_self_check_catches_a_spec_that_misses_an_axis():
    net = _randomized(Depthwise())
    x = torch.randn(4, 1, 6, 6, dtype=torch.float64)
    spec = match.permutation_spec(net, x)
    stem = spec.groups["stem"]
    broken = match.Group(
        stem.name, stem.size, tuple(a for a in stem.axes if a.tensor != "bn.running_mean")
    )
    bad = match.PermutationSpec({**spec.groups, "stem": broken}, params=spec.params)
    with pytest.raises(UnitscopeError, match=r"self-check failed: permuting group 'stem' changes"):
        bad.check(net, x)
    assert spec.check(net, x) <= 1e-12


def test_a_hand_written_spec_works_like_a_traced_one():
    net = _randomized(nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)))
    x = torch.randn(5, 4, dtype=torch.float64)
    hand = match.PermutationSpec(
        {
            "h": match.Group(
                "h",
                6,
                (match.Axis("0.weight", 0), match.Axis("0.bias", 0), match.Axis("2.weight", 1)),
            )
        }  # fmt: skip
    )
    assert hand.check(net, x) <= 1e-12
    _roundtrip(net, x, hand, seed=5)
