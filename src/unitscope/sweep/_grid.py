"""Grid files: a base config, the axes to vary and the seeds of each randomness source.

The syntax is documented in :mod:`unitscope.sweep`. :func:`make_grid` checks everything and
expands the grid into jobs before anything runs, so a typo costs nothing.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import UnitscopeError, did_you_mean, unknown_name
from .._files import read_toml
from .._memory import check_memory
from ..train import Config, SeedConfig
from ._jobs import JOB_BYTES, Batch, Job, canonical_json, count_groups, plan_batches
from ._seeds import SEED_MODES, is_int, read_seeds, seed_rows

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover
    pass

SECTIONS = ("base", "axes", "seeds", "sweep")
_OPTIONS = ("group", "group_size", "seed_mode", "threads")


@dataclass(frozen=True)
class Grid:
    """A validated, expanded grid. Build it with :func:`make_grid` or :meth:`from_toml`.

    Attributes:
        base: the config every job starts from.
        axes: dotted config key -> the values it takes, in file order.
        seeds: randomness source (init, data, dropout) -> its seeds.
        seed_mode: ``product`` (every combination of the sources) or ``zip`` (side by side).
        group: batch jobs that differ only in seeds (the default for ``run``).
        group_size: at most this many members per batched fit.
        threads: torch threads per batched fit, on every backend.
        jobs: the expansion: axes in file order (the first varies slowest), then seeds.
    """

    base: Config
    axes: dict[str, list[Any]]
    seeds: dict[str, list[int]]
    seed_mode: str
    group: bool
    group_size: int
    threads: int
    jobs: tuple[Job, ...]

    @classmethod
    def from_toml(cls, path: str | Path) -> Grid:
        """Read and expand a grid file; a relative ``base`` path is read next to it."""
        path = Path(path)
        raw = read_toml(path, "grid file")
        with _context(path.name):
            return cls.from_dict(raw, root=path.parent)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, root: Path | None = None) -> Grid:
        """Build from the nested tables of a grid file (see :mod:`unitscope.sweep`)."""
        if not isinstance(raw, Mapping):
            raise UnitscopeError(f"a grid must be a table, got {type(raw).__name__}.")
        for name in raw:
            if name not in SECTIONS:
                raise unknown_name("grid section", name, SECTIONS)
        with _context("[base]"):
            base = _read_base(raw.get("base"), root or Path("."))
        options = _table(raw.get("sweep", {}), "[sweep]")
        for key in options:
            if key not in _OPTIONS:
                raise unknown_name("[sweep] option", key, _OPTIONS)
        return make_grid(
            base,
            _table(raw.get("axes", {}), "[axes]"),
            _table(raw.get("seeds", {}), "[seeds]"),
            **options,
        )

    def batches(self, *, group: bool | None = None, group_size: int | None = None) -> list[Batch]:
        """The batched fits (see :func:`~unitscope.sweep._jobs.plan_batches`); None: the grid's."""
        return plan_batches(
            self.jobs,
            group=self.group if group is None else group,
            group_size=group_size or self.group_size,
        )

    def describe(self, *, group: bool | None = None) -> dict[str, Any]:
        """Counts for a dry run: jobs, groups, batches, and the size of each axis."""
        batches = self.batches(group=group)
        return {
            "jobs": len(self.jobs),
            "groups": count_groups(batches),
            "batches": len(batches),
            "axes": {k: len(v) for k, v in self.axes.items()},
            "seeds": {s: len(v) for s, v in self.seeds.items()},
            "seed_mode": self.seed_mode,
        }

    def to_dict(self) -> dict[str, Any]:
        """A self-contained description (the base config resolved), stored with the sweep."""
        return {
            "base": self.base.to_dict(),
            "axes": self.axes,
            "seeds": self.seeds,
            "sweep": {
                "seed_mode": self.seed_mode,
                "group": self.group,
                "group_size": self.group_size,
                "threads": self.threads,
            },
        }


def make_grid(
    base: Config | None = None,
    axes: Mapping[str, Any] | None = None,
    seeds: Mapping[str, Any] | None = None,
    *,
    seed_mode: str = "product",
    group: bool = True,
    group_size: int = 64,
    threads: int = 1,
) -> Grid:
    """Check a grid and expand it into jobs.

    Args:
        base: the config every job starts from (default: ``Config()``).
        axes: dotted config key -> list of values; nested tables are flattened.
        seeds: source -> an int, a list of ints or ``{"range": [start, stop(, step)]}``.
        seed_mode: ``product`` or ``zip`` (lists of one seed broadcast).
        group, group_size: how :meth:`Grid.batches` batches the jobs.
        threads: torch threads of each batched fit (part of what makes results identical
            across backends; parallelism comes from workers).

    Raises:
        UnitscopeError: naming the offending section and key.

    Example:
        >>> g = make_grid(axes={"model.hidden": [[4], [8]]}, seeds={"init": {"range": [0, 3]}})
        >>> len(g.jobs), g.jobs[0].point, g.jobs[0].seeds
        (6, {'model.hidden': [4]}, {'init': 0, 'data': 0, 'dropout': 0})
    """
    base = base if base is not None else Config()
    if not isinstance(seed_mode, str) or seed_mode not in SEED_MODES:
        raise unknown_name("[sweep] seed_mode", str(seed_mode), SEED_MODES)
    if not isinstance(group, bool):
        raise UnitscopeError(f"[sweep] `group` must be true or false, got {group!r}.")
    for name, value in (("group_size", group_size), ("threads", threads)):
        if not is_int(value) or value < 1:
            raise UnitscopeError(f"[sweep] `{name}` must be an integer >= 1, got {value!r}.")
    with _context("[axes]"):
        flat = _flatten(dict(axes or {}))
        for key, values in flat.items():
            _check_axis(base, key, values)
    with _context("[seeds]"):
        seed_lists = read_seeds(dict(seeds or {}), base)
    _check_size(flat, seed_lists, seed_mode)
    with _context("[seeds]"):
        rows = seed_rows(seed_lists, seed_mode)
    jobs = _expand(base, flat, rows)
    where = "[axes]" if any(k.startswith("data.") for k in flat) else "[base]"
    with _context(where):
        for data in {canonical_json(j.config["data"]): j.config["data"] for j in jobs}.values():
            _check_dataset(data)
    return Grid(
        base,
        {k: list(v) for k, v in flat.items()},
        seed_lists,
        seed_mode,
        group,
        group_size,
        threads,
        jobs,
    )


