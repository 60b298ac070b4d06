"""Set-up for the doctests of src/unitscope, which ``make test`` collects with
``--doctest-modules`` (pyproject.toml): one torch thread, as in tests/conftest.py, and the
examples of a module that needs an optional extra skipped, with the reason, when it is missing.

Collecting imports every module; that imports no optional extra and changes no global state
(tests/test_imports.py checks both). This file lives beside the package, not in it, so it is
not installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

# module file (relative to src/) -> (import name, how to install it) of the extra it needs
NEEDS_EXTRA = {
    "unitscope/sweep/_ray.py": ("ray", ".venv/bin/pip install -e '.[ray]'"),
}
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not isinstance(item, pytest.DoctestItem):
            continue
        try:
            where = item.path.resolve().relative_to(_HERE).as_posix()
        except ValueError:
            continue  # not under src/
        need = NEEDS_EXTRA.get(where)
        if need is not None and importlib.util.find_spec(need[0]) is None:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"missing dependency: the {need[0]} extra; enable with: {need[1]}"
                )
            )
