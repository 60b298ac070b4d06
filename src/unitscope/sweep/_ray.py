"""The Ray backend: one Ray task per batch, on a local instance or an existing cluster.

Ray is an optional extra (``pip install 'unitscope[ray]'``) and is imported only here, only
when this backend is chosen. Without an address a local instance is started with ``workers``
CPUs (all of them by default) and shut down at the end; ``address="auto"`` or ``"HOST:PORT"``
joins a running cluster, whose nodes need unitscope installed. If Ray is already initialized
in this process (a notebook, a test), that instance is used and left running.

Tasks are not retried by Ray (``max_retries=0``): a task whose worker dies comes back as
:class:`~unitscope.sweep._protocol.Lost` and the driver re-queues it, exactly as for the
processes backend.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .._errors import UnitscopeError
from ._execute import BatchResult, BatchSpec, one_line, run_batch
from ._protocol import Lost, Outcome

EXTRA = "pip install 'unitscope[ray]'"


def import_ray() -> Any:
    """The ``ray`` module, or a UnitscopeError naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise UnitscopeError(f"the ray backend needs Ray, an optional extra: {EXTRA}.") from None
    return ray


def run_batch_task(spec: BatchSpec) -> BatchResult:
    """The Ray task (it holds ``spec.threads`` CPUs)."""
    return run_batch(spec)


class RayBackend:
    """Batches as Ray tasks of ``threads`` CPUs each; ``capacity`` tasks in flight."""

    name = "ray"

    def __init__(self, *, workers: int | None = None, address: str | None = None):
        self.ray = ray = import_ray()
        self._started = False
        if not ray.is_initialized():
            self._init(workers, address)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.capacity = workers or max(cpus, 1)
        self._task = ray.remote(num_cpus=1, max_retries=0)(run_batch_task)
        self._inflight: dict[Any, BatchSpec] = {}

    def _init(self, workers: int | None, address: str | None) -> None:
        ray = self.ray
        options: dict[str, Any] = {
            "logging_level": logging.WARNING,
            "log_to_driver": False,
            "include_dashboard": False,
        }
        try:
            if address:
                ray.init(address=address, **options)
            else:
                ray.init(num_cpus=workers or os.cpu_count() or 1, **options)
        except (ConnectionError, RuntimeError, ValueError) as err:
            where = f"at {address!r}" if address else "locally"
            raise UnitscopeError(f"cannot start or reach Ray {where}: {one_line(err)}") from None
        self._started = True

    def submit(self, spec: BatchSpec) -> str:
        self._inflight[self._task.options(num_cpus=spec.threads).remote(spec)] = spec
        return "ray"

    def wait(self, timeout: float) -> list[Outcome]:
        refs = list(self._inflight)
        if not refs:
            return []
        ready, rest = self.ray.wait(refs, num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = self.ray.wait(rest, num_returns=len(rest), timeout=0)
            ready = ready + more
        out: list[Outcome] = []
        for ref in ready:
            spec = self._inflight.pop(ref)
            try:
                out.append(self.ray.get(ref))
            except self.ray.exceptions.RayError as err:
                out.append(Lost(spec.index, f"ray task lost ({one_line(err)[:300]})"))
        return out

    def close(self) -> None:
        for ref in self._inflight:
            self.ray.cancel(ref, force=True)
        self._inflight.clear()
        if self._started:
            self.ray.shutdown()
