"""Controlled initializations."""

from __future__ import annotations

import math

import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.init import initialize
from unitscope.models import MLP, SmallCNN


def test_kaiming_scale_matches_formula():
    net = initialize(MLP(400, [300], 1, members=2), "kaiming", seeds=[0, 1])
    std = net.hidden[0].weight.std().item()
    assert abs(std - math.sqrt(2 / 400)) < 0.02 * math.sqrt(2 / 400)
    assert torch.all(net.hidden[0].bias == 0)


def test_orthogonal_rows_are_orthonormal():
    net = initialize(MLP(50, [20], 1, activation="linear"), "orthogonal", seeds=[3])
    w = net.hidden[0].weight[0].double()
    torch.testing.assert_close(w @ w.T, torch.eye(20, dtype=torch.float64), atol=1e-6, rtol=0)


def test_symmetric_layers_have_identical_units_in_and_out():
    net = initialize(MLP(3, [5, 4], 2, members=2), "symmetric", seeds=[0, 1])
    for layer in (net.hidden[0], net.hidden[1]):
        assert torch.all(layer.weight == layer.weight[:, :1])
        assert torch.all(layer.bias == layer.bias[:, :1])
    # outgoing weights of hidden.1: every column of out.weight equal
    assert torch.all(net.out.weight == net.out.weight[:, :, :1])
    assert not torch.equal(net.out.weight[0], net.out.weight[1])


def test_symmetric_cnn_blocks_are_identical():
    net = initialize(SmallCNN(1, (8, 8), [3, 4], 5), "symmetric", seeds=[0])
    w = net.conv[1].weight[0]  # (C_out, C_in, k, k): all channels and inputs identical
    assert torch.all(w == w[:1, :1])
    out = net.out.weight[0].reshape(5, 4, 4)  # (out, channel, block)
    assert torch.all(out == out[:, :1])
    assert not torch.all(out == out[:, :, :1])  # within a block positions differ


def test_symmetric_eps_is_a_small_relative_perturbation():
    sym = initialize(MLP(10, [8], 1), "symmetric", seeds=[0])
    eps = initialize(MLP(10, [8], 1), "symmetric_eps", seeds=[0], eps=1e-3)
    diff = (eps.hidden[0].weight - sym.hidden[0].weight).norm() / sym.hidden[0].weight.norm()
    assert 1e-4 < diff.item() < 1e-2


def test_incoming_symmetric_leaves_outgoing_random():
    net = initialize(MLP(3, [5], 2), "incoming_symmetric", seeds=[0])
    assert torch.all(net.hidden[0].weight == net.hidden[0].weight[:, :1])
    assert not torch.all(net.out.weight == net.out.weight[:, :, :1])


def test_symmetric_only_on_chosen_layers():
    net = initialize(MLP(3, [5, 4], 2), "symmetric", seeds=[0], layers=["hidden.1"])
    assert torch.all(net.hidden[1].weight == net.hidden[1].weight[:, :1])
    assert not torch.all(net.hidden[0].weight == net.hidden[0].weight[:, :1])


def test_checkpoint_round_trip(tmp_path):
    from safetensors.torch import save_file

    src = initialize(MLP(3, [4], 2), "kaiming", seeds=[7])
    save_file({k: v.detach() for k, v in src.named_parameters()}, str(tmp_path / "w.safetensors"))
    dst = initialize(
        MLP(3, [4], 2, members=3),
        "checkpoint",
        seeds=[0, 1, 2],
        path=str(tmp_path / "w.safetensors"),
    )
    for k in range(3):
        assert torch.equal(dst.hidden[0].weight[k], src.hidden[0].weight[0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(scheme="kaiming", seeds=[0, 1]), "one init seed per member"),
        (dict(scheme="symetric", seeds=[0]), "Did you mean 'symmetric'"),
        (dict(scheme="symmetric", seeds=[0], base="symmetric"), "unknown base init scheme"),
        (dict(scheme="symmetric", seeds=[0], layers=["hidden.3"]), "unknown layer 'hidden.3'"),
        (dict(scheme="normal", seeds=[0], scale=-1.0), "`scale` must be > 0, got -1.0"),
        (dict(scheme="checkpoint", seeds=[0]), "needs `path`"),
        (dict(scheme="checkpoint", seeds=[0], path="/nonexistent.safetensors"), "not found"),
    ],
)
def test_init_errors(kwargs, message):
    with pytest.raises(UnitscopeError, match=message):
        initialize(MLP(3, [4], 2), **kwargs)


def test_corrupt_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(UnitscopeError, match="not a readable safetensors file"):
        initialize(MLP(3, [4], 2), "checkpoint", seeds=[0], path=str(bad))


def test_uniform_matches_pytorch_default_bounds():
    net = initialize(MLP(16, [9], 2, members=2), "uniform", seeds=[0, 1])
    for layer, fan_in in ((net.hidden[0], 16), (net.out, 9)):
        bound = 1 / math.sqrt(fan_in)
        assert 0.8 * bound < layer.weight.abs().max() <= bound  # many draws reach the edge
        assert 0 < layer.bias.abs().max() <= bound


def test_xavier_and_zeros():
    net = initialize(MLP(300, [200], 1, activation="linear"), "xavier", seeds=[0])
    assert abs(net.hidden[0].weight.std().item() - math.sqrt(2 / 500)) < 0.03 * math.sqrt(2 / 500)
    zero = initialize(MLP(3, [4], 2), "zeros", seeds=[0])
    assert all(torch.all(p == 0) for p in zero.parameters())


@pytest.mark.parametrize("scheme", ["kaiming", "xavier", "orthogonal", "normal", "uniform"])
def test_gain_multiplies_every_randomly_drawn_weight(scheme):
    a = initialize(MLP(3, [5, 4], 2, members=2), scheme, seeds=[0, 1])
    b = initialize(MLP(3, [5, 4], 2, members=2), scheme, seeds=[0, 1], gain=1e-3)
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        if name.endswith(".bias"):
            torch.testing.assert_close(pb, pa, rtol=0, atol=0)  # biases are not scaled
        else:
            torch.testing.assert_close(pb, pa * 1e-3, rtol=1e-6, atol=0)


def test_gain_scales_the_symmetric_template_too():
    a = initialize(MLP(2, [4], 1), "symmetric", seeds=[3])
    b = initialize(MLP(2, [4], 1), "symmetric", seeds=[3], gain=0.5)
    torch.testing.assert_close(b.hidden[0].weight, 0.5 * a.hidden[0].weight)
    assert bool((b.hidden[0].weight == b.hidden[0].weight[:, :1]).all())


@pytest.mark.parametrize("gain", [0.0, -1.0, math.inf, math.nan])
def test_gain_must_be_finite_and_positive(gain):
    with pytest.raises(UnitscopeError, match=r"`gain` must be a finite number > 0, got"):
        initialize(MLP(2, [4], 1), "kaiming", seeds=[0], gain=gain)


def test_config_init_gain_reaches_the_model():
    from unitscope.train import Config, fit

    cfg = Config.from_dict(
        {"data": {"name": "moons", "options": {"n_samples": 40}, "n_probe": 16},
         "model": {"hidden": [6]}, "train": {"steps": 2, "n_checkpoints": 2},
         "seeds": {"init": [0]}}
    )  # fmt: skip
    w1 = fit(cfg).weights("hidden.0")[0, 0]
    w2 = fit(cfg.override({"init.gain": 0.01})).weights("hidden.0")[0, 0]
    torch.testing.assert_close(torch.as_tensor(w2), 0.01 * torch.as_tensor(w1), rtol=1e-5, atol=0)
