"""What the commands that take your own networks share: the ``--model`` option and importing
its factory,
reading a ``--data`` probe file, and parsing ``--layout`` (never guessed)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from .._errors import UnitscopeError
from ..record import Recording

WEIGHT_FILES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors")


def factory_option(use: str) -> Any:
    """The ``--model PKG.MODULE:FACTORY`` option of the commands that rebuild your own
    networks; ``use`` says what the command needs them for."""
    return click.option(
        "--model",
        "factory",
        metavar="PKG.MODULE:FACTORY",
        help=f"Your network's factory (a function or class returning the nn.Module), {use}; "
        "imported from the current folder or PYTHONPATH.",
    )


def recording_factory(rec: Recording, factory: str | None, folder: Path) -> Any:
    """``--model`` for a recording folder: the imported factory of a torch recording, None
    when not given; refused for a recording of unitscope's own model."""
    if factory is None:
        return None
    if not rec.is_torch:
        raise UnitscopeError(
            f"--model is for your own torch networks; {str(folder)!r} is a recording of "
            "unitscope's own model, which it rebuilds by itself."
        )
    from ..record._load import resolve_factory

    importable_here()
    return resolve_factory(factory)


def importable_here() -> None:
    """``--model mypkg.nets:make`` imports from the current folder, as ``python -m`` would."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def read_probe(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` of a .npz file, never unpickled."""
    if path.suffix != ".npz" or not path.is_file():
        raise UnitscopeError(
            f"--data must be an existing .npz file with arrays x and y, got {str(path)!r}."
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "x" not in npz.files or "y" not in npz.files:
                raise UnitscopeError(
                    f"--data {str(path)!r} must hold arrays 'x' (inputs) and 'y' (targets), "
                    f"has {sorted(npz.files)}."
                )
            return np.asarray(npz["x"]), np.asarray(npz["y"])
    except (ValueError, OSError) as err:
        if isinstance(err, UnitscopeError):
            raise
        raise UnitscopeError(f"cannot read --data {str(path)!r}: {err}.") from None


def parse_layouts(given: tuple[str, ...]) -> str | dict[str, str] | None:
    """``("NCHW",)`` -> "NCHW"; ``("a=NCHW", "b=NTD")`` -> {"a": "NCHW", "b": "NTD"}."""
    if not given:
        return None
    pairs = [g.partition("=") for g in given]
    if len(given) == 1 and not pairs[0][1]:
        return given[0]
    if any(not sep or not name for name, sep, _ in pairs):
        raise UnitscopeError(
            f"--layout takes one LAYOUT for every layer, or NAME=LAYOUT per layer, got "
            f"{list(given)}."
        )
    return {name: value for name, _, value in pairs}
