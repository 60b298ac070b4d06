"""Two-dimensional toy classification sets: moons, circles, xor, spiral and gaussian blobs.

Every set draws the same number of points per class (up to one), adds isotropic Gaussian
noise of standard deviation ``noise`` to the inputs, and shuffles the rows with ``seed``.
Inputs are float64 of shape (n_samples, 2); labels are int64 of shape (n_samples,).
"""

from __future__ import annotations

import numpy as np

from ._checks import balanced_counts, check_float, check_int, origin, rng_from_seed
from ._dataset import Dataset


def _check_common(n_samples: int, noise: float, n_classes: int) -> tuple[int, float]:
    n_samples = check_int("n_samples", n_samples, minimum=n_classes)
    return n_samples, check_float("noise", noise, minimum=0.0)


def _assemble(
    parts: list[np.ndarray],
    noise: float,
    rng: np.random.Generator,
    name: str,
    how: str,
    extras: dict[str, np.ndarray] | None = None,
) -> Dataset:
    """Stack per-class points, add noise, shuffle the rows and wrap them in a Dataset.

    Args:
        parts: one array of clean points per class, each of shape (n_c, 2).
        noise: standard deviation of the Gaussian noise added to every coordinate.
        rng: the generator that drew ``parts``; it also draws the noise and the order.
        name: dataset name.
        how: origin line.
        extras: ground truth to keep with the data.
    """
    x = np.concatenate(parts).astype(np.float64)  # (n_samples, 2)
    y = np.concatenate([np.full(len(p), c, dtype=np.int64) for c, p in enumerate(parts)])
    x = x + noise * rng.standard_normal(x.shape)
    order = rng.permutation(len(x))
    return Dataset(x[order], y[order], "classification", name, how, extras or {})


