"""Every case of issue 11 §3: one clear line on stderr and exit code 2 instead of a traceback,
and nothing half-written.

Disk-full is simulated by making the write raise OSError(ENOSPC) (or safetensors' error that
quotes it). Read-only targets are simulated the same way with EROFS, and also with chmod; the
chmod variant is skipped when the tests run as root, where permission bits do not stop writes.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import unitscope._files
from unitscope.sweep import make_grid, run_sweep
from unitscope.train import Config, fit

SMALL = ["--set", "train.steps=5", "--set", "data.n_probe=10", "--set", "data.options.n_samples=60"]
FULL = OSError(errno.ENOSPC, "No space left on device")
READ_ONLY = OSError(errno.EROFS, "Read-only file system")
# A folder without write permission. Simulated like the others: the tests run as root in CI,
# and root writes into a chmod 555 folder (CI allows no skip).
NO_PERMISSION = PermissionError(errno.EACCES, "Permission denied")


def refused(cli, args, message):
    """Run the CLI and check: exit 2, exactly one line on stderr, no traceback, ``message``."""
    code, _, err = cli(args)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err, err
    return err


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A 2-member MLP recording on moons."""
    folder = tmp_path_factory.mktemp("rec") / "r"
    cfg = {"train": {"steps": 5}, "data": {"n_probe": 10}, "seeds": {"init": [0, 1]}}
    fit(Config.from_dict(cfg)).save(folder)
    return folder


@pytest.fixture(scope="module")
def linear(tmp_path_factory):
    """A 2-member recording of a model with no hidden layer (model.hidden = [])."""
    folder = tmp_path_factory.mktemp("lin") / "r"
    cfg = {"train": {"steps": 5}, "model": {"hidden": []}, "seeds": {"init": [0, 1]}}
    fit(Config.from_dict(cfg)).save(folder)
    return folder


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A finished sweep of 2 jobs."""
    out = tmp_path_factory.mktemp("sweep") / "sw"
    base = Config.from_dict({"train": {"steps": 5, "n_checkpoints": 2}, "data": {"n_probe": 8}})
    run_sweep(make_grid(base, {}, {"init": [0, 1]}), out)
    return out


def failing_writes(monkeypatch, error: OSError) -> None:
    """Every file write of unitscope's atomic writer fails with ``error`` (after the open)."""
    real = os.fdopen

    class Refusing:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, _text):
            raise error

    monkeypatch.setattr(
        unitscope._files.os, "fdopen", lambda fd, *a, **k: Refusing(real(fd, *a, **k))
    )


# ---- disk full and read-only targets ------------------------------------------------------------


@pytest.mark.parametrize(
    "error, reason",
    [
        (FULL, "No space left on device; free some disk space or write elsewhere."),
        (READ_ONLY, "Read-only file system; the file system is read-only; write elsewhere."),
        (
            "Error while serializing: I/O error: No space left on device (os error 28)",
            "No space left on device; free some disk space or write elsewhere.",
        ),
    ],
)
def test_train_onto_a_full_or_read_only_disk(cli, tmp_path, capsys, monkeypatch, error, reason):
    from safetensors import SafetensorError

    def save_file(*_a, **_k):
        raise error if isinstance(error, OSError) else SafetensorError(error)

    monkeypatch.setattr("safetensors.numpy.save_file", save_file)
    refused(cli, ["train", "--out", tmp_path / "r", *SMALL], f"'{tmp_path / 'r'}': {reason}")
    assert listing(tmp_path) == []  # no recording, no temporary folder


def test_train_into_a_read_only_file_system_fails_before_training(
    cli, tmp_path, capsys, monkeypatch
):
    def fit(*_a, **_k):
        raise AssertionError("training started")

    def temporary_file(*_a, **_k):
        raise READ_ONLY

    monkeypatch.setattr("unitscope.cli.train.fit", fit)
    monkeypatch.setattr("unitscope.cli.train.tempfile.TemporaryFile", temporary_file)
    refused(
        cli,
        ["train", "--out", tmp_path / "r", *SMALL],
        f"unitscope: error: cannot write '{tmp_path}': Read-only file system; the file system is "
        "read-only; write elsewhere.",
    )
    (tmp_path / "file").write_text("x")
    refused(cli, ["train", "--out", tmp_path / "file" / "r"], "it is a file, not a folder.")


