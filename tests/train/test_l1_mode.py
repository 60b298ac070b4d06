"""``optim.l1_mode``: the L1 penalty as a subgradient (in the gradient) or a proximal step
(soft-thresholding after the step, exact zeros). Checked against a plain float64 reference:
one step of each mode is the unpenalized step plus the L1 part, written out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.train import Config, fit

torch.set_num_threads(1)

LR, L1 = 0.2, 0.5
BASE = {
    "data": {"name": "moons", "options": {"n_samples": 80}},
    "model": {"hidden": [6]},
    "optim": {"lr": LR},
    "train": {"steps": 1, "dtype": "float64", "n_checkpoints": 2, "eval_every": 1},
    "seeds": {"init": [0, 1]},
}


def one_step(**optim) -> dict[str, np.ndarray]:
    """Parameters before (index 0) and after (index 1) one full-batch SGD step."""
    cfg = Config.from_dict(BASE).override({f"optim.{k}": v for k, v in optim.items()})
    return fit(cfg).params


def soft(w: np.ndarray, t: float) -> np.ndarray:
    """Reference soft-thresholding, element by element."""
    out = np.zeros_like(w)
    for i, v in np.ndenumerate(w):
        out[i] = (abs(v) - t) * (1.0 if v > 0 else -1.0) if abs(v) > t else 0.0
    return out


def test_proximal_step_is_the_plain_step_then_soft_thresholding() -> None:
    plain, prox = one_step(), one_step(l1=L1, l1_mode="proximal")
    for name in plain:
        assert np.array_equal(plain[name][0], prox[name][0])  # same init
        want = soft(plain[name][1], LR * L1) if name.endswith(".weight") else plain[name][1]
        np.testing.assert_allclose(prox[name][1], want, rtol=0, atol=1e-12)
    assert (prox["hidden.0.weight"][1] == 0).any()  # the threshold made exact zeros


def test_subgradient_step_adds_lr_l1_sign_w() -> None:
    plain, sub = one_step(), one_step(l1=L1)  # subgradient is the default
    for name in plain:
        w0 = plain[name][0]
        want = plain[name][1] - (LR * L1 * np.sign(w0) if name.endswith(".weight") else 0.0)
        np.testing.assert_allclose(sub[name][1], want, rtol=0, atol=1e-12)


def test_proximal_gives_exact_zeros_and_subgradient_does_not() -> None:
    cfg = Config.from_dict(BASE).override(
        {"train.steps": 200, "optim.l1": 0.05, "train.dtype": "float32"}
    )
    w = {
        mode: fit(cfg.override({"optim.l1_mode": mode})).weights("hidden.0")[-1]
        for mode in ("subgradient", "proximal")
    }
    assert (w["proximal"] == 0).mean() > 0.2
    assert (w["subgradient"] == 0).sum() == 0
    # the subgradient weights hover near zero instead: many small, none exactly 0
    assert (np.abs(w["subgradient"]) < LR * 0.05).mean() > 0.1


def test_l1_mode_is_checked() -> None:
    with pytest.raises(UnitscopeError, match="unknown value for `optim.l1_mode` 'prox'"):
        Config().override({"optim.l1_mode": "prox"})
