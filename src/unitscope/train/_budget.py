"""The limits a run must fit in, checked before training: memory, estimated before the model
exists (a typo such as ``model.hidden=[1000000000]`` is refused with the estimate instead of
allocating until the machine gives up), and the range of the data's values."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .._errors import UnitscopeError
from .._memory import check_memory
from ..data import Dataset
from ..models import UnitModel
from ._config import Config
from ._loop import checkpoint_steps


def training_bytes(config: Config, model: UnitModel, train: Dataset, test: Dataset) -> int:
    """Bytes of the large arrays of :func:`~unitscope.train.fit` for ``model`` (K members).

    Counted: parameters, gradients and optimizer state; one copy of the parameters per
    checkpoint; the activations of the largest forward pass (a training batch with its
    backward pass, or a whole split when the curves are evaluated); the probe activations
    kept at every checkpoint. ``model`` may live on the ``meta`` device (no memory).
    """
    item = 8 if config.train.dtype == "float64" else 4
    n_params = sum(p.numel() for p in model.parameters())  # all K members
    optim = config.optim
    state = 2 if optim.name in ("adam", "adamw") else int(optim.momentum > 0)
    T = len(
        checkpoint_steps(config.train.steps, config.train.n_checkpoints, config.train.checkpoints)
    )
    per_sample = model.per_sample_numel()  # every member; no forward (a meta forward costs
    # seconds of one-time imports in every process)
    batch = config.train.batch_size or train.n_samples
    forward = max(3 * batch, train.n_samples, test.n_samples) * per_sample  # 3: backward
    probe = T * min(config.data.n_probe, test.n_samples) * per_sample
    return item * (n_params * (2 + state + T) + forward) + 4 * probe


def check_training_memory(
    config: Config, build: Callable[[], UnitModel], train: Dataset, test: Dataset
) -> None:
    """Raise before training when :func:`training_bytes` exceeds the memory here.

    ``build`` makes the model; it is called on the ``meta`` device, which allocates nothing.
    """
    with torch.device("meta"):
        model = build()
    n_params = sum(p.numel() for p in model.parameters())
    check_memory(
        training_bytes(config, model, train, test),
        f"training {model.members} member{'s' if model.members > 1 else ''} of "
        f"{n_params // model.members:,} parameters each",
        "use smaller layers (model.hidden / model.channels), fewer members or fewer checkpoints",
    )


def check_data_range(data: Dataset, dtype: str) -> None:
    """Refuse inputs (or regression targets) whose squares overflow the training ``dtype``.

    Losses and gradients square the data's scale: past sqrt(max float) (1.8e19 in float32,
    1.3e154 in float64) every member diverges at step 0, whatever the optimizer.

    Raises:
        UnitscopeError: naming the largest value and the limit, with what to do.
    """
    limit = float(np.sqrt(np.finfo(np.float64 if dtype == "float64" else np.float32).max))
    arrays = {"x": data.x} if data.task == "classification" else {"x": data.x, "y": data.y}
    for name, values in arrays.items():
        largest = float(np.max(np.abs(values))) if values.size else 0.0
        if largest > limit:
            raise UnitscopeError(
                f"dataset {data.name!r}: {name} holds values up to {largest:.3g} in magnitude; "
                f"training in {dtype} squares them, which overflows above {limit:.2g}. "
                "Rescale the data first (e.g. subtract the mean and divide by the standard "
                "deviation)."
            )
