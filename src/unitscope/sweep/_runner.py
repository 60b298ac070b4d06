"""The driver: plan the batches, skip what is done, run the rest on a backend, commit results.

The driver is the only writer of the store. It holds the folder's lock for the whole run,
recovers what a previous crash left, marks a batch ``running`` when it is submitted, and commits
each batch's rows and recordings together when it comes back. A batch whose worker died is put
back at the front of the queue (up to ``max_attempts`` tries, then its jobs fail). Ctrl-C stops
the workers, returns every running job to ``pending`` and re-raises: the store stays resumable.
"""

from __future__ import annotations

import os
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .._files import atomic_write_text
from .._paths import refuse_link
from .._version import __version__
from ._backends import check_backend, make_backend
from ._execute import BatchResult, BatchSpec
from ._grid import Grid
from ._jobs import Batch, count_groups
from ._protocol import Backend, Lost
from ._store import Store, hold_lock


@dataclass
class SweepEvent:
    """A change during a run, passed to ``on_event``.

    Attributes:
        kind: ``begin`` (before the first batch), ``start``, ``done`` or ``lost``.
        batch: the batch's index in the plan (-1 for ``begin``).
        job_ids: the batch's jobs.
        worker: where it runs (``host:pid``, or ``ray``).
        counts: over the grid's jobs: ``total``, ``finished``, ``failed``, ``running``,
            ``pending`` and ``skipped`` (finished before this run).
    """

    kind: str
    batch: int
    job_ids: tuple[str, ...]
    worker: str
    counts: dict[str, int]


@dataclass
class SweepSummary:
    """What a run did; ``finished``/``failed`` count the grid's jobs, old and new."""

    out: str
    backend: str
    jobs: int
    groups: int
    batches: int
    skipped: int
    ran: int
    finished: int
    failed: int
    elapsed_s: float
    other_jobs: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def run_sweep(
    grid: Grid,
    out: str | os.PathLike[str],
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    group: bool | None = None,
    group_size: int | None = None,
    retry_failed: bool = False,
    max_attempts: int = 3,
    on_event: Callable[[SweepEvent], None] | None = None,
    grid_text: str | None = None,
) -> SweepSummary:
    """Run (or resume) ``grid`` into the sweep folder ``out``.

    Args:
        grid: from :func:`~unitscope.sweep.make_grid` or :meth:`Grid.from_toml`.
        out: the sweep folder; created if missing, resumed if it holds a sweep.
        backend: ``local``, ``processes`` or ``ray``.
        workers: worker processes / Ray tasks at a time (default: every CPU).
        address: Ray cluster to join (``auto`` or ``HOST:PORT``); None starts a local one.
        group, group_size: override the grid's batching (``group=False``: one fit per job).
        retry_failed: run failed jobs again (finished jobs are never rerun).
        max_attempts: tries for a batch whose worker keeps dying.
        on_event: called with a :class:`SweepEvent` at every change (progress bars, tests).
        grid_text: the grid file's text, kept as ``grid.toml`` in the folder.

    Returns:
        A :class:`SweepSummary`.
    """
    start = time.perf_counter()
    check_backend(backend, workers=workers, address=address)
    plan = grid.batches(group=group, group_size=group_size)
    with hold_lock(Store.check(out)), Store.create(out) as store:  # the lock before any write
        store.recover()
        store.add_jobs(grid.jobs)
        _remember(store, grid, grid_text)
        status = store.statuses()
        todo = {
            j.id
            for j in grid.jobs
            if status[j.id] == "pending" or (retry_failed and status[j.id] == "failed")
        }
        queue = deque(b for b in (p.restrict(todo) for p in plan) if b is not None)
        run = _Run(store, grid, len(todo), on_event)
        run.emit("begin", -1, (), "")
        if queue:
            executor = make_backend(backend, workers=workers, address=address)
            try:
                run.drive(executor, queue, max_attempts)
            finally:
                executor.close()
                store.release_running()
        return run.summary(
            str(out), backend, plan, time.perf_counter() - start, len(status) - len(grid.jobs)
        )


