"""The store: a crash leaves nothing half-done that the next run does not clean up."""

from __future__ import annotations

import sqlite3

import pytest

from unitscope._errors import UnitscopeError
from unitscope.sweep import run_sweep, sweep_status, sweep_table
from unitscope.sweep._store import Store


@pytest.fixture
def finished(small_grid, tmp_path):
    out = tmp_path / "sweep"
    run_sweep(small_grid, out)
    return small_grid, out


def test_recover_removes_uncommitted_folders_and_requeues_running_jobs(finished):
    grid, out = finished
    runs = out / "runs"
    (runs / ".abc.tmp").mkdir()  # a save that was cut short
    (runs / "0123456789abcdef").mkdir()  # renamed, but its row was never committed
    (runs / "0123456789abcdef" / "meta.json").write_text("{}")
    lost = grid.jobs[3].id
    for p in (runs / lost).iterdir():  # a finished job whose recording was deleted by hand
        p.unlink()
    (runs / lost).rmdir()
    with Store.create(out) as store:
        store.mark_running([grid.jobs[0].id], "host:1")
        assert store.recover() == {"reset": 1, "removed": 3, "missing": 1}  # + the running one
        status = store.statuses()
    assert status[grid.jobs[0].id] == "pending" and status[lost] == "pending"
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        j.id for j in grid.jobs if j.id not in (grid.jobs[0].id, lost)
    )
    summary = run_sweep(grid, out)
    assert (summary.ran, summary.skipped, summary.finished) == (2, 10, 12)


def test_status_counts_and_interrupted_rows(finished):
    grid, out = finished
    info = sweep_status(out)
    assert info["counts"]["finished"] == 12 and info["groups"] == 4 and not info["active"]
    with Store.create(out) as store:
        store.mark_running([grid.jobs[0].id], "host:1")
    assert sweep_status(out)["interrupted"] == 1


def test_store_refuses_folders_that_are_not_sweeps(tmp_path):
    with pytest.raises(UnitscopeError, match="is not a sweep folder"):
        Store.open(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UnitscopeError, match="is not empty and holds no sweep"):
        Store.create(tmp_path)
    with pytest.raises(UnitscopeError, match="is a file"):
        Store.create(tmp_path / "notes.txt")


def test_meta_keeps_the_resolved_grid(finished):
    grid, out = finished
    with Store.open(out) as store:
        meta = store.meta()
    assert meta["grid"]["axes"] == grid.axes and meta["grid"]["base"] == grid.base.to_dict()


def _empty(db):
    db.write_bytes(b"")


def _garbage(db):
    db.write_bytes(b"not a database at all" * 100)


def _foreign(db):
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()


def _truncated(db, source):
    db.write_bytes(source.read_bytes()[:3000])


def _bad_json(db, source):
    db.write_bytes(source.read_bytes())
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE jobs SET config = '{broken' WHERE rowid = 1")
    conn.close()


@pytest.mark.parametrize(
    "damage, reason",
    [
        (_empty, "no such table: jobs"),
        (_garbage, "file is not a database"),
        (_foreign, "no such table: jobs"),
        (_truncated, "database disk image is malformed|no such table"),
        (_bad_json, "Expecting property name"),
    ],
)
@pytest.mark.parametrize("read", [sweep_status, sweep_table])
def test_an_empty_or_damaged_store_is_one_line(finished, tmp_path, damage, reason, read):
    _, out = finished
    db = tmp_path / "bad" / "sweep.db"
    db.parent.mkdir()
    if damage in (_truncated, _bad_json):
        with Store.open(out) as store:  # the whole sweep in sweep.db, none in the WAL file
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        damage(db, out / "sweep.db")
    else:
        damage(db)
    with pytest.raises(
        UnitscopeError, match=rf"^'.*bad/sweep\.db' is not a readable sweep database: ({reason})"
    ):
        read(db.parent)
