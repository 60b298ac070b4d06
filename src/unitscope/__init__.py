"""unitscope: why do the interchangeable hidden units of a network learn different things?

The pipeline, one stage per subpackage::

    data -> models + init -> train -> record -> measures -> match -> views -> studies -> report

Example:
    >>> import unitscope as us
    >>> cfg = us.Config.from_dict({"init": {"scheme": "symmetric"}, "train": {"steps": 50},
    ...                            "seeds": {"init": [0, 1]}})
    >>> rec = us.fit(cfg)
    >>> w = rec.weights("hidden.0")[-1]          # (K, n_units, fan_in) at the last checkpoint
    >>> bool(abs(w - w[:, :1]).max() < 1e-6)     # identical units stayed identical
    True
"""

from __future__ import annotations

import importlib
from typing import Any

from ._errors import UnitscopeError
from ._version import __version__

# The stages, in pipeline order, imported on first use (``us.measures``).
_SUBMODULES = (
    "data",
    "models",
    "init",
    "train",
    "record",
    "measures",
    "match",
    "views",
    "studies",
    "report",
    "sweep",
)
# Names re-exported from a stage, also imported on first use.
_NAMES = {"Config": "train", "fit": "train", "Recording": "record"}

__all__ = ["UnitscopeError", "__version__", *_NAMES, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    """Import the stages lazily: ``us.measures`` loads on first use."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'unitscope' has no attribute {name!r}")
