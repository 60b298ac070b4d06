"""One entry point, :func:`load`, over the built-in datasets and the user's files."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import UnitscopeError, did_you_mean, unknown_name
from ._checks import rng_from_seed
from ._dataset import Dataset
from ._folder import load_image_folder
from ._images import digits, patches
from ._teacher import linear, teacher
from ._toy import circles, gaussians, moons, spiral, xor
from ._user import existing_path, load_csv, load_npz


@dataclass(frozen=True)
class _Entry:
    build: Callable[..., Dataset]
    description: str


BUILTINS: dict[str, _Entry] = {
    "moons": _Entry(moons, "two interleaving half circles; 2-D, 2 classes"),
    "circles": _Entry(circles, "two concentric circles; 2-D, 2 classes"),
    "xor": _Entry(xor, "uniform square labelled by whether the signs differ; 2-D, 2 classes"),
    "spiral": _Entry(spiral, "interleaved spiral arms, one class per arm; 2-D"),
    "gaussians": _Entry(gaussians, "Gaussian blobs on a circle, one class per blob; 2-D"),
    "teacher": _Entry(teacher, "Gaussian inputs labelled by a random one-hidden-layer teacher"),
    "linear": _Entry(linear, "linear regression with two exchangeable (or not) features"),
    "digits": _Entry(digits, "scikit-learn's 8x8 handwritten digits; 10 classes"),
    "patches": _Entry(patches, "patches of scikit-learn's two sample photos; which photo"),
}

_FILE_LOADERS: dict[str, Callable[..., Dataset]] = {".npz": load_npz, ".csv": load_csv}


def available() -> dict[str, str]:
    """Built-in dataset names with a one-line description each.

    Example:
        >>> "moons" in available()
        True
    """
    return {name: entry.description for name, entry in BUILTINS.items()}


def _option_defaults(build: Callable[..., Dataset]) -> dict[str, Any]:
    skip = ("seed", "path")
    params = inspect.signature(build).parameters.values()
    return {p.name: p.default for p in params if p.name not in skip}


def options(name: str) -> dict[str, Any]:
    """The options of a built-in dataset and their defaults.

    Example:
        >>> options("moons")
        {'n_samples': 200, 'noise': 0.1}
    """
    if name not in BUILTINS:
        raise unknown_name("dataset", name, BUILTINS)
    return _option_defaults(BUILTINS[name].build)


def _check_options(name: str, build: Callable[..., Dataset], given: dict[str, Any]) -> None:
    valid = list(_option_defaults(build))
    for key in given:
        if key not in valid:
            listed = ", ".join(valid) if valid else "none"
            raise UnitscopeError(
                f"unknown option {key!r} for dataset {name!r}.{did_you_mean(key, valid)} "
                f"Valid options: {listed}."
            )


def _looks_like_path(name: str) -> bool:
    return (
        Path(name).suffix.lower() in _FILE_LOADERS
        or "/" in name
        or os.sep in name
        or (Path(name).exists())
    )


def _load_path(path: Path, given: dict[str, Any]) -> Dataset:
    if path.is_dir():
        _check_options(str(path), load_image_folder, given)
        return load_image_folder(path, **given)
    loader = _FILE_LOADERS.get(path.suffix.lower())
    if loader is None:
        existing_path(path)  # a missing file is reported as missing
        raise UnitscopeError(
            f"unsupported file type {path.suffix!r} for {str(path)!r}; expected a .npz file, "
            "a .csv file or a folder of images."
        )
    _check_options(path.name, loader, given)
    return loader(path, **given)


def load(name: str | os.PathLike[str], *, seed: int = 0, **options: Any) -> Dataset:
    """Load a built-in dataset by name, or the user's data from a path.

    A name that is not built in is taken as a path when it ends in ``.npz`` or ``.csv``,
    contains a path separator, or exists: a ``.npz`` (:func:`load_npz`), a ``.csv``
    (:func:`load_csv`, needs ``target=``) or a folder of class subfolders
    (:func:`load_image_folder`). The order of a user's rows is kept, so ``seed`` only
    matters for built-in data.

    Args:
        name: a name from :func:`available`, or a path.
        seed: seeds everything random in the built-in datasets.
        **options: the dataset's options (see :func:`options`).

    Returns:
        The Dataset.

    Example:
        >>> ds = load("moons", n_samples=64, noise=0.2, seed=3)
        >>> ds.x.shape, ds.task
        ((64, 2), 'classification')
    """
    rng_from_seed(seed)  # validates the seed for user files too
    if isinstance(name, os.PathLike) or (name not in BUILTINS and _looks_like_path(name)):
        return _load_path(Path(name), options)
    if not isinstance(name, str) or name not in BUILTINS:
        raise unknown_name("dataset", str(name), BUILTINS)
    build = BUILTINS[name].build
    _check_options(name, build, options)
    return build(seed=seed, **options)
