"""Stitching many member pairs at once (``stitch_pairs``): every member is built and run once,
yet each pair's numbers are those of ``stitch_recordings`` on that pair alone."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unitscope._errors import UnitscopeError
from unitscope.match import _stitch_maps, stitch_recordings
from unitscope.match._stitch import stitch_pairs
from unitscope.match._stitch_maps import permutation_map, permutation_maps
from unitscope.train import Config, fit

PAIRS = [(0, 1), (0, 2), (0, 3), (1, 2), (2, 0), (3, 1), (1, 1), (2, 3)]


def same(a, b) -> bool:
    """Exactly equal, NaN equal to NaN, through dicts and lists."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


def numbers(s) -> dict:
    """Everything of a Stitching but the wall time, with every map's weights."""
    out = s.summary()
    out.pop("seconds")
    out["maps"] = [None if e.map is None else e.map.weight.tolist() for e in s.entries]
    out["biases"] = [None if e.map is None else e.map.bias.tolist() for e in s.entries]
    return out


@pytest.fixture(scope="module")
def moons4(mlp_config):
    """Four 2-8-6-2 MLPs (two hidden layers of unequal width), step 0 recorded."""
    return fit(mlp_config.override({"seeds.init": [0, 1, 2, 3]}))


@pytest.fixture(scope="module")
def digits3():
    """Three 64-64-10 MLPs on digits: the raw input is as wide as the layer, so every
    permutation cell (the raw input's too) is fitted."""
    cfg = {
        "data": {"name": "digits", "options": {"flatten": True, "n_samples": 300}, "n_probe": 32},
        "model": {"hidden": [64]},
        "optim": {"name": "adam", "lr": 0.01},
        "train": {"steps": 20, "checkpoints": [0, 20]},
        "seeds": {"init": [0, 1, 2]},
    }
    return fit(Config.from_dict(cfg))


def test_every_pair_equals_stitching_it_alone(moons4):
    kwargs = {"fits": ["direct", "permutation", "task"], "task_steps": 5}
    shared = stitch_pairs(moons4, PAIRS, **kwargs)
    assert [s.members for s in shared] == PAIRS
    for pair, s in zip(PAIRS, shared):
        alone = stitch_recordings(moons4, members=pair, **kwargs)
        assert same(numbers(s), numbers(alone)), pair
    # the members differ, so a network or activation taken from the wrong member would show
    own = {s.members[1]: s.target["test_loss"] for s in shared}
    assert len(set(own.values())) == len(own) == 4
    direct = [s.entry("trained", "direct", "hidden.0", "hidden.0").map.weight for s in shared]
    assert not np.array_equal(direct[0], direct[1])  # A=0 into B=1 and into B=2
    untrained = [s.entry("untrained", "direct", "hidden.1", "hidden.0").map for s in shared]
    assert not np.array_equal(untrained[0].weight, untrained[3].weight)  # A=0 and A=1 into 2


def test_equal_widths_and_the_raw_input(digits3):
    pairs = [(0, 1), (0, 2), (1, 2), (2, 1)]
    kwargs = {"fits": ["permutation", "direct"], "controls": ["input", "untrained"]}
    shared = stitch_pairs(digits3, pairs, **kwargs)
    for pair, s in zip(pairs, shared):
        alone = stitch_recordings(digits3, members=pair, **kwargs)
        assert same(numbers(s), numbers(alone)), pair
        assert not math.isnan(s.matrix("permutation", "input")[0, 0])  # 64 inputs, 64 units
    # the raw input's stitch depends on B alone: shared by (0, 2) and (1, 2), not by (0, 1)
    raw = [s.entry("input", "direct", "input", "hidden.0").map.weight for s in shared]
    assert np.array_equal(raw[1], raw[2]) and not np.array_equal(raw[0], raw[1])


def test_permutation_maps_find_planted_permutations_in_groups(rng, monkeypatch):
    xa = rng.normal(size=(60, 5))
    perms = [rng.permutation(5) for _ in range(5)]
    # unit i of A is unit perm[i] of B: B's column perm[i] is A's column i, plus noise
    ybs = [np.empty_like(xa) for _ in perms]
    for yb, perm in zip(ybs, perms):
        yb[:, perm] = xa + 0.05 * rng.normal(size=xa.shape)
    monkeypatch.setattr(_stitch_maps, "_CHUNK", 60 * 2 * 5 * 2)  # groups of 2, 2 and 1
    got = permutation_maps(xa, ybs)
    for m, yb, perm in zip(got, ybs, perms):
        assert m.perm.tolist() == perm.tolist()
        assert np.array_equal(m.weight, permutation_map(xa, yb).weight)
        assert np.array_equal((xa @ m.weight)[:, perm], xa)  # A's unit i lands on perm[i]


def test_errors_and_edges(moons4):
    assert stitch_pairs(moons4, []) == []
    with pytest.raises(UnitscopeError, match="member 5 of B does not exist"):
        stitch_pairs(moons4, [(0, 1), (0, 5)])
    with pytest.raises(UnitscopeError, match="unknown stitching fit 'permutaton'"):
        stitch_pairs(moons4, [(0, 1)], fits=["permutaton"])
