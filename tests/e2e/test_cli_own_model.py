"""The CLI on the user's own networks: ``unitscope match a.pt b.pt --model ... --data ...``
with the JSON of recordings, and report / compare / match on a from_models recording."""

from __future__ import annotations

import json
import pickle
import re
import textwrap

import numpy as np
import pytest
import torch

from unitscope.record import Recording

NETS = """
from torch import nn


def make():
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))
"""
PERM = [4, 0, 6, 2, 1, 5, 3]  # unit i of B is unit PERM[i] of A


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """a.pt, b.safetensors (A with its hidden units permuted), probe.npz, and the package."""
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("own_model")
    (root / "h14nets").mkdir()
    (root / "h14nets" / "__init__.py").write_text("")
    (root / "h14nets" / "nets.py").write_text(textwrap.dedent(NETS))
    torch.manual_seed(0)
    a = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    state = a.state_dict()
    torch.save(state, root / "a.pt")
    moved = dict(state)
    moved["0.weight"], moved["0.bias"] = state["0.weight"][PERM], state["0.bias"][PERM]
    moved["2.weight"] = state["2.weight"][:, PERM].contiguous()
    save_file({k: v.contiguous() for k, v in moved.items()}, str(root / "b.safetensors"))
    rng = np.random.default_rng(0)
    np.savez(
        root / "probe.npz", x=rng.normal(size=(80, 5)).astype(np.float32), y=rng.integers(0, 3, 80)
    )
    with open(root / "evil.pt", "wb") as fh:
        pickle.dump({"0.weight": print}, fh, protocol=2)
    return root


def test_two_checkpoint_files_are_matched_with_the_json_of_recordings(
    cli, files, capsys, monkeypatch
):
    args = ["match", "a.pt", "b.safetensors", "--model", "h14nets.nets:make", "--data",
            "probe.npz", "--layer", "1", "--layer", "2", "--points", "5", "--repair",
            "--json"]  # fmt: skip
    code, out, err = cli(args, cwd=files)
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"a", "b", "step", "method", "seconds", "pairs", "groups"}
    assert doc["a"] == "a.pt" and doc["method"] == "weights"
    (pair,) = doc["pairs"]
    assert pair["members"] == [0, 1]
    hidden = pair["layers"]["1"]
    undo = [PERM.index(i) for i in range(7)]  # the planted permutation, undone
    assert hidden["perm"] == undo and hidden["alignment_perm"] == undo
    assert hidden["group"] == "0" and doc["groups"]["0"] == [undo]
    assert hidden["mean_matched"] == pytest.approx(1.0, abs=1e-6)
    assert pair["layers"]["2"]["mean_unaligned"] == pytest.approx(1.0, abs=1e-6)  # same outputs
    barrier = pair["barrier"]
    assert barrier["aligned"]["probe"]["barrier"] == pytest.approx(0.0, abs=1e-6)
    assert barrier["repaired"]["probe"]["barrier"] == pytest.approx(0.0, abs=1e-6)
    code, text, err = cli(args[:-1], cwd=files)
    assert code == 0 and "matched corr 1.000" in text and "barrier (probe loss)" in text
    by_acts = [*args[:-4], "--method", "activations", "--no-barrier", "--json"]
    code, out, err = cli(by_acts, cwd=files)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["method"] == "activations" and doc["pairs"][0]["barrier"] is None
    assert doc["pairs"][0]["layers"]["1"]["alignment_perm"] == undo


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a.pt", "b.pt", "--data", "probe.npz", "--layer", "1"], "needs --model PKG.MODULE"),
        (["a.pt", "b.safetensors", "--model", "h14nets.nets:make", "--layer", "1"], "needs --data"),
        (["a.pt", "b.safetensors", "--model", "h14nets.nets:make", "--data", "probe.npz"],
         "name the layers to match with --layer"),
        (["a.pt", "--model", "h14nets.nets:make"], "checkpoint files are matched in pairs"),
        (["a.pt", "evil.pt", "--model", "h14nets.nets:make", "--data", "probe.npz", "--layer", "1"],
         "refused to load 'evil.pt'.*never unpickles"),
        (["a.pt", "b.safetensors", "--model", "h14nets.nets:nope", "--data", "probe.npz",
          "--layer", "1"], "'h14nets.nets' has no 'nope'"),
        (["a.pt", "b.safetensors", "--model", "h14nets.nets:make", "--data", "probe.npz",
          "--layer", "9"], "unknown layer '9'"),
        (["a.pt", "b.safetensors", "--model", "h14nets.nets:make", "--data", "a.pt",
          "--layer", "1"], "--data must be an existing .npz file"),
    ],
)  # fmt: skip
def test_bad_file_arguments_are_one_line(cli, files, capsys, monkeypatch, args, message):
    code, out, err = cli(["match", *args], cwd=files)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err

    assert re.search(message, err), err


def test_report_compare_and_match_run_on_a_from_models_recording(
    cli, files, capsys, monkeypatch, tmp_path
):
    torch.manual_seed(1)
    nets = [torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
            for _ in range(3)]  # fmt: skip
    probe = np.load(files / "probe.npz")
    rec = Recording.from_models(nets, (probe["x"], probe["y"]), ["1", "2"], name="probe.npz")
    folder = str(rec.save(tmp_path / "rec"))
    code, out, err = cli(["report", folder, "--json"], cwd=tmp_path)
    assert code == 0, err
    page = (tmp_path / "rec" / "report.html").read_text()
    assert "Sequential on probe.npz" in page and "Matched units of 1" in page
    code, out, err = cli(["compare", folder, folder, "--json"], cwd=tmp_path)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["layers"]["1"]["mean"] == pytest.approx(1.0) and doc["agreement"] is None
    code, out, err = cli(["match", folder, "--json"], cwd=tmp_path)
    assert code == 0, err
    assert len(json.loads(out)["pairs"]) == 3
    code, out, err = cli(["match", folder, "--method", "weights"], cwd=tmp_path)
    assert code == 2 and "weight matching of a torch recording needs" in err
    code, out, err = cli(["match", folder, "--model", "no_pkg:make"], cwd=tmp_path)
    assert code == 2 and "cannot import 'no_pkg'" in err
    code, out, err = cli(["match", folder, "--data", "p.npz"], cwd=tmp_path)
    assert code == 2 and "--data is for checkpoint files" in err
