"""The results store of a sweep folder: an SQLite table of jobs plus one recording per job.

Layout of a sweep folder::

    sweep.db        SQLite (WAL): one row per job, and a small key/value ``meta`` table
    sweep.lock      held (flock) by the one process running the sweep
    grid.toml       the grid file of the latest run, when it came from a file
    runs/<job id>/  the recording of each finished job (one member)

Commit protocol: a job's recording is written under a temporary name and renamed to
``runs/<id>`` (:meth:`Recording.save`), then its row is set to ``finished`` in a transaction
together with the other members of its batch. The row is the commit point: on the next run,
:meth:`Store.recover` deletes every folder in ``runs/`` without a finished row (a temporary name
or a rename that was never committed) and returns ``running`` rows to ``pending``. So a crash at
any instant leaves every finished row with its complete recording, and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any

from .._errors import UnitscopeError
from .._paths import refuse_link
from ._execute import BatchResult
from ._jobs import Job

DB, LOCK, RUNS = "sweep.db", "sweep.lock", "runs"
OWN = (RUNS, DB, f"{DB}-wal", f"{DB}-shm", f"{DB}-journal", LOCK, "grid.toml")
STATUSES = ("pending", "running", "finished", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    grp         TEXT NOT NULL,
    config      TEXT NOT NULL,
    point       TEXT NOT NULL,
    seeds       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    added_at    REAL NOT NULL,
    started_at  REAL,
    finished_at REAL,
    elapsed_s   REAL,
    batch_size  INTEGER,
    worker      TEXT,
    metrics     TEXT,
    error       TEXT,
    traceback   TEXT,
    recording   TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    """One sweep folder. Open it with :meth:`create` (writer) or :meth:`open` (reader)."""

    def __init__(self, folder: Path, conn: sqlite3.Connection):
        self.folder = folder
        self.runs = folder / RUNS
        self.conn = conn

    @classmethod
    def create(cls, folder: str | os.PathLike[str]) -> Store:
        """Open ``folder`` for writing, creating it and its database when missing."""
        folder = cls.check(folder)
        try:
            (folder / RUNS).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UnitscopeError(f"cannot create {str(folder)!r}: {err.strerror}.") from None
        store = cls(folder, _connect(folder / DB))
        store.conn.executescript(_SCHEMA)
        return store

    @staticmethod
    def check(folder: str | os.PathLike[str]) -> Path:
        """Refuse, writing nothing, a ``folder`` that cannot become or be a sweep folder."""
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise UnitscopeError(f"{str(folder)!r} is a file; --out needs a folder.")
        for name in OWN:  # what the sweep writes and deletes: never through someone's link
            refuse_link(folder / name, "remove the link; a sweep folder holds only its own files")
        if folder.is_dir() and not (folder / DB).is_file() and any(_foreign(folder)):
            owner = lock_owner(folder)  # another run that is creating this sweep right now
            if owner is not None:
                raise _busy(folder, owner)
            raise UnitscopeError(
                f"{str(folder)!r} is not empty and holds no sweep; choose a new "
                "or empty folder for --out."
            )
        return folder

    @classmethod
    def open(cls, folder: str | os.PathLike[str]) -> Store:
        """Open an existing sweep folder (for status and tables)."""
        folder = Path(folder)
        refuse_link(folder / DB, "remove the link; a sweep folder holds only its own files")
        if not (folder / DB).is_file():
            raise UnitscopeError(
                f"{str(folder)!r} is not a sweep folder (no {DB}); create one "
                "with `unitscope sweep run GRID --out FOLDER`."
            )
        store = cls(folder, _connect(folder / DB))
        try:
            with _readable(folder / DB):
                store.conn.execute("SELECT id, grp, status, config FROM jobs LIMIT 1").fetchall()
                store.conn.execute("SELECT key, value FROM meta LIMIT 1").fetchall()
        except UnitscopeError:
            store.close()
            raise
        return store

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the writer's lock and recovery -------------------------------------------------------
    def lock(self) -> AbstractContextManager[None]:
        """Hold the folder's lock; fail at once if another process holds it."""
        return hold_lock(self.folder)

    def recover(self) -> dict[str, int]:
        """Undo what a crash left: running rows back to pending, uncommitted folders removed."""
        finished = {
            r[0] for r in self.conn.execute("SELECT id FROM jobs WHERE status = 'finished'")
        }
        stale = [e for e in sorted(self.runs.iterdir()) if e.name not in finished]
        for entry in stale:  # all checked before anything is removed
            refuse_link(entry, f"remove the link from {str(self.runs)!r}")
        removed = 0
        for entry in stale:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
        lost = [i for i in finished if not (self.runs / i).is_dir()]
        with self.conn:
            reset = self.conn.execute(
                "UPDATE jobs SET status = 'pending' WHERE status = 'running'"
            ).rowcount
            self.conn.executemany(
                "UPDATE jobs SET status = 'pending', recording = NULL WHERE id = ?",
                [(i,) for i in lost],
            )
        return {"reset": reset, "removed": removed, "missing": len(lost)}

    # ---- rows ---------------------------------------------------------------------------------
    def add_jobs(self, jobs: Sequence[Job]) -> int:
        """Insert the jobs not yet in the store (as pending); return how many were new."""
        now = time.time()
        rows = [(j.id, j.group, _dump(j.config), _dump(j.point), _dump(j.seeds), now) for j in jobs]
        with self.conn:
            before = self.conn.total_changes
            self.conn.executemany(
                "INSERT OR IGNORE INTO jobs (id, grp, config, point, seeds, "
                "added_at) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            return self.conn.total_changes - before

    def statuses(self) -> dict[str, str]:
        """Job id -> status, for every job in the store."""
        return dict(self.conn.execute("SELECT id, status FROM jobs"))

    def mark_running(self, ids: Iterable[str], worker: str) -> None:
        with self.conn:
            self.conn.executemany(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = ?, "
                "worker = ?, error = NULL, traceback = NULL WHERE id = ?",
                [(time.time(), worker, i) for i in ids],
            )

    def mark_pending(self, ids: Iterable[str]) -> None:
        """Running rows among ``ids`` back to pending (finished or failed rows stay)."""
        with self.conn:
            self.conn.executemany(
                "UPDATE jobs SET status = 'pending' WHERE id = ? AND status = 'running'",
                [(i,) for i in ids],
            )

    def release_running(self) -> int:
        """Every running row back to pending: called by the lock holder as its run ends, when
        no job of it can still be running (whatever moment an interrupt struck)."""
        with self.conn:
            return self.conn.execute(
                "UPDATE jobs SET status = 'pending' WHERE status = 'running'"
            ).rowcount

    def mark_failed(self, ids: Iterable[str], error: str) -> None:
        with self.conn:
            self.conn.executemany(
                "UPDATE jobs SET status = 'failed', finished_at = ?, error = ? WHERE id = ?",
                [(time.time(), error, i) for i in ids],
            )

    def commit(self, result: BatchResult) -> None:
        """Write the batch's recordings, then set all its rows in one transaction."""
        share = result.elapsed_s / max(len(result.members), 1)
        for m in result.members:
            if m.recording is not None:
                m.recording.save(self.runs / m.job_id, overwrite=True)
        now = time.time()
        rows = [
            (
                m.status,
                now,
                share,
                len(result.members),
                result.worker,
                _dump(m.metrics),
                m.error,
                m.traceback,
                f"{RUNS}/{m.job_id}" if m.recording is not None else None,
                m.job_id,
            )
            for m in result.members
        ]
        with self.conn:
            self.conn.executemany(
                "UPDATE jobs SET status = ?, finished_at = ?, elapsed_s = ?, batch_size = ?, "
                "worker = ?, metrics = ?, error = ?, traceback = ?, recording = ? WHERE id = ?",
                rows,
            )

    # ---- reading ------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Number of jobs in each status (all four keys present) and ``total``."""
        with _readable(self.folder / DB):
            found = dict(self.conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status"))
        out = {s: int(found.get(s, 0)) for s in STATUSES}
        out["total"] = sum(out.values())
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Every job as a dict, JSON columns decoded, in the order jobs were added."""
        with _readable(self.folder / DB):
            return self._rows()

    def _rows(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM jobs ORDER BY rowid")
        names = [d[0] for d in cur.description]
        out = []
        for values in cur:
            row = dict(zip(names, values))
            for key in ("config", "point", "seeds", "metrics"):
                row[key] = json.loads(row[key]) if row[key] is not None else None
            out.append(row)
        return out

    def set_meta(self, **values: Any) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, _dump(v)) for k, v in values.items()],
            )

    def meta(self) -> dict[str, Any]:
        with _readable(self.folder / DB):
            return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}


# ---- the one writer -------------------------------------------------------------------------


@contextmanager
def hold_lock(folder: Path) -> Iterator[None]:
    """Create ``folder`` if needed and hold its lock; fail at once if another process holds it.

    A run takes the lock before it writes anything else in the folder, so a second run
    started at the same instant is told who runs the sweep, never that the half-created
    folder "holds no sweep".
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        yield
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fh = open(folder / LOCK, "a+", encoding="utf-8")  # noqa: SIM115 - closed by `with fh`
    except OSError as err:
        raise UnitscopeError(f"cannot create {str(folder)!r}: {err.strerror}.") from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(folder, _owner(fh)) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def lock_owner(folder: Path) -> str | None:
    """``"pid N"`` of the process that holds ``folder``'s lock, or None when none does."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        return None
    if not (folder / LOCK).is_file():
        return None
    with open(folder / LOCK, encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _owner(fh)
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


def _owner(fh: IO[str], wait: float = 2.0) -> str:
    """What the lock holder wrote in the lock file; it writes right after taking the lock."""
    deadline = time.monotonic() + wait
    while True:
        fh.seek(0)
        owner = fh.read().strip()
        if owner or time.monotonic() > deadline:
            return owner or "another process"
        time.sleep(0.01)


def _foreign(folder: Path) -> Iterator[Path]:
    """What ``folder`` holds besides the lock and an empty ``runs/`` (a sweep being created)."""
    for entry in folder.iterdir():
        if entry.name == LOCK or (
            entry.name == RUNS and entry.is_dir() and not any(entry.iterdir())
        ):
            continue
        yield entry


def _busy(folder: Path, owner: str) -> UnitscopeError:
    return UnitscopeError(f"{str(folder)!r} is being run by {owner}; wait for it or stop it first.")


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """Turn SQLite's errors on an empty, damaged or foreign database into one line."""
    try:
        yield
    except (sqlite3.DatabaseError, json.JSONDecodeError) as err:
        raise UnitscopeError(
            f"{str(path)!r} is not a readable sweep database: {err}; it is empty, damaged or "
            "was not written by unitscope. Run the sweep again into a new folder."
        ) from None


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, timeout=60)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: a killed process loses nothing
    except sqlite3.DatabaseError as err:
        raise UnitscopeError(f"{str(path)!r} is not a readable sweep database: {err}.") from None
    return conn


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=False)
