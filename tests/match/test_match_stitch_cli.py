"""``unitscope stitch``: one JSON document, the human table, and bad input (one line, exit 2)."""

from __future__ import annotations

import json

import pytest

from unitscope.cli import main


@pytest.fixture(scope="module")
def folder(tmp_path_factory, mlp_rec):
    return str(mlp_rec.save(tmp_path_factory.mktemp("stitch_cli") / "mlp"))


def run(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_document(folder, capsys):
    args = ["stitch", folder, "--members", "2,1", "--fit", "direct", "--fit", "lowrank:3"]
    code, out, err = run([*args, "--task-steps", "5", "--json"], capsys)
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


def test_human_table_with_chosen_layers_and_no_controls(folder, capsys):
    args = ["stitch", folder, "--fit", "permutation", "--control", "none"]
    code, out, err = run([*args, "--layer-a", "hidden.1", "--layer-b", "hidden.1"], capsys)
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
def test_bad_input_is_one_line_and_exit_2(folder, capsys, extra, message):
    code, out, err = run(["stitch", folder, *extra, "--json"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err