def moons(n_samples: int = 200, *, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles, centred on the origin.

    Class 0 lies on the upper arc ``(cos t, sin t)``, class 1 on the lower arc
    ``(1 - cos t, 0.5 - sin t)``, ``t`` uniform on [0, pi]; both shifted by (-0.5, -0.25).

    Example:
        >>> ds = moons(100, noise=0.0, seed=1)
        >>> ds.x.shape, ds.y.dtype.name, int(ds.y.sum())
        ((100, 2), 'int64', 50)
    """
    n_samples, noise = _check_common(n_samples, noise, 2)
    rng = rng_from_seed(seed)
    n0, n1 = balanced_counts(n_samples, 2)
    t0, t1 = rng.uniform(0.0, np.pi, n0), rng.uniform(0.0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    shift = np.array([0.5, 0.25])
    how = origin("moons", n_samples=n_samples, noise=noise, seed=seed)
    return _assemble([upper - shift, lower - shift], noise, rng, "moons", how)


def circles(
    n_samples: int = 200, *, noise: float = 0.05, factor: float = 0.5, seed: int = 0
) -> Dataset:
    """Two concentric circles: class 0 of radius 1, class 1 of radius ``factor``.

    Args:
        n_samples: number of points (>= 2).
        noise: standard deviation of the Gaussian noise on each coordinate (>= 0).
        factor: inner radius over outer radius, in (0, 1).
        seed: seeds the angles, the noise and the order.

    Example:
        >>> ds = circles(50, noise=0.0, factor=0.3)
        >>> sorted({round(float(r), 6) for r in (ds.x**2).sum(1) ** 0.5})
        [0.3, 1.0]
    """
    n_samples, noise = _check_common(n_samples, noise, 2)
    factor = check_float("factor", factor, above=0.0, below=1.0)
    rng = rng_from_seed(seed)
    parts = []
    for radius, count in zip((1.0, factor), balanced_counts(n_samples, 2)):
        angle = rng.uniform(0.0, 2.0 * np.pi, count)
        parts.append(radius * np.stack([np.cos(angle), np.sin(angle)], axis=1))
    how = origin("circles", n_samples=n_samples, noise=noise, factor=factor, seed=seed)
    return _assemble(parts, noise, rng, "circles", how)


def xor(n_samples: int = 200, *, noise: float = 0.05, seed: int = 0) -> Dataset:
    """Points uniform on the square [-1, 1]^2; the label is 1 where the two signs differ.

    The label is fixed before the noise is added, so noise blurs the boundary along the axes.

    Example:
        >>> ds = xor(40, noise=0.0)
        >>> bool(((ds.x[:, 0] * ds.x[:, 1] < 0) == (ds.y == 1)).all())
        True
    """
    n_samples, noise = _check_common(n_samples, noise, 2)
    rng = rng_from_seed(seed)
    parts = []
    for label, count in enumerate(balanced_counts(n_samples, 2)):
        magnitude = rng.uniform(0.0, 1.0, (count, 2))
        sign = rng.choice([-1.0, 1.0], count)
        second = sign if label == 0 else -sign
        parts.append(magnitude * np.stack([sign, second], axis=1))
    how = origin("xor", n_samples=n_samples, noise=noise, seed=seed)
    return _assemble(parts, noise, rng, "xor", how)


def spiral(
    n_samples: int = 300,
    *,
    n_arms: int = 3,
    noise: float = 0.05,
    turns: float = 1.0,
    seed: int = 0,
) -> Dataset:
    """``n_arms`` interleaved spiral arms, one class per arm.

    A point of arm ``j`` at ``t`` (uniform on [0, 1]) sits at radius ``t`` and angle
    ``2 pi (turns t + j / n_arms)``; neighbouring arms are ``1 / (n_arms turns)`` apart.

    Args:
        n_samples: number of points (>= n_arms).
        n_arms: number of arms and classes (>= 2).
        noise: standard deviation of the Gaussian noise on each coordinate (>= 0).
        turns: how many full turns each arm makes (> 0).
        seed: seeds the positions, the noise and the order.
    """
    n_arms = check_int("n_arms", n_arms, minimum=2)
    n_samples, noise = _check_common(n_samples, noise, n_arms)
    turns = check_float("turns", turns, above=0.0)
    rng = rng_from_seed(seed)
    parts = []
    for arm, count in enumerate(balanced_counts(n_samples, n_arms)):
        t = rng.uniform(0.0, 1.0, count)
        angle = 2.0 * np.pi * (turns * t + arm / n_arms)
        parts.append(t[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1))
    how = origin("spiral", n_samples=n_samples, n_arms=n_arms, noise=noise, turns=turns, seed=seed)
    return _assemble(parts, noise, rng, "spiral", how)


def gaussians(
    n_samples: int = 300,
    *,
    n_centers: int = 3,
    noise: float = 0.3,
    radius: float = 2.0,
    seed: int = 0,
) -> Dataset:
    """Isotropic Gaussian blobs, one class per blob, centres evenly spaced on a circle.

    Centre ``j`` is ``radius (cos 2 pi j / n_centers, sin 2 pi j / n_centers)``; the centres are
    kept in ``extras["centers"]``, shape (n_centers, 2).

    Args:
        n_samples: number of points (>= n_centers).
        n_centers: number of blobs and classes (>= 2).
        noise: standard deviation of each blob (>= 0).
        radius: distance of every centre from the origin (> 0).
        seed: seeds the noise and the order.

    Example:
        >>> ds = gaussians(60, n_centers=4, noise=0.0)
        >>> bool(np.allclose(ds.x, ds.extras["centers"][ds.y]))
        True
    """
    n_centers = check_int("n_centers", n_centers, minimum=2)
    n_samples, noise = _check_common(n_samples, noise, n_centers)
    radius = check_float("radius", radius, above=0.0)
    rng = rng_from_seed(seed)
    angle = 2.0 * np.pi * np.arange(n_centers) / n_centers
    centers = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)  # (n_centers, 2)
    counts = balanced_counts(n_samples, n_centers)
    parts = [np.repeat(c[None, :], k, axis=0) for c, k in zip(centers, counts)]
    how = origin(
        "gaussians",
        n_samples=n_samples,
        n_centers=n_centers,
        noise=noise,
        radius=radius,
        seed=seed,
    )
    return _assemble(parts, noise, rng, "gaussians", how, {"centers": centers})
