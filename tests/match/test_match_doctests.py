"""The examples in the match docstrings are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "_activations",
    "_align",
    "_correlation",
    "_curve",
    "_interpolate",
    "_permute",
    "_weights",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"unitscope.match.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
