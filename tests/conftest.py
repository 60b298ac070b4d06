"""Shared test set-up: one thread (tiny models train many times faster), a seeded numpy, and
the tests that need an optional dependency.

A test marked ``browser``, ``ray`` or ``gpu`` is skipped when what it needs is missing, and the
end of the run says loudly what was skipped and the one command that enables it. With
``CI=true`` every skip fails instead, except a test marked ``gpu``: CI installs Chromium and
the ray extra (``.ci/run``) but has no GPU.
"""

from __future__ import annotations

import importlib.util
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from unitscope.record import Recording
from unitscope.train import Config, fit

torch.set_num_threads(1)
# numpy's BLAS too: two xdist workers on two cores, each with a spinning BLAS pool per core,
# slow the tests many times over on a loaded machine.
_BLAS = threadpool_limits(limits=1)


# ---- optional dependencies: skipped loudly outside CI, never skipped in CI -----------------
@dataclass(frozen=True)
class Need:
    """What a marker's tests need, how to get it, and whether CI provides it."""

    what: str
    enable: str
    present: Callable[[], bool]
    in_ci: bool = True

    def skip_reason(self) -> str:
        return f"missing dependency: {self.what}; enable with: {self.enable}"


NEEDS = {
    "browser": Need(
        "Chromium (/usr/bin/chromium)",
        "apt-get install -y chromium",
        lambda: Path("/usr/bin/chromium").exists(),
    ),
    "ray": Need(
        "the ray extra",
        ".venv/bin/pip install -e '.[ray]'",
        lambda: importlib.util.find_spec("ray") is not None,
    ),
    "gpu": Need(
        "a CUDA GPU",
        "run on a machine with an NVIDIA GPU and a CUDA build of PyTorch",
        torch.cuda.is_available,
        in_ci=False,
    ),
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def pytest_configure(config: pytest.Config) -> None:
    for name, need in NEEDS.items():
        config.addinivalue_line("markers", f"{name}: needs {need.what} ({need.enable})")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip before any fixture is built when a marker's dependency is missing."""
    for marker in item.iter_markers():
        need = NEEDS.get(marker.name)
        if need is not None and not need.present():
            pytest.skip(need.skip_reason())


def skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """In CI a skip is a failure, unless the test needs what CI lacks (a GPU)."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (in_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    if any(not NEEDS[m.name].in_ci for m in item.iter_markers() if m.name in NEEDS):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped in CI (CI=true), which installs every dependency but a GPU: {skip_reason(report)}"
    )


def tests(n: int) -> str:
    return f"{n} test" if n == 1 else f"{n} tests"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Say at the end of the run what was skipped for a missing dependency, and the fix."""
    reasons = Counter(skip_reason(r) for r in terminalreporter.stats.get("skipped", []))
    missing = [(reasons[n.skip_reason()], n) for n in NEEDS.values() if reasons[n.skip_reason()]]
    if not missing:
        return
    total = sum(count for count, _ in missing)
    terminalreporter.write_sep(
        "=", f"{tests(total)} SKIPPED: a dependency is missing", yellow=True, bold=True
    )
    for count, need in missing:
        verb = "needs" if count == 1 else "need"
        line = f"{tests(count)} {verb} {need.what}; enable with: {need.enable}"
        terminalreporter.write_line(line, yellow=True, bold=True)
    terminalreporter.write_line(
        "(with CI=true a skip fails, unless the test needs a GPU)", yellow=True
    )


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """``cli(args, cwd=None)``: run ``unitscope ARGS`` in this process (in folder ``cwd``) and
    return (exit code, stdout, stderr); a command that returns normally exits with 0."""
    from unitscope.cli import main

    def run(
        args: Sequence[object], cwd: str | os.PathLike[str] | None = None
    ) -> tuple[int, str, str]:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as stop:
            code = int(stop.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# ---- tiny recordings shared by the views and report tests (once per session and worker) --
@pytest.fixture(scope="session")
def moons_rec() -> Recording:
    """An MLP [6, 4] on moons, 2 members, 4 checkpoints."""
    return fit(
        Config.from_dict(
            {
                "data": {"name": "moons", "options": {"n_samples": 80}, "n_probe": 32},
                "model": {"hidden": [6, 4]},
                "train": {"steps": 12, "n_checkpoints": 4},
                "seeds": {"init": [0, 1]},
            }
        )
    )


@pytest.fixture(scope="session")
def cnn_rec() -> Recording:
    """A SmallCNN [3, 4] on 16x16 digits with full maps, 2 members, 3 checkpoints."""
    return fit(
        Config.from_dict(
            {
                "data": {
                    "name": "digits",
                    "options": {"upsample": 2, "n_samples": 120},
                    "n_probe": 24,
                },
                "model": {"kind": "cnn", "channels": [3, 4]},
                "train": {"record_maps": True, "steps": 6, "n_checkpoints": 3},
                "seeds": {"init": [0, 1]},
            }
        )
    )
