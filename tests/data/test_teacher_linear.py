"""Teacher-student and exchangeable linear regression: the stored ground truth explains y."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.data._teacher import linear, teacher

TORCH_ACTIVATIONS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "erf": lambda z: torch.erf(z / np.sqrt(2.0)),
}


def reference_teacher(x, weight, bias, out_weight, activation):
    """The teacher written independently with torch.nn.functional, in float64."""
    t = {k: torch.from_numpy(v) for k, v in dict(x=x, w=weight, b=bias, a=out_weight).items()}
    hidden = TORCH_ACTIVATIONS[activation](torch.nn.functional.linear(t["x"], t["w"], t["b"]))
    return torch.nn.functional.linear(hidden, t["a"]).numpy()


@pytest.mark.parametrize("activation", sorted(TORCH_ACTIVATIONS))
@pytest.mark.parametrize("seed", [0, 7])
def test_teacher_labels_reproduce_from_stored_weights(activation, seed):
    ds = teacher(64, n_features=5, width=3, n_outputs=2, activation=activation, seed=seed)
    weight, bias = ds.extras["teacher.weight"], ds.extras["teacher.bias"]
    out_weight = ds.extras["teacher.out_weight"]
    assert weight.shape == (3, 5) and bias.shape == (3,) and out_weight.shape == (2, 3)
    assert ds.x.shape == (64, 5) and ds.y.shape == (64, 2) and ds.y.dtype == np.float64
    expected = reference_teacher(ds.x, weight, bias, out_weight, activation)
    np.testing.assert_allclose(ds.y, expected, rtol=1e-12, atol=1e-12)


def test_teacher_label_noise_has_the_requested_scale():
    clean = teacher(4000, width=6, noise=0.0, seed=3)
    noisy = teacher(4000, width=6, noise=0.3, seed=3)
    np.testing.assert_array_equal(clean.x, noisy.x)
    for key in ("teacher.weight", "teacher.bias", "teacher.out_weight"):
        np.testing.assert_array_equal(clean.extras[key], noisy.extras[key])
    assert abs((noisy.y - clean.y).std() - 0.3) < 0.015


def test_teacher_scales_give_unit_variance_preactivations():
    ds = teacher(4000, n_features=400, width=30, seed=1)
    preactivation = ds.x @ ds.extras["teacher.weight"].T  # (n_samples, width)
    assert abs(preactivation.var() - 1.0) < 0.1
    assert abs(ds.x.std() - 1.0) < 0.01


def test_teacher_units_differ():
    weight = teacher(8, n_features=20, width=5, seed=0).extras["teacher.weight"]
    norms = np.linalg.norm(weight, axis=1)
    cosine = weight @ weight.T / np.outer(norms, norms)
    assert np.abs(cosine - np.eye(5)).max() < 0.99  # no two teacher units coincide


def least_squares(ds):
    return np.linalg.lstsq(ds.x, ds.y[:, 0], rcond=None)[0]


@pytest.mark.parametrize("pair", [(0, 1), (4, 2)])
def test_exchangeable_pair_has_equal_coefficients_and_distribution(pair):
    ds = linear(3000, n_features=6, exchangeable=True, pair=pair, noise=0.1, seed=2)
    beta = ds.extras["beta"]
    i, j = pair
    assert beta[i] == beta[j]
    assert ds.extras["pair"].tolist() == [float(i), float(j)]
    np.testing.assert_allclose(ds.x.std(axis=0), 1.0, atol=0.05)
    assert abs((ds.y[:, 0] - ds.x @ beta).std() - 0.1) < 0.01
    np.testing.assert_allclose(least_squares(ds), beta, atol=0.01)


def test_non_exchangeable_pair_breaks_both_symmetries():
    ds = linear(3000, n_features=4, exchangeable=False, pair=(1, 3), noise=0.0, seed=2)
    beta = ds.extras["beta"]
    assert beta[3] - beta[1] == pytest.approx(1.0)
    assert abs(ds.x[:, 3].std() - 2.0) < 0.1 and abs(ds.x[:, 1].std() - 1.0) < 0.05
    np.testing.assert_allclose(ds.y[:, 0], ds.x @ beta, rtol=1e-12, atol=1e-12)


def test_exchangeable_flag_changes_only_the_pair():
    same = linear(50, exchangeable=True, seed=4).extras["beta"]
    broken = linear(50, exchangeable=False, seed=4).extras["beta"]
    np.testing.assert_array_equal(same[[0, 2, 3, 4]], broken[[0, 2, 3, 4]])
    assert same[1] != broken[1]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: teacher(10, activation="rleu"), r"`activation` must be one of .*'relu'"),
        (lambda: teacher(10, width=0), r"`width` must be >= 1, got 0\."),
        (lambda: teacher(10, n_features=0), r"`n_features` must be >= 1, got 0\."),
        (lambda: teacher(10, noise=-1.0), r"`noise` must be >= 0, got -1\."),
        (lambda: linear(10, n_features=1), r"`n_features` must be >= 2, got 1\."),
        (lambda: linear(10, pair=(2, 2)), r"`pair` must be two different indices"),
        (lambda: linear(10, pair=(0, 5)), r"below n_features=5, got \(0, 5\)\."),
        (lambda: linear(10, pair=3), r"`pair` must be two feature indices \(i, j\), got 3\."),
        (lambda: linear(10, exchangeable="yes"), r"`exchangeable` must be True or False"),
    ],
)
def test_bad_options(call, match):
    with pytest.raises(UnitscopeError, match=match):
        call()
