"""The 2-D toy sets: geometry with noise=0, noise level, balance, and option errors."""

from __future__ import annotations

import numpy as np
import pytest

from unitscope._errors import UnitscopeError
from unitscope.data._toy import circles, gaussians, moons, spiral, xor

BUILDERS = [moons, circles, xor, spiral, gaussians]


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("n_samples", [7, 64])
def test_shapes_dtypes_and_balance(build, n_samples):
    ds = build(n_samples, seed=2)
    assert ds.x.shape == (n_samples, 2) and ds.x.dtype == np.float64
    assert ds.y.shape == (n_samples,) and ds.y.dtype == np.int64
    counts = np.bincount(ds.y)
    assert counts.max() - counts.min() <= 1
    assert ds.task == "classification" and ds.name == build.__name__
    assert "seed=2" in ds.origin and f"n_samples={n_samples}" in ds.origin


@pytest.mark.parametrize("build", BUILDERS)
def test_rows_are_shuffled(build):
    y = build(200, seed=0).y
    assert (np.diff(y) != 0).sum() > 20  # sorted labels would change only n_classes - 1 times


def test_moons_lie_on_their_arcs():
    ds = moons(300, noise=0.0, seed=4)
    p = ds.x + np.array([0.5, 0.25])
    upper, lower = p[ds.y == 0], p[ds.y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert (upper[:, 1] >= -1e-12).all()
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert (lower[:, 1] <= 0.5 + 1e-12).all()


@pytest.mark.parametrize("factor", [0.2, 0.7])
def test_circle_radii(factor):
    ds = circles(100, noise=0.0, factor=factor, seed=1)
    radius = np.hypot(ds.x[:, 0], ds.x[:, 1])
    np.testing.assert_allclose(radius, np.where(ds.y == 0, 1.0, factor))


def test_xor_label_is_sign_disagreement():
    ds = xor(400, noise=0.0, seed=3)
    assert np.abs(ds.x).max() <= 1.0
    np.testing.assert_array_equal(ds.y, (ds.x[:, 0] * ds.x[:, 1] < 0).astype(np.int64))
    quadrants = np.unique(np.sign(ds.x), axis=0)
    assert len(quadrants) == 4


@pytest.mark.parametrize("n_arms, turns", [(3, 1.0), (5, 0.5)])
def test_spiral_angle_follows_radius(n_arms, turns):
    ds = spiral(250, n_arms=n_arms, noise=0.0, turns=turns, seed=0)
    assert set(ds.y.tolist()) == set(range(n_arms))
    r = np.hypot(ds.x[:, 0], ds.x[:, 1])
    expected = 2 * np.pi * (turns * r + ds.y / n_arms)
    angle = np.arctan2(ds.x[:, 1], ds.x[:, 0])
    wrapped = np.angle(np.exp(1j * (angle - expected)))  # difference modulo 2 pi
    np.testing.assert_allclose(wrapped[r > 1e-9], 0.0, atol=1e-9)


def test_gaussian_centers_and_noise_level():
    ds = gaussians(3000, n_centers=4, noise=0.25, radius=3.0, seed=5)
    centers = ds.extras["centers"]
    np.testing.assert_allclose(np.hypot(centers[:, 0], centers[:, 1]), 3.0)
    np.testing.assert_allclose(centers[0], [3.0, 0.0], atol=1e-12)
    residual = ds.x - centers[ds.y]
    assert abs(residual.std() - 0.25) < 0.01
    assert np.abs(residual.mean(axis=0)).max() < 0.02


@pytest.mark.parametrize("build", BUILDERS)
def test_noise_is_gaussian_with_the_requested_scale(build):
    # the same seed draws the same clean points and order, so the difference is the noise
    difference = build(4000, noise=0.2, seed=1).x - build(4000, noise=0.0, seed=1).x
    assert abs(difference.std() - 0.2) < 0.01
    assert np.abs(difference.mean(axis=0)).max() < 0.01


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: moons(100, noise=-0.1), r"`noise` must be >= 0, got -0.1\."),
        (lambda: circles(100, noise=float("nan")), r"`noise` must be finite"),
        (lambda: circles(100, factor=1.0), r"`factor` must be < 1, got 1\."),
        (lambda: circles(100, factor=0), r"`factor` must be > 0, got 0\."),
        (lambda: xor(1), r"`n_samples` must be >= 2, got 1\."),
        (lambda: xor(10.5), r"`n_samples` must be an integer, got 10\.5\."),
        (lambda: moons(True), r"`n_samples` must be an integer, got True\."),
        (lambda: spiral(100, n_arms=1), r"`n_arms` must be >= 2, got 1\."),
        (lambda: spiral(4, n_arms=5), r"`n_samples` must be >= 5, got 4\."),
        (lambda: spiral(100, turns=0.0), r"`turns` must be > 0, got 0\."),
        (lambda: gaussians(100, radius=-1), r"`radius` must be > 0, got -1\."),
        (lambda: gaussians(100, noise="0.1"), r"`noise` must be a number, got '0\.1'\."),
        (
            lambda: moons(10, seed=-3),
            r"`seed` must be a seed: an integer from 0 to 2\*\*63 - 1, got -3\.",
        ),
        (lambda: moons(10, seed=1.5), r"`seed` must be a seed: an integer .*, got 1\.5\."),
        (lambda: moons(10, seed=2**63), r"`seed` must be a seed: .*, got 9223372036854775808\."),
    ],
)
def test_bad_options(call, match):
    with pytest.raises(UnitscopeError, match=match):
        call()
