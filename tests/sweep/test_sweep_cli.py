"""``unitscope sweep``: bad grids exit 2 before anything runs; run, status and table."""

from __future__ import annotations

import csv
import json

import pytest

BAD_GRIDS = [
    (
        "[axes]\noptim.lrr = [0.1, 0.01]\n",
        "unitscope: error: bad.toml: [axes] unknown config key 'optim.lrr'. Did you mean "
        "'optim.lr'? Keys of [optim]: name, lr, momentum, nesterov, betas, weight_decay, l1, "
        "l2, l1_mode.\n",
    ),
    (
        '[axes]\n"model.hidden" = []\n',
        "unitscope: error: bad.toml: [axes] axis 'model.hidden' is empty; give it at least one "
        "value.\n",
    ),
    (
        '[seeds]\ninit = {range = ["0", "64"]}\n',
        "unitscope: error: bad.toml: [seeds] `init` range must be [start, stop] or [start, stop, "
        "step] of integers, got ['0', '64'].\n",
    ),
    (
        '[seeds]\ninit = "0:64"\n',
        "unitscope: error: bad.toml: [seeds] `init` must be an integer, a list of integers or "
        "{range = [start, stop]}, got '0:64'.\n",
    ),
]


@pytest.mark.parametrize("text, message", BAD_GRIDS)
def test_bad_grids_exit_2_before_anything_runs(cli, tmp_path, capsys, text, message):
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    code, out, err = cli(
        [
            "sweep",
            "run",
            str(tmp_path / "bad.toml"),
            "--out",
            str(tmp_path / "sweep"),
            "--backend",
            "processes",
        ]
    )
    assert (code, out, err) == (2, "", message)
    assert not (tmp_path / "sweep").exists()


def test_run_status_table(cli, grid_file, tmp_path, capsys):
    out = tmp_path / "sweep"
    code, text, _ = cli(["sweep", "run", str(grid_file), "--out", str(out), "--json"])
    summary = json.loads(text)
    assert code == 0 and (summary["jobs"], summary["groups"], summary["finished"]) == (12, 4, 12)
    assert (out / "grid.toml").read_text(encoding="utf-8") == grid_file.read_text(encoding="utf-8")

    code, text, _ = cli(["sweep", "run", str(grid_file), "--out", str(out)])
    assert code == 0 and "ran 0, skipped 12 already finished" in text

    code, text, _ = cli(["sweep", "status", str(out), "--json"])
    status = json.loads(text)
    assert status["counts"] == {
        "pending": 0,
        "running": 0,
        "finished": 12,
        "failed": 0,
        "total": 12,
    }
    code, text, _ = cli(["sweep", "status", str(out)])
    assert "12 jobs in 4 groups, not running" in text

    code, text, _ = cli(["sweep", "table", str(out), "--out", str(tmp_path / "r.csv")])
    assert code == 0 and text == f"wrote 12 rows to {tmp_path / 'r.csv'}\n"
    with open(tmp_path / "r.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12 and {r["status"] for r in rows} == {"finished"}
    assert {"id", "model.hidden", "optim.lr", "seeds.init", "final_test_acc"} <= set(rows[0])
    assert rows[0]["model.hidden"] == "[4]" and float(rows[0]["final_test_loss"]) > 0


def test_parquet_needs_pyarrow(cli, grid_file, tmp_path, capsys):
    out = tmp_path / "sweep"
    cli(["sweep", "run", str(grid_file), "--out", str(out), "--group-size", "6"])
    code, _, err = cli(["sweep", "table", str(out), "--out", str(tmp_path / "r.parquet")])
    try:
        import pyarrow.parquet as pq
    except ImportError:
        assert code == 2 and "writing .parquet needs pyarrow (pip install pyarrow)" in err
        return
    assert code == 0 and pq.read_table(tmp_path / "r.parquet").num_rows == 12


def test_dry_run_plans_and_writes_nothing(cli, grid_file, tmp_path, capsys):
    code, text, _ = cli(
        ["sweep", "run", str(grid_file), "--out", str(tmp_path / "s"), "--dry-run", "--no-group"]
    )
    assert code == 0 and not (tmp_path / "s").exists()
    assert text == (
        "12 jobs: model.hidden (2) x optim.lr (2); seeds init (3), product -> "
        "4 groups in 12 batched fits\n"
    )


def test_failed_jobs_give_exit_1(cli, tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text(
        "[base]\ntrain.steps = 15\ndata.options = {n_samples = 64}\n[axes]\noptim.lr = [1000.0]\n",
        encoding="utf-8",
    )
    code, text, _ = cli(["sweep", "run", str(grid), "--out", str(tmp_path / "s")])
    assert code == 1 and "finished 0, failed 1" in text and "diverged at step" in text


def test_status_of_a_folder_that_is_no_sweep(cli, tmp_path, capsys):
    code, _, err = cli(["sweep", "status", str(tmp_path)])
    assert code == 2 and "is not a sweep folder" in err
