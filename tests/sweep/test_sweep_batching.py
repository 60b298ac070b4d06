"""Batched fits: a member cut out of a batch is the job trained alone, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.sweep import make_grid
from unitscope.sweep._execute import BatchSpec, merge_configs, run_batch
from unitscope.train import Config, fit

HARD = {  # minibatches, dropout and Adam: every source of randomness is used
    "data": {"name": "spiral", "options": {"n_samples": 90}, "n_probe": 12},
    "model": {"hidden": [6], "dropout": 0.2},
    "optim": {"name": "adam", "lr": 0.01},
    "train": {"steps": 12, "batch_size": 16, "n_checkpoints": 3},
}


def spec_of(jobs, index=0):
    return BatchSpec(index, tuple(j.id for j in jobs), tuple(j.config for j in jobs))


def test_select_members_cuts_every_member_axis():
    rec = fit(Config.from_dict({**HARD, "seeds": {"init": [3, 4, 5], "data": [7, 8, 9]}}))
    two = rec.select([2, 0])
    assert two.members == 2
    np.testing.assert_array_equal(
        two.params["hidden.0.weight"], rec.params["hidden.0.weight"][:, [2, 0]]
    )
    np.testing.assert_array_equal(two.acts["hidden.0"], rec.acts["hidden.0"][:, [2, 0]])
    np.testing.assert_array_equal(two.curves["test_loss"], rec.curves["test_loss"][[2, 0]])
    assert two.meta.seeds == {"init": [5, 3], "data": [9, 7], "dropout": [0, 0]}
    assert two.config["seeds"] == {"init": [5, 3], "data": [9, 7], "dropout": [0]}
    assert rec.meta.seeds["init"] == [3, 4, 5]  # the original is untouched
    with pytest.raises(UnitscopeError, match=r"`members` must be indices in \[0, 3\), got \[3\]"):
        rec.select([3])


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
def test_member_of_a_batch_matches_the_job_trained_alone(dtype, tol):
    """Batched and single matrix products round differently: equal to rounding, not bits."""
    base = Config.from_dict({**HARD, "train": {**HARD["train"], "dtype": dtype}})
    grid = make_grid(base, seeds={"init": [0, 1, 2, 3], "data": [5], "dropout": [6, 7]})
    jobs = grid.jobs
    batched = run_batch(spec_of(jobs))
    assert [m.status for m in batched.members] == ["finished"] * len(jobs)
    for k in (0, 5, 7):
        alone = run_batch(spec_of([jobs[k]])).members[0]
        mine = batched.members[k]
        assert mine.job_id == alone.job_id == jobs[k].id
        assert mine.recording is not None and alone.recording is not None
        assert mine.recording.meta.config == alone.recording.meta.config == jobs[k].config
        flat_mine, flat_alone = mine.recording._flat(), alone.recording._flat()
        for key, value in flat_alone.items():
            np.testing.assert_allclose(flat_mine[key], value, rtol=tol, atol=tol, err_msg=key)


def test_the_same_batch_is_bit_identical_whatever_the_caller_threads():
    grid = make_grid(Config.from_dict(HARD), seeds={"init": [0, 1, 2]})
    first = run_batch(spec_of(grid.jobs))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        again = run_batch(spec_of(grid.jobs))
        assert torch.get_num_threads() == 2  # restored after the fit
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(first.members, again.members):
        assert a.recording is not None and b.recording is not None
        assert a.recording.identical(b.recording) and a.metrics == b.metrics


def test_merge_refuses_configs_that_differ_beyond_seeds(small_grid):
    jobs = small_grid.jobs
    merged = merge_configs((jobs[0].config, jobs[1].config))
    assert merged["seeds"]["init"] == [0, 1] and merged["optim"] == jobs[0].config["optim"]
    with pytest.raises(UnitscopeError, match="differ only in their seeds"):
        merge_configs((jobs[0].config, jobs[3].config))


def test_a_raising_fit_fails_every_member_with_its_error(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    grid = make_grid(Config.from_dict({"data": {"name": str(bad)}}), seeds={"init": [0, 1]})
    result = run_batch(spec_of(grid.jobs))
    assert [m.status for m in result.members] == ["failed", "failed"]
    assert all(m.error and "\n" not in m.error for m in result.members)
    assert all(m.traceback and "Traceback" in m.traceback for m in result.members)
    assert all(m.recording is None for m in result.members)


def test_a_diverging_member_fails_and_its_batch_mates_finish():
    base = Config.from_dict(
        {
            **HARD,
            "data": {"name": "teacher", "options": {"n_samples": 64}},
            "model": {"hidden": [6]},
            "optim": {"lr": 0.5},
        }
    )
    grid = make_grid(base, seeds={"init": list(range(8))})
    result = run_batch(spec_of(grid.jobs))
    failed = [m for m in result.members if m.status == "failed"]
    finished = [m for m in result.members if m.status == "finished"]
    assert failed and finished, "lr 0.5 on teacher diverges for some seeds, not all"
    for m in failed:
        assert m.error is not None and m.error.startswith("diverged at step ")
        assert m.metrics["diverged_step"] >= 0 and m.recording is None
    assert all(m.metrics["diverged_step"] == -1 and m.recording for m in finished)
