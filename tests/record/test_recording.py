"""Recording: accessors, save/load round trip, refusal of corrupt files."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.record import Recording
from unitscope.train import Config, fit


@pytest.fixture(scope="module")
def rec():
    return fit(
        Config.from_dict(
            {
                "data": {"name": "digits", "options": {"n_samples": 150}, "n_probe": 20},
                "model": {"kind": "cnn", "channels": [3, 4]},
                "train": {"steps": 10, "batch_size": 32, "record_maps": True, "n_checkpoints": 4},
                "seeds": {"init": [0, 1]},
            }
        )
    )


def test_shapes(rec):
    T = len(rec.steps)
    assert rec.steps[0] == 0 and rec.steps[-1] == 10
    assert rec.activations("conv.1").shape == (T, 2, 20, 4)
    assert rec.maps["conv.0"].shape == (T, 2, 20, 3, 8, 8)
    assert rec.weights("conv.1").shape == (T, 2, 4, 3 * 9)
    assert rec.outgoing("conv.1").shape == (T, 2, 4, 10 * 4)
    np.testing.assert_allclose(rec.maps["conv.1"].mean(axis=(4, 5)), rec.acts["conv.1"], atol=1e-6)


def test_model_rebuilds_the_recorded_activations(rec):
    net = rec.model(step=-1)
    with torch.no_grad():
        _, hidden = net.forward_hidden(torch.as_tensor(rec.probe_x, dtype=torch.float32))
    np.testing.assert_allclose(hidden["conv.0"].numpy(), rec.maps["conv.0"][-1], atol=1e-6)


def test_save_load_round_trip(rec, tmp_path):
    rec.save(tmp_path / "r")
    back = Recording.load(tmp_path / "r")
    assert back.identical(rec)
    assert back.meta == rec.meta


def test_a_saved_recording_has_the_usual_permissions(rec, tmp_path):
    """The folder gets 0777 and its files 0666 minus the umask, as mkdir and open give (not
    the 0700 of the temporary folder it is written in)."""
    old = os.umask(0o027)
    try:
        rec.save(tmp_path / "r")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r").stat().st_mode) == 0o750
    for f in (tmp_path / "r").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o640, f.name


def test_save_refuses_existing_folder(rec, tmp_path):
    (tmp_path / "r").mkdir()
    with pytest.raises(UnitscopeError, match="already exists"):
        rec.save(tmp_path / "r")
    rec.save(tmp_path / "r", overwrite=True)
    assert Recording.load(tmp_path / "r").identical(rec)
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no temporary left behind


def test_truncated_and_tampered_files_are_refused(rec, tmp_path):
    folder = rec.save(tmp_path / "r")
    data = (folder / "recording.safetensors").read_bytes()
    (folder / "recording.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnitscopeError, match="truncated or modified"):
        Recording.load(folder)
    flipped = bytearray(data)
    flipped[-5] ^= 0xFF
    (folder / "recording.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(UnitscopeError, match="truncated or modified"):
        Recording.load(folder)


def test_wrong_format_version_is_refused(rec, tmp_path):
    folder = rec.save(tmp_path / "r")
    meta = json.loads((folder / "meta.json").read_text())
    meta["format_version"] = 99
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(UnitscopeError, match="format version 99 is not supported"):
        Recording.load(folder)
    (folder / "meta.json").write_text("{not json")
    with pytest.raises(UnitscopeError, match="not valid JSON"):
        Recording.load(folder)


def test_missing_folder_and_unknown_layer(rec, tmp_path):
    with pytest.raises(UnitscopeError, match="is not a recording folder"):
        Recording.load(tmp_path / "nothing")
    with pytest.raises(UnitscopeError, match="Did you mean 'conv.1'"):
        rec.activations("conv.l")
    with pytest.raises(UnitscopeError, match="is not a checkpoint"):
        rec.step_index(7)


def test_negative_steps_count_checkpoints_from_the_end_and_never_wrap(rec):
    T = len(rec.steps)
    assert rec.step_index(-1) == T - 1 and rec.step_index(-T) == 0
    assert rec.step_index(int(rec.steps[-1])) == T - 1
    for step in (-T - 1, -100):
        with pytest.raises(
            UnitscopeError,
            match=rf"step {step} is out of range: this recording has {T} checkpoints, so a "
            rf"negative step must be in -{T}..-1 \(-1 is the last\); or give a recorded step: "
            rf"\[0, .*, 10\]\.",
        ):
            rec.step_index(step)
    with pytest.raises(UnitscopeError, match="a step must be an integer, got True"):
        rec.step_index(True)
