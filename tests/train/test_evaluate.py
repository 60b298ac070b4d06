"""The loss and accuracy curves do not depend on how evaluation cuts the rows into chunks."""

from __future__ import annotations

import numpy as np
import pytest

from unitscope.train import Config, _loop, fit

CASES = {
    "mlp classification": {
        "data": {"name": "moons", "options": {"n_samples": 150}},
        "model": {"hidden": [9]},
    },
    "mlp regression": {"data": {"name": "teacher", "options": {"n_samples": 90}}},
    "cnn": {
        "data": {"name": "digits", "options": {"n_samples": 90}},
        "model": {"kind": "cnn", "channels": [3, 4]},
    },
}


@pytest.mark.parametrize("case", list(CASES))
def test_curves_are_the_same_in_chunks_of_any_size(case, monkeypatch):
    cfg = Config.from_dict(
        {
            **CASES[case],
            "train": {"steps": 6, "dtype": "float64", "n_checkpoints": 3, "batch_size": 16},
            "seeds": {"init": [0, 1]},
        }
    )
    whole = fit(cfg)
    monkeypatch.setattr(_loop, "EVAL_CHUNK", 1)  # one row at a time
    rows = fit(cfg)
    assert set(whole.curves) == set(rows.curves) and len(whole.curve_steps) >= 3
    for name, curve in whole.curves.items():
        np.testing.assert_allclose(rows.curves[name], curve, rtol=1e-12, atol=0)
    if "train_acc" in whole.curves:  # a mean over rows, not over chunks: not all 0 or 1
        assert ((whole.curves["train_acc"] > 0) & (whole.curves["train_acc"] < 1)).any()
