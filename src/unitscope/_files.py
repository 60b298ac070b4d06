"""File helpers: TOML reading with one-line errors, and atomic writes (a reader sees the old
file or the new one, never half of it)."""

from __future__ import annotations

import errno
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ._errors import UnitscopeError
from ._paths import clean_stale_temps, refuse_link, temp_prefix


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode ``open`` gives a new file: 0666 minus the umask."""
    return 0o666 & ~_umask()


def folder_mode() -> int:
    """The mode a new folder gets from ``mkdir``: 0777 minus the umask (``tempfile.mkdtemp``
    gives 0700, which would hide a saved recording from the rest of a group)."""
    return 0o777 & ~_umask()


_WHAT_TO_DO = {
    errno.ENOSPC: "free some disk space or write elsewhere",
    errno.EDQUOT: "free some of your disk quota or write elsewhere",
    errno.EROFS: "the file system is read-only; write elsewhere",
    errno.EACCES: "check the folder's permissions or write elsewhere",
    errno.EPERM: "check the folder's permissions or write elsewhere",
    errno.EISDIR: "a folder has that name; remove it or choose another name",
}


def write_error(path: str | os.PathLike[str], err: Exception) -> UnitscopeError:
    """One line for a failed write: which path, the system's reason, and what to do.

    ``err`` is an OSError, or an error that quotes one as Rust does (safetensors:
    ``"I/O error: No space left on device (os error 28)"``).

    >>> import errno
    >>> str(write_error("out/r", OSError(errno.ENOSPC, "No space left on device")))
    "cannot write 'out/r': No space left on device; free some disk space or write elsewhere."
    """
    code = getattr(err, "errno", None)
    if code is None and (found := re.search(r"os error (\d+)", str(err))):
        code = int(found.group(1))
    reason = getattr(err, "strerror", None) or (os.strerror(code) if code else str(err))
    hint = _WHAT_TO_DO.get(code or 0, "check the path or write elsewhere")
    return UnitscopeError(f"cannot write {str(path)!r}: {reason or type(err).__name__}; {hint}.")


@contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn an OSError raised inside the block into :func:`write_error` for ``path``."""
    try:
        yield
    except OSError as err:
        raise write_error(path, err) from None


def check_target(path: str | os.PathLike[str]) -> Path:
    """Refuse, before any work, a file target whose folder is missing, that is a folder, or
    that is a symbolic link (writing there would replace the link or write through it).

    Raises:
        UnitscopeError: ``path`` is a folder or a link, or its folder does not exist.
    """
    path = refuse_link(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UnitscopeError(
            f"cannot write {str(path)!r}: it is a folder; remove it or choose another file name."
        )
    if not folder.is_dir():
        raise UnitscopeError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist.")
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder, then rename.

    The file gets the usual permissions (0666 minus the umask), not mkstemp's 0600.

    Raises:
        UnitscopeError: the folder does not exist or cannot be written, ``path`` is a folder,
            or the disk is full; nothing is left behind.
    """
    atomic_write_texts({path: text})


def atomic_write_texts(files: dict[str | os.PathLike[str], str]) -> None:
    """Write several files, each via a temporary sibling; rename them only when all are written.

    A full disk or a folder that cannot be written leaves every target as it was.

    Raises:
        UnitscopeError: as :func:`atomic_write_text`, for the first target that fails.
    """
    targets = [(check_target(path), text) for path, text in files.items()]
    written: list[tuple[str, Path]] = []
    try:
        for path, text in targets:
            with writing(path):
                clean_stale_temps(path.parent, path.name)  # left by a killed writer
                fd, tmp = tempfile.mkstemp(
                    dir=path.parent, prefix=temp_prefix(path.name), suffix=".tmp"
                )
                written.append((tmp, path))
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.chmod(tmp, file_mode())
        for tmp, path in written:
            with writing(path):
                os.replace(tmp, path)
    finally:
        for tmp, _ in written:
            Path(tmp).unlink(missing_ok=True)


def read_toml(path: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """The table in TOML file ``path``; ``kind`` names it in errors (``"config file"``).

    Raises:
        UnitscopeError: the file is missing or is not valid TOML.
    """
    path = Path(path)
    if not path.is_file():
        raise UnitscopeError(f"{kind} {str(path)!r} not found.")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UnitscopeError(f"{kind} {str(path)!r} is not valid TOML: {err}.") from None
