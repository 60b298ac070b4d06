"""Digits and sample-image patches: values, upsampling against torch, crops at stored corners."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, load_sample_images

from unitscope._errors import UnitscopeError
from unitscope.data._images import digits, patches, upsample_images


def test_digits_are_sklearns_images_scaled_to_unit_range():
    ds = digits(seed=0)
    assert ds.x.shape == (1797, 1, 8, 8) and ds.x.dtype == np.float64
    assert ds.x.min() == 0.0 and ds.x.max() == 1.0
    np.testing.assert_array_equal(np.bincount(ds.y) > 170, True)
    raw = load_digits()
    # same multiset of (image, label) rows, in a seeded order
    ours = np.column_stack([ds.x.reshape(1797, 64) * 16, ds.y])
    theirs = np.column_stack([raw.images.reshape(1797, 64), raw.target])
    np.testing.assert_array_equal(np.unique(ours, axis=0), np.unique(theirs, axis=0))
    assert not np.array_equal(ds.y, raw.target)


def test_digits_subset_and_flatten_agree():
    image = digits(40, seed=3)
    flat = digits(40, flatten=True, seed=3)
    assert flat.x.shape == (40, 64)
    np.testing.assert_array_equal(flat.x, image.x.reshape(40, 64))
    np.testing.assert_array_equal(flat.y, image.y)
    assert len(np.unique(image.x.reshape(40, 64), axis=0)) == 40  # drawn without replacement


@pytest.mark.parametrize("factor", [2, 3])
def test_nearest_upsampling_repeats_pixels(factor):
    small, large = digits(30, seed=1), digits(30, upsample=factor, seed=1)
    assert large.x.shape == (30, 1, 8 * factor, 8 * factor)
    block = np.ones((factor, factor))
    np.testing.assert_array_equal(large.x, np.kron(small.x, block))
    np.testing.assert_array_equal(large.y, small.y)


@pytest.mark.parametrize("factor", [2, 3])
def test_bilinear_upsampling_matches_torch(factor):
    small = digits(30, seed=1)
    large = digits(30, upsample=factor, mode="bilinear", seed=1)
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(small.x), scale_factor=factor, mode="bilinear", align_corners=False
    ).numpy()
    np.testing.assert_allclose(large.x, expected, rtol=0, atol=1e-12)
    assert large.x.min() >= 0.0 and large.x.max() <= 1.0


def test_bilinear_keeps_constants_and_flattens_to_upsampled_size():
    constant = np.full((2, 3, 4, 5), 0.25)
    np.testing.assert_allclose(upsample_images(constant, 4, "bilinear"), 0.25, atol=1e-15)
    assert digits(5, upsample=2, flatten=True).x.shape == (5, 256)


def test_upsample_factor_one_is_a_copy():
    images = np.random.default_rng(0).random((2, 1, 3, 3))
    out = upsample_images(images, 1, "bilinear")
    np.testing.assert_array_equal(out, images)
    assert out is not images


@pytest.mark.parametrize("grayscale", [True, False])
def test_patches_are_crops_at_the_stored_corners(grayscale):
    ds = patches(21, size=5, grayscale=grayscale, seed=4)
    channels = 1 if grayscale else 3
    assert ds.x.shape == (21, channels, 5, 5) and ds.x.dtype == np.float64
    assert np.bincount(ds.y).tolist() == [11, 10]
    photos = [image / 255.0 for image in load_sample_images().images]
    corners = ds.extras["corners"].astype(int)
    for patch, label, (row, col) in zip(ds.x, ds.y, corners):
        crop = photos[label][row : row + 5, col : col + 5]  # (5, 5, 3)
        if grayscale:
            crop = (crop @ np.array([0.299, 0.587, 0.114]))[..., None]
        np.testing.assert_allclose(patch, crop.transpose(2, 0, 1), atol=1e-12)


def test_patches_flatten_and_bounds():
    ds = patches(200, size=40, flatten=True, grayscale=False, seed=0)
    assert ds.x.shape == (200, 3 * 40 * 40)
    assert ds.x.min() >= 0.0 and ds.x.max() <= 1.0
    corners = ds.extras["corners"]
    assert corners.min() >= 0 and corners[:, 0].max() <= 427 - 40 and corners[:, 1].max() <= 600
    assert (np.diff(ds.y) != 0).sum() > 20  # shuffled


def test_patch_task_is_learnable_from_colour_statistics():
    ds = patches(400, size=16, grayscale=False, seed=0)
    mean_rgb = ds.x.mean(axis=(2, 3))  # (n, 3)
    centroids = np.stack([mean_rgb[ds.y == c].mean(0) for c in (0, 1)])
    nearest = np.argmin(((mean_rgb[:, None] - centroids) ** 2).sum(-1), axis=1)
    assert (nearest == ds.y).mean() > 0.6  # the two photos differ, so the labels carry signal


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: digits(upsample=0), r"`upsample` must be >= 1, got 0\."),
        (lambda: digits(upsample=2.0), r"`upsample` must be an integer, got 2\.0\."),
        (lambda: digits(mode="cubic"), r"`mode` must be one of 'nearest', 'bilinear'"),
        (lambda: digits(n_samples=0), r"`n_samples` must be >= 1, got 0\."),
        (lambda: digits(n_samples=2000), r"`n_samples` must be <= 1797 .*got 2000\."),
        (lambda: digits(flatten="yes"), r"`flatten` must be True or False, got 'yes'\."),
        (lambda: patches(10, size=0), r"`size` must be >= 1, got 0\."),
        (lambda: patches(10, size=500), r"`size` must be <= 427 .*got 500\."),
        (lambda: patches(1), r"`n_samples` must be >= 2, got 1\."),
        (lambda: patches(10, grayscale=None), r"`grayscale` must be True or False"),
    ],
)
def test_bad_options(call, match):
    with pytest.raises(UnitscopeError, match=match):
        call()
