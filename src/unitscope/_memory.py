"""Refuse work that cannot fit in memory before allocating it, with an estimate of the need.

A size typed by mistake (``model.hidden=[1000000000]``, ``--resolution 200000``, a sweep of 10⁹
seeds) would otherwise allocate until the machine swaps or the process is killed. Each
boundary estimates the bytes its work needs (its large arrays) and calls :func:`check_memory`,
which compares the estimate with the memory this process can get now: what the system reports
as available (free plus reclaimable caches), within the container's limit if there is one.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ._errors import UnitscopeError


def memory_limit() -> int | None:
    """Bytes of memory this process can allocate now; None when the platform does not say
    (then nothing is refused).

    Linux: ``MemAvailable`` of /proc/meminfo, and at most what the cgroup (container) limit
    leaves; elsewhere the physical memory.
    """
    limits = [_available(), _cgroup_left()]
    if limits[0] is None:
        with contextlib.suppress(AttributeError, ValueError, OSError):  # not POSIX: no limit
            limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    known = [n for n in limits if n is not None and n > 0]
    return min(known) if known else None


def _available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_left() -> int | None:
    """The cgroup v2 limit minus the cgroup's usage, when a limit is set."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text(encoding="ascii").strip()
        used = (root / "memory.current").read_text(encoding="ascii").strip()
    except OSError:
        return None
    if not limit.isdigit() or not used.isdigit():
        return None  # "max": no limit
    return max(int(limit) - int(used), 0)


def format_bytes(n: float) -> str:
    """A byte count for people, in decimal units.

    >>> format_bytes(460e9), format_bytes(1.5e12), format_bytes(2048), format_bytes(3.2e18)
    ('460 GB', '1.5 TB', '2 kB', '3,200,000 TB')
    """
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            value = n / size
            text = f"{value:,.0f}" if value >= 10 else f"{value:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    return f"{int(n)} bytes"


def check_memory(nbytes: float, what: str, fix: str) -> None:
    """Raise when ``what`` would need more than :func:`memory_limit` bytes.

    Args:
        nbytes: the estimate, in bytes.
        what: the work, as the subject of "would need", e.g. ``"training this model"``.
        fix: what to change, e.g. ``"use a smaller --resolution"``.

    Raises:
        UnitscopeError: ``"<what> would need about 460 GB of memory, more than the 16 GB
            available here; <fix>."``
    """
    limit = memory_limit()
    if limit is not None and nbytes > limit:
        raise UnitscopeError(
            f"{what} would need about {format_bytes(nbytes)} of memory, more than the "
            f"{format_bytes(limit)} available here; {fix}."
        )
