"""The Ray backend on a local instance gives the local backend's per-job results."""

from __future__ import annotations

import sys

import pytest

from unitscope._errors import UnitscopeError
from unitscope.record import Recording
from unitscope.sweep import run_sweep, sweep_table


def metrics_by_id(out):
    return {
        r["id"]: {k: v for k, v in r.items() if k.startswith(("final_", "best_"))}
        for r in sweep_table(out)
    }


@pytest.mark.ray  # skipped without the ray extra (see tests/conftest.py)
def test_ray_on_a_local_instance_gives_the_local_results(small_grid, tmp_path):
    import ray

    local = run_sweep(small_grid, tmp_path / "local", backend="local")
    on_ray = run_sweep(small_grid, tmp_path / "ray", backend="ray", workers=2)
    assert not ray.is_initialized()  # the instance it started was shut down
    assert (local.finished, on_ray.finished, on_ray.failed) == (12, 12, 0)
    assert metrics_by_id(tmp_path / "local") == metrics_by_id(tmp_path / "ray")
    for job in small_grid.jobs:
        a = Recording.load(tmp_path / "local" / "runs" / job.id)
        b = Recording.load(tmp_path / "ray" / "runs" / job.id)
        assert a.identical(b)


def test_a_missing_ray_names_the_extra(small_grid, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(UnitscopeError, match=r"pip install 'unitscope\[ray\]'"):
        run_sweep(small_grid, tmp_path / "sweep", backend="ray")
    assert not (tmp_path / "sweep").exists()
