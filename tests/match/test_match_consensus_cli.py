"""``unitscope consensus``: one JSON document, the human lines, and bad input (one line, exit 2)."""

from __future__ import annotations

import json

import pytest

from unitscope.train import fit


@pytest.fixture(scope="module")
def folder(tmp_path_factory, mlp_rec):
    return str(mlp_rec.save(tmp_path_factory.mktemp("consensus_cli") / "mlp"))


@pytest.fixture(scope="module")
def pair_folder(tmp_path_factory, mlp_config):
    cfg = mlp_config.override({"seeds.init": [0, 1], "train.steps": 5, "train.eval_every": 5})
    return str(fit(cfg).save(tmp_path_factory.mktemp("consensus_cli") / "pair"))


def test_json_document(cli, folder, capsys):
    code, out, err = cli(["consensus", folder, "--layer", "hidden.1", "--json"])
    assert code == 0, err
    doc = json.loads(out)
    c, u = doc["consensus"], doc["universal"]
    assert c["layer"] == "hidden.1" and c["members"] == 3 and c["units"] == 6
    assert c["chance"] == pytest.approx(1 / 6) and 0.0 <= c["cycle_consistency"] <= 1.0
    assert c["untrained_cycle_consistency"] is not None
    assert len(c["joint_alignment"]["order"]) == 3
    assert sum(c["consensus_units"]["support_histogram"]) == 6
    assert len(u["fraction_universal"]) == 3 and u["quantile"] == 0.99


def test_human_lines_without_universal(cli, folder, capsys):
    code, out, err = cli(["consensus", folder, "--no-universal", "--fraction", "1"])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"consensus {folder} layer hidden.0 step ")
    assert "chance 0.125" in lines[1] and "in >= 1 of the seeds at r >= 0." in lines[3]
    assert len(lines) == 4


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--layer", "hiden.0"], "unknown layer 'hiden.0'. Did you mean 'hidden.0'?"),
        (["--fraction", "0"], "`fraction` must be in (0, 1]"),
        (["--fraction", "half"], "'half' is not a valid float"),
        (["--threshold", "2"], "`threshold` must be a correlation in [-1, 1)"),
        (["--threshold", "loose"], "`threshold` a number or 'calibrated'"),
        (["--quantile", "1"], "`quantile` must be in (0, 1)"),
        (["--step", "7"], "step 7 is not a checkpoint"),
    ],
)
def test_bad_input_is_one_line(cli, folder, capsys, extra, message):
    code, out, err = cli(["consensus", folder, *extra])
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_two_members_are_one_line(cli, pair_folder, capsys):
    code, out, err = cli(["consensus", pair_folder])
    assert code == 2 and "consensus needs K >= 3 members" in err and "got 2" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_folder_is_one_line(cli, tmp_path, capsys):
    code, _, err = cli(["consensus", str(tmp_path / "nowhere")])
    assert code == 2 and len(err.strip().splitlines()) == 1
