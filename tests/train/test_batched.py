"""A batched ensemble of K members equals K separate runs with the same seeds."""

from __future__ import annotations

import numpy as np
import pytest

from unitscope.train import Config, fit

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


@pytest.mark.parametrize("case", list(CASES))
def test_ensemble_equals_separate_runs(case):
    base = {**CASES[case], "train": {**CASES[case]["train"], "n_checkpoints": 4}}
    together = fit(Config.from_dict({**base, "seeds": SEEDS}))
    for k in range(3):
        alone = fit(Config.from_dict({**base, "seeds": {s: [v[k]] for s, v in SEEDS.items()}}))
        for name, value in together.params.items():
            np.testing.assert_allclose(value[:, k], alone.params[name][:, 0], atol=1e-5, rtol=0)
        for layer, acts in together.acts.items():
            np.testing.assert_allclose(acts[:, k], alone.acts[layer][:, 0], atol=1e-5, rtol=0)
        for metric, curve in together.curves.items():
            np.testing.assert_allclose(curve[k], alone.curves[metric][0], atol=1e-5, rtol=0)


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
