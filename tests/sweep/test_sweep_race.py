"""Two `sweep run` started at the same instant on a new folder: the one that loses the lock says
who runs the sweep ("being run by pid N"), never that the half-created folder "holds no sweep".
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from unitscope._errors import UnitscopeError
from unitscope.sweep import run_sweep, sweep_status
from unitscope.sweep._store import LOCK, RUNS


def hold_the_lock(folder: Path, *, pid_after: float = 0.0):
    """What a concurrent run has done at some instant: the lock taken, its pid written (maybe
    only ``pid_after`` seconds later), and nothing else yet."""
    folder.mkdir(parents=True, exist_ok=True)
    fh = open(folder / LOCK, "a+", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def write_pid() -> None:
        time.sleep(pid_after)
        fh.write("pid 4242")
        fh.flush()

    writer = threading.Thread(target=write_pid)
    writer.start()
    if not pid_after:
        writer.join()
    return fh, writer


def test_loser_sees_the_pid_while_the_folder_is_half_created(small_grid, tmp_path):
    out = tmp_path / "sweep"
    fh, _ = hold_the_lock(out)
    (out / RUNS).mkdir()  # the winner made runs/ and has not yet made sweep.db
    (out / RUNS / ".0123.tmp").mkdir()  # (even with something inside)
    try:
        with pytest.raises(UnitscopeError, match=r"'.*sweep' is being run by pid 4242; wait"):
            run_sweep(small_grid, out)
    finally:
        fh.close()
    assert not (out / "sweep.db").exists()  # the loser wrote nothing


def test_loser_waits_for_the_pid_the_winner_is_writing(small_grid, tmp_path):
    out = tmp_path / "sweep"
    fh, writer = hold_the_lock(out, pid_after=0.3)  # locked, pid not yet written
    try:
        with pytest.raises(UnitscopeError, match=r"is being run by pid 4242"):
            run_sweep(small_grid, out)
    finally:
        writer.join()
        fh.close()


def test_a_folder_left_by_a_creation_that_crashed_resumes(small_grid, tmp_path):
    out = tmp_path / "sweep"
    (out / RUNS).mkdir(parents=True)  # killed after runs/, before sweep.db; lock released
    (out / LOCK).write_text("pid 4242")
    summary = run_sweep(small_grid, out)
    assert summary.finished == len(small_grid.jobs)


_CHILD = """
import os, sys, time
import unitscope.cli.sweep, unitscope.train  # the slow imports, done before the start
from unitscope.cli import main
open(f"{sys.argv[1]}.{os.getpid()}", "w").close()  # ready
while not os.path.exists(sys.argv[1]):
    time.sleep(0.0005)
main(sys.argv[2:])
"""


def test_two_processes_started_at_the_same_instant(grid_file, tmp_path):
    go, out = tmp_path / "go", tmp_path / "sweep"
    command = ["sweep", "run", str(grid_file), "--out", str(out)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(go), *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    go.write_text("")  # both start now
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
    for code, err in results:
        assert "holds no sweep" not in err and "Traceback" not in err
        assert code == 0 or (code == 2 and "is being run by pid " in err and err.count("\n") == 1)
    assert 0 in [code for code, _ in results]
    assert sweep_status(out)["counts"]["finished"] == 12
