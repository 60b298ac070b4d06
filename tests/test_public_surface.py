"""The public surface: each stage's ``__all__`` names what a user calls, and nothing else."""

from __future__ import annotations

import importlib

import pytest

STAGES = (
    "unitscope",
    "unitscope.data",
    "unitscope.models",
    "unitscope.init",
    "unitscope.train",
    "unitscope.record",
    "unitscope.measures",
    "unitscope.match",
    "unitscope.views",
    "unitscope.studies",
    "unitscope.report",
    "unitscope.sweep",
)

# Helpers that once leaked into a stage's namespace; they live in its private modules.
HELPERS = {
    "unitscope.views": {"crop", "strongest", "loss_name", "project", "deconv_relu"},
    "unitscope.train": {"resolve_device", "parse_override"},
    "unitscope.report": {"quantize_range", "quantize_signed", "RecordingReport"},
    "unitscope.models": {"GAINS", "Noise", "get_activation", "expand_permutation"},
    "unitscope.sweep": {"plan_batches", "summarize"},
}


@pytest.mark.parametrize("name", STAGES)
def test_every_exported_name_exists_once(name):
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), name
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr}"


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_helpers_stay_private(name):
    module = importlib.import_module(name)
    assert not HELPERS[name] & set(module.__all__)
    for attr in HELPERS[name] - {"RecordingReport"}:
        assert not hasattr(module, attr), f"{name}.{attr} is still reachable"
