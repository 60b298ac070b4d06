"""``unitscope train`` and ``unitscope info`` end to end, in-process and as a real process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from unitscope.record import Recording

SMALL = ["--set", "train.steps=20", "--set", "seeds.init=[0,1]", "--set", "data.n_probe=10"]


def test_train_then_info_json(cli, tmp_path, capsys):
    code, out, _ = cli(["train", "--out", str(tmp_path / "r"), "--json", *SMALL])
    assert code == 0
    summary = json.loads(out)
    assert summary["members"] == 2 and summary["checkpoints"][-1] == 20
    code, out, _ = cli(["info", str(tmp_path / "r"), "--json"])
    info = json.loads(out)
    assert code == 0 and info["probe_hash"] == summary["probe_hash"]
    assert Recording.load(tmp_path / "r").members == 2


def test_train_from_toml_with_override(cli, tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[model]\nhidden = [5]\n[train]\nsteps = 10\n")
    code, out, _ = cli(
        [
            "train",
            str(cfg),
            "--out",
            str(tmp_path / "r"),
            "--json",
            "--set",
            "model.activation=tanh",
        ]
    )
    assert code == 0
    assert json.loads(out)["model"]["activation"] == "tanh"
    code, out, _ = cli(["info", str(tmp_path / "r")])
    assert "hidden.0 (5 units)" in out
    steps = Recording.load(tmp_path / "r").steps.tolist()
    assert f"checkpoints: {len(steps)}, at steps 0..10" in out and steps[0] == 0 and steps[-1] == 10


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "optim.lrr=0.1"], "unknown config key 'optim.lrr'. Did you mean 'optim.lr'?"),
        (["--set", "optim.lr=fast"], "`optim.lr` must be a number, got 'fast'"),
        (["--set", "data.name=moon"], "unknown dataset 'moon'. Did you mean 'moons'?"),
        (["--set", "optim.lr"], "an override must look like KEY=VALUE"),
        (["missing.toml"], "config file 'missing.toml' not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, capsys, args, message):
    code, out, err = cli(["train", "--out", str(tmp_path / "r"), *args])
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_existing_output_is_not_overwritten(cli, tmp_path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "keep.txt").write_text("mine")
    code, _, err = cli(["train", "--out", str(tmp_path / "r"), *SMALL])
    assert code == 2 and "already exists" in err
    assert (tmp_path / "r" / "keep.txt").read_text() == "mine"


def test_unwritable_output(cli, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = cli(["train", "--out", str(blocker / "r"), *SMALL])
    assert code == 2 and "cannot write" in err


def test_info_on_a_corrupt_recording(cli, tmp_path, capsys):
    cli(["train", "--out", str(tmp_path / "r"), *SMALL])
    (tmp_path / "r" / "recording.safetensors").write_bytes(b"broken")
    code, _, err = cli(["info", str(tmp_path / "r")])
    assert code == 2 and "truncated or modified" in err


def test_real_process_exit_code_and_version():
    done = subprocess.run(
        [sys.executable, "-m", "unitscope", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "unitscope" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "unitscope", "info", "/nonexistent"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.startswith("unitscope: error:") and "Traceback" not in done.stderr


def test_mistyped_command_gets_did_you_mean(cli, capsys):
    code, _, err = cli(["trian"])
    assert code == 2
    assert "unknown command 'trian'. Did you mean 'train'?" in err
