"""Where batches run: in this process (``local``) or in N worker processes (``processes``).

A backend takes :class:`BatchSpec` s with :meth:`submit` (at most ``capacity`` at a time) and
hands back, from :meth:`wait`, a :class:`BatchResult` for each finished batch or a
:class:`~._protocol.Lost` for each batch whose worker died (the protocol and its outcomes are in
``_protocol.py``). The driver (:func:`~unitscope.sweep.run_sweep`) owns the store, the queue and
the retries; backends only execute. The Ray backend is in ``_ray.py``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from multiprocessing.connection import Connection, wait
from typing import Any

from .._errors import UnitscopeError, unknown_name
from ._execute import BatchSpec, run_batch, worker_name
from ._protocol import Backend, Lost, Outcome

BACKENDS = ("local", "processes", "ray")


def make_backend(name: str, *, workers: int | None = None, address: str | None = None) -> Backend:
    """The backend called ``name`` (``local``, ``processes`` or ``ray``)."""
    check_backend(name, workers=workers, address=address)
    if name == "local":
        return LocalBackend()
    if name == "processes":
        return ProcessBackend(workers or os.cpu_count() or 1)
    from ._ray import RayBackend

    return RayBackend(workers=workers, address=address)


def check_backend(name: str, *, workers: int | None = None, address: str | None = None) -> None:
    """Raise a UnitscopeError for an unknown backend or options it does not take."""
    if name not in BACKENDS:
        raise unknown_name("backend", name, BACKENDS)
    if workers is not None and workers < 1:
        raise UnitscopeError(f"`workers` must be >= 1, got {workers}.")
    if address is not None and name != "ray":
        raise UnitscopeError(f"`address` is for the ray backend, not {name!r}.")
    if name == "ray":
        from ._ray import import_ray

        import_ray()  # a missing extra is reported before anything is written
    if name == "local" and workers not in (None, 1):
        raise UnitscopeError(
            "the local backend runs one batch at a time in this process; "
            "use --backend processes for several workers."
        )


class LocalBackend:
    """Runs each batch in this process when the driver waits for it."""

    name = "local"
    capacity = 1

    def __init__(self) -> None:
        self._todo: list[BatchSpec] = []

    def submit(self, spec: BatchSpec) -> str:
        self._todo.append(spec)
        return worker_name()

    def wait(self, timeout: float) -> list[Outcome]:
        return [run_batch(self._todo.pop(0))] if self._todo else []

    def close(self) -> None:
        self._todo.clear()


class _Worker:
    """One worker process serving batches over a pipe."""

    def __init__(self, ctx: Any):
        parent, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.conn: Connection = parent
        self.spec: BatchSpec | None = None
        self.served = False  # has it returned a batch yet?

    @property
    def name(self) -> str:
        return f"{worker_name().rsplit(':', 1)[0]}:{self.process.pid}"

    def stop(self) -> None:
        try:
            if self.spec is None:
                self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout=5 if self.spec is None else 0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.conn.close()


class ProcessBackend:
    """N worker processes, one batch each at a time; a dead worker is replaced.

    Workers are forked from a fork server that has torch and unitscope imported (spawned where
    there is no fork server), so starting or replacing one takes milliseconds.

    Each batch runs on the threads its spec asks for (the grid's ``threads``). A worker that dies
    (SIGKILL, out of memory, a crash in native code) is detected through its process sentinel;
    its batch comes back as :class:`Lost` and a fresh worker takes its place.
    """

    name = "processes"

    def __init__(self, workers: int):
        self.capacity = workers
        self._ctx = _context()
        self._workers = [_Worker(self._ctx) for _ in range(workers)]
        self._deaths = 0  # workers in a row that died without returning a batch

    def submit(self, spec: BatchSpec) -> str:
        worker = next((w for w in self._workers if w.spec is None), None)
        if worker is None:
            raise UnitscopeError("internal: no idle worker for a submitted batch.")
        worker.spec = spec
        worker.conn.send(spec)
        return worker.name

    def wait(self, timeout: float) -> list[Outcome]:
        busy = [w for w in self._workers if w.spec is not None]
        if not busy:
            return []
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout))
        out: list[Outcome] = []
        for w in busy:
            if w.conn in ready or w.process.sentinel in ready:
                out.extend(self._collect(w))
        return out

    def _collect(self, w: _Worker) -> list[Outcome]:
        spec = w.spec
        if spec is None:
            return []
        try:
            if w.conn.poll():
                result = w.conn.recv()
                w.spec, w.served, self._deaths = None, True, 0
                return [result]
        except (EOFError, OSError):
            pass  # the pipe closed: the worker is gone
        if w.process.is_alive():
            w.process.join(timeout=1)
            if w.process.is_alive():
                return []  # spurious wake-up; keep waiting
        reason = f"worker {w.name} died ({_exit_text(w.process.exitcode)})"
        self._deaths = 0 if w.served else self._deaths + 1
        if self._deaths > 2 * self.capacity:
            raise UnitscopeError(
                f"worker processes die before finishing any batch ({reason}); "
                "a script that runs a sweep must guard its entry point with "
                "`if __name__ == '__main__':`."
            )
        self._replace(w)
        return [Lost(spec.index, reason)]

    def _replace(self, w: _Worker) -> None:
        w.spec = None
        w.conn.close()
        self._workers[self._workers.index(w)] = _Worker(self._ctx)

    def close(self) -> None:
        for w in self._workers:
            w.stop()


# Imported once by the fork server; every worker forked from it starts with them loaded.
_PRELOAD = ["torch", "torch._dynamo", "unitscope.train", "unitscope.sweep._execute"]


def _context() -> Any:
    """A fork server with torch preloaded (workers start in milliseconds), else spawn.

    Workers are forked from a clean server process that has only imported modules, never
    run torch code, so no thread pool is inherited half-initialized.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def serve(conn: Connection) -> None:
    """Worker process main loop: receive a BatchSpec, send its BatchResult; None stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    import unitscope.train  # noqa: F401  (import while the driver plans, not on the first batch)

    while True:
        try:
            spec = conn.recv()
            if spec is None:
                break
            conn.send(run_batch(spec))
        except (EOFError, BrokenPipeError, ConnectionResetError):
            break  # the driver is gone
    conn.close()
    os._exit(0)  # skip the interpreter's (slow) teardown of torch; nothing is left to flush


def _exit_text(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
