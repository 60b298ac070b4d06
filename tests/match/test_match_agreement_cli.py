"""The prediction-agreement fields of ``unitscope compare``: JSON and the human line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unitscope.cli import main
from unitscope.match import agreement


@pytest.fixture(scope="module")
def folders(tmp_path_factory, mlp_rec, mlp_config):
    from unitscope.train import fit

    root = tmp_path_factory.mktemp("agreement_cli")
    other = fit(mlp_config.override({"seeds.init": [7, 8]}))
    return str(mlp_rec.save(root / "a")), str(other.save(root / "b")), mlp_rec, other


def test_compare_json_has_agreement_of_member_k_with_member_k(folders, capsys):
    a, b, rec_a, rec_b = folders
    main(["compare", a, b, "--json"])
    doc = json.loads(capsys.readouterr().out)
    fields = doc["agreement"]
    over = fields["over_training"]
    assert over["pairs"] == [[0, 0], [1, 1]] and over["split"] == "test"
    assert over["steps"] == rec_a.steps.tolist()
    expected = agreement(rec_a, rec_b, members=[(0, 0), (1, 1)])
    for key in ("disagreement", "kappa", "jsd", "delta_accuracy"):
        np.testing.assert_allclose(over[key], expected.values[key], atol=1e-15)
        assert fields["at_step"][key] == over[key][-1]
    assert fields["at_step"]["steps"] == doc["steps"][0]


def test_a_recording_against_itself_agrees_exactly(folders, capsys):
    a, _, _, _ = folders
    main(["compare", a, a, "--json", "--step", "0"])
    at = json.loads(capsys.readouterr().out)["agreement"]["at_step"]
    assert at["steps"] == 0 and at["disagreement"] == [0.0, 0.0, 0.0]
    assert at["jsd"] == [0.0, 0.0, 0.0] and at["kappa"] == [1.0, 1.0, 1.0]
    main(["compare", a, a])
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("predictions (test, step 60): disagreement 0.0000, Cohen's kappa 1")


def test_regression_recordings_have_no_predicted_labels(tmp_path, capsys):
    from unitscope.train import Config, fit

    cfg = {
        "data": {"name": "teacher", "options": {"n_samples": 60}},
        "train": {"steps": 2, "n_checkpoints": 2},
        "seeds": {"init": [0, 1]},
    }
    folder = str(fit(Config.from_dict(cfg)).save(tmp_path / "reg"))
    main(["compare", folder, folder, "--json"])
    assert json.loads(capsys.readouterr().out)["agreement"] is None


NETS = """
import torch
from torch import nn


def make():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
"""


def test_torch_recordings_agree_when_their_factory_rebuilds_them(tmp_path, capsys, monkeypatch):
    import torch

    from unitscope.record import Recording

    (tmp_path / "agreenets_h").mkdir()
    (tmp_path / "agreenets_h" / "__init__.py").write_text("")
    (tmp_path / "agreenets_h" / "nets.py").write_text(NETS)
    torch.manual_seed(1)
    nets = [torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
            .double() for _ in range(2)]  # fmt: skip
    x = torch.randn(50, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (50,))
    Recording.from_models(nets, (x, y), ["1"]).save(tmp_path / "rec")
    monkeypatch.chdir(tmp_path)
    main(["compare", "rec", "rec", "--json"])
    assert json.loads(capsys.readouterr().out)["agreement"] is None  # no networks to predict
    main(["compare", "rec", "rec", "--json", "--model", "agreenets_h.nets:make"])
    at = json.loads(capsys.readouterr().out)["agreement"]["at_step"]
    assert at["split"] == "probe" and at["pairs"] == [[0, 0], [1, 1]]
    assert at["disagreement"] == [0.0, 0.0] and at["jsd"] == [0.0, 0.0]
    with torch.no_grad():
        acc = [float((net(x).argmax(1) == y).double().mean()) for net in nets]
    assert at["accuracy_a"] == at["accuracy_b"] == acc
    main(["compare", "rec", "rec", "--model", "agreenets_h.nets:make"])
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .startswith("predictions (probe, step 1): disagreement 0.0000, Cohen's kappa 1.0000")
    )


def test_model_is_refused_for_unitscopes_own_recordings(folders, capsys):
    a, b, _, _ = folders
    with pytest.raises(SystemExit) as stop:
        main(["compare", a, b, "--model", "agreenets_h.nets:make"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert "--model is for your own torch networks" in err
