"""Recording.save never writes through a link, never replaces what is not a recording, keeps
the old recording when the new one cannot be written, and cleans what a killed save left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import unitscope.record._recording as recording_module
from unitscope._errors import UnitscopeError
from unitscope.record import Recording
from unitscope.train import Config, fit


@pytest.fixture(scope="module")
def rec():
    return fit(
        Config.from_dict(
            {
                "data": {"name": "moons", "options": {"n_samples": 60}, "n_probe": 12},
                "model": {"hidden": [5]},
                "train": {"steps": 4, "n_checkpoints": 2},
                "seeds": {"init": [0, 1]},
            }
        )
    )


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_link_is_never_written_through(rec, tmp_path, overwrite):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "thesis.txt").write_text("years of work")
    (tmp_path / "out").symlink_to(target)
    with pytest.raises(
        UnitscopeError,
        match=r"'.*out' is a symbolic link \(to '.*precious'\); unitscope never writes through "
        r"or replaces a link it did not create: remove the link or choose another folder\.",
    ):
        rec.save(tmp_path / "out", overwrite=overwrite)
    assert listing(target) == ["thesis.txt"] and (tmp_path / "out").is_symlink()
    assert listing(tmp_path) == ["out", "precious"]  # no temporary either


def test_a_dangling_link_is_not_followed(rec, tmp_path):
    (tmp_path / "out").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnitscopeError, match="is a symbolic link"):
        rec.save(tmp_path / "out")
    assert not (tmp_path / "elsewhere").exists()


def test_overwrite_replaces_only_recordings(rec, tmp_path):
    (tmp_path / "file").write_text("mine")
    with pytest.raises(UnitscopeError, match=r"'.*file' is a file, and a recording is a folder"):
        rec.save(tmp_path / "file", overwrite=True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("mine")
    with pytest.raises(
        UnitscopeError,
        match=r"'.*docs' holds files but no recording \(meta.json\); unitscope "
        "replaces only recordings: choose another folder.",
    ):
        rec.save(tmp_path / "docs", overwrite=True)
    assert (tmp_path / "file").read_text() == "mine"
    assert listing(tmp_path / "docs") == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    rec.save(tmp_path / "empty", overwrite=True)
    assert Recording.load(tmp_path / "empty").identical(rec)


def test_a_failed_overwrite_keeps_the_old_recording(rec, tmp_path, monkeypatch):
    old = rec.select([0]).save(tmp_path / "r")
    before = (old / "meta.json").read_bytes()

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recording_module.os, "replace", full_disk)
    with pytest.raises(UnitscopeError, match=r"cannot write '.*r': No space left on device"):
        rec.save(tmp_path / "r", overwrite=True)
    monkeypatch.undo()
    assert (old / "meta.json").read_bytes() == before
    assert Recording.load(old).members == 1
    assert listing(tmp_path) == ["r"]


def test_a_reshaped_tensor_is_refused_before_anything_is_written(rec, tmp_path):
    """What load would refuse is not saved: a layer's activations cut to 3 units no longer
    fit the recorded model; the old recording stays and no temporary is left."""
    old = rec.select([0]).save(tmp_path / "r")
    before = (old / "meta.json").read_bytes()
    bad = rec.select([0, 1])
    bad.acts["hidden.0"] = bad.acts["hidden.0"][..., :3]
    for target, overwrite in ((tmp_path / "new", False), (old, True)):
        with pytest.raises(
            UnitscopeError,
            match=r"^not saved to .*: the recording is corrupt: .*"
            r"\(was a tensor of the recording replaced or reshaped\?\); nothing was",
        ):
            bad.save(target, overwrite=overwrite)
    assert listing(tmp_path) == ["r"] and (old / "meta.json").read_bytes() == before


CHILD = """
import sys, time
import safetensors.numpy as st
from unitscope.train import Config, fit

rec = fit(Config.from_dict({"model": {"hidden": [5]}, "train": {"steps": 2}}))
real = st.save_file

def stuck(tensors, path):
    real(tensors, path)
    print("written", flush=True)
    time.sleep(600)

st.save_file = stuck
rec.save(sys.argv[1])
"""


def test_a_save_killed_midway_leaves_a_temporary_the_next_save_removes(rec, tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(tmp_path / "r")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "written\n"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    left = listing(tmp_path)
    assert len(left) == 1 and left[0].startswith(f".r.{child.pid}@") and left[0].endswith(".tmp")
    assert (tmp_path / left[0] / "recording.safetensors").is_file()

    rec.save(tmp_path / "r")
    assert listing(tmp_path) == ["r"]
    assert Recording.load(tmp_path / "r").identical(rec)


def test_a_live_saves_temporary_is_kept(rec, tmp_path):
    live = tmp_path / f".r.{os.getppid()}@{recording_module.temp_prefix('r').split('@')[1]}x.tmp"
    live.mkdir()
    rec.save(tmp_path / "r")
    assert live.is_dir()
    day = time.time() - 2 * 24 * 3600
    os.utime(live, (day, day))
    rec.save(tmp_path / "r", overwrite=True)
    assert listing(tmp_path) == ["r"]
