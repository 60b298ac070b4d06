"""Never through a link; stale temporaries of dead or old writers are cleaned, live ones kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from unitscope._errors import UnitscopeError
from unitscope._paths import clean_stale_temps, refuse_link, temp_prefix


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_refuse_link_names_the_link_and_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert refuse_link(tmp_path / "real") == tmp_path / "real"
    assert refuse_link(tmp_path / "missing") == tmp_path / "missing"
    with pytest.raises(
        UnitscopeError,
        match=rf"'{tmp_path / 'link'}' is a symbolic link \(to '{tmp_path / 'real'}'\); unitscope "
        r"never writes through or replaces a link it did not create: remove the link or give "
        r"the real path\.",
    ):
        refuse_link(tmp_path / "link")
    with pytest.raises(UnitscopeError, match="is a symbolic link .*: do this instead"):
        refuse_link(tmp_path / "dangling", "do this instead")


def test_stale_temporaries_go_live_and_foreign_ones_stay(tmp_path):
    host = temp_prefix("r").split("@")[1].rstrip(".")
    dead = tmp_path / f".r.{dead_pid()}@{host}.abcd1234.tmp"
    live = tmp_path / f"{temp_prefix('r')}efgh5678.tmp"
    other_host = tmp_path / f".r.{dead_pid()}@elsewhere.ijkl9012.tmp"
    old = tmp_path / ".r.oldstyle.tmp"  # before pids were in the name
    other_name = tmp_path / f".rr.{dead_pid()}@{host}.abcd1234.tmp"
    mine = tmp_path / "r"
    for folder in (dead, live, other_host, old, other_name, mine):
        folder.mkdir()
        (folder / "recording.safetensors").write_bytes(b"x" * 100)
    stale_file = tmp_path / f".r.{dead_pid()}@{host}.zz.tmp"
    stale_file.write_text("half")
    week = time.time() - 7 * 24 * 3600
    os.utime(old, (week, week))
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "keep").write_text("keep")
    link = tmp_path / f".r.{dead_pid()}@{host}.link0000.tmp"
    link.symlink_to(tmp_path / "target")

    removed = clean_stale_temps(tmp_path, "r")

    assert sorted(removed) == sorted([dead, old, stale_file])
    assert not dead.exists() and not old.exists() and not stale_file.exists()
    assert live.is_dir() and other_host.is_dir() and other_name.is_dir() and mine.is_dir()
    assert link.is_symlink() and (tmp_path / "target" / "keep").read_text() == "keep"


def test_a_foreign_host_or_live_temporary_goes_once_it_is_old(tmp_path):
    folder = tmp_path / f"{temp_prefix('r')}abcd1234.tmp"
    folder.mkdir()
    assert clean_stale_temps(tmp_path, "r") == []
    day = time.time() - 25 * 3600
    os.utime(folder, (day, day))
    assert clean_stale_temps(tmp_path, "r") == [folder]


def test_atomic_writes_refuse_links_and_clean_killed_writers_temporaries(tmp_path):
    from unitscope._files import atomic_write_text

    (tmp_path / "victim.html").write_text("keep")
    (tmp_path / "report.html").symlink_to(tmp_path / "victim.html")
    (tmp_path / "dangling.json").symlink_to(tmp_path / "nowhere.json")
    for name in ("report.html", "dangling.json"):
        with pytest.raises(UnitscopeError, match=f"'.*{name}' is a symbolic link"):
            atomic_write_text(tmp_path / name, "new")
    assert (tmp_path / "victim.html").read_text() == "keep"
    assert not (tmp_path / "nowhere.json").exists()

    host = temp_prefix("r").split("@")[1].rstrip(".")
    killed = tmp_path / f".out.txt.{dead_pid()}@{host}.abcd1234.tmp"
    killed.write_text("half")
    atomic_write_text(tmp_path / "out.txt", "whole")
    assert (tmp_path / "out.txt").read_text() == "whole" and not killed.exists()


def test_report_out_as_a_link_is_refused_before_the_report_is_built(tmp_path, capsys):
    from unitscope.cli import main
    from unitscope.train import Config, fit

    rec = fit(Config.from_dict({"model": {"hidden": [3]}, "train": {"steps": 2}}))
    rec.save(tmp_path / "r")
    (tmp_path / "victim.html").write_text("keep")
    (tmp_path / "page.html").symlink_to(tmp_path / "victim.html")
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(tmp_path / "r"), "--out", str(tmp_path / "page.html")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert f"{str(tmp_path / 'page.html')!r} is a symbolic link" in err
    assert (tmp_path / "victim.html").read_text() == "keep"
    assert not (tmp_path / "results.json").exists()
