"""Refuse work that cannot fit in memory before allocating it, with an estimate of the need.

A size typed by mistake (``model.hidden=[1000000000]``, ``--resolution 200000``, a sweep of 10⁹
seeds) would otherwise allocate until the machine swaps or the process is killed. Each
boundary estimates the bytes its work needs and calls :func:`check_memory`, which compares the
estimate with the memory this process can have (the machine's RAM, or a smaller container
limit). Estimates are of the large arrays only: an estimate above the limit is a certain
failure; one below it can still fail, which the limit does not try to predict.
"""

from __future__ import annotations

import os
from pathlib import Path

from ._errors import UnitscopeError

_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def memory_limit() -> int | None:
    """Bytes of memory this process can use: physical RAM, or a smaller cgroup limit.

    None when the platform does not say (then nothing is refused).
    """
    try:
        limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None
    for name in _CGROUP_LIMITS:
        try:
            text = Path(name).read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < limit:
            limit = int(text)
    return limit if limit > 0 else None


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
            here; <fix>."``
    """
    limit = memory_limit()
    if limit is not None and nbytes > limit:
        raise UnitscopeError(
            f"{what} would need about {format_bytes(nbytes)} of memory, more than the "
            f"{format_bytes(limit)} here; {fix}."
        )
