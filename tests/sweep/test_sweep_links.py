"""A sweep folder with a link where the sweep writes or deletes is refused before anything
is deleted or written, in the link's target or anywhere else."""

from __future__ import annotations

import pytest

GRID = """
[base]
data.options = {n_samples = 48}
data.n_probe = 8
train.steps = 3
train.n_checkpoints = 2
[seeds]
init = [0, 1]
"""


@pytest.fixture
def precious(tmp_path):
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work")
    (folder / "data").mkdir()
    (folder / "data" / "x.csv").write_text("1,2\n")
    return folder


def snapshot(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def grid(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    return path


@pytest.mark.parametrize("existing", [False, True], ids=["new", "resumed"])
def test_runs_folder_linked_elsewhere_is_refused(cli, grid, tmp_path, precious, capsys, existing):
    out = tmp_path / "sym" / "sw"
    if existing:
        code, _, err = cli(["sweep", "run", str(grid), "--out", str(out)])
        assert code == 0, err
        (out / "runs").rename(tmp_path / "old-runs")
    else:
        out.mkdir(parents=True)
    (out / "runs").symlink_to(precious)
    before = snapshot(precious)

    code, text, err = cli(["sweep", "run", str(grid), "--out", str(out)])

    assert code == 2 and text == ""
    assert err == (
        f"unitscope: error: {str(out / 'runs')!r} is a symbolic link (to {str(precious)!r}); "
        "unitscope never writes through or replaces a link it did not create: remove the link; "
        "a sweep folder holds only its own files.\n"
    )
    assert snapshot(precious) == before and (precious / "thesis.txt").read_text() == "years of work"


@pytest.mark.parametrize("name", ["sweep.db", "sweep.lock", "grid.toml"])
def test_other_files_of_the_sweep_linked_elsewhere_are_refused(cli, grid, tmp_path, capsys, name):
    out = tmp_path / "sw"
    out.mkdir()
    (tmp_path / "victim").write_text("keep")
    (out / name).symlink_to(tmp_path / "victim")
    code, _, err = cli(["sweep", "run", str(grid), "--out", str(out)])
    assert code == 2 and f"{str(out / name)!r} is a symbolic link" in err
    assert err.count("\n") == 1 and (tmp_path / "victim").read_text() == "keep"


def test_a_link_among_uncommitted_runs_is_not_deleted(cli, grid, tmp_path, precious, capsys):
    out = tmp_path / "sw"
    code, _, err = cli(["sweep", "run", str(grid), "--out", str(out)])
    assert code == 0, err
    (out / "runs" / "not-a-job").symlink_to(precious)
    before = snapshot(out)
    code, _, err = cli(["sweep", "run", str(grid), "--out", str(out)])
    assert code == 2
    assert f"{str(out / 'runs' / 'not-a-job')!r} is a symbolic link" in err
    assert "remove the link from" in err and err.count("\n") == 1
    assert snapshot(out) == before and snapshot(precious) == ["data", "data/x.csv", "thesis.txt"]


def test_the_table_is_not_written_through_a_link(cli, grid, tmp_path, capsys):
    out = tmp_path / "sw"
    code, _, _ = cli(["sweep", "run", str(grid), "--out", str(out)])
    assert code == 0
    (tmp_path / "victim.csv").write_text("keep")
    (tmp_path / "t.csv").symlink_to(tmp_path / "victim.csv")
    code, _, err = cli(["sweep", "table", str(out), "--out", str(tmp_path / "t.csv")])
    assert code == 2 and "is a symbolic link" in err and err.count("\n") == 1
    assert (tmp_path / "victim.csv").read_text() == "keep" and (tmp_path / "t.csv").is_symlink()
    code, _, _ = cli(["sweep", "table", str(out), "--out", str(tmp_path / "u.csv")])
    assert code == 0 and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_status_does_not_open_a_linked_database(cli, tmp_path, capsys):
    out = tmp_path / "sw"
    out.mkdir()
    (tmp_path / "other.db").write_bytes(b"")
    (out / "sweep.db").symlink_to(tmp_path / "other.db")
    code, _, err = cli(["sweep", "status", str(out)])
    assert code == 2 and f"{str(out / 'sweep.db')!r} is a symbolic link" in err
    assert (tmp_path / "other.db").read_bytes() == b"" and sorted(out.iterdir()) == [
        out / "sweep.db"
    ]
