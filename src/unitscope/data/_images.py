"""Image sets that ship with scikit-learn: the 8x8 digits and patches of its two sample photos.

Both read files installed with scikit-learn; nothing is downloaded. Images are float64 in
[0, 1] with shape (n_samples, channels, height, width), or (n_samples, features) when
``flatten=True``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .._errors import UnitscopeError
from ._checks import check_bool, check_choice, check_int, origin, rng_from_seed
from ._dataset import Dataset

SAMPLE_IMAGES = ("china", "flower")
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 weights for R, G, B


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float64)[:, None] / 16.0  # (1797, 1, 8, 8)
    labels = np.asarray(bunch.target, dtype=np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@lru_cache(maxsize=1)
def _sample_images() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_sample_images

    bunch = load_sample_images()
    images = []
    for image in bunch.images:  # each (427, 640, 3) uint8
        array = np.asarray(image, dtype=np.float64) / 255.0
        array.setflags(write=False)
        images.append(array)
    return tuple(images)


def _bilinear_matrix(n_in: int, factor: int) -> np.ndarray:
    """Interpolation matrix (n_in * factor, n_in) with half-pixel centres and clamped edges.

    Output pixel ``o`` samples the input at ``(o + 0.5) / factor - 0.5``, clamped to
    [0, n_in - 1]; this is ``torch.nn.functional.interpolate(..., align_corners=False)``.
    """
    source = np.clip((np.arange(n_in * factor) + 0.5) / factor - 0.5, 0.0, n_in - 1)
    low = np.floor(source).astype(np.int64)
    high = np.minimum(low + 1, n_in - 1)
    frac = source - low
    matrix = np.zeros((n_in * factor, n_in))
    rows = np.arange(n_in * factor)
    np.add.at(matrix, (rows, low), 1.0 - frac)
    np.add.at(matrix, (rows, high), frac)
    return matrix


def upsample_images(images: np.ndarray, factor: int, mode: str = "nearest") -> np.ndarray:
    """Enlarge images by an integer factor.

    Args:
        images: shape (n, channels, height, width).
        factor: integer scale (>= 1).
        mode: ``"nearest"`` repeats every pixel ``factor x factor`` times; ``"bilinear"``
            interpolates with half-pixel centres and clamped edges (as torch's
            ``interpolate(mode="bilinear", align_corners=False)``), so values stay in range.

    Returns:
        Shape (n, channels, height * factor, width * factor).

    Example:
        >>> upsample_images(np.arange(4.0).reshape(1, 1, 2, 2), 2)[0, 0].tolist()[0]
        [0.0, 0.0, 1.0, 1.0]
    """
    factor = check_int("upsample", factor, minimum=1)
    mode = check_choice("mode", mode, ("nearest", "bilinear"))
    if factor == 1:
        return images.copy()
    if mode == "nearest":
        return images.repeat(factor, axis=2).repeat(factor, axis=3)
    rows = _bilinear_matrix(images.shape[2], factor)  # (H * factor, H)
    cols = _bilinear_matrix(images.shape[3], factor)  # (W * factor, W)
    return np.einsum("ih,nchw,jw->ncij", rows, images, cols)


def _pick(rng: np.random.Generator, n_total: int, n_samples: int | None) -> np.ndarray:
    """A seeded random subset (or permutation when ``n_samples`` is None) of ``range(n_total)``."""
    if n_samples is None:
        return rng.permutation(n_total)
    n_samples = check_int("n_samples", n_samples, minimum=1)
    if n_samples > n_total:
        raise UnitscopeError(f"`n_samples` must be <= {n_total} for this dataset, got {n_samples}.")
    return rng.choice(n_total, n_samples, replace=False)


def digits(
    n_samples: int | None = None,
    *,
    upsample: int = 1,
    mode: str = "nearest",
    flatten: bool = False,
    seed: int = 0,
) -> Dataset:
    """scikit-learn's handwritten digits (1797 images, 10 classes), scaled to [0, 1].

    Args:
        n_samples: how many images to draw without replacement (None: all 1797).
        upsample: integer enlargement factor; 2 gives 16x16 images.
        mode: ``"nearest"`` (default) or ``"bilinear"``; see :func:`upsample_images`.
        flatten: return (n_samples, 64 * upsample**2) instead of (n_samples, 1, H, W).
        seed: picks the images and their order.

    Example:
        >>> digits(10, upsample=2).x.shape
        (10, 1, 16, 16)
    """
    flatten = check_bool("flatten", flatten)
    check_int("upsample", upsample, minimum=1)
    check_choice("mode", mode, ("nearest", "bilinear"))
    images, labels = _digits_arrays()
    index = _pick(rng_from_seed(seed), len(images), n_samples)
    x = upsample_images(images[index], upsample, mode)
    how = origin(
        "digits", n_samples=n_samples, upsample=upsample, mode=mode, flatten=flatten, seed=seed
    )
    x = x.reshape(len(x), -1) if flatten else x
    return Dataset(x, labels[index].copy(), "classification", "digits", how)


def _cut(image: np.ndarray, corners: np.ndarray, size: int) -> np.ndarray:
    """Patches of ``image`` (H, W, 3) with top-left ``corners`` (n, 2) -> (n, 3, size, size)."""
    offsets = np.arange(size)
    rows = corners[:, 0, None] + offsets  # (n, size)
    cols = corners[:, 1, None] + offsets  # (n, size)
    patches = image[rows[:, :, None], cols[:, None, :]]  # (n, size, size, 3)
    return patches.transpose(0, 3, 1, 2)


def patches(
    n_samples: int = 1000,
    *,
    size: int = 8,
    grayscale: bool = True,
    flatten: bool = False,
    seed: int = 0,
) -> Dataset:
    """Square patches of scikit-learn's two sample photos; the task is which photo (0 china,
    1 flower) a patch came from.

    Patches are split evenly between the photos and cut at uniform random positions;
    ``extras["corners"]`` holds each patch's top-left (row, column), shape (n_samples, 2).
    Grayscale uses the BT.601 luma weights (0.299, 0.587, 0.114).

    Args:
        n_samples: number of patches (>= 2).
        size: side length in pixels, 1 to 427.
        grayscale: one channel (True) or RGB (False).
        flatten: return (n_samples, channels * size**2) instead of (n_samples, C, size, size).
        seed: seeds the positions and the order.

    Example:
        >>> patches(6, size=4, grayscale=False).x.shape
        (6, 3, 4, 4)
    """
    n_samples = check_int("n_samples", n_samples, minimum=2)
    images = _sample_images()
    size = check_int("size", size, minimum=1)
    smallest = min(min(image.shape[:2]) for image in images)
    if size > smallest:
        raise UnitscopeError(f"`size` must be <= {smallest} (the photos' height), got {size}.")
    grayscale = check_bool("grayscale", grayscale)
    flatten = check_bool("flatten", flatten)
    rng = rng_from_seed(seed)
    counts = [n_samples // 2 + n_samples % 2, n_samples // 2]
    xs, corners = [], []
    for image, count in zip(images, counts):
        high = np.array(image.shape[:2]) - size + 1
        corner = rng.integers(0, high, size=(count, 2))  # (count, 2)
        xs.append(_cut(image, corner, size))
        corners.append(corner)
    x = np.concatenate(xs)  # (n_samples, 3, size, size)
    if grayscale:
        x = np.einsum("nchw,c->nhw", x, _LUMA)[:, None]
    y = np.repeat(np.arange(2, dtype=np.int64), counts)
    order = rng.permutation(n_samples)
    x = x[order].reshape(n_samples, -1) if flatten else x[order]
    how = origin(
        "patches",
        n_samples=n_samples,
        size=size,
        grayscale=grayscale,
        flatten=flatten,
        seed=seed,
    )
    extras = {"corners": np.concatenate(corners)[order].astype(np.float64)}
    return Dataset(x, y[order], "classification", "patches", how, extras)
