"""Where unitscope may write: never through a symbolic link it did not make, and temporaries
that a killed process left behind are cleaned up by the next write to the same place.

The rule for links: a path unitscope writes a file at, replaces or deletes must not be a
symbolic link (writing "there" would change the link's target, which may be anything). Links
among the folders *above* a path the user typed are followed: that is how the user named the
place.

Temporaries are named ``.<name>.<pid>@<host>.<random>.tmp`` beside their target, so that the
next write to ``<name>`` can tell which are stale: those of a process of this host that no
longer runs, and any older than :data:`STALE_AFTER_S` (a pid may be reused, a host may be
another machine sharing the disk).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from pathlib import Path

from ._errors import UnitscopeError

STALE_AFTER_S = 24 * 3600.0
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def refuse_link(path: str | os.PathLike[str], fix: str = "") -> Path:
    """Return ``path``, or raise when it is a symbolic link (dangling or not).

    Args:
        path: a file or folder unitscope is about to write, replace or delete.
        fix: what the user should do instead; by default remove the link or pass the real path.

    Raises:
        UnitscopeError: ``path`` is a symbolic link.
    """
    path = Path(path)
    if path.is_symlink():
        target = os.readlink(path)
        fix = fix or "remove the link or give the real path"
        raise UnitscopeError(
            f"{str(path)!r} is a symbolic link (to {target!r}); unitscope never writes through "
            f"or replaces a link it did not create: {fix}."
        )
    return path


def temp_prefix(name: str) -> str:
    """The prefix of a temporary for target ``name`` (pass it to ``tempfile.mkstemp``/``mkdtemp``
    with ``suffix=".tmp"``)."""
    return f".{name}.{os.getpid()}@{_HOST}."


def clean_stale_temps(
    folder: str | os.PathLike[str], name: str, *, max_age_s: float = STALE_AFTER_S
) -> list[Path]:
    """Remove the temporaries of target ``name`` in ``folder`` left by dead or old writers.

    A temporary of a live process of this host younger than ``max_age_s`` is kept (it may be
    being written now); links are never followed nor removed. Returns what was removed.
    """
    pattern = re.compile(
        rf"^\.{re.escape(name)}\.(?:(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]+)\.)?[A-Za-z0-9_]+\.tmp$"
    )
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        found = pattern.match(entry.name)
        if found is None or entry.is_symlink():
            continue
        try:
            old = now - entry.lstat().st_mtime > max_age_s
        except OSError:
            continue
        pid, host = found["pid"], found["host"]
        dead = pid is not None and host == _HOST and not _alive(int(pid))
        if not (old or dead):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (an unknown answer counts as alive)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":  # pragma: no cover - os.kill(pid, 0) would end it on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True
