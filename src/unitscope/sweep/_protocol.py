"""What a backend promises the driver: the :class:`Backend` protocol and its outcomes.

Every backend (``_backends.py``: local and processes; ``_ray.py``: Ray) and the driver
(``_runner.py``) import these types from here, so no backend module imports another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ._execute import BatchResult, BatchSpec


@dataclass(frozen=True)
class Lost:
    """A batch that did not come back: its worker died (the reason says how)."""

    index: int
    reason: str


Outcome = BatchResult | Lost


class Backend(Protocol):
    """What the driver needs from a backend."""

    name: str
    capacity: int

    def submit(self, spec: BatchSpec) -> str:
        """Start ``spec``; return where it runs (``host:pid`` or a description)."""
        ...

    def wait(self, timeout: float) -> list[Outcome]:
        """Outcomes of the batches that ended, waiting up to ``timeout`` s for the first."""
        ...

    def close(self) -> None:
        """Stop every worker (running batches are abandoned)."""
        ...
