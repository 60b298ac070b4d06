"""``unitscope stitch``: one JSON document, the human table, and bad input (one line, exit 2)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def folder(tmp_path_factory, mlp_rec):
    return str(mlp_rec.save(tmp_path_factory.mktemp("stitch_cli") / "mlp"))


def test_json_document(cli, folder, capsys):
    args = ["stitch", folder, "--members", "2,1", "--fit", "direct", "--fit", "lowrank:3"]
    code, out, err = cli([*args, "--task-steps", "5", "--json"])
    assert code == 0, err
    doc = json.loads(out)
    assert doc["members"] == [2, 1] and doc["fits"] == ["direct", "lowrank:3"]
    assert doc["sources"] == ["trained", "self", "input", "untrained"]
    trained = doc["penalty"]["trained"]["direct"]
    assert trained["rows"] == ["hidden.0", "hidden.1"] and len(trained["acc_points"]) == 2
    assert doc["penalty"]["input"]["lowrank:3"]["rows"] == ["input"]
    self_diag = doc["penalty"]["self"]["direct"]["acc_points"]
    assert self_diag[0][0] == 0.0 and self_diag[1][1] == 0.0
    assert len(doc["entries"]) == 2 * (4 + 4 + 2 + 4)
    assert set(doc["cannot_discriminate"]) == {"direct", "lowrank:3"}


def test_human_table_with_chosen_layers_and_no_controls(cli, folder, capsys):
    args = ["stitch", folder, "--fit", "permutation", "--control", "none"]
    code, out, err = cli([*args, "--layer-a", "hidden.1", "--layer-b", "hidden.1"])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"stitch {folder} member 0 -> {folder} member 1")
    assert len(lines) == 2 and "hidden.1->hidden.1" in lines[1] and "trained" in lines[1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--layer-a", "hiden.0"], "unknown layer of A 'hiden.0'. Did you mean 'hidden.0'?"),
        (["--fit", "orthogonl"], "unknown stitching fit 'orthogonl'. Did you mean 'orthogonal'?"),
        (["--fit", "lowrank:0"], "fit 'lowrank:0' needs a rank k >= 1"),
        (["--fit", "lowrank:k"], "fit 'lowrank:k' needs a rank k >= 1"),
        (["--fit", "lowrank:9"], "rank k = 9 exceeds the widths of every layer pair"),
        (["--control", "raw"], "unknown stitching control 'raw'"),
        (["--members", "0,9"], "member 9 of B does not exist"),
        (["--members", "x"], "`--members` must be two member indices"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, folder, capsys, extra, message):
    code, out, err = cli(["stitch", folder, *extra, "--json"])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err


# ---- a recording of the user's own torch networks: --model names their factory --------------

NETS = """
import torch
from torch import nn


def make():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()
"""
PERM = [4, 0, 6, 2, 1, 5, 3]  # hidden unit i of member 1 is unit PERM[i] of member 0


@pytest.fixture(scope="module")
def torch_folder(tmp_path_factory):
    """A recording of A and A with its hidden units permuted, the package that builds them, a
    .npz of other inputs, and the factory itself."""
    import importlib.util

    import numpy as np
    import torch

    from unitscope.record import Recording

    root = tmp_path_factory.mktemp("stitch_torch_cli")
    (root / "stitchnets_h").mkdir()
    (root / "stitchnets_h" / "__init__.py").write_text("")
    (root / "stitchnets_h" / "nets.py").write_text(NETS)
    spec = importlib.util.spec_from_file_location(
        "stitch_nets_here", root / "stitchnets_h" / "nets.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    a, b = module.make(), module.make()
    with torch.no_grad():
        b[0].weight.copy_(a[0].weight[PERM])
        b[0].bias.copy_(a[0].bias[PERM])
        b[2].weight.copy_(a[2].weight[:, PERM])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    y = (a(torch.as_tensor(x)).argmax(1) + torch.as_tensor(rng.integers(0, 2, 60))) % 3
    rec = Recording.from_models([a, b], (x, y.numpy()), ["1"])
    rec.save(root / "rec")
    np.savez(root / "other.npz", x=rng.normal(size=(30, 5)), y=rng.integers(0, 3, 30))
    return root, rec, module.make


def test_a_torch_recording_is_stitched_with_its_factory(cli, torch_folder, capsys, monkeypatch):
    import numpy as np

    from unitscope._json import to_jsonable
    from unitscope.match import stitch_recordings

    root, rec, make = torch_folder
    args = ["stitch", "rec", "--model", "stitchnets_h.nets:make", "--fit", "permutation"]
    code, out, err = cli([*args, "--fit", "direct", "--json"], cwd=root)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["members"] == [0, 1] and doc["layers_a"] == ["1"] and doc["eval_split"] == "eval"
    # the one checkpoint is trained (from_models numbers it 1): no untrained control
    assert doc["sources"] == ["trained", "self", "input"]
    assert any("untrained control was left out" in note for note in doc["notes"])
    assert doc["penalty"]["trained"]["permutation"]["loss"][0][0] == pytest.approx(0, abs=1e-12)
    assert doc["entries"][0]["perm"] == np.argsort(PERM).tolist()  # A's unit k is B's perm[k]
    want = to_jsonable(
        stitch_recordings(rec, factory=make, fits=["permutation", "direct"]).summary()
    )
    assert doc["penalty"] == want["penalty"] and doc["notes"] == want["notes"]
    assert any("the probe set's even rows (30, split 'fit')" in note for note in doc["notes"])
    code, out, err = cli([*args, "--control", "none"], cwd=root)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("stitch rec member 0 -> rec member 1, step 1: penalty")
    assert lines[1].split()[:3] == ["trained", "permutation", "1->1"] and "odd rows" in lines[2]
    code, out, err = cli([*args, "--data", "other.npz", "--json"], cwd=root)
    assert code == 0, err
    notes = json.loads(out)["notes"]
    assert any("the given data's even rows (15, split 'fit')" in note for note in notes)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "'rec' is a recording of your own torch networks: name their factory with --model"),
        (["--model", "nope_h.nets:make"], "cannot import 'nope_h.nets'"),
        (["--model", "stitchnets_h.nets:make", "--layer-a", "l"], "unknown layer of A 'l'"),
        (["--model", "stitchnets_h.nets:make", "--data", "no.npz"], "--data must be an existing"),
    ],
)
def test_bad_input_on_a_torch_recording_is_one_line_and_exit_2(
    cli, torch_folder, capsys, monkeypatch, extra, message
):
    code, out, err = cli(["stitch", "rec", *extra], cwd=torch_folder[0])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err


def test_model_and_data_are_refused_for_unitscopes_own_recordings(cli, folder, capsys):
    code, _, err = cli(["stitch", folder, "--model", "stitchnets_h.nets:make"])
    assert code == 2 and err.count("\n") == 1 and "--model is for your own torch networks" in err
    code, _, err = cli(["stitch", folder, "--data", "x.npz"])
    assert code == 2 and err.count("\n") == 1 and "--data is for a torch recording" in err
