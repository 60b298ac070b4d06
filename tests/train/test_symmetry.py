"""Exchangeable units stay exchangeable unless something breaks the symmetry."""

from __future__ import annotations

import numpy as np
import pytest

from unitscope.train import Config, fit

BASE = {
    "data": {"name": "moons", "options": {"n_samples": 120}},
    "model": {"hidden": [6, 5]},
    "init": {"scheme": "symmetric"},
    "train": {"steps": 500, "dtype": "float64", "n_checkpoints": 3, "eval_every": 500},
    "seeds": {"init": [0, 1], "data": [3, 4], "dropout": [5, 6]},
}


def spread(rec, layer: str) -> float:
    """Max distance of a unit's incoming weights (and bias) from the layer's mean unit."""
    w = rec.weights(layer)[-1]  # (K, U, fan_in)
    b = rec.bias(layer)[-1][..., None]  # (K, U, 1)
    units = np.concatenate([w, b], axis=-1)
    return float(np.linalg.norm(units - units.mean(1, keepdims=True), axis=-1).max())


KEEPS = {
    "full-batch GD": {},
    "minibatch SGD + momentum": {"train.batch_size": 16, "optim.momentum": 0.9},
    "nesterov": {"train.batch_size": 16, "optim.momentum": 0.9, "optim.nesterov": True},
    "adam": {"optim.name": "adam", "optim.lr": 0.01, "train.batch_size": 32},
    "adamw": {"optim.name": "adamw", "optim.lr": 0.01, "optim.weight_decay": 0.1},
    "weight decay": {"optim.weight_decay": 0.01},
    "l1": {"optim.l1": 0.001},
    "l2": {"optim.l2": 0.01},
    "mse": {"train.loss": "mse"},
}


@pytest.mark.parametrize("name", list(KEEPS))
def test_symmetric_units_stay_identical(name):
    rec = fit(Config.from_dict(BASE).override(KEEPS[name]))
    assert np.isfinite(rec.curves["train_loss"]).all()
    for layer in rec.layers:
        assert spread(rec, layer) <= 1e-10, (name, layer)
    # training did move the weights: the test is not vacuous
    w = rec.weights("hidden.0")
    assert np.abs(w[-1] - w[0]).max() > 1e-3


@pytest.mark.parametrize(
    "name, change",
    [
        ("dropout", {"model.dropout": 0.2}),
        ("incoming-only symmetry", {"init.scheme": "incoming_symmetric"}),
        ("eps perturbation", {"init.scheme": "symmetric_eps", "init.eps": 1e-3}),
    ],
)
def test_symmetry_breakers_separate_units(name, change):
    rec = fit(Config.from_dict(BASE).override(change))
    assert spread(rec, "hidden.0") > 1e-3, name
