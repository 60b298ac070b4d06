"""Cut members out of a K-member Recording: a batched fit becomes one recording per job."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from .._errors import UnitscopeError
from ..record import Recording

_SOURCES = ("init", "data", "dropout")


def select_members(rec: Recording, members: Sequence[int]) -> Recording:
    """A recording of only the chosen members, in the given order.

    Every array with a member axis is indexed along it (``params``/``acts``/``maps``: axis 1,
    ``curves``/``diverged``: axis 0); the probe set and steps are shared. The metadata's seeds
    and the config's seed lists are cut the same way, so the result is what ``fit`` would have
    recorded for those members alone.

    Args:
        rec: a recording of K members.
        members: indices in ``range(K)``.

    Returns:
        A new Recording; the arrays are copies.

    Example:
        >>> from unitscope.train import Config, fit
        >>> rec = fit(Config.from_dict({"train": {"steps": 5}, "seeds": {"init": [7, 8, 9]}}))
        >>> one = select_members(rec, [1])
        >>> one.members, one.meta["seeds"]["init"], one.config["seeds"]["init"]
        (1, [8], [8])
    """
    index = [int(k) for k in members]
    if not index or any(k < 0 or k >= rec.members for k in index):
        raise UnitscopeError(f"`members` must be indices in [0, {rec.members}), got {index}.")

    def take(arrays: dict[str, np.ndarray], axis: int) -> dict[str, np.ndarray]:
        return {k: np.take(v, index, axis=axis) for k, v in arrays.items()}

    meta = copy.deepcopy(rec.meta)
    seeds = meta.get("seeds", {})
    for source in _SOURCES:
        if source in seeds:
            seeds[source] = [seeds[source][k] for k in index]
        config_seeds = meta.get("config", {}).get("seeds", {})
        if source in config_seeds and source in seeds:
            config_seeds[source] = _compact(seeds[source])
    return Recording(
        steps=rec.steps.copy(),
        params=take(rec.params, 1),
        acts=take(rec.acts, 1),
        curves=take(rec.curves, 0),
        curve_steps=rec.curve_steps.copy(),
        probe_x=rec.probe_x.copy(),
        probe_y=rec.probe_y.copy(),
        diverged=np.take(rec.diverged, index, axis=0),
        meta=meta,
        maps=take(rec.maps, 1),
    )


def _compact(seeds: list[int]) -> list[int]:
    """One seed when all members share it (as a config broadcasts it), else the list."""
    return seeds[:1] if len(set(seeds)) == 1 else list(seeds)
