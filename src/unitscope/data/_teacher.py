"""Regression sets with a known answer: a random teacher network, and a linear model.

The ground truth travels in ``Dataset.extras`` so that a study can compare what a student
learned with what generated the labels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import erf, expit

from .._errors import UnitscopeError
from ._checks import check_bool, check_choice, check_float, check_int, origin, rng_from_seed
from ._dataset import Dataset

ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": expit,
    "erf": lambda z: erf(z / np.sqrt(2.0)),
}


def teacher_forward(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, out_weight: np.ndarray, activation: str
) -> np.ndarray:
    """The teacher's clean output ``act(x W^T + b) A^T``.

    Args:
        x: inputs, shape (n_samples, n_features).
        weight: ``W``, shape (width, n_features).
        bias: ``b``, shape (width,).
        out_weight: ``A``, shape (n_outputs, width).
        activation: one of ``relu``, ``tanh``, ``sigmoid``, ``erf`` (``erf(z / sqrt 2)``).

    Returns:
        Shape (n_samples, n_outputs).
    """
    act = ACTIVATIONS[check_choice("activation", activation, ACTIVATIONS)]
    hidden = act(x @ weight.T + bias)  # (n_samples, width)
    return hidden @ out_weight.T


def teacher(
    n_samples: int = 512,
    *,
    n_features: int = 10,
    width: int = 4,
    n_outputs: int = 1,
    activation: str = "relu",
    noise: float = 0.0,
    seed: int = 0,
) -> Dataset:
    """Gaussian inputs labelled by a random one-hidden-layer teacher network.

    ``x ~ N(0, I)``; ``W`` has entries ``N(0, 1 / n_features)`` (so every pre-activation has
    unit variance), ``b ~ N(0, 0.1^2)``, ``A`` has entries ``N(0, 1 / width)``;
    ``y = act(x W^T + b) A^T + noise * N(0, 1)``. ``extras`` holds ``teacher.weight``
    (width, n_features), ``teacher.bias`` (width,) and ``teacher.out_weight`` (n_outputs, width).

    Args:
        n_samples: number of samples (>= 1).
        n_features: input dimension ``d`` (>= 1).
        width: number of teacher hidden units ``r`` (>= 1).
        n_outputs: number of target columns (>= 1).
        activation: ``relu``, ``tanh``, ``sigmoid`` or ``erf``.
        noise: standard deviation of the label noise (>= 0).
        seed: seeds the teacher, the inputs and the noise.

    Example:
        >>> ds = teacher(32, n_features=3, width=2)
        >>> w, b, a = (ds.extras[f"teacher.{k}"] for k in ("weight", "bias", "out_weight"))
        >>> bool(np.allclose(ds.y, teacher_forward(ds.x, w, b, a, "relu")))
        True
    """
    n_samples = check_int("n_samples", n_samples, minimum=1)
    n_features = check_int("n_features", n_features, minimum=1)
    width = check_int("width", width, minimum=1)
    n_outputs = check_int("n_outputs", n_outputs, minimum=1)
    activation = check_choice("activation", activation, ACTIVATIONS)
    noise = check_float("noise", noise, minimum=0.0)
    rng = rng_from_seed(seed)
    weight = rng.standard_normal((width, n_features)) / np.sqrt(n_features)
    bias = 0.1 * rng.standard_normal(width)
    out_weight = rng.standard_normal((n_outputs, width)) / np.sqrt(width)
    x = rng.standard_normal((n_samples, n_features))
    y = teacher_forward(x, weight, bias, out_weight, activation)
    y = y + noise * rng.standard_normal(y.shape)
    extras = {"teacher.weight": weight, "teacher.bias": bias, "teacher.out_weight": out_weight}
    how = origin(
        "teacher",
        n_samples=n_samples,
        n_features=n_features,
        width=width,
        n_outputs=n_outputs,
        activation=activation,
        noise=noise,
        seed=seed,
    )
    return Dataset(x, y, "regression", "teacher", how, extras)


def _check_pair(pair: object, n_features: int) -> tuple[int, int]:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise UnitscopeError(f"`pair` must be two feature indices (i, j), got {pair!r}.")
    i = check_int("pair", pair[0], minimum=0)
    j = check_int("pair", pair[1], minimum=0)
    if i == j or max(i, j) >= n_features:
        raise UnitscopeError(
            f"`pair` must be two different indices below n_features={n_features}, got {pair!r}."
        )
    return i, j


def linear(
    n_samples: int = 256,
    *,
    n_features: int = 5,
    exchangeable: bool = True,
    pair: tuple[int, int] = (0, 1),
    noise: float = 0.1,
    seed: int = 0,
) -> Dataset:
    """Linear regression ``y = x beta + noise``, with two features exchangeable or not.

    Features are independent ``N(0, 1)`` and ``beta ~ N(0, I)``. For the features
    ``(i, j) = pair``: if ``exchangeable``, ``beta_j = beta_i`` and both columns have the same
    distribution, so swapping them changes nothing; otherwise ``beta_j = beta_i + 1`` and
    column ``j`` has standard deviation 2. ``extras["beta"]`` is the true coefficient vector,
    shape (n_features,); ``extras["pair"]`` is ``[i, j]`` as float64.

    Args:
        n_samples: number of samples (>= 1).
        n_features: number of features (>= 2).
        exchangeable: make the pair exchangeable (True) or break the symmetry (False).
        pair: the two feature indices.
        noise: standard deviation of the label noise (>= 0).
        seed: seeds beta, the inputs and the noise.

    Example:
        >>> ds = linear(20, noise=0.0)
        >>> beta = ds.extras["beta"]
        >>> bool(beta[0] == beta[1]) and bool(np.allclose(ds.y[:, 0], ds.x @ beta))
        True
    """
    n_samples = check_int("n_samples", n_samples, minimum=1)
    n_features = check_int("n_features", n_features, minimum=2)
    exchangeable = check_bool("exchangeable", exchangeable)
    i, j = _check_pair(pair, n_features)
    noise = check_float("noise", noise, minimum=0.0)
    rng = rng_from_seed(seed)
    beta = rng.standard_normal(n_features)
    x = rng.standard_normal((n_samples, n_features))
    beta[j] = beta[i] if exchangeable else beta[i] + 1.0
    if not exchangeable:
        x[:, j] *= 2.0
    y = (x @ beta)[:, None] + noise * rng.standard_normal((n_samples, 1))  # (n_samples, 1)
    how = origin(
        "linear",
        n_samples=n_samples,
        n_features=n_features,
        exchangeable=exchangeable,
        pair=(i, j),
        noise=noise,
        seed=seed,
    )
    extras = {"beta": beta, "pair": np.array([i, j], dtype=np.float64)}
    return Dataset(x, y, "regression", "linear", how, extras)
