"""The demo's showcase run: a small network on 2-D data whose every unit the report draws."""

from __future__ import annotations

from ..record import Recording
from ..train import fit
from ._common import Scale, config, pick


def showcase(scale: Scale = "small") -> Recording:
    """Four seeds of a 12-unit MLP learning two moons, recorded at 24 checkpoints."""
    return fit(
        config(
            data={
                "name": "moons",
                "options": {"n_samples": pick(scale, 100, 300, 1000), "noise": 0.15},
                "n_probe": 128,
            },
            model={"hidden": [12]},
            optim={"name": "adam", "lr": 0.02},
            train={"steps": pick(scale, 60, 400, 2000), "batch_size": 32, "n_checkpoints": 24},
            seeds={"init": [0, 1, 2, 3], "data": [0, 1, 2, 3]},
        )
    )
