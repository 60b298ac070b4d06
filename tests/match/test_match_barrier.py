"""Interpolation and barriers: invariants, hand-made curves, REPAIR against its definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unitscope._errors import UnitscopeError
from unitscope.match import Curve, interpolate, permute, random_perms, relative_reduction
from unitscope.match._interpolate import line_params
from unitscope.match._repair import preact_stats, repair_members


@pytest.fixture
def data():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 12, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 5, (64,), generator=gen)
    xt = torch.randn(32, 12, generator=gen, dtype=torch.float64)
    yt = torch.randint(0, 5, (32,), generator=gen)
    return {"train": (x, y), "test": (xt, yt)}


def test_barrier_of_a_model_with_itself_is_zero(random_mlp, data):
    a = random_mlp(2, 8, K=2)
    c = interpolate(a, a, data, n_points=7)
    for split in ("train", "test"):
        assert (c.barrier(split) == 0).all() and (c.barrier(split, "entezari") == 0).all()
        assert (c.accuracy_barrier(split) == 0).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_barrier_is_symmetric(random_mlp, data, seed):
    a, b = random_mlp(2, 8, K=2, seed=seed), random_mlp(2, 8, K=2, seed=seed + 10)
    ab, ba = interpolate(a, b, data, n_points=9), interpolate(b, a, data, n_points=9)
    np.testing.assert_allclose(ab.loss("train"), ba.loss("train")[:, ::-1], atol=1e-12)
    for kind in ("rebasin", "entezari"):
        np.testing.assert_allclose(ab.barrier("test", kind), ba.barrier("test", kind), atol=1e-12)


def test_one_permutation_on_both_ends_leaves_the_curve_unchanged(random_mlp, data):
    a, b = random_mlp(3, 8, K=2, seed=3), random_mlp(3, 8, K=2, seed=4)
    perms = random_perms(a, seed=5)
    before = interpolate(a, b, data, n_points=7)
    after = interpolate(permute(a, perms), permute(b, perms), data, n_points=7)
    for key in before.values:
        np.testing.assert_allclose(after.values[key], before.values[key], atol=1e-12)


def test_cnn_curve_is_permutation_invariant_too(random_cnn):
    a, b = random_cnn(K=1, seed=0), random_cnn(K=1, seed=1)
    x, y = torch.randn(16, 2, 8, 8, dtype=torch.float64), torch.randint(0, 5, (16,))
    perms = random_perms(a, seed=2)
    before = interpolate(a, b, (x, y), n_points=5)
    after = interpolate(permute(a, perms), permute(b, perms), (x, y), n_points=5)
    np.testing.assert_allclose(after.loss(), before.loss(), atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_rebasin_barrier_is_at_least_half_the_endpoint_gap(random_mlp, data, seed):
    a, b = random_mlp(1, 6, K=3, seed=seed), random_mlp(1, 6, K=3, seed=seed + 20)
    c = interpolate(a, b, data, n_points=5)
    for split in ("train", "test"):
        loss = c.loss(split)
        assert (c.barrier(split) >= np.abs(loss[:, 0] - loss[:, -1]) / 2 - 1e-15).all()
        assert (c.barrier(split, "entezari") >= 0).all()


def test_endpoints_are_the_models_own_losses(random_mlp, data):
    a, b = random_mlp(2, 8, K=2, seed=0), random_mlp(2, 8, K=2, seed=1)
    c = interpolate(a, b, data, n_points=5)
    x, y = data["test"]
    for k in range(2):
        for net, t in ((a, 0), (b, -1)):
            pred = net(x)[k]
            assert c.loss("test")[k, t] == pytest.approx(F.cross_entropy(pred, y).item(), 1e-12)
            acc = (pred.argmax(-1) == y).double().mean().item()
            assert c.accuracy("test")[k, t] == pytest.approx(acc)
    # the midpoint is the loss of the average network
    mid = a.select([0]).load_params(
        {n: (p + b.param_dict()[n][[0]]) / 2 for n, p in a.select([0]).param_dict().items()}
    )
    loss_mid = F.cross_entropy(mid(x)[0], y).item()
    assert c.loss("test")[0, 2] == pytest.approx(loss_mid, rel=1e-12)


def test_barrier_formulas_on_hand_made_curves():
    lam = np.linspace(0, 1, 5)
    loss = np.array([[1.0, 2.0, 2.5, 2.0, 3.0], [2.0, 1.0, 1.0, 1.0, 2.0]])
    acc = np.array([[0.9, 0.6, 0.5, 0.6, 0.7], [0.8, 0.8, 0.8, 0.8, 0.8]])
    c = Curve(lam, {"test_loss": loss, "test_acc": acc})
    np.testing.assert_allclose(c.barrier(), [3.0 - 2.0, 2.0 - 2.0])
    # chord at λ: 1 + 2λ -> excess [0, 0.5, 0.5, -0.5, 0]; second curve: below its chord
    np.testing.assert_allclose(c.barrier(kind="entezari"), [0.5, 0.0])
    np.testing.assert_allclose(c.accuracy_barrier(), [0.8 - 0.5, 0.0])
    even = Curve(
        np.linspace(0, 1, 4),
        {"test_acc": np.array([[1.0, 0.4, 0.6, 1.0]]), "test_loss": np.zeros((1, 4))},
    )
    np.testing.assert_allclose(even.accuracy_barrier(), [0.5])  # acc(½) interpolated


def test_relative_reduction():
    np.testing.assert_allclose(
        relative_reduction(np.array([1.0, 4.0]), np.array([0.1, 1.0])), [0.9, 0.75]
    )
    assert np.isnan(relative_reduction(0.0, 0.0))


def test_one_member_model_is_paired_with_every_member(random_mlp, data):
    a, b = random_mlp(1, 6, K=1, seed=0), random_mlp(1, 6, K=3, seed=1)
    c = interpolate(a, b, data, n_points=3)
    assert c.loss("test").shape == (3, 3)
    single = interpolate(a, b.select([1]), data, n_points=3)
    np.testing.assert_allclose(single.loss("test")[0], c.loss("test")[1], atol=1e-14)


def test_regression_targets_use_mse(random_mlp):
    a = random_mlp(1, 4, K=1, out=2)
    x, y = torch.randn(10, 12, dtype=torch.float64), torch.randn(10, 2, dtype=torch.float64)
    c = interpolate(a, a, (x, y), n_points=3)
    assert c.splits == ["data"]
    assert c.loss()[0, 0] == pytest.approx(((a(x)[0] - y) ** 2).mean().item(), rel=1e-12)
    with pytest.raises(UnitscopeError, match="accuracy is only defined for classification"):
        c.accuracy()


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_repair_resets_preactivation_statistics_to_the_interpolated_targets(
    random_mlp, random_cnn, kind
):
    make = (
        (lambda s: random_mlp(2, 10, K=1, seed=s))
        if kind == "mlp"
        else (lambda s: random_cnn(K=1, seed=s))
    )
    a, b = make(0), make(1)
    x = torch.randn(40, 12).double() if kind == "mlp" else torch.randn(20, 2, 8, 8).double()
    lambdas = np.array([0.0, 0.3, 1.0])
    net = a.select([0]).load_params(line_params(a, b, lambdas, slice(0, 3)))
    stats = (preact_stats(a, x), preact_stats(b, x), x)
    repair_members(net, stats, lambdas, slice(0, 3))
    got = preact_stats(net, x)
    for layer in a.layers:
        for i, lam in enumerate(lambdas):
            for s in (0, 1):  # mean, std
                target = (1 - lam) * stats[0][layer][s][0] + lam * stats[1][layer][s][0]
                torch.testing.assert_close(got[layer][s][i], target, rtol=1e-9, atol=1e-12)


def test_preactivation_statistics_against_a_plain_computation(random_cnn):
    net = random_cnn(K=2, seed=0)
    x = torch.randn(5, 2, 8, 8).double()
    z = F.conv2d(x, net.conv[0].weight[1], net.conv[0].bias[1], padding=1)  # member 1
    mean, std = preact_stats(net, x)["conv.0"]
    torch.testing.assert_close(mean[1], z.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(std[1], z.std(dim=(0, 2, 3), unbiased=False))


def test_repair_keeps_the_endpoints(mlp_rec):
    a, b = mlp_rec.model(members=[0]), mlp_rec.model(members=[1])
    x = torch.as_tensor(mlp_rec.probe_x)
    y = torch.as_tensor(mlp_rec.probe_y)
    plain = interpolate(a, b, (x, y), n_points=5)
    fixed = interpolate(a, b, (x, y), n_points=5, repair=True)
    assert fixed.repaired and not plain.repaired
    np.testing.assert_allclose(fixed.loss()[:, [0, -1]], plain.loss()[:, [0, -1]], atol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_points": 1}, "`n_points` must be >= 2"),
        ({"loss": "hinge"}, "`loss` must be one of"),
        ({"data": {"train": (np.zeros((3, 12)), np.zeros(2, dtype=int))}}, "has 3 inputs and 2"),
        ({"data": {"train": np.zeros((3, 12))}}, "must be an \\(x, y\\) pair or a Dataset"),
    ],
)
def test_bad_interpolation_inputs_are_refused(random_mlp, data, kwargs, message):
    a = random_mlp(1, 4, K=1)
    args = {"data": data, **kwargs}
    with pytest.raises(UnitscopeError, match=message):
        interpolate(a, a, **args)


def test_unknown_split_and_kind_get_did_you_mean(random_mlp, data):
    c = interpolate(random_mlp(1, 4, K=1), random_mlp(1, 4, K=1, seed=1), data, n_points=3)
    with pytest.raises(UnitscopeError, match="unknown split 'tset'. Did you mean 'test'"):
        c.barrier("tset")
    with pytest.raises(UnitscopeError, match="unknown barrier kind 'gr'"):
        c.barrier("test", kind="gr")
