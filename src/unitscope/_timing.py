"""Where the time goes: an opt-in stopwatch that splits a run into named sections.

Off by default: a closed stopwatch costs one test per :func:`section`. ``bench/demo.py
--profile`` switches it on in each study's process and reads :func:`totals`. Sections nest;
time belongs to the innermost open section only, so the totals add up to the time spent in
any section, with nothing counted twice.

Example:
    >>> enable()
    >>> with section("outer"):
    ...     with section("inner"):
    ...         pass
    >>> sorted(totals())
    ['inner', 'outer']
    >>> enable(False)
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_on = False
_open: list[str] = []  # names of the open sections, outermost first
_since = (0.0, 0.0)  # (wall, cpu) when the innermost open section last started counting
_wall: dict[str, float] = {}
_cpu: dict[str, float] = {}


def enable(on: bool = True) -> None:
    """Switch the stopwatch on (and clear it) or off."""
    global _on
    _on = on
    _open.clear()
    _wall.clear()
    _cpu.clear()


def totals() -> dict[str, tuple[float, float]]:
    """Seconds per section as (wall, cpu), each counted in its innermost section only."""
    return {name: (_wall[name], _cpu[name]) for name in _wall}


def _charge(now: tuple[float, float]) -> None:
    """Give the time since ``_since`` to the innermost open section."""
    if _open:
        name = _open[-1]
        _wall[name] = _wall.get(name, 0.0) + now[0] - _since[0]
        _cpu[name] = _cpu.get(name, 0.0) + now[1] - _since[1]


@contextmanager
def section(name: str) -> Iterator[None]:
    """Count the time inside the block as ``name`` (unless a nested section takes it)."""
    global _since
    if not _on:
        yield
        return
    now = (time.perf_counter(), time.process_time())
    _charge(now)
    _open.append(name)
    _since = now
    try:
        yield
    finally:
        now = (time.perf_counter(), time.process_time())
        _charge(now)
        if _open and _open[-1] == name:
            _open.pop()
        _since = now


def timed(name: str, fn: F) -> F:
    """``fn`` wrapped so that each call is a section called ``name``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with section(name):
            return fn(*args, **kwargs)

    wrapper.__wrapped_by_timing__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
