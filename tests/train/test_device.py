"""On a CUDA GPU the trainer computes what it computes on the CPU (float64), for the
hand-written MLP step, the autograd CNN step and every optimizer. Marked ``gpu``: skipped,
and said so at the end of the run, where no GPU is present (tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from unitscope.record import Recording
from unitscope.train import Config, fit

CASES = {
    "mlp adam dropout, own batches": {
        "data": {"name": "moons", "options": {"n_samples": 160}},
        "model": {"hidden": [12, 7], "dropout": 0.2},
        "optim": {"name": "adam", "lr": 0.01, "l1": 1e-4},
        "train": {"steps": 40, "batch_size": 32},
        "seeds": {"init": [0, 1, 2], "data": [3, 4, 5], "dropout": [6, 7, 8]},
    },
    "mlp sgd proximal l1, full batch": {
        "data": {"name": "teacher", "options": {"n_samples": 100}},
        "model": {"hidden": [9], "activation": "tanh"},
        "optim": {"momentum": 0.9, "l1": 1e-3, "l1_mode": "proximal", "l2": 1e-3},
        "train": {"steps": 40},
        "seeds": {"init": [0, 1]},
    },
    "cnn adamw dropout": {
        "data": {"name": "digits", "options": {"n_samples": 200, "upsample": 2}},
        "model": {"kind": "cnn", "channels": [4, 6], "dropout": 0.1},
        "optim": {"name": "adamw", "lr": 0.01, "weight_decay": 0.01},
        "train": {"steps": 20, "batch_size": 32, "record_maps": True},
        "seeds": {"init": [0, 1]},
    },
}


def largest_difference(a: Recording, b: Recording) -> float:
    pairs = [(v, b.params[n]) for n, v in a.params.items()]
    pairs += [(v, b.acts[n]) for n, v in a.acts.items()]
    pairs += [(v, b.curves[n]) for n, v in a.curves.items()]
    return max(float(np.abs(x - y).max()) for x, y in pairs)


@pytest.mark.gpu
@pytest.mark.parametrize("case", list(CASES))
def test_a_cuda_run_is_the_cpu_run(case):
    cfg = Config.from_dict(CASES[case]).override({"train.dtype": "float64"})
    cpu = fit(cfg.override({"train.device": "cpu"}))
    gpu = fit(cfg.override({"train.device": "cuda"}))
    assert largest_difference(cpu, gpu) <= 1e-9
    moved = cpu.params[next(iter(cpu.params))]
    assert np.abs(moved[-1] - moved[0]).max() > 1e-3  # training happened: the test can fail


@pytest.mark.gpu
def test_a_float32_cuda_run_trains():
    cfg = Config.from_dict(CASES["mlp adam dropout, own batches"]).override(
        {"train.device": "cuda", "train.steps": 200}
    )
    rec = fit(cfg)
    loss = rec.curves["train_loss"]
    assert np.isfinite(loss).all() and (loss[:, -1] < 0.8 * loss[:, 0]).all()
