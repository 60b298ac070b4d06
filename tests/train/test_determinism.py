from __future__ import annotations

import numpy as np

from unitscope.train import Config, fit

CFG = {
    "data": {"name": "spiral", "options": {"n_samples": 150}},
    "model": {"hidden": [9], "dropout": 0.2},
    "optim": {"name": "adam", "lr": 0.01},
    "train": {"steps": 40, "batch_size": 16},
    "seeds": {"init": [0, 1], "data": [2, 3], "dropout": [4, 5]},
}


def test_same_config_twice_gives_identical_recordings():
    a, b = fit(Config.from_dict(CFG)), fit(Config.from_dict(CFG))
    assert a.identical(b)


def test_a_different_seed_gives_a_different_recording():
    a = fit(Config.from_dict(CFG))
    b = fit(Config.from_dict(CFG).override({"seeds.dropout": [4, 6]}))
    assert not a.identical(b)
    assert np.array_equal(a.params["hidden.0.weight"][:, 0], b.params["hidden.0.weight"][:, 0])


def test_diverged_member_is_marked_and_others_go_on(tmp_path):
    from safetensors.torch import save_file

    from unitscope.init import initialize
    from unitscope.models import MLP

    net = initialize(MLP(5, [8], 1, members=2), "kaiming", seeds=[0, 1])
    params = {k: v.detach().clone() for k, v in net.named_parameters()}
    params["hidden.0.weight"][1] *= 1e3  # member 1 starts with huge weights
    save_file(params, str(tmp_path / "start.safetensors"))
    cfg = Config.from_dict(
        {
            "data": {"name": "teacher", "options": {"n_samples": 64, "n_features": 5}},
            "model": {"hidden": [8]},
            "init": {"scheme": "checkpoint", "path": str(tmp_path / "start.safetensors")},
            "optim": {"lr": 0.1},
            "train": {"steps": 60},
            "seeds": {"init": [0, 1]},
        }
    )
    rec = fit(cfg)
    assert rec.diverged[0] == -1 and rec.diverged[1] >= 0
    assert np.isfinite(rec.curves["train_loss"][0]).all()
    assert rec.curves["train_loss"][0, -1] < rec.curves["train_loss"][0, 0]