# ---- sections ----------------------------------------------------------------------------


@contextmanager
def _context(where: str) -> Iterator[None]:
    """Prefix any UnitscopeError raised inside with ``where``."""
    try:
        yield
    except UnitscopeError as err:
        raise UnitscopeError(
            f"{where} {err}" if where.startswith("[") else f"{where}: {err}"
        ) from None


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise UnitscopeError(f"{where} must be a table, got {value!r}.")
    return dict(value)


def _read_base(value: Any, root: Path) -> Config:
    if value is None:
        return Config()
    if isinstance(value, str):
        return Config.from_toml(root / value)
    if isinstance(value, Mapping):
        return Config.from_dict(dict(value))
    raise UnitscopeError(
        f"`base` must be a table (a training config) or the path of a config file, got {value!r}."
    )


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": [..]}}`` and ``{"optim.lr": [..]}`` both give ``{"optim.lr": [..]}``."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        items = _flatten(dict(value), name + ".") if isinstance(value, Mapping) else {name: value}
        for k, v in items.items():
            if k in out:
                raise UnitscopeError(f"axis {k!r} is given twice.")
            out[k] = v
    return out


def _check_axis(base: Config, key: str, values: Any) -> None:
    if key.split(".")[0] == "seeds":
        source = key.partition(".")[2] or "init"
        raise UnitscopeError(
            f"seeds are not an axis: write [seeds] {source} = [0, 1, 2] "
            f"(or {{range = [0, 64]}}) instead of {key!r}."
        )
    if not isinstance(values, (list, tuple)):
        raise UnitscopeError(
            f"axis {key!r} must be a list of values, got {values!r}; write "
            f"{key!r} = [{values!r}] or set it in [base]."
        )
    if not values:
        raise UnitscopeError(f"axis {key!r} is empty; give it at least one value.")
    seen: set[str] = set()
    for value in values:
        text = canonical_json(value)
        if text in seen:
            raise UnitscopeError(f"axis {key!r} repeats the value {value!r}.")
        seen.add(text)
        base.override({key: value})  # unknown keys and bad values name the key


# ---- expansion ----------------------------------------------------------------------------


def _check_size(axes: dict[str, Any], seeds: dict[str, list[int]], mode: str) -> None:
    """Refuse, before expanding it, a grid whose jobs would not fit in memory."""
    points = math.prod(len(v) for v in axes.values())
    lengths = [len(v) for v in seeds.values()]
    jobs = points * (math.prod(lengths) if mode == "product" else max(lengths))
    check_memory(
        jobs * JOB_BYTES,
        f"this grid gives {jobs:,} jobs, which",
        "split the sweep into smaller ones (fewer axis values or seeds)",
    )


def _expand(base: Config, axes: dict[str, Any], rows: list[dict[str, int]]) -> tuple[Job, ...]:
    jobs: list[Job] = []
    ids: dict[str, Job] = {}
    for values in itertools.product(*axes.values()):
        point = dict(zip(axes, values))
        try:
            cfg = base.override(point)
        except UnitscopeError as err:
            raise UnitscopeError(f"[axes] the point {_show(point)} is invalid: {err}") from None
        for row in rows:
            seeded = dataclasses.replace(cfg, seeds=SeedConfig(**{s: (v,) for s, v in row.items()}))
            job = Job.make(len(jobs), seeded, point)
            if job.id in ids:
                raise UnitscopeError(
                    f"[axes] the points {_show(ids[job.id].point)} and "
                    f"{_show(point)} give the same config; drop one."
                )
            ids[job.id] = job
            jobs.append(job)
    return tuple(jobs)


def _show(point: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k} = {v!r}" for k, v in point.items()) + "}"


def _check_dataset(data: dict[str, Any]) -> None:
    """A built-in name with known options, or a path that exists (relative to the cwd)."""
    from ..data import available, options

    name = data["name"]
    if name in available():
        valid = list(options(name))
        for key in data["options"]:
            if key not in valid:
                raise UnitscopeError(
                    f"unknown option {key!r} for dataset {name!r}."
                    f"{did_you_mean(key, valid)} Valid options: "
                    f"{', '.join(valid) or 'none'}."
                )
    elif not Path(name).exists():
        if Path(name).suffix or "/" in name:
            raise UnitscopeError(
                f"dataset file {name!r} not found (paths are relative to the "
                "folder the sweep runs in)."
            )
        raise unknown_name("dataset", name, available())
