"""``unitscope record MEMBER... --model ... --data ... --layer ... --out DIR``: a recording of
your own networks from checkpoint files, the same as ``Recording.from_models`` on them, and one
line with exit code 2 for every bad input (nothing written)."""

from __future__ import annotations

import json
import re
import textwrap

import numpy as np
import pytest
import torch

from unitscope.record import Recording

NETS = """
from torch import nn


def make():
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
"""


def _make() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Three members with an early and a late checkpoint each, a probe set and the package."""
    root = tmp_path_factory.mktemp("record_cli")
    (root / "recnets").mkdir()
    (root / "recnets" / "__init__.py").write_text("")
    (root / "recnets" / "nets.py").write_text(textwrap.dedent(NETS))
    for k in range(3):
        for t in range(2):
            torch.manual_seed(10 * k + t)
            torch.save(_make().state_dict(), root / f"m{k}_{t}.pt")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 5)).astype(np.float32), rng.integers(0, 3, 50)
    np.savez(root / "probe.npz", x=x, y=y)
    return root


BASE = ["--model", "recnets.nets:make", "--data", "probe.npz", "--layer", "1"]


def test_checkpoints_over_training_are_recorded_as_from_models_would(
    cli, files, capsys, monkeypatch
):
    members = [f"m{k}_0.pt,m{k}_1.pt" for k in range(3)]
    args = ["record", *members, *BASE, "--steps", "0,200", "--out", "rec", "--json"]
    code, out, err = cli(args, cwd=files)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["members"] == 3 and doc["steps"] == [0, 200] and doc["layers"] == {"1": 7}
    rec = Recording.load(files / "rec")
    nets = [_make() for _ in range(3)]
    with np.load(files / "probe.npz") as npz:
        probe = (npz["x"], npz["y"])
    states = [[str(files / f"m{k}_{t}.pt") for t in range(2)] for k in range(3)]
    want = Recording.from_models(nets, probe, ["1"], checkpoints=states, steps=[0, 200])
    np.testing.assert_array_equal(rec.activations("1"), want.activations("1"))
    for name, values in want.params.items():
        np.testing.assert_array_equal(rec.params[name], values)
    assert rec.meta.model_spec["factory"] == "recnets.nets:make"
    # one file per member: numbered 1, so nothing is taken for the untrained network
    args = ["record", "m0_1.pt", "m1_1.pt", *BASE, "--out", "last"]
    code, out, err = cli(args, cwd=files)
    assert code == 0, err
    assert out.startswith("recorded 2 member(s) at steps [1] on 50 probe samples: 1 (7 units)")
    assert Recording.load(files / "last").steps.tolist() == [1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["m0_0.pt", "--data", "probe.npz", "--layer", "1"], "needs --model PKG.MODULE:FACTORY"),
        (["m0_0.pt,m0_1.pt", "m1_0.pt", *BASE], "the same number of checkpoints, got 2, 1"),
        (["m0_0.pt,m0_1.pt", *BASE, "--steps", "0"], "--steps gives 1 step.* for 2 checkpoint"),
        (["m0_0.pt,m0_1.pt", *BASE, "--steps", "0,x"], "--steps must be integers"),
        (["m0_0.pt,m0_1.pt", *BASE, "--steps", "5,5"], "`steps` must increase"),
        (["probe.npz", *BASE], "'probe.npz' is not a checkpoint file"),
        (["nothere.pt", *BASE], "'nothere.pt' is not a checkpoint file"),
        (["m0_0.pt", *BASE[:-1], "9"], "unknown layer '9'"),
        (["m0_0.pt", *BASE, "--layout", "NCHW", "--layout", "1"], "--layout takes one LAYOUT"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(cli, files, capsys, monkeypatch, args, message):
    code, out, err = cli(["record", *args, "--out", "bad"], cwd=files)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert re.search(message, lines[0]), lines[0]
    assert not (files / "bad").exists()


def test_an_existing_folder_needs_force(cli, files, capsys, monkeypatch):
    args = ["record", "m0_1.pt", *BASE, "--out", "again"]
    assert cli(args, cwd=files)[0] == 0
    code, _, err = cli(args, cwd=files)
    assert code == 2 and "'again' already exists" in err
    code, _, err = cli([*args, "--force"], cwd=files)
    assert code == 0, err