@pytest.mark.parametrize("error", [FULL, READ_ONLY, NO_PERMISSION])
def test_report_onto_a_full_or_read_only_disk(cli, recording, tmp_path, capsys, monkeypatch, error):
    (tmp_path / "results.json").write_text("old")
    failing_writes(monkeypatch, error)
    refused(
        cli,
        ["report", recording, "--out", tmp_path / "page.html", "--resolution", 8],
        f"unitscope: error: cannot write '{tmp_path / 'page.html'}': {error.strerror};",
    )
    assert listing(tmp_path) == ["results.json"]  # neither file replaced, no temporaries
    assert (tmp_path / "results.json").read_text() == "old"


@pytest.mark.parametrize("error", [FULL, READ_ONLY, NO_PERMISSION])
def test_sweep_table_onto_a_full_or_read_only_disk(
    cli, swept, tmp_path, capsys, monkeypatch, error
):
    (tmp_path / "t.csv").write_text("old table")

    def write_csv(_rows, _columns, path):
        Path(path).write_text("half a tab")
        raise error

    monkeypatch.setattr("unitscope.sweep._tables._write_csv", write_csv)
    if error is not FULL:  # a read-only folder refuses even the removal of a missing file
        unlink = Path.unlink

        def refusing_unlink(self, missing_ok=False):
            if self.name.endswith(".tmp"):
                unlink(self, missing_ok=True)
                raise READ_ONLY
            unlink(self, missing_ok=missing_ok)

        monkeypatch.setattr(Path, "unlink", refusing_unlink)
    refused(
        cli,
        ["sweep", "table", swept, "--out", tmp_path / "t.csv"],
        f"unitscope: error: cannot write '{tmp_path / 't.csv'}': {error.strerror};",
    )
    assert listing(tmp_path) == ["t.csv"] and (tmp_path / "t.csv").read_text() == "old table"


