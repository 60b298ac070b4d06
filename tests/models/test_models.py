"""Batched models: shapes, member independence, unit axes, hand-set weights."""

from __future__ import annotations

import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.init import initialize
from unitscope.models import MLP, SmallCNN, UnitModel, build


def test_mlp_hand_set_weights_give_hand_computed_output():
    net = MLP(2, [2], 1, activation="relu", members=1)
    with torch.no_grad():
        net.hidden[0].weight[0] = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
        net.hidden[0].bias[0] = torch.tensor([0.0, 1.0])
        net.out.weight[0] = torch.tensor([[2.0, 3.0]])
        net.out.bias[0] = torch.tensor([0.5])
    x = torch.tensor([[1.0, 2.0], [-1.0, -3.0]])
    # unit 0: relu(x0); unit 1: relu(1 - x1)
    expected = torch.tensor([[2 * 1 + 3 * 0 + 0.5], [0 + 3 * 4 + 0.5]])
    out, hidden = net.forward_hidden(x)
    torch.testing.assert_close(out[0], expected)
    torch.testing.assert_close(hidden["hidden.0"][0], torch.tensor([[1.0, 0.0], [0.0, 4.0]]))


@pytest.mark.parametrize(
    "make",
    [
        lambda K: MLP(64, [8, 5], 10, members=K, activation="tanh"),
        lambda K: SmallCNN(1, (8, 8), [3, 4], 10, members=K),
    ],
)
def test_each_member_equals_its_own_single_model(make):
    net = initialize(make(3), "kaiming", seeds=[0, 1, 2])
    x = torch.randn(7, 64) if isinstance(net, MLP) else torch.randn(7, 1, 8, 8)
    out = net(x)
    for k in range(3):
        torch.testing.assert_close(out[k], net.select([k])(x)[0], atol=1e-6, rtol=1e-5)
    # per-member inputs (K, n, ...) give each member its own batch
    xs = torch.stack([x, 2 * x, -x])
    outs = net(xs)
    torch.testing.assert_close(outs[1], net.select([1])(2 * x)[0], atol=1e-5, rtol=1e-5)


def test_cnn_accepts_inputs_of_any_memory_layout():
    net = initialize(SmallCNN(3, (8, 8), [3, 4], 5, members=2), "kaiming", seeds=[0, 1])
    x = torch.randn(6, 3, 8, 8)
    want, hidden = net.forward_hidden(x)
    for other in (
        x.to(memory_format=torch.channels_last),
        x.permute(0, 2, 3, 1).permute(0, 3, 1, 2),
    ):
        got, got_hidden = net.forward_hidden(other)  # conv outputs follow the input's layout
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(got_hidden["conv.1"], hidden["conv.1"], rtol=1e-5, atol=1e-6)


def test_unit_axes_cover_cnn_flatten_blocks():
    net = SmallCNN(1, (8, 8), [3, 4], 10)
    axes = net.unit_axes()
    assert list(axes) == ["conv.0", "conv.1"]
    last = axes["conv.1"].outgoing[0]
    assert (last.param, last.axis, last.block) == ("out.weight", 2, 4)  # 8 -> 4 -> 2: 2x2
    assert net.out.weight.shape[2] == 4 * 4


def test_stack_and_select_round_trip():
    net = initialize(MLP(3, [4], 2, members=3), "xavier", seeds=[0, 1, 2])
    again = UnitModel.stack([net.select([0]), net.select([1, 2])])
    for (n, a), (_, b) in zip(net.named_parameters(), again.named_parameters()):
        assert torch.equal(a, b), n


def test_build_rebuilds_from_spec():
    net = SmallCNN(2, (8, 8), [3], 5, pool="avg", members=2)
    again = build(net.spec, members=2)
    assert again.spec == net.spec and again.members == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(in_features=2, hidden=[0], out_features=1), "sizes must be >= 1"),
        (dict(in_features=2, hidden=[4], out_features=1, activation="rleu"), "Did you mean 'relu'"),
    ],
)
def test_mlp_errors(kwargs, message):
    with pytest.raises(UnitscopeError, match=message):
        MLP(**kwargs)


def test_cnn_errors():
    with pytest.raises(UnitscopeError, match="too small"):
        SmallCNN(1, (4, 4), [2, 2, 2], 3)
    with pytest.raises(UnitscopeError, match="kernel_size"):
        SmallCNN(1, (8, 8), [2], 3, kernel_size=2)
    with pytest.raises(UnitscopeError, match="pool"):
        SmallCNN(1, (8, 8), [2], 3, pool="median")
    with pytest.raises(UnitscopeError, match="expects images"):
        SmallCNN(1, (8, 8), [2], 3)(torch.zeros(3, 64))
    with pytest.raises(UnitscopeError, match="unknown layer 'conv.5'"):
        SmallCNN(1, (8, 8), [2], 3).check_layer("conv.5")
    with pytest.raises(UnitscopeError, match="out of range"):
        SmallCNN(1, (8, 8), [2], 3, members=2).select([2])


@pytest.mark.parametrize(
    "model",
    [
        MLP(5, [7, 3], 4, members=3),
        SmallCNN(1, (8, 8), [4, 6], 10, members=2),
        SmallCNN(3, (9, 11), [5], 3, kernel_size=5, pool="avg", members=2),
        SmallCNN(2, (6, 6), [3, 2], 2, pool="none", members=1),
    ],
)
def test_per_sample_numel_counts_what_forward_hidden_returns(model):
    spec = model.spec
    shape = (2, 5) if isinstance(model, MLP) else (2, spec["in_channels"], *spec["image_size"])
    with torch.no_grad():
        out, hidden = model.forward_hidden(torch.zeros(shape))
    produced = out.numel() + sum(h.numel() for h in hidden.values())
    assert model.per_sample_numel() * 2 == produced
