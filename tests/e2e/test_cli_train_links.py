"""``unitscope train --out``: a link, a file or a folder that is no recording is refused
before training, with or without --force, and nothing in the link's target changes."""

from __future__ import annotations

import pytest

SMALL = ["--set", "train.steps=3", "--set", "data.n_probe=8"]


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("trained although the output was refused")

    monkeypatch.setattr("unitscope.cli.train.fit", refuse)


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_out_as_a_link_is_refused_before_training(cli, tmp_path, capsys, no_training, force):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    (tmp_path / "r").symlink_to(target)
    code, out, err = cli(["train", "--out", str(tmp_path / "r"), *force, *SMALL])
    assert code == 2 and out == ""
    assert err == (
        f"unitscope: error: {str(tmp_path / 'r')!r} is a symbolic link (to {str(target)!r}); "
        "unitscope never writes through or replaces a link it did not create: remove the link "
        "or choose another folder.\n"
    )
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious", "r"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_text("mine"), "is a file, and a recording is a folder"),
        (
            lambda p: (p.mkdir(), (p / "notes.txt").write_text("mine")),
            r"holds files but no recording (meta.json); unitscope replaces only recordings",
        ),
    ],
    ids=["file", "folder"],
)
def test_force_onto_what_is_no_recording_is_refused_before_training(
    cli, tmp_path, capsys, no_training, make, message
):
    make(tmp_path / "r")
    code, _, err = cli(["train", "--out", str(tmp_path / "r"), "--force", *SMALL])
    assert code == 2 and message in err and err.count("\n") == 1


def test_force_replaces_a_recording(cli, tmp_path, capsys):
    assert cli(["train", "--out", str(tmp_path / "r"), *SMALL])[0] == 0
    code, _, err = cli(["train", "--out", str(tmp_path / "r"), "--force", *SMALL])
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
