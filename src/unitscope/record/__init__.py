"""The Recording that flows from training to the report, and recording any model's units."""

from __future__ import annotations

from ._hooks import capture, eval_mode, record_activations
from ._meta import DatasetInfo, RecordingMeta
from ._recording import FORMAT, FORMAT_VERSION, Recording

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "DatasetInfo",
    "Recording",
    "RecordingMeta",
    "capture",
    "eval_mode",
    "load",
    "record_activations",
]


def load(folder: str) -> Recording:
    """Read a recording folder written by :meth:`Recording.save`."""
    return Recording.load(folder)
