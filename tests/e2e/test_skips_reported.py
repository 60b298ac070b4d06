"""A test skipped for a missing dependency is named at the end of the run with the command that
enables it; with CI=true it fails instead, unless it needs a GPU (see tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ("pytester",)

CONFTEST = (Path(__file__).parents[1] / "conftest.py").read_text(encoding="utf-8")
# Pretend Chromium, ray and the GPU are all missing, whatever this machine has.
ALL_MISSING = """
for _name, _need in list(NEEDS.items()):
    NEEDS[_name] = replace(_need, present=lambda: False)
"""
TESTS = """
import pytest

@pytest.mark.browser
def test_page_a(): pass

@pytest.mark.browser
def test_page_b(): pass

@pytest.mark.ray
def test_on_ray(): pass

@pytest.mark.gpu
def test_on_gpu(): pass

def test_plain(): pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(
        CONFTEST.replace(
            "from dataclasses import dataclass", "from dataclasses import dataclass, replace"
        )
        + ALL_MISSING
    )
    pytester.makepyfile(test_needs=TESTS)
    return pytester


def test_skips_are_listed_at_the_end_with_the_command_that_enables_them(suite, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = suite.runpytest("-p", "no:xdist", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=4)
    assert result.ret == 0
    lines = result.stdout.lines
    start = next(i for i, s in enumerate(lines) if "SKIPPED: a dependency is missing" in s)
    assert "= 4 tests SKIPPED: a dependency is missing =" in lines[start]
    assert lines[start + 1 : start + 5] == [
        "2 tests need Chromium (/usr/bin/chromium); enable with: apt-get install -y chromium",
        "1 test needs the ray extra; enable with: .venv/bin/pip install -e '.[ray]'",
        "1 test needs a CUDA GPU; enable with: run on a machine with an NVIDIA GPU and a CUDA "
        "build of PyTorch",
        "(with CI=true a skip fails, unless the test needs a GPU)",
    ]


def test_in_ci_a_skip_fails_unless_the_test_needs_a_gpu(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest("-p", "no:xdist", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1, errors=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.re_match_lines(
        [
            r"ERROR test_needs.py::test_on_ray - skipped in CI \(CI=true\), which installs every "
            r"dependency but a GPU: missing dependency: the ray extra; enable with: "
            r"\.venv/bin/pip install -e '\.\[ray\]'"
        ],
        consecutive=False,
    )
    assert "1 test SKIPPED: a dependency is missing" in result.stdout.str()


def test_a_plain_skip_also_fails_in_ci(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile("import pytest\n\ndef test_x():\n    pytest.skip('not today')\n")
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest("-p", "no:xdist", "-p", "no:cacheprovider", "-rf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAILED *::test_x - skipped in CI (CI=true)*: not today"])
