"""The examples in the measures docstrings are true (each shows a property: CKA is 1 under
rotation, rescaling is exact, ...)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import unitscope.measures

MODULES = sorted(m.name for m in pkgutil.iter_modules(unitscope.measures.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"unitscope.measures.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
