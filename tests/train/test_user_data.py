"""Valid user data that used to crash training: RGB image folders and a class seen only in test."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from unitscope.data import load, train_test_split
from unitscope.train import Config, fit


def test_cnn_trains_on_an_rgb_image_folder(tmp_path, rng):
    for name in ("cat", "dog"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for i in range(5):
            pixels = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "pets" / name / f"{i}.png")
    cfg = Config.from_dict(
        {
            "data": {"name": str(tmp_path / "pets")},
            "model": {"kind": "cnn", "channels": [2]},
            "train": {"steps": 3, "n_checkpoints": 2},
        }
    )
    rec = fit(cfg)
    assert rec.activations("conv.0").shape[-1] == 2  # (T, K, n_probe, channels)
    assert np.isfinite(rec.curves["test_loss"]).all()


def rare_csv(tmp_path):
    """Classes 0 and 1 with 19+ samples each, class 2 with one sample."""
    x = np.random.default_rng(0).standard_normal((40, 2))
    labels = [0, 1] * 19 + [0, 2]
    lines = ["a,b,label", *(f"{p:.6f},{q:.6f},{c}" for (p, q), c in zip(x, labels))]
    path = tmp_path / "rare.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_a_class_seen_only_in_the_test_split_trains_and_is_scored(tmp_path, loss):
    path = rare_csv(tmp_path)
    ds = load(str(path), target="label")
    seed = next(s for s in range(50) if 2 not in train_test_split(ds, seed=s)[0].y)
    cfg = Config.from_dict(
        {
            "data": {"name": str(path), "options": {"target": "label"}, "split_seed": seed},
            "model": {"hidden": [4]},
            "train": {"steps": 3, "n_checkpoints": 2, "loss": loss},
        }
    )
    rec = fit(cfg)
    assert rec.meta.dataset.n_outputs == 3  # from the dataset, not from the train split
    acc = np.asarray(rec.curves["test_acc"])
    assert np.isfinite(acc).all() and ((acc >= 0) & (acc <= 1)).all()
