"""load / available / options: every built-in is deterministic in its seed; names are checked."""

from __future__ import annotations

import numpy as np
import pytest

import unitscope.data as data
from unitscope._errors import UnitscopeError

EXPECTED = {
    "moons",
    "circles",
    "xor",
    "spiral",
    "gaussians",
    "teacher",
    "linear",
    "digits",
    "patches",
}
SMALL = {"digits": {"n_samples": 60}, "patches": {"n_samples": 30}}


def test_available_lists_every_builtin_with_one_line():
    names = data.available()
    assert set(names) == EXPECTED
    for description in names.values():
        assert description and "\n" not in description and len(description) < 80


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_is_deterministic_in_its_seed(name):
    options = SMALL.get(name, {})
    a, b = data.load(name, seed=11, **options), data.load(name, seed=11, **options)
    other = data.load(name, seed=12, **options)
    assert a.fingerprint() == b.fingerprint()
    assert a.extras.keys() == b.extras.keys()
    for key in a.extras:
        np.testing.assert_array_equal(a.extras[key], b.extras[key])
    assert not np.array_equal(a.x, other.x)
    assert a.x.dtype == np.float64 and a.name == name
    assert a.y.dtype == (np.int64 if a.task == "classification" else np.float64)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_options_lists_the_defaults_load_uses(name):
    defaults = data.options(name)
    assert "seed" not in defaults
    if name not in SMALL:
        assert data.load(name).fingerprint() == data.load(name, **defaults).fingerprint()


def test_load_passes_options_through():
    ds = data.load("spiral", n_samples=50, n_arms=5, seed=2)
    assert ds.x.shape == (50, 2) and ds.n_outputs == 5
    assert ds.origin == "spiral(n_samples=50, n_arms=5, noise=0.05, turns=1.0, seed=2)"


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: data.load("mons"),
            r"unknown dataset 'mons'\. Did you mean 'moons'\? Available: "
            r"'circles', 'digits'",
        ),
        (lambda: data.load("nothing"), r"unknown dataset 'nothing'\. Available: 'circles'"),
        (
            lambda: data.load("moons", nosie=0.1),
            r"unknown option 'nosie' for dataset 'moons'\. "
            r"Did you mean 'noise'\? Valid options: n_samples, noise\.",
        ),
        (lambda: data.load("moons", noise=-0.1), r"`noise` must be >= 0, got -0\.1\."),
        (lambda: data.load("moons", seed="zero"), r"`seed` must be a seed: an integer from 0"),
        (lambda: data.options("digts"), r"unknown dataset 'digts'\. Did you mean 'digits'\?"),
    ],
)
def test_load_errors(call, match):
    with pytest.raises(UnitscopeError, match=match):
        call()


def test_public_surface():
    assert set(data.__all__) >= {"Dataset", "load", "available", "train_test_split", "grid_2d"}
    for name in data.__all__:
        assert getattr(data, name) is not None


def test_repr_shows_shapes_not_values():
    text = repr(data.load("gaussians", n_samples=30))
    assert text == "Dataset('gaussians', classification, x=(30, 2), y=(30,), extras=['centers'])"
