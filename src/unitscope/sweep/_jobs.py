"""Jobs, their stable ids, and the batches that train jobs differing only in seeds together.

A job is one training run of one member: a resolved :class:`~unitscope.train.Config` whose seed
lists hold one seed each. Its id is a hash of that config's canonical JSON, so the same job has
the same id in every sweep, on every machine, in every backend.

Jobs whose configs are equal once the seeds are removed form a *group*; a group is cut, in grid
order, into *batches* of at most ``group_size`` jobs, and each batch is one batched
:func:`~unitscope.train.fit` with one member per job. The cut depends only on the grid, never on
the backend or the number of workers, so every backend trains exactly the same batches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import UnitscopeError
from ..train import Config

SOURCES = ("init", "data", "dropout")
ID_LENGTH = 16  # hex digits of sha256: 64 bits, no collision in any realistic sweep
# Memory one expanded job holds while a sweep is planned (its resolved config as dicts, its
# id and point): measured 3.2 kB on a 40,000-job grid, rounded up. Grids are refused before
# expansion when their jobs would not fit (unitscope._memory).
JOB_BYTES = 4096


def canonical_json(obj: Any) -> str:
    """Compact JSON with sorted keys: equal values give equal strings.

    >>> canonical_json({"b": [1, 2.5], "a": "x"})
    '{"a":"x","b":[1,2.5]}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def digest(obj: Any) -> str:
    """The first :data:`ID_LENGTH` hex digits of the sha256 of ``canonical_json(obj)``."""
    return hashlib.sha256(canonical_json(obj).encode("ascii")).hexdigest()[:ID_LENGTH]


def group_key(config: dict[str, Any]) -> str:
    """What jobs of one batched fit share: the config without its seeds."""
    return digest({k: v for k, v in config.items() if k != "seeds"})


@dataclass(frozen=True)
class Job:
    """One run of one member.

    Attributes:
        id: hash of the resolved config (see :func:`digest`).
        index: position in the grid's expansion order.
        config: the resolved config as plain dicts (one seed per source).
        point: this job's value on each axis, in axis order.
        seeds: this job's seed for each randomness source.
    """

    id: str
    index: int
    config: dict[str, Any]
    point: dict[str, Any]
    seeds: dict[str, int]

    @classmethod
    def make(cls, index: int, config: Config, point: dict[str, Any]) -> Job:
        raw = config.to_dict()
        seeds = {s: int(raw["seeds"][s][0]) for s in SOURCES}
        return cls(digest(raw), index, raw, dict(point), seeds)

    @property
    def group(self) -> str:
        return group_key(self.config)


@dataclass(frozen=True)
class Batch:
    """Jobs trained by one batched fit: member k of the fit is ``jobs[k]``.

    Attributes:
        index: position in the plan.
        group: the shared :func:`group_key`.
        jobs: the members, in grid order.
    """

    index: int
    group: str
    jobs: tuple[Job, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(j.id for j in self.jobs)

    def restrict(self, keep: set[str]) -> Batch | None:
        """The same batch with only the jobs in ``keep`` (None if none is left)."""
        jobs = tuple(j for j in self.jobs if j.id in keep)
        return Batch(self.index, self.group, jobs) if jobs else None


def plan_batches(jobs: Sequence[Job], *, group: bool = True, group_size: int = 64) -> list[Batch]:
    """Cut ``jobs`` into batches: by group (in order of first appearance), then by size.

    Args:
        jobs: the grid's jobs in expansion order.
        group: batch jobs that differ only in seeds; False gives one batch per job.
        group_size: at most this many members per batch.

    Returns:
        The batches in a deterministic order that depends only on ``jobs`` and the options.

    Example:
        >>> from unitscope.train import Config
        >>> base = Config()
        >>> jobs = [Job.make(i, base.override({"seeds.init": [i], "optim.lr": lr}), {})
        ...         for i, lr in enumerate([0.1, 0.1, 0.2, 0.1])]
        >>> [len(b.jobs) for b in plan_batches(jobs)], len(plan_batches(jobs, group=False))
        ([3, 1], 4)
    """
    if group_size < 1:
        raise UnitscopeError(f"`group_size` must be >= 1, got {group_size}.")
    if not group:
        return [Batch(i, j.group, (j,)) for i, j in enumerate(jobs)]
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.group, []).append(job)
    batches: list[Batch] = []
    for key, members in groups.items():
        for start in range(0, len(members), group_size):
            chunk = tuple(members[start : start + group_size])
            batches.append(Batch(len(batches), key, chunk))
    return batches


def count_groups(batches: Iterable[Batch]) -> int:
    """Number of distinct groups among ``batches``."""
    return len({b.group for b in batches})
