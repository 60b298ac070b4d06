"""Helpers around a Dataset: a seeded (stratified) split, standardization and a 2-D grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import UnitscopeError
from ._checks import check_float, check_int, rng_from_seed
from ._dataset import Dataset


def _stratified_counts(counts: np.ndarray, n_test: int) -> np.ndarray:
    """Test samples per class, proportional to ``counts`` (largest remainder), each class
    keeping at least one training sample. Needs ``n_test <= counts.sum() - len(counts)``."""
    quota = counts * n_test / counts.sum()
    take = np.minimum(np.floor(quota), counts - 1).astype(np.int64)
    while take.sum() < n_test:
        gap = np.where(take < counts - 1, quota - take, -np.inf)
        take[int(np.argmax(gap))] += 1
    return take


def _test_index(ds: Dataset, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the test part; stratified by class when every class can be split."""
    if ds.task == "classification":
        classes, counts = np.unique(ds.y, return_counts=True)
        if counts.min() >= 2 and n_test <= ds.n_samples - len(classes):
            take = _stratified_counts(counts, n_test)
            parts = [rng.permutation(np.flatnonzero(ds.y == c))[:k] for c, k in zip(classes, take)]
            return np.concatenate(parts)
    return rng.permutation(ds.n_samples)[:n_test]


def train_test_split(
    ds: Dataset, test_fraction: float = 0.25, *, seed: int = 0
) -> tuple[Dataset, Dataset]:
    """Split ``ds`` into a training and a test part, seeded, stratified when possible.

    The test part has ``round(n_samples * test_fraction)`` samples (at least 1, at most
    ``n_samples - 1``). For classification every class is split in proportion and keeps at
    least one training sample, unless some class has a single sample (then the split is plain
    random). Both parts keep the original row order, the name, the extras and the dataset's
    number of classes (a rare class may be missing from one part; the model still gets an
    output for it).

    Args:
        ds: the dataset, at least 2 samples.
        test_fraction: share of the samples in the test part, in (0, 1).
        seed: seeds which samples go where.

    Returns:
        ``(train, test)``.

    Example:
        >>> from unitscope.data import load
        >>> train, test = train_test_split(load("moons", n_samples=100), 0.2)
        >>> train.n_samples, test.n_samples, int(test.y.sum())
        (80, 20, 10)
    """
    test_fraction = check_float("test_fraction", test_fraction, above=0.0, below=1.0)
    if ds.n_samples < 2:
        raise UnitscopeError(f"cannot split dataset {ds.name!r}: it has {ds.n_samples} sample.")
    rng = rng_from_seed(seed)
    n_test = min(max(round(ds.n_samples * test_fraction), 1), ds.n_samples - 1)
    is_test = np.zeros(ds.n_samples, dtype=bool)
    is_test[_test_index(ds, n_test, rng)] = True
    how = f"train_test_split(test_fraction={test_fraction}, seed={seed})"
    parts = []
    for part, mask in (("train", ~is_test), ("test", is_test)):
        origin = f"{ds.origin}; {part} part of {how}" if ds.origin else f"{part} part of {how}"
        parts.append(ds.with_arrays(ds.x[mask], ds.y[mask], origin=origin))
    return parts[0], parts[1]


@dataclass(frozen=True)
class Standardizer:
    """Input statistics fitted on a training set: ``x -> (x - mean_) / scale_``.

    Attributes:
        mean_: per feature, shape (1, n_features), or per channel, shape (1, C, 1, 1).
        scale_: standard deviations of the same shape; 1 where a feature is constant.
    """

    mean_: np.ndarray
    scale_: np.ndarray

    @classmethod
    def fit(cls, ds: Dataset) -> Standardizer:
        """Per-feature statistics for (n, features) inputs, per-channel for images."""
        axes = (0,) if ds.x.ndim == 2 else (0, 2, 3)
        mean = ds.x.mean(axis=axes, keepdims=True)
        scale = ds.x.std(axis=axes, keepdims=True)
        return cls(mean, np.where(scale > 0, scale, 1.0))

    def apply(self, ds: Dataset) -> Dataset:
        """``ds`` with standardized inputs; targets and extras unchanged."""
        if ds.x.shape[1:2] != self.mean_.shape[1:2] or ds.x.ndim != self.mean_.ndim:
            raise UnitscopeError(
                f"dataset {ds.name!r} has inputs of shape {ds.input_shape}, but the "
                f"standardizer was fitted on {self.mean_.shape[1]} features/channels."
            )
        x = (ds.x - self.mean_) / self.scale_
        origin = f"{ds.origin}; standardized" if ds.origin else "standardized"
        return ds.with_arrays(x, ds.y, origin=origin)


def standardize(train: Dataset, test: Dataset) -> tuple[Dataset, Dataset, Standardizer]:
    """Standardize inputs with statistics fitted on ``train`` only, applied to both.

    Example:
        >>> from unitscope.data import load
        >>> train, test, stats = standardize(*train_test_split(load("gaussians")))
        >>> bool(np.allclose(train.x.mean(0), 0.0)), stats.mean_.shape
        (True, (1, 2))
    """
    stats = Standardizer.fit(train)
    return stats.apply(train), stats.apply(test), stats


def grid_2d(
    data: Dataset | np.ndarray, resolution: int = 64, margin: float = 0.5
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A regular grid over the input plane of 2-D data, for unit views.

    Args:
        data: a Dataset with 2 input features, or an array of shape (n_samples, 2).
        resolution: points per axis ``R`` (>= 2).
        margin: added on every side of the data's bounding box, in input units (>= 0).

    Returns:
        ``(points, extent)``: points of shape (R * R, 2), row-major with x varying fastest, so
        ``values.reshape(R, R)`` has rows along y and columns along x (draw it with
        ``imshow(..., origin="lower", extent=extent)``); extent is
        ``(x_min, x_max, y_min, y_max)`` of the grid.

    Example:
        >>> points, extent = grid_2d(np.array([[0.0, 0.0], [1.0, 2.0]]), 3, margin=0.0)
        >>> points[:4].tolist(), extent
        ([[0.0, 0.0], [0.5, 0.0], [1.0, 0.0], [0.0, 1.0]], (0.0, 1.0, 0.0, 2.0))
    """
    x = data.x if isinstance(data, Dataset) else np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2 or len(x) == 0:
        raise UnitscopeError(
            f"grid_2d needs 2-D inputs of shape (n_samples, 2), got shape {x.shape}."
        )
    if not np.isfinite(x).all():
        raise UnitscopeError("grid_2d: the inputs contain NaN/Inf values.")
    resolution = check_int("resolution", resolution, minimum=2)
    margin = check_float("margin", margin, minimum=0.0)
    low, high = x.min(axis=0) - margin, x.max(axis=0) + margin  # (2,), (2,)
    xs = np.linspace(low[0], high[0], resolution)
    ys = np.linspace(low[1], high[1], resolution)
    gx, gy = np.meshgrid(xs, ys)  # (R, R) each, rows along y
    points = np.stack([gx.ravel(), gy.ravel()], axis=1)
    extent = (float(low[0]), float(high[0]), float(low[1]), float(high[1]))
    return points, extent
