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
