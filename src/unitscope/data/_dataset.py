"""The Dataset container: arrays plus a task, a name and where they came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .._errors import UnitscopeError

Task = Literal["regression", "classification"]


@dataclass(frozen=True)
class Dataset:
    """Paired inputs and targets.

    Attributes:
        x: inputs, float64, shape (n_samples, n_features) or (n_samples, channels, height, width).
        y: targets; int64 class labels of shape (n_samples,) for classification,
            float64 of shape (n_samples, n_outputs) for regression.
        task: ``"classification"`` or ``"regression"``.
        name: short name used in reports (``"moons"``, ``"digits"``, ``"data.csv"``).
        origin: one line on where the data came from and with which options.
        extras: ground truth that came with the data (e.g. a teacher network's weights),
            name -> float64 array.
        n_classes: classification: the number of classes C of the whole dataset (labels are
            0..C-1), kept by every subset and split even when a class has no sample there;
            ``0`` (the default) means ``y.max() + 1``. Regression: always 0.

    ``x`` and ``y`` are stored C-contiguous (a transposed or Fortran-ordered array is copied once),
    so every later stage may reshape them as views.
    """

    x: np.ndarray
    y: np.ndarray
    task: Task
    name: str
    origin: str = ""
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    n_classes: int = 0

    def __post_init__(self) -> None:
        validate_arrays(self.x, self.y, self.task, self.name)
        object.__setattr__(self, "x", np.ascontiguousarray(self.x))
        object.__setattr__(self, "y", np.ascontiguousarray(self.y))
        object.__setattr__(
            self, "n_classes", _n_classes(self.y, self.task, self.n_classes, self.name)
        )

    def __repr__(self) -> str:
        """Shapes instead of the arrays: ``Dataset('moons', classification, x=(200, 2), ...)``."""
        return (
            f"Dataset({self.name!r}, {self.task}, x={self.x.shape}, y={self.y.shape}, "
            f"extras={sorted(self.extras)})"
        )

    @property
    def n_samples(self) -> int:
        return int(self.x.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. ``(2,)`` or ``(1, 8, 8)``."""
        return tuple(int(s) for s in self.x.shape[1:])

    @property
    def n_outputs(self) -> int:
        """Number of classes of the whole dataset (classification) or target columns."""
        if self.task == "classification":
            return self.n_classes
        return int(self.y.shape[1])

    def subset(self, index: np.ndarray, name: str | None = None) -> Dataset:
        """The samples at ``index``, same task, name, extras and number of classes."""
        return self.with_arrays(self.x[index], self.y[index], name=name)

    def with_arrays(
        self, x: np.ndarray, y: np.ndarray, *, name: str | None = None, origin: str | None = None
    ) -> Dataset:
        """A dataset of other rows or inputs that keeps task, extras and number of classes."""
        return Dataset(
            x,
            y,
            self.task,
            self.name if name is None else name,
            self.origin if origin is None else origin,
            self.extras,
            self.n_classes,
        )

    def fingerprint(self) -> str:
        """sha256 of the inputs and targets; recordings use it to refuse mixing probe sets."""
        h = hashlib.sha256()
        for a in (self.x, self.y):
            h.update(str(a.dtype).encode() + str(a.shape).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


def _n_classes(y: np.ndarray, task: str, given: object, name: str) -> int:
    """The number of classes: ``given``, or ``y.max() + 1``; 0 for regression."""
    if isinstance(given, bool) or not isinstance(given, (int, np.integer)) or given < 0:
        raise UnitscopeError(
            f"dataset {name!r}: `n_classes` must be a non-negative integer, got {given!r}."
        )
    if task != "classification":
        if given:
            raise UnitscopeError(
                f"dataset {name!r}: `n_classes` applies to classification, got {given} for "
                "regression targets."
            )
        return 0
    top = int(y.max()) + 1  # validate_arrays refused an empty dataset
    if given and given < top:
        raise UnitscopeError(
            f"dataset {name!r}: a label is {top - 1}, but `n_classes` is {given}; labels must be "
            f"0..{given - 1}."
        )
    return int(given or top)


def validate_arrays(x: np.ndarray, y: np.ndarray, task: str, name: str) -> None:
    """Raise UnitscopeError naming what is wrong with (x, y) and what is expected."""
    if task not in ("classification", "regression"):
        raise UnitscopeError(
            f"dataset {name!r}: task must be 'classification' or 'regression', got {task!r}."
        )
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise UnitscopeError(f"dataset {name!r}: x and y must be numpy arrays.")
    if x.ndim not in (2, 4):
        raise UnitscopeError(
            f"dataset {name!r}: x must have shape (n_samples, n_features) or (n_samples, "
            f"channels, height, width), got shape {x.shape}."
        )
    if x.shape[0] == 0:
        raise UnitscopeError(f"dataset {name!r} is empty: x has 0 samples.")
    if y.shape[0] != x.shape[0]:
        raise UnitscopeError(
            f"dataset {name!r}: x has {x.shape[0]} samples but y has {y.shape[0]}; "
            "they must be paired row by row."
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise UnitscopeError(f"dataset {name!r}: x must be floating point, got dtype {x.dtype}.")
    bad = ~np.isfinite(x)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise UnitscopeError(
            f"dataset {name!r}: x contains {int(bad.sum())} NaN/Inf values (first in row {row}); "
            "remove or impute them."
        )
    if task == "classification":
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise UnitscopeError(
                f"dataset {name!r}: classification labels must be integers of shape (n_samples,), "
                f"got dtype {y.dtype} and shape {y.shape}."
            )
        if y.min() < 0:
            raise UnitscopeError(
                f"dataset {name!r}: class labels must be 0..C-1, found {int(y.min())}."
            )
    else:
        if y.ndim != 2 or not np.issubdtype(y.dtype, np.floating):
            raise UnitscopeError(
                f"dataset {name!r}: regression targets must be floats of shape (n_samples, "
                f"n_outputs), got dtype {y.dtype} and shape {y.shape}."
            )
        if not np.isfinite(y).all():
            raise UnitscopeError(f"dataset {name!r}: y contains NaN/Inf values.")
