"""Shared test set-up: one thread (tiny models train many times faster) and a seeded numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope.record import Recording
from unitscope.train import Config, fit

torch.set_num_threads(1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# ---- tiny recordings shared by the views and report tests (once per session and worker) --
@pytest.fixture(scope="session")
def moons_rec() -> Recording:
    """An MLP [6, 4] on moons, 2 members, 4 checkpoints."""
    return fit(
        Config.from_dict(
            {
                "data": {"name": "moons", "options": {"n_samples": 80}, "n_probe": 32},
                "model": {"hidden": [6, 4]},
                "train": {"steps": 12, "n_checkpoints": 4},
                "seeds": {"init": [0, 1]},
            }
        )
    )


@pytest.fixture(scope="session")
def cnn_rec() -> Recording:
    """A SmallCNN [3, 4] on 16x16 digits with full maps, 2 members, 3 checkpoints."""
    return fit(
        Config.from_dict(
            {
                "data": {
                    "name": "digits",
                    "options": {"upsample": 2, "n_samples": 120},
                    "n_probe": 24,
                },
                "model": {"kind": "cnn", "channels": [3, 4]},
                "train": {"record_maps": True, "steps": 6, "n_checkpoints": 3},
                "seeds": {"init": [0, 1]},
            }
        )
    )