def test_an_unforeseen_os_error_is_still_one_line(cli, tmp_path, capsys, monkeypatch):
    def fit(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr("unitscope.cli.train.fit", fit)
    refused(
        cli,
        ["train", "--out", tmp_path / "r", *SMALL],
        f"unitscope: error: cannot access '{tmp_path / 'x'}': Permission denied.",
    )


# ---- a folder where a file goes; --force onto a file or a link ---------------------------------


def test_a_folder_named_like_an_output_file(cli, recording, swept, tmp_path, capsys):
    (tmp_path / "page.html").mkdir()
    refused(
        cli,
        ["report", recording, "--out", tmp_path / "page.html"],
        "Invalid value for '--out': File",
    )
    (tmp_path / "results.json").mkdir()
    refused(
        cli,
        ["report", recording, "--out", tmp_path / "other.html"],
        f"cannot write '{tmp_path / 'results.json'}': it is a folder; remove it or choose "
        "another file name.",
    )
    assert not (tmp_path / "other.html").exists()  # checked before the report was built
    (tmp_path / "t.csv").mkdir()
    refused(cli, ["sweep", "table", swept, "--out", tmp_path / "t.csv"], "is a directory")
    (tmp_path / "demo" / "report.html").mkdir(parents=True)
    refused(
        cli,
        ["study", "symmetry", "--scale", "tiny", "--out", tmp_path / "demo"],
        f"cannot write '{tmp_path / 'demo' / 'report.html'}': it is a folder",
    )


def test_train_force_onto_a_file_or_a_link_fails_before_training(
    cli, tmp_path, capsys, monkeypatch
):
    def fit(*_a, **_k):
        raise AssertionError("training started")

    monkeypatch.setattr("unitscope.cli.train.fit", fit)
    (tmp_path / "file").write_text("mine")
    refused(cli, ["train", "--out", tmp_path / "file", "--force", *SMALL], "is a file")
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    refused(cli, ["train", "--out", tmp_path / "link", "--force", *SMALL], "symbolic link")
    assert (tmp_path / "file").read_text() == "mine" and (tmp_path / "link").is_symlink()


# ---- bad input files -------------------------------------------------------------------------


def test_decompression_bomb_in_an_image_folder(cli, tmp_path, capsys, monkeypatch):
    for name, side in (("a", 8), ("b", 8), ("b", 40)):
        (tmp_path / "imgs" / name).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (side, side)).save(tmp_path / "imgs" / name / f"{side}.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the default is 89,478,485
    refused(
        cli,
        ["train", "--out", tmp_path / "r", "--set", f"data.name={tmp_path / 'imgs'}"],
        "40.png' has over 200 pixels, more than the 100 that can be decoded safely "
        "(a decompression bomb?)",
    )


def test_object_arrays_in_measure(cli, tmp_path, capsys):
    np.savez(tmp_path / "x.npz", a=np.array([{"a": 1}] * 10, dtype=object))
    np.save(tmp_path / "y.npy", np.ones((10, 2)))
    refused(cli, ["measure", "linear_cka", tmp_path / "x.npz", tmp_path / "y.npy"], "object")


def test_data_with_values_whose_squares_overflow(cli, tmp_path, capsys):
    x = np.random.default_rng(0).random((40, 2)) * 1e300
    np.savez(tmp_path / "big.npz", x=x, y=np.arange(40) % 2)
    refused(
        cli,
        ["train", "--out", tmp_path / "r", "--set", f"data.name={tmp_path / 'big.npz'}"],
        "x holds values up to 9.",
    )


# ---- nonsense values and seeds --------------------------------------------------------------


@pytest.mark.parametrize(
    "setting, message",
    [
        ("optim.lr=inf", "`optim.lr` must be a finite number, got inf."),
        ("optim.weight_decay=inf", "`optim.weight_decay` must be a finite number, got inf."),
        ("init.eps=nan", "`init.eps` must be a finite number, got nan."),
        ("seeds.init=[18446744073709551616]", "`seeds.init` must be a seed: an integer from 0"),
        ("seeds.init=[-1]", "`seeds.init` must be a seed: an integer from 0 to 2**63 - 1, got -1"),
        ("seeds.data=[-1]", "`seeds.data` must be a seed: an integer from 0 to 2**63 - 1, got -1"),
        ("data.seed=-1", "`data.seed` must be a seed: an integer from 0 to 2**63 - 1, got -1."),
    ],
)
def test_nonsense_values_are_refused_at_the_config_boundary(
    cli, tmp_path, capsys, setting, message
):
    refused(cli, ["train", "--out", tmp_path / "r", "--set", setting], message)
    assert not (tmp_path / "r").exists()


def test_match_seed_outside_int64(cli, recording, capsys):
    refused(
        cli,
        ["match", recording, "--seed", -1, "--no-barrier"],
        "`seed` must be a seed: an integer from 0 to 2**63 - 1, got -1.",
    )


# ---- sizes refused before allocating -----------------------------------------------------------


@pytest.fixture
def sixteen_gb(monkeypatch):
    monkeypatch.setattr("unitscope._memory.memory_limit", lambda: 16 * 10**9)


def test_a_billion_hidden_units(cli, tmp_path, capsys, sixteen_gb):
    refused(
        cli,
        ["train", "--out", tmp_path / "r", "--set", "model.hidden=[1000000000]"],
        "training 1 member of 5,000,000,002 parameters each would need about",
    )


def test_report_resolution_200000(cli, recording, tmp_path, capsys, sixteen_gb):
    refused(
        cli,
        ["report", recording, "--out", tmp_path / "p.html", "--resolution", 200000],
        "unit views at resolution 200000 (200000x200000 points for each of ",
    )
    assert listing(tmp_path) == []


def test_a_sweep_of_a_billion_seeds(cli, tmp_path, capsys, sixteen_gb):
    grid = tmp_path / "g.toml"
    grid.write_text("[seeds]\ninit = {range = [0, 1000000000]}\n")
    refused(
        cli,
        ["sweep", "run", grid, "--out", tmp_path / "sw"],
        "gives 1,000,000,000 jobs, which would need about 4.1 TB of memory",
    )
    assert not (tmp_path / "sw").exists()


# ---- stores and recordings that cannot be used -------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"garbage" * 100])
@pytest.mark.parametrize("command", ["status", "table"])
def test_sweep_status_and_table_on_an_empty_or_corrupt_store(
    cli, tmp_path, capsys, content, command
):
    (tmp_path / "sw").mkdir()
    (tmp_path / "sw" / "sweep.db").write_bytes(content)
    extra = ["--out", tmp_path / "t.csv"] if command == "table" else []
    refused(cli, ["sweep", command, tmp_path / "sw", *extra], "is not a readable sweep database")


@pytest.mark.parametrize("command", ["match", "report"])
def test_match_and_report_on_a_recording_with_no_hidden_layer(cli, linear, capsys, command):
    refused(
        cli,
        [command, linear],
        "the recording has no hidden layer (it was trained with model.hidden = []): there are "
        f"no units to {command}",
    )
