"""Limits checked before training: memory estimated before the model exists, and data whose
squares overflow the training dtype."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.data import Dataset, load
from unitscope.train import Config, fit
from unitscope.train._budget import check_data_range, training_bytes
from unitscope.train._fit import build_model, prepare_data

GB = 10**9


@pytest.fixture
def sixteen_gb(monkeypatch):
    """A machine with 16 GB, whatever this one has: the refusals do not depend on the host."""
    monkeypatch.setattr("unitscope._memory.memory_limit", lambda: 16 * GB)


def test_a_billion_units_is_refused_with_an_estimate_before_allocating(sixteen_gb):
    cfg = Config.from_dict({"model": {"hidden": [1_000_000_000]}})
    with pytest.raises(
        UnitscopeError,
        match=r"^training 1 member of 5,000,000,002 parameters each would need about \d[\d,.]* TB "
        r"of memory, more than the 16 GB available here; use smaller layers \(model\.hidden / "
        r"model\.channels\), fewer members or fewer checkpoints\.$",
    ):
        fit(cfg)


def test_wide_cnn_is_refused_too(sixteen_gb):
    cfg = Config.from_dict(
        {"data": {"name": "digits"}, "model": {"kind": "cnn", "channels": [100_000, 100_000]}}
    )
    with pytest.raises(UnitscopeError, match=r"^training 1 member of 90,005,100,010 parameters"):
        fit(cfg)


def meta_model(cfg: Config, members: int):
    train, test, _ = prepare_data(cfg)
    with torch.device("meta"):
        return build_model(cfg, train, members), train, test


def test_estimate_counts_members_checkpoints_and_optimizer_state():
    cfg = Config.from_dict({"model": {"hidden": [64]}, "train": {"n_checkpoints": 5}})
    one, train, test = meta_model(cfg, 1)
    four, _, _ = meta_model(cfg, 4)
    assert training_bytes(cfg, four, train, test) == 4 * training_bytes(cfg, one, train, test)
    n_params = sum(p.numel() for p in one.parameters())  # 2*64 + 64 + 64*2 + 2
    assert training_bytes(cfg, one, train, test) >= 4 * n_params * (2 + 5)  # float32, sgd
    adam = cfg.override({"optim.name": "adam"})
    assert training_bytes(adam, one, train, test) - training_bytes(cfg, one, train, test) == (
        4 * 2 * n_params
    )


def test_a_small_run_is_not_refused(sixteen_gb):
    cfg = Config.from_dict({"model": {"hidden": [8]}, "train": {"steps": 2}})
    assert fit(cfg).members == 1


def test_data_whose_squares_overflow_the_training_dtype_is_refused():
    moons = load("moons", n_samples=40)
    huge = Dataset(moons.x * 1e300, moons.y, "classification", "huge")
    with pytest.raises(
        UnitscopeError,
        match=r"^dataset 'huge': x holds values up to \d\.\d+e\+300 in magnitude; training in "
        r"float32 squares them, which overflows above 1\.8e\+19\. Rescale the data first",
    ):
        fit(Config.from_dict({"train": {"steps": 2}}), dataset=huge)
    big = Dataset(moons.x * 1e20, moons.y, "classification", "big")
    with pytest.raises(UnitscopeError, match=r"float32 squares them"):
        check_data_range(big, "float32")
    check_data_range(big, "float64")  # 1e40 fits in float64
    target = Dataset(moons.x, np.full((40, 1), 1e200), "regression", "far")
    with pytest.raises(UnitscopeError, match=r"^dataset 'far': y holds values up to 1e\+200"):
        check_data_range(target, "float64")
