"""kill -9 or Ctrl-C the sweep process mid-run; the same command then finishes every job
exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

from unitscope.record import Recording
from unitscope.sweep import Grid

GRID = """
[base]
data.options = {n_samples = 128}
data.n_probe = 16
train.steps = 100
train.n_checkpoints = 3

[axes]
"model.hidden" = [[4], [5], [6], [7]]

[seeds]
init = {range = [0, 4]}
"""


# Six jobs of ~1 s each (1.2 ms a step on one core): long enough that a job seen running with
# another still pending cannot all be done before a signal sent now arrives.
LONG_JOBS_GRID = """
[base]
data.options = {n_samples = 128}
data.n_probe = 16
train.steps = 800
train.n_checkpoints = 3

[axes]
"model.hidden" = [[4], [5], [6]]

[seeds]
init = {range = [0, 2]}
"""


def status_counts(db):
    """How many jobs of the store are in each status (empty while the store is being made)."""
    try:
        with sqlite3.connect(db) as conn:
            return Counter(dict(conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")))
    except sqlite3.OperationalError:  # the sweep is still creating its tables
        return Counter()


def finished_rows(db):
    try:
        with sqlite3.connect(db) as conn:
            return dict(conn.execute("SELECT id, finished_at FROM jobs WHERE status = 'finished'"))
    except sqlite3.OperationalError:  # the sweep is still creating its tables
        return {}


def sweep_command(grid, out):
    code = "import sys; from unitscope.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code, "sweep", "run", str(grid), "--out", str(out), "--no-group"]


def test_kill_9_mid_run_then_rerun_finishes_every_job_exactly_once(tmp_path):
    grid_file, out = tmp_path / "grid.toml", tmp_path / "sweep"
    grid_file.write_text(GRID, encoding="utf-8")
    ids = sorted(j.id for j in Grid.from_toml(grid_file).jobs)
    proc = subprocess.Popen(
        sweep_command(grid_file, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "sweep.db").is_file() and len(finished_rows(out / "sweep.db")) >= 3:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    before = finished_rows(out / "sweep.db")
    assert 3 <= len(before) < len(ids), "the kill should land mid-run"

    again = subprocess.run(
        sweep_command(grid_file, out), capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(out / "sweep.db") as conn:
        rows = conn.execute("SELECT id, status, attempts, finished_at FROM jobs").fetchall()
    found = sorted(r[0] for r in rows)
    assert found == ids, (set(found) ^ set(ids), again.stdout)  # no row lost or duplicated
    assert {r[1] for r in rows} == {"finished"}
    for job_id, _, attempts, finished_at in rows:
        if job_id in before:  # finished before the kill: never run again
            assert (attempts, finished_at) == (1, before[job_id])
    assert sum(r[2] for r in rows) <= len(ids) + 1  # at most the job cut short ran twice
    assert sorted(p.name for p in (out / "runs").iterdir()) == ids  # no temporary leftovers
    for job_id in ids:
        assert Recording.load(out / "runs" / job_id).members == 1  # checksums verified


def test_ctrl_c_stops_workers_and_leaves_a_resumable_store(tmp_path):
    grid_file, out = tmp_path / "grid.toml", tmp_path / "sweep"
    grid_file.write_text(LONG_JOBS_GRID, encoding="utf-8")
    ids = sorted(j.id for j in Grid.from_toml(grid_file).jobs)
    command = [*sweep_command(grid_file, out), "--backend", "processes", "--workers", "2"]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    seen = Counter()
    try:
        # Wait for a state, not a time: a job finished, one running and one not yet started,
        # so the run is mid-way and at least one whole job away from its end.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            seen = status_counts(out / "sweep.db")
            if seen["finished"] >= 1 and seen["running"] >= 1 and seen["pending"] >= 1:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"the sweep ended before it was seen mid-run: {seen}"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, (seen, err)
    assert b"interrupted; finished jobs are saved" in err and b"Traceback" not in err
    with sqlite3.connect(out / "sweep.db") as conn:
        statuses = dict(conn.execute("SELECT id, status FROM jobs"))
    assert set(statuses.values()) <= {"finished", "pending"}  # nothing left "running"
    done = sorted(i for i, s in statuses.items() if s == "finished")
    assert seen["finished"] <= len(done) < len(ids)
    assert sorted(p.name for p in (out / "runs").iterdir()) == done
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in (out / "runs").iterdir()) == ids
