"""Small helpers shared by the CLI commands: JSON output and atomic writes."""

from __future__ import annotations

import json
from typing import Any

import click

from .._files import atomic_write_text
from .._json import to_jsonable

__all__ = ["atomic_write_text", "echo_json", "to_jsonable"]


def echo_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(to_jsonable(obj), indent=2, allow_nan=False))


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
