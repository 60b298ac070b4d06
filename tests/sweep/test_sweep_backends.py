"""Backends give the same per-job results; dead workers, failures and Ctrl-C cost nothing."""

from __future__ import annotations

import os
import signal

import pytest

from unitscope._errors import UnitscopeError
from unitscope.record import Recording
from unitscope.sweep import make_grid, run_sweep, sweep_status, sweep_table
from unitscope.sweep._store import Store


@pytest.fixture(scope="module")
def local_run(small_grid, tmp_path_factory):
    """The small grid (12 jobs, 4 groups) run in-process once for the module."""
    grid = small_grid
    out = tmp_path_factory.mktemp("local") / "sweep"
    summary = run_sweep(grid, out, backend="local")
    return grid, out, summary


def metrics_by_id(out):
    return {
        r["id"]: {k: v for k, v in r.items() if k.startswith(("final_", "best_"))}
        for r in sweep_table(out)
    }


def assert_same_results(out_a, out_b, ids):
    assert metrics_by_id(out_a) == metrics_by_id(out_b)
    for job_id in ids:
        a = Recording.load(out_a / "runs" / job_id)
        b = Recording.load(out_b / "runs" / job_id)
        assert a.identical(b), job_id


def test_local_run_finishes_every_job_once(local_run):
    grid, out, summary = local_run
    assert (summary.jobs, summary.groups, summary.batches) == (12, 4, 4)
    assert (summary.ran, summary.finished, summary.failed) == (12, 12, 0)
    rows = Store.open(out).rows()
    assert sorted(r["id"] for r in rows) == sorted(j.id for j in grid.jobs)
    assert {r["status"] for r in rows} == {"finished"} and {r["attempts"] for r in rows} == {1}
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(j.id for j in grid.jobs)
    rec = Recording.load(out / "runs" / grid.jobs[4].id)
    assert rec.members == 1 and rec.config == grid.jobs[4].config
    assert rec.meta.sweep == {"job_id": grid.jobs[4].id}


def test_processes_give_identical_per_job_results(local_run, tmp_path):
    grid, local_out, _ = local_run
    out = tmp_path / "sweep"
    summary = run_sweep(grid, out, backend="processes", workers=2)
    assert (summary.finished, summary.failed) == (12, 0)
    assert_same_results(local_out, out, [j.id for j in grid.jobs])


def test_a_killed_worker_is_detected_and_its_batch_requeued(local_run, tmp_path):
    grid, local_out, _ = local_run
    events = []

    def kill_first_worker(event):
        events.append(event.kind)
        if event.kind == "start" and events.count("start") == 1:
            os.kill(int(event.worker.rsplit(":", 1)[1]), signal.SIGKILL)

    out = tmp_path / "sweep"
    summary = run_sweep(grid, out, backend="processes", workers=2, on_event=kill_first_worker)
    assert events.count("lost") == 1
    assert (summary.finished, summary.failed) == (12, 0)
    attempts = sorted(r["attempts"] for r in Store.open(out).rows())
    assert attempts == [1] * 9 + [2] * 3  # the killed batch ran twice, nothing else
    assert_same_results(local_out, out, [j.id for j in grid.jobs])


def test_failed_jobs_are_recorded_and_retried_only_when_asked(base_config, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    grid = make_grid(
        base_config, {"data.name": ["moons", str(bad)], "optim.lr": [0.1, 1000.0]}, {"init": [0, 1]}
    )
    out = tmp_path / "sweep"
    first = run_sweep(grid, out)
    assert (first.finished, first.failed) == (2, 6)
    errors = sorted(set(first.errors.values()))
    assert any(e.startswith("diverged at step") for e in errors)
    assert any("bad.npz" in e for e in errors)
    assert not any((out / "runs" / i).exists() for i in first.errors)
    again = run_sweep(grid, out)
    assert (again.ran, again.skipped, again.failed) == (0, 2, 6)
    retried = run_sweep(grid, out, retry_failed=True)
    assert (retried.ran, retried.finished, retried.failed) == (6, 2, 6)
    rows = {r["id"]: r for r in Store.open(out).rows()}
    assert all(rows[i]["attempts"] == 2 for i in first.errors)
    assert all(bool(rows[i]["traceback"]) == ("bad.npz" in rows[i]["error"]) for i in first.errors)
    assert sweep_status(out)["counts"] == {
        "pending": 0,
        "running": 0,
        "finished": 2,
        "failed": 6,
        "total": 8,
    }


def test_ctrl_c_leaves_a_resumable_store(local_run, tmp_path):
    grid, local_out, _ = local_run
    out = tmp_path / "sweep"

    def interrupt(event):
        if event.kind == "done" and event.counts["finished"] >= 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(grid, out, group=False, on_event=interrupt)
    before = {r["id"]: r for r in Store.open(out).rows()}
    done = {i for i, r in before.items() if r["status"] == "finished"}
    assert len(done) == 6 and {r["status"] for r in before.values()} == {"finished", "pending"}
    assert {p.name for p in (out / "runs").iterdir()} == done
    summary = run_sweep(grid, out, group=False)
    assert (summary.skipped, summary.ran, summary.finished) == (6, 6, 12)
    after = {r["id"]: r for r in Store.open(out).rows()}
    assert all(after[i]["finished_at"] == before[i]["finished_at"] for i in done)
    assert {r["attempts"] for r in after.values()} == {1}


def test_an_extended_grid_runs_only_the_new_jobs(local_run, tmp_path):
    grid, _, _ = local_run
    out = tmp_path / "sweep"
    small = make_grid(grid.base, {"model.hidden": [[4]]}, {"init": [0, 1]})
    run_sweep(small, out)
    bigger = make_grid(grid.base, {"model.hidden": [[4], [6]]}, {"init": [0, 1, 2]})
    summary = run_sweep(bigger, out)
    assert (summary.skipped, summary.ran, summary.finished) == (2, 4, 6)
    assert run_sweep(small, out).other_jobs == 4


def test_one_writer_at_a_time(local_run, tmp_path):
    grid, _, _ = local_run
    store = Store.create(tmp_path / "sweep")
    with store.lock(), pytest.raises(UnitscopeError, match=r"is being run by pid \d+"):
        run_sweep(grid, tmp_path / "sweep")
    store.close()


def test_bad_backend_options_fail_before_anything_is_written(local_run, tmp_path):
    grid, _, _ = local_run
    with pytest.raises(UnitscopeError, match=r"unknown backend 'rayy'\. Did you mean 'ray'\?"):
        run_sweep(grid, tmp_path / "a", backend="rayy")
    with pytest.raises(UnitscopeError, match="the local backend runs one batch at a time"):
        run_sweep(grid, tmp_path / "b", backend="local", workers=4)
    with pytest.raises(UnitscopeError, match="`address` is for the ray backend"):
        run_sweep(grid, tmp_path / "c", backend="processes", address="auto")
    assert not any(tmp_path.iterdir())
