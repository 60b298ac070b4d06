"""Datasets for unitscope: built-in sets that need no network, and the user's own files.

>>> from unitscope import data
>>> ds = data.load("moons", n_samples=100, seed=0)
>>> train, test = data.train_test_split(ds, 0.2, seed=0)
>>> train.x.shape, test.x.shape
((80, 2), (20, 2))

``available()`` lists the built-in names; ``options(name)`` their options and defaults. A path
(``.npz``, ``.csv``, a folder with one subfolder of images per class) loads user data.
"""

from __future__ import annotations

from ._dataset import Dataset, Task
from ._folder import load_image_folder
from ._registry import available, load, options
from ._split import Standardizer, grid_2d, standardize, train_test_split
from ._user import load_csv, load_npz

__all__ = [
    "Dataset",
    "Standardizer",
    "Task",
    "available",
    "grid_2d",
    "load",
    "load_csv",
    "load_image_folder",
    "load_npz",
    "options",
    "standardize",
    "train_test_split",
]