class _Run:
    """Book-keeping of one run: the batches in flight and the counts for events."""

    def __init__(
        self, store: Store, grid: Grid, todo: int, on_event: Callable[[SweepEvent], None] | None
    ):
        self.store, self.grid, self.on_event = store, grid, on_event
        self.inflight: dict[int, Batch] = {}
        self.ran = 0
        status = store.statuses()
        done = Counter(status[j.id] for j in grid.jobs)
        self.skipped = done["finished"]
        # failed jobs not retried this run stay failed; the rest of the unfinished are todo
        self.counts = {
            "total": len(grid.jobs),
            "finished": self.skipped,
            "failed": len(grid.jobs) - todo - self.skipped,
            "running": 0,
            "pending": todo,
            "skipped": self.skipped,
        }

    def drive(self, executor: Backend, queue: deque[Batch], max_attempts: int) -> None:
        tries: Counter[int] = Counter()
        while queue or self.inflight:
            while queue and len(self.inflight) < executor.capacity:
                batch = queue.popleft()
                spec = BatchSpec(
                    batch.index, batch.ids, tuple(j.config for j in batch.jobs), self.grid.threads
                )
                self.inflight[batch.index] = batch
                self.store.mark_running(batch.ids, "submitted")
                worker = executor.submit(spec)
                self._move(len(batch.jobs), "pending", "running")
                self.emit("start", batch.index, batch.ids, worker)
            for outcome in executor.wait(timeout=0.5):
                batch = self.inflight[outcome.index]
                if isinstance(outcome, Lost):
                    tries[batch.index] += 1
                    self._lost(batch, outcome, tries[batch.index] >= max_attempts, queue)
                else:
                    self._done(batch, outcome)
                del self.inflight[outcome.index]

    def _done(self, batch: Batch, result: BatchResult) -> None:
        self.store.commit(result)
        self.ran += len(result.members)
        for m in result.members:
            self._move(1, "running", m.status)
        self.emit("done", batch.index, batch.ids, result.worker)

    def _lost(self, batch: Batch, lost: Lost, give_up: bool, queue: deque[Batch]) -> None:
        if give_up:
            self.store.mark_failed(batch.ids, f"{lost.reason}; gave up after repeated tries")
            self._move(len(batch.jobs), "running", "failed")
        else:
            self.store.mark_pending(batch.ids)
            queue.appendleft(batch)
            self._move(len(batch.jobs), "running", "pending")
        self.emit("lost", batch.index, batch.ids, lost.reason)

    def _move(self, n: int, src: str, dst: str) -> None:
        self.counts[src] -= n
        self.counts[dst] += n

    def emit(self, kind: str, index: int, ids: tuple[str, ...], worker: str) -> None:
        if self.on_event is not None:
            self.on_event(SweepEvent(kind, index, ids, worker, dict(self.counts)))

    def summary(
        self, out: str, backend: str, plan: list[Batch], elapsed: float, other: int
    ) -> SweepSummary:
        ids = {j.id for j in self.grid.jobs}
        errors = {
            r["id"]: r["error"]
            for r in self.store.rows()
            if r["id"] in ids and r["status"] == "failed"
        }
        return SweepSummary(
            out,
            backend,
            len(self.grid.jobs),
            count_groups(plan),
            len(plan),
            self.skipped,
            self.ran,
            self.counts["finished"],
            len(errors),
            elapsed,
            other,
            errors,
        )


def _remember(store: Store, grid: Grid, text: str | None) -> None:
    """Keep the grid (resolved, and as written) and the versions with the sweep."""
    store.set_meta(grid=grid.to_dict(), unitscope=__version__, updated_at=time.time())
    if text is not None:
        atomic_write_text(refuse_link(store.folder / "grid.toml"), text)
