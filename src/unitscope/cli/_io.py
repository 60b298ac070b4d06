"""Small helpers shared by the CLI commands: JSON output and atomic writes."""

from __future__ import annotations

import json
import math
from typing import Any

import click
import numpy as np

from .._files import atomic_write_text

__all__ = ["atomic_write_text", "echo_json", "to_jsonable"]


def to_jsonable(obj: Any) -> Any:
    """Numpy scalars/arrays to Python; NaN/Inf to None so the output is strict JSON."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def echo_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(to_jsonable(obj), indent=2, allow_nan=False))
