"""Shared set-up of the matching tests: random float64 networks and two tiny recordings."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from unitscope.init import initialize
from unitscope.models import MLP, SmallCNN, UnitModel
from unitscope.train import Config, fit


def _with_random_biases(net: UnitModel, seed: int) -> UnitModel:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return net


@pytest.fixture
def random_mlp() -> Callable[..., UnitModel]:
    """``make(depth, width, K=2, seed=0, in_features=12, out=5)``: Kaiming float64 MLP."""

    def make(
        depth: int,
        width: int,
        K: int = 2,
        seed: int = 0,
        in_features: int = 12,
        out: int = 5,
        activation: str = "relu",
    ) -> UnitModel:
        net = MLP(in_features, [width] * depth, out, activation=activation, members=K)
        initialize(net, "kaiming", seeds=[seed * 100 + k for k in range(K)])
        return _with_random_biases(net.double(), seed)

    return make


@pytest.fixture
def random_cnn() -> Callable[..., UnitModel]:
    """``make(K=2, seed=0, channels=(4, 6), pool="max")``: Kaiming float64 SmallCNN, 8x8."""

    def make(
        K: int = 2, seed: int = 0, channels: tuple[int, ...] = (4, 6), pool: str = "max"
    ) -> UnitModel:
        net = SmallCNN(2, (8, 8), channels, 5, pool=pool, members=K)
        initialize(net, "kaiming", seeds=[seed * 100 + k for k in range(K)])
        return _with_random_biases(net.double(), seed)

    return make


MLP_RUN = {
    "data": {"name": "moons", "options": {"n_samples": 160}, "n_probe": 40},
    "model": {"hidden": [8, 6]},
    "optim": {"name": "adam", "lr": 0.02},
    "train": {"steps": 60, "dtype": "float64", "n_checkpoints": 3, "eval_every": 60},
    "seeds": {"init": [0, 1, 2]},
}


@pytest.fixture(scope="session")
def mlp_config() -> Config:
    """Three 2-8-6-2 MLPs trained briefly on moons (float64), three checkpoints."""
    return Config.from_dict(MLP_RUN)


@pytest.fixture(scope="session")
def mlp_rec(mlp_config):
    """The recording of ``mlp_config``."""
    return fit(mlp_config)


@pytest.fixture(scope="session")
def cnn_rec():
    """Two small CNNs trained a few steps on digits."""
    cfg = {
        "data": {"name": "digits", "n_probe": 24, "test_fraction": 0.2},
        "model": {"kind": "cnn", "channels": [3, 4]},
        "optim": {"name": "adam", "lr": 0.01},
        "train": {"steps": 10, "n_checkpoints": 2, "eval_every": 10, "batch_size": 64},
        "seeds": {"init": [0, 1]},
    }
    return fit(Config.from_dict(cfg))
