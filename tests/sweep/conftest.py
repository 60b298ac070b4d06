"""Tiny grids for the sweep tests: 2-D moons, 4-6 unit MLPs, a few steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from unitscope.sweep import Grid, make_grid
from unitscope.train import Config

BASE = {
    "data": {"name": "moons", "options": {"n_samples": 64}, "n_probe": 16},
    "train": {"steps": 15, "n_checkpoints": 3},
}

GRID_TOML = """
[base]
data.options = {n_samples = 64}
data.n_probe = 16
train.steps = 15
train.n_checkpoints = 3

[axes]
"model.hidden" = [[4], [6]]
optim.lr = [0.1, 0.05]

[seeds]
init = {range = [0, 3]}
"""


@pytest.fixture(scope="session")
def base_config() -> Config:
    return Config.from_dict(BASE)


@pytest.fixture(scope="session")
def small_grid() -> Grid:
    """12 jobs in 4 groups of 3 seeds."""
    return make_grid(
        Config.from_dict(BASE),
        {"model.hidden": [[4], [6]], "optim.lr": [0.1, 0.05]},
        {"init": {"range": [0, 3]}},
    )


@pytest.fixture
def grid_file(tmp_path: Path) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(GRID_TOML, encoding="utf-8")
    return path
