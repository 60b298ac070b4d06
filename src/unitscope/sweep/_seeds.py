"""Seeds of a grid: per randomness source, an integer, a list or a range; combined by mode.

>>> read_seeds({"init": {"range": [0, 3]}, "data": [7, 8]}, Config())
{'init': [0, 1, 2], 'data': [7, 8], 'dropout': [0]}
>>> len(seed_rows({"init": [0, 1, 2], "data": [7, 8], "dropout": [0]}, "product"))
6
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from .._errors import UnitscopeError, did_you_mean, unknown_name
from .._memory import check_memory
from ..data._checks import check_seed
from ..train import Config
from ._jobs import JOB_BYTES, SOURCES

SEED_MODES = ("product", "zip")


def read_seeds(given: dict[str, Any], base: Config) -> dict[str, list[int]]:
    """Each source's seed list; a source not given takes the base config's single seed."""
    for source in given:
        if source not in SOURCES:
            raise unknown_name("seed source", source, SOURCES)
    out = {}
    for source in SOURCES:
        if source in given:
            out[source] = _seed_list(source, given[source])
            continue
        default = list(getattr(base.seeds, source))
        if len(default) != 1:
            raise UnitscopeError(
                f"the base config gives {len(default)} seeds for `{source}`; "
                f"a sweep job trains one member, so list them here: "
                f"{source} = {default}."
            )
        out[source] = default
    return out


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seed_list(source: str, value: Any) -> list[int]:
    form = "an integer, a list of integers or {range = [start, stop]}"
    if is_int(value):
        return [check_seed(source, value)]
    if isinstance(value, (list, tuple)) and value and all(is_int(v) for v in value):
        if len(set(value)) != len(value):
            raise UnitscopeError(f"`{source}` repeats a seed: {list(value)}.")
        return [check_seed(source, v) for v in value]
    if isinstance(value, Mapping) and set(value) == {"range"}:
        bounds = value["range"]
        if (
            isinstance(bounds, (list, tuple))
            and len(bounds) in (2, 3)
            and all(is_int(b) for b in bounds)
            and (len(bounds) == 2 or bounds[2] != 0)
        ):
            span = range(*bounds)
            if not span:
                raise UnitscopeError(
                    f"`{source}` = {{range = {list(bounds)}}} is empty; the "
                    "stop is excluded, as in Python's range."
                )
            check_seed(source, span[0])
            check_seed(source, span[-1])
            check_memory(  # before the list is made: each seed is at least one job
                len(span) * JOB_BYTES,
                f"`{source}` = {{range = {list(bounds)}}} gives {len(span):,} jobs, which",
                "split the sweep into smaller ones",
            )
            return list(span)
        raise UnitscopeError(
            f"`{source}` range must be [start, stop] or [start, stop, step] "
            f"of integers, got {bounds!r}."
        )
    if isinstance(value, Mapping):
        keys = ", ".join(repr(k) for k in value)
        raise UnitscopeError(
            f"`{source}` must be {form}, got a table with {keys}."
            f"{did_you_mean(str(next(iter(value), '')), ['range'])}"
        )
    raise UnitscopeError(f"`{source}` must be {form}, got {value!r}.")


def seed_rows(seeds: dict[str, list[int]], mode: str) -> list[dict[str, int]]:
    """One ``{source: seed}`` per job: every combination (``product``) or side by side."""
    if mode == "product":
        return [dict(zip(SOURCES, combo)) for combo in itertools.product(*seeds.values())]
    lengths = {s: len(v) for s, v in seeds.items()}
    longer = {n for n in lengths.values() if n != 1}
    if len(longer) > 1:
        raise UnitscopeError(
            f"seed_mode = 'zip' needs lists of one common length (or of length 1), got {lengths}."
        )
    n = max(lengths.values())
    return [{s: v[i if len(v) > 1 else 0] for s, v in seeds.items()} for i in range(n)]
