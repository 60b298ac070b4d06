"""Atomic writes: a reader sees the old files or the new ones; a failed write is one line and
leaves every target as it was."""

from __future__ import annotations

import errno
import os

import pytest

import unitscope._files
from unitscope._errors import UnitscopeError
from unitscope._files import atomic_write_texts, check_target, write_error


def test_several_files_are_replaced_together(tmp_path):
    atomic_write_texts({tmp_path / "a.html": "page", tmp_path / "a.json": "{}"})
    assert (tmp_path / "a.html").read_text() == "page" and (tmp_path / "a.json").read_text() == "{}"
    assert oct((tmp_path / "a.html").stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's mode


def test_a_failure_on_the_second_file_leaves_both_old_files(tmp_path, monkeypatch):
    for name in ("a.html", "a.json"):
        (tmp_path / name).write_text("old")
    real, calls = os.fdopen, []

    def fdopen(fd, *args, **kwargs):
        calls.append(fd)
        if len(calls) == 2:
            os.close(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, *args, **kwargs)

    monkeypatch.setattr(unitscope._files.os, "fdopen", fdopen)
    with pytest.raises(
        UnitscopeError,
        match=r"^cannot write '.*a\.json': No space left on device; free some disk space or "
        r"write elsewhere\.$",
    ):
        atomic_write_texts({tmp_path / "a.html": "new", tmp_path / "a.json": "new"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "a.json"]  # no temporaries
    assert {p.read_text() for p in tmp_path.iterdir()} == {"old"}


def test_targets_are_checked_before_anything_is_written(tmp_path):
    (tmp_path / "results.json").mkdir()
    with pytest.raises(UnitscopeError, match=r"'.*results\.json': it is a folder; remove it"):
        atomic_write_texts({tmp_path / "a.html": "page", tmp_path / "results.json": "{}"})
    assert not (tmp_path / "a.html").exists()
    with pytest.raises(UnitscopeError, match=r"folder '.*nowhere' does not exist"):
        check_target(tmp_path / "nowhere" / "a.html")


@pytest.mark.parametrize(
    "err, reason",
    [
        (OSError(errno.EROFS, "Read-only file system"), "Read-only file system; the file system"),
        (OSError(errno.EACCES, "Permission denied"), "Permission denied; check the folder's"),
        (RuntimeError("I/O error: No space left on device (os error 28)"), "No space left on"),
        (RuntimeError("something else"), "something else; check the path or write elsewhere"),
    ],
)
def test_write_errors_say_where_why_and_what_to_do(err, reason):
    assert str(write_error("out/x", err)).startswith(f"cannot write 'out/x': {reason}")
