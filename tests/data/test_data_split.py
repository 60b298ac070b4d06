"""train_test_split, standardize and grid_2d."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unitscope._errors import UnitscopeError
from unitscope.data import Dataset, grid_2d, load, standardize, train_test_split
from unitscope.data._split import _stratified_counts


def indexed(labels, task="classification"):
    """A dataset whose single feature is the row index, so a split can be traced back."""
    labels = np.asarray(labels)
    x = np.arange(len(labels), dtype=np.float64)[:, None]
    y = labels.astype(np.int64) if task == "classification" else labels[:, None].astype(float)
    return Dataset(x, y, task, "indexed", "made in a test")


def rows(ds):
    return ds.x[:, 0].astype(int)


@pytest.mark.parametrize("fraction, n_test", [(0.25, 25), (0.1, 10), (0.5, 50), (0.999, 99)])
def test_split_is_a_partition_of_the_right_size(fraction, n_test):
    ds = indexed(np.arange(100) % 4)
    train, test = train_test_split(ds, fraction, seed=1)
    assert test.n_samples == n_test and train.n_samples == 100 - n_test
    assert sorted(rows(train).tolist() + rows(test).tolist()) == list(range(100))
    assert (np.diff(rows(train)) > 0).all() and (np.diff(rows(test)) > 0).all()
    np.testing.assert_array_equal(test.y, ds.y[rows(test)])
    assert "test part of train_test_split(test_fraction=" in test.origin


def test_split_is_stratified():
    labels = np.repeat([0, 1, 2], [60, 30, 10])
    train, test = train_test_split(indexed(labels), 0.2, seed=3)
    assert np.bincount(test.y).tolist() == [12, 6, 2]
    assert np.bincount(train.y).tolist() == [48, 24, 8]


def test_every_class_keeps_a_training_sample():
    labels = np.repeat([0, 1, 2], [2, 2, 40])
    train, test = train_test_split(indexed(labels), 0.9, seed=0)
    assert np.bincount(train.y, minlength=3).min() >= 1
    assert test.n_samples == 40


def test_singleton_class_falls_back_to_a_random_split():
    labels = np.array([0] * 10 + [1])
    train, test = train_test_split(indexed(labels), 0.3, seed=0)
    assert train.n_samples + test.n_samples == 11 and test.n_samples == 3


def rare_class_in_test(labels, fraction=0.25):
    """The first split seed that leaves the largest class label out of the training part."""
    ds = indexed(labels)
    top = int(ds.y.max())
    for seed in range(50):
        train, test = train_test_split(ds, fraction, seed=seed)
        if top not in train.y:
            return train, test
    raise AssertionError("no seed puts the rare class in the test part only")


def test_a_class_only_in_the_test_part_still_counts_in_both_parts():
    train, test = rare_class_in_test(np.array([0, 1] * 19 + [0, 2]))  # class 2: one sample
    assert 2 in test.y and int(train.y.max()) == 1
    assert train.n_classes == test.n_classes == 3
    assert train.n_outputs == test.n_outputs == 3  # the model needs an output for class 2
    probe = test.subset(np.arange(2))
    assert probe.n_outputs == 3
    standardized, _, _ = standardize(train, test)
    assert standardized.n_classes == 3


def test_n_classes_is_checked_and_kept():
    ds = Dataset(np.zeros((3, 1)), np.array([0, 1, 1]), "classification", "d", n_classes=5)
    assert ds.n_outputs == 5 and ds.subset(np.array([0])).n_outputs == 5
    with pytest.raises(UnitscopeError, match=r"a label is 1, but `n_classes` is 1; labels must be"):
        Dataset(np.zeros((2, 1)), np.array([0, 1]), "classification", "d", n_classes=1)
    with pytest.raises(UnitscopeError, match=r"`n_classes` must be a non-negative integer, got"):
        Dataset(np.zeros((2, 1)), np.array([0, 1]), "classification", "d", n_classes=2.0)
    with pytest.raises(UnitscopeError, match=r"`n_classes` applies to classification, got 2"):
        Dataset(np.zeros((2, 1)), np.zeros((2, 1)), "regression", "d", n_classes=2)


def test_arrays_are_stored_c_contiguous():
    x = np.asfortranarray(np.arange(24.0).reshape(2, 3, 2, 2))
    ds = Dataset(x, np.array([0, 1]), "classification", "f")
    assert ds.x.flags.c_contiguous and np.array_equal(ds.x, x)
    assert ds.x.reshape(2, -1).base is not None  # a view: later stages may reshape freely


def test_split_seeds_and_regression():
    ds = indexed(np.linspace(0, 1, 40), task="regression")
    a, b, c = (train_test_split(ds, 0.25, seed=s)[1] for s in (5, 5, 6))
    np.testing.assert_array_equal(rows(a), rows(b))
    assert not np.array_equal(rows(a), rows(c))
    assert a.task == "regression" and a.y.shape == (10, 1)


def test_split_keeps_extras():
    train, test = train_test_split(load("teacher", n_samples=20), seed=0)
    assert (
        train.extras.keys()
        == test.extras.keys()
        == {"teacher.weight", "teacher.bias", "teacher.out_weight"}
    )


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(2, 30), min_size=1, max_size=6),
    fraction=st.floats(0.01, 0.99),
)
def test_stratified_counts_properties(counts, fraction):
    counts = np.array(counts)
    n_test = min(max(round(counts.sum() * fraction), 1), counts.sum() - len(counts))
    if n_test < 1:
        return
    take = _stratified_counts(counts, n_test)
    assert take.sum() == n_test
    assert (take >= 0).all() and (take <= counts - 1).all()
    quota = counts * n_test / counts.sum()
    if (np.ceil(quota) <= counts - 1).all():  # nothing clipped: largest-remainder rounding
        assert (np.abs(take - quota) < 1).all()


@pytest.mark.parametrize(
    "fraction, match",
    [
        (0.0, r"`test_fraction` must be > 0, got 0\."),
        (1.0, r"`test_fraction` must be < 1, got 1\."),
        ("a", r"`test_fraction` must be a number, got 'a'\."),
    ],
)
def test_split_errors(fraction, match):
    with pytest.raises(UnitscopeError, match=match):
        train_test_split(indexed([0, 1, 0, 1]), fraction)


def test_split_needs_two_samples():
    with pytest.raises(UnitscopeError, match=r"cannot split dataset 'indexed': it has 1 sample"):
        train_test_split(indexed([0]), 0.5)


def test_standardize_fits_on_train_only(rng):
    x = rng.standard_normal((50, 3)) * [1.0, 5.0, 0.0] + [2.0, -1.0, 7.0]  # last is constant
    ds = Dataset(x, rng.standard_normal((50, 1)), "regression", "s")
    train, test = train_test_split(ds, 0.3, seed=0)
    train_s, test_s, stats = standardize(train, test)
    np.testing.assert_allclose(train_s.x.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(train_s.x.std(0), [1.0, 1.0, 0.0], atol=1e-12)
    expected = (test.x - train.x.mean(0)) / np.where(train.x.std(0) > 0, train.x.std(0), 1.0)
    np.testing.assert_allclose(test_s.x, expected, atol=1e-12)
    assert stats.mean_.shape == (1, 3) and stats.scale_[0, 2] == 1.0
    np.testing.assert_array_equal(test_s.y, test.y)


def test_standardize_images_per_channel():
    train, test = train_test_split(load("patches", n_samples=40, grayscale=False), seed=0)
    train_s, _, stats = standardize(train, test)
    assert stats.mean_.shape == (1, 3, 1, 1)
    np.testing.assert_allclose(train_s.x.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(train_s.x.std(axis=(0, 2, 3)), 1.0, atol=1e-12)
    with pytest.raises(UnitscopeError, match=r"fitted on 3 features/channels"):
        stats.apply(load("moons", n_samples=10))


def test_grid_covers_the_data_with_a_margin():
    ds = load("moons", n_samples=100, seed=0)
    points, extent = grid_2d(ds, resolution=5, margin=0.5)
    assert points.shape == (25, 2)
    low, high = ds.x.min(0) - 0.5, ds.x.max(0) + 0.5
    np.testing.assert_allclose(extent, [low[0], high[0], low[1], high[1]])
    grid = points.reshape(5, 5, 2)  # (row along y, column along x, 2)
    np.testing.assert_allclose(grid[0, :, 0], np.linspace(low[0], high[0], 5))
    np.testing.assert_allclose(grid[:, 0, 1], np.linspace(low[1], high[1], 5))
    assert np.ptp(grid[:, 3, 0]) == 0 and np.ptp(grid[2, :, 1]) == 0


@pytest.mark.parametrize(
    "data, options, match",
    [
        (np.zeros((4, 3)), {}, r"needs 2-D inputs of shape \(n_samples, 2\), got shape \(4, 3\)"),
        (np.array([[0.0, np.inf]]), {}, r"inputs contain NaN/Inf"),
        (np.zeros((4, 2)), {"resolution": 1}, r"`resolution` must be >= 2, got 1\."),
        (np.zeros((4, 2)), {"margin": -1}, r"`margin` must be >= 0, got -1\."),
    ],
)
def test_grid_errors(data, options, match):
    with pytest.raises(UnitscopeError, match=match):
        grid_2d(data, **options)


def test_grid_rejects_image_data():
    with pytest.raises(UnitscopeError, match=r"got shape \(5, 1, 8, 8\)"):
        grid_2d(load("digits", n_samples=5))
