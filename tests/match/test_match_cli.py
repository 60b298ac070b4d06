"""``unitscope match``: JSON output, the human table, and every error path (one line, exit 2)."""

from __future__ import annotations

import json

import pytest

from unitscope.train import fit


@pytest.fixture(scope="module")
def folders(tmp_path_factory, mlp_rec, cnn_rec, mlp_config):
    root = tmp_path_factory.mktemp("match_cli")
    out = {"mlp": mlp_rec.save(root / "mlp"), "cnn": cnn_rec.save(root / "cnn")}
    out["probe"] = fit(mlp_config.override({"data.n_probe": 30})).save(root / "probe")
    out["single"] = fit(mlp_config.override({"seeds.init": [5]})).save(root / "single")
    return {k: str(v) for k, v in out.items()}


def test_members_of_one_recording_as_json(cli, folders, capsys):
    code, out, err = cli(
        [
            "match",
            folders["mlp"],
            "--members",
            "0,2",
            "--points",
            "5",
            "--null",
            "untrained",
            "--json",
        ]
    )
    assert code == 0, err
    doc = json.loads(out)
    (pair,) = doc["pairs"]
    assert pair["members"] == [0, 2] and doc["method"] == "weights"
    layer = pair["layers"]["hidden.0"]
    assert sorted(layer["alignment_perm"]) == list(range(8))
    assert len(layer["matched_sorted"]) == 8
    assert pair["barrier"]["naive"]["test"]["barrier"] >= 0
    assert -1 <= layer["mean_null"] <= 1


def test_two_recordings_with_activation_matching_and_a_layer(cli, folders, capsys):
    code, out, err = cli(
        [
            "match",
            folders["mlp"],
            folders["single"],
            "--method",
            "activations",
            "--layer",
            "hidden.1",
            "--points",
            "3",
            "--repair",
        ]
    )
    assert code == 0, err
    assert "pair 0-0" in out and "pair 2-0" in out  # a 1-member B pairs with every member
    assert "hidden.1: matched corr" in out and "hidden.0" not in out
    assert "barrier (test loss): naive" in out and "with REPAIR" in out


def test_conv_recordings_without_barrier(cli, folders, capsys):
    code, out, _ = cli(["match", folders["cnn"], "--no-barrier", "--json"])
    assert code == 0
    assert json.loads(out)["pairs"][0]["barrier"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["{mlp}", "{cnn}"],
            "unitscope: error: the recordings have different architectures (kind='mlp', "
            "hidden=[8, 6], activation='relu', in_features=2, out_features=2 vs kind='cnn', "
            "channels=[3, 4], activation='relu', out_features=10); only runs of the same "
            "architecture can be matched.",
        ),
        (
            ["{mlp}", "--layer", "hiden.0"],
            "unitscope: error: unknown layer 'hiden.0'. Did you mean 'hidden.0'? Available: "
            "'hidden.0', 'hidden.1'.",
        ),
        (
            ["{mlp}", "--members", "0-1"],
            "unitscope: error: `--members` must be two member indices like 0,1, got '0-1'.",
        ),
        (
            ["{mlp}", "--members", "0,3"],
            "unitscope: error: member pair (0, 3) is not valid: A has 3 members and B 3 (indices "
            "from 0), and a recording is not compared with the same member.",
        ),
        (
            ["{single}"],
            "unitscope: error: the recording holds 1 member; matching needs 2 (train with a seed "
            "list such as seeds.init=[0,1]) or a second recording.",
        ),
        (
            ["{mlp}", "--method", "weight"],
            "unitscope: error: Invalid value for '--method': 'weight' is not one of 'weights', "
            "'activations'.",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, folders, capsys, args, message):
    code, out, err = cli(["match", *[a.format(**folders) for a in args]])
    assert code == 2
    assert err.strip() == message
    assert out == "" and err.count("\n") == 1


def test_different_probe_sets_are_refused(cli, folders, capsys):
    code, _, err = cli(["match", folders["mlp"], folders["probe"]])
    assert code == 2
    assert err.startswith("unitscope: error: the recordings were made on different probe sets")
    assert err.rstrip().endswith(
        "record both with the same data.* settings so their units see the same inputs."
    )


def test_a_folder_that_is_not_a_recording(cli, tmp_path, capsys):
    code, _, err = cli(["match", str(tmp_path)])
    assert code == 2 and "is not a recording folder" in err
