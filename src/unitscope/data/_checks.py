"""Option checks shared by the dataset builders: one line that names the option and the value."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._errors import UnitscopeError, did_you_mean

MAX_SEED = 2**63 - 1  # seeds travel as int64 (numpy, torch, SQLite)


def check_seed(name: str, value: Any) -> int:
    """Return ``value`` as an int if it is a seed: an integer from 0 to 2**63 - 1.

    Every seed of unitscope (dataset, split, init, data order, dropout) passes this one check,
    so a negative or overflowing seed gets the same message wherever it is given.

    Example:
        >>> check_seed("data.seed", -1)
        Traceback (most recent call last):
        ...
        unitscope._errors.UnitscopeError: `data.seed` must be a seed: an integer from 0 to 2**63 - 1, got -1.
    """  # noqa: E501
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not (0 <= int(value) <= MAX_SEED)
    ):
        raise UnitscopeError(
            f"`{name}` must be a seed: an integer from 0 to 2**63 - 1, got {value!r}."
        )
    return int(value)


def rng_from_seed(seed: Any) -> np.random.Generator:
    """A numpy Generator for a seed (see :func:`check_seed`).

    Example:
        >>> float(rng_from_seed(0).random()) == float(rng_from_seed(0).random())
        True
    """
    return np.random.default_rng(check_seed("seed", seed))


def check_int(name: str, value: Any, *, minimum: int) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UnitscopeError(f"`{name}` must be an integer, got {value!r}.")
    if value < minimum:
        raise UnitscopeError(f"`{name}` must be >= {minimum}, got {value}.")
    return int(value)


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    above: float | None = None,
    below: float | None = None,
) -> float:
    """Return ``value`` as a finite float within the given bounds, or raise.

    Args:
        name: option name used in the message.
        value: the value received.
        minimum: inclusive lower bound (``>=``).
        above: exclusive lower bound (``>``).
        below: exclusive upper bound (``<``).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UnitscopeError(f"`{name}` must be a number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise UnitscopeError(f"`{name}` must be finite, got {value}.")
    if minimum is not None and value < minimum:
        raise UnitscopeError(f"`{name}` must be >= {minimum:g}, got {value:g}.")
    if above is not None and value <= above:
        raise UnitscopeError(f"`{name}` must be > {above:g}, got {value:g}.")
    if below is not None and value >= below:
        raise UnitscopeError(f"`{name}` must be < {below:g}, got {value:g}.")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool (numpy bools included), or raise."""
    if not isinstance(value, (bool, np.bool_)):
        raise UnitscopeError(f"`{name}` must be True or False, got {value!r}.")
    return bool(value)


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, or raise with a did-you-mean."""
    choices = list(choices)
    if value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        listed = ", ".join(repr(c) for c in choices)
        raise UnitscopeError(f"`{name}` must be one of {listed}, got {value!r}.{hint}")
    return str(value)


def check_size(name: str, value: Any) -> tuple[int, int]:
    """An image size given as ``s`` or ``(height, width)``, each >= 1, as ``(height, width)``."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return check_int(name, value[0], minimum=1), check_int(name, value[1], minimum=1)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        side = check_int(name, value, minimum=1)
        return side, side
    raise UnitscopeError(f"`{name}` must be an integer or a (height, width) pair, got {value!r}.")


def origin(name: str, **options: Any) -> str:
    """One line recording a builder and its options: ``moons(n_samples=200, noise=0.1, seed=0)``."""
    listed = ", ".join(f"{key}={value!r}" for key, value in options.items())
    return f"{name}({listed})"


def balanced_counts(n_samples: int, n_classes: int) -> np.ndarray:
    """Split ``n_samples`` over ``n_classes`` as evenly as possible, shape (n_classes,).

    Example:
        >>> balanced_counts(10, 3).tolist()
        [4, 3, 3]
    """
    counts = np.full(n_classes, n_samples // n_classes, dtype=np.int64)
    counts[: n_samples % n_classes] += 1
    return counts
