"""Member k of a batched ensemble is the network a run of member k alone trains.

Exactly so in float64: the two runs see the same initial weights, minibatches and dropout
masks, and differ only in how batched and single products round (~1e-16), which stays far
below ``FLOAT64_TOL`` after training. In float32 the same rounding differences (~1e-7 a step)
usually stay ~1e-6, but now and then one tips a ReLU or max-pool decision and the two runs
move onto slightly different paths; how often depends on the CPU's kernels (a convolution's
accumulation order). The float32 promise is therefore a bounded drift, ``FLOAT32_DRIFT``.
Measured on the CNN case (25 steps) with ``SEEDS``: below 1e-5 on the CPU this test was first
written on; on an AMD EPYC member 0 jumps at step 23 and ends 6.4e-4 apart in its weights and
1.0e-3 in its activations, while 39 other seed sets stay below 1e-6, as do the MLP cases.
"""

from __future__ import annotations

import numpy as np
import pytest

from unitscope.record import Recording
from unitscope.train import Config, _step, fit
from unitscope.train._step import member_groups

CASES = {
    "mlp sgd minibatch dropout": {
        "data": {"name": "moons", "options": {"n_samples": 160}},
        "model": {"hidden": [12, 7], "dropout": 0.1},
        "optim": {"momentum": 0.9},
        "train": {"steps": 60, "batch_size": 32},
    },
    "mlp adam regression": {
        "data": {"name": "teacher", "options": {"n_samples": 128}},
        "model": {"hidden": [10], "activation": "tanh"},
        "optim": {"name": "adam", "lr": 0.01, "l1": 1e-4},
        "train": {"steps": 60, "batch_size": 20},
    },
    "cnn digits": {
        "data": {"name": "digits", "options": {"n_samples": 200}},
        "model": {"kind": "cnn", "channels": [4, 6], "dropout": 0.1},
        "train": {"steps": 25, "batch_size": 32, "record_maps": True},
    },
}

SEEDS = {"init": [3, 1, 4], "data": [1, 5, 9], "dropout": [2, 6, 5]}

FLOAT64_TOL = 1e-10  # measured: at most 9e-16 (MLP), 0 (CNN)
FLOAT32_DRIFT = 1e-2  # measured: at most 1.0e-3 (CNN), 6e-7 (MLP); a 10x margin


def batched_and_alone(case: str, dtype: str) -> tuple[Recording, list[Recording]]:
    """The 3-member batched run of ``case`` and each member trained on its own."""
    train = {**CASES[case]["train"], "n_checkpoints": 4, "dtype": dtype}
    base = {**CASES[case], "train": train}
    together = fit(Config.from_dict({**base, "seeds": SEEDS}))
    alone = [
        fit(Config.from_dict({**base, "seeds": {s: [v[k]] for s, v in SEEDS.items()}}))
        for k in range(3)
    ]
    return together, alone


def max_difference(together: Recording, k: int, alone: Recording) -> float:
    """Largest absolute difference between member k of ``together`` and the single member of
    ``alone``, over every parameter, recorded activation and curve at every checkpoint."""
    pairs = [(v[:, k], alone.params[n][:, 0]) for n, v in together.params.items()]
    pairs += [(v[:, k], alone.acts[n][:, 0]) for n, v in together.acts.items()]
    pairs += [(v[k], alone.curves[n][0]) for n, v in together.curves.items()]
    for a, b in pairs:
        assert a.shape == b.shape and np.isfinite(a).all() and np.isfinite(b).all()
    return max(float(np.abs(a - b).max()) for a, b in pairs)


@pytest.mark.parametrize("case", list(CASES))
def test_member_k_of_a_float64_batch_is_member_k_alone(case):
    together, alone = batched_and_alone(case, "float64")
    for k in range(3):
        assert max_difference(together, k, alone[k]) <= FLOAT64_TOL
        # the comparison can fail: another member of the batch is another network
        assert max_difference(together, (k + 1) % 3, alone[k]) > 1e-2


@pytest.mark.parametrize("case", list(CASES))
def test_float32_batch_drifts_from_the_separate_runs_by_at_most_the_stated_bound(case):
    together, alone = batched_and_alone(case, "float32")
    for k in range(3):
        assert max_difference(together, k, alone[k]) <= FLOAT32_DRIFT
        assert max_difference(together, (k + 1) % 3, alone[k]) > 10 * FLOAT32_DRIFT


def test_members_differ_when_seeds_differ():
    rec = fit(Config.from_dict({**CASES["mlp sgd minibatch dropout"], "seeds": SEEDS}))
    w = rec.params["hidden.0.weight"][-1]
    assert np.abs(w[0] - w[1]).max() > 1e-2


@pytest.mark.parametrize("source", ["init", "data", "dropout"])
def test_each_seed_source_changes_only_its_randomness(source):
    cfg = {**CASES["mlp sgd minibatch dropout"], "train": {"steps": 30, "batch_size": 32}}
    seeds = {"init": [0, 0], "data": [0, 0], "dropout": [0, 0], source: [0, 1]}
    rec = fit(Config.from_dict({**cfg, "seeds": seeds}))
    w = rec.params["hidden.0.weight"]  # (T, K, U, in)
    same_start = np.array_equal(w[0, 0], w[0, 1])
    assert same_start == (source != "init")
    assert np.abs(w[-1, 0] - w[-1, 1]).max() > 1e-4


@pytest.mark.parametrize("case", list(CASES))
def test_members_split_over_threads_train_as_one_group(case, monkeypatch):
    """With 2 threads the members train in two groups, one per thread (train/_step.py): an
    MLP's by hand on slices, a CNN's by autograd on views of the flat buffer."""
    seen = []

    def groups(members: int, threads: int) -> list[tuple[int, int]]:
        seen.append(member_groups(members, threads))
        return seen[-1]

    monkeypatch.setattr(_step, "member_groups", groups)
    train = {**CASES[case]["train"], "n_checkpoints": 4, "dtype": "float64"}
    cfg = Config.from_dict({**CASES[case], "train": train, "seeds": SEEDS})
    one, two = fit(cfg.override({"train.threads": 1})), fit(cfg.override({"train.threads": 2}))
    assert seen == [[(0, 3)], [(0, 2), (2, 3)]]
    pairs = [(one.params[n], two.params[n]) for n in one.params]
    pairs += [(one.acts[n], two.acts[n]) for n in one.acts]
    pairs += [(one.curves[n], two.curves[n]) for n in one.curves]
    assert max(float(np.abs(a - b).max()) for a, b in pairs) <= FLOAT64_TOL
    first = one.params[next(iter(one.params))]  # the first layer's weights (T, K, ...)
    assert np.abs(first[-1] - first[0]).max() > 1e-2  # trained: the comparison can fail
