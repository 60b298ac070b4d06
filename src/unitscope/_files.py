"""File helpers: TOML reading with one-line errors, and atomic writes (a reader sees the old
file or the new one, never half of it)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ._errors import UnitscopeError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder, then rename.

    The file gets the usual permissions (0666 minus the umask), not mkstemp's 0600.

    Raises:
        UnitscopeError: the folder does not exist or cannot be written.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UnitscopeError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist.")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise UnitscopeError(f"cannot write {str(path)!r}: {err.strerror}.") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
