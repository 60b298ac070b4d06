"""Training: K members at once, one vectorized step, three separately seeded randomness sources.

``fit(config)`` returns a :class:`~unitscope.record.Recording`. The init seed sets each
member's starting weights, the data seed its minibatch order, the dropout seed its dropout
masks; a study varies one and holds the others.
"""

from __future__ import annotations

from ._config import (
    Config,
    DataConfig,
    InitConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    SeedConfig,
)
from ._fit import build_model, fit, prepare_data
from ._loop import checkpoint_steps
from ._loss import accuracy, member_loss

__all__ = [
    "Config",
    "DataConfig",
    "InitConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "SeedConfig",
    "accuracy",
    "build_model",
    "checkpoint_steps",
    "fit",
    "member_loss",
    "prepare_data",
]
