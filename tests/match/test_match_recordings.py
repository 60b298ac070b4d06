"""Matching recordings: all pairs of an ensemble, two recordings, every checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unitscope._errors import UnitscopeError
from unitscope.match import compare, match_layers, over_training, pairs
from unitscope.train import fit


def test_all_pairs_of_an_ensemble(mlp_rec):
    c = pairs(mlp_rec, n_points=5)
    assert c.pairs == [(0, 1), (0, 2), (1, 2)]
    assert c.perms["hidden.0"].shape == (3, 8) and c.units["hidden.1"].corr.shape == (3, 6, 6)
    assert c.naive is not None and c.aligned is not None and c.repaired is None
    assert c.naive.loss("train").shape == (3, 5)
    # the pair (1, 2) is the same as comparing member 1 with member 2 alone
    alone = compare(mlp_rec, members=(1, 2), n_points=5)
    np.testing.assert_array_equal(alone.perms["hidden.1"][0], c.perms["hidden.1"][2])
    np.testing.assert_allclose(alone.aligned.loss("test")[0], c.aligned.loss("test")[2])
    summary = c.summary()
    json.dumps(summary)  # plain Python all the way down
    first = summary["pairs"][0]
    assert first["members"] == [0, 1]
    assert {"naive", "aligned", "reduction_aligned"} <= set(first["barrier"])


def test_alignment_does_not_raise_the_barrier_much_and_repair_is_reported(mlp_rec):
    c = compare(mlp_rec, members=[(0, 1), (0, 2)], n_points=7, repair=True)
    assert c.repaired is not None and c.repaired.repaired
    # weight matching by itself never touches the function of either endpoint
    np.testing.assert_allclose(
        c.aligned.loss("test")[:, [0, -1]], c.naive.loss("test")[:, [0, -1]], atol=1e-12
    )


def test_activation_method_uses_the_probe_matching(mlp_rec):
    c = compare(mlp_rec, method="activations", barrier=False)
    assert c.weight_match is None and c.naive is None
    for layer, m in c.units.items():
        np.testing.assert_array_equal(c.perms[layer], m.perm)
        np.testing.assert_allclose(c.aligned_corr(layer), m.matched)
    assert c.summary()["pairs"][0]["barrier"] is None


def test_untrained_null_is_the_step_zero_network(mlp_rec):
    c = compare(mlp_rec, members=(0, 1), null="untrained", barrier=False)
    a = mlp_rec.model(members=[0])
    untrained = mlp_rec.model(0, members=[1])
    expected = match_layers(a, untrained, mlp_rec.probe_x, null=None)
    for layer, m in c.units.items():
        np.testing.assert_allclose(m.null, expected[layer].matched, atol=1e-12)
    with pytest.raises(UnitscopeError, match="unknown null 'untrainde'. Did you mean"):
        compare(mlp_rec, null="untrainde")


def test_no_null_leaves_the_matching_as_it_is(mlp_rec):
    shuffled = compare(mlp_rec, barrier=False)
    none = compare(mlp_rec, barrier=False, null="none")
    for layer, m in none.units.items():
        assert np.isnan(m.null).all() and not np.isnan(shuffled.units[layer].null).any()
        np.testing.assert_array_equal(m.perm, shuffled.units[layer].perm)
        np.testing.assert_array_equal(m.matched, shuffled.units[layer].matched)
        np.testing.assert_array_equal(none.perms[layer], shuffled.perms[layer])


def test_two_recordings_pair_member_k_with_member_k(mlp_rec, mlp_config):
    other = fit(mlp_config.override({"seeds.init": [7, 8, 9]}))
    c = compare(mlp_rec, other, barrier=False)
    assert c.pairs == [(0, 0), (1, 1), (2, 2)]
    one = compare(mlp_rec, other, members=(2, 0), barrier=False)
    assert one.pairs == [(2, 0)]


def test_every_checkpoint(mlp_rec):
    t = over_training(mlp_rec, members=(0, 1), n_points=3)
    assert t.steps.tolist() == mlp_rec.steps.tolist()
    assert t.matched("hidden.0").shape == (len(mlp_rec.steps), 1)
    assert t.barrier("naive").shape == (len(mlp_rec.steps), 1)
    with pytest.raises(UnitscopeError, match="no 'repaired' curves were computed"):
        t.barrier("repaired")
    with pytest.raises(UnitscopeError, match="unknown curve 'align'. Did you mean 'aligned'"):
        t.barrier("align")


def test_conv_recording_is_matched_on_feature_maps(cnn_rec):
    c = compare(cnn_rec, method="activations", n_points=3)
    assert c.pairs == [(0, 1)]
    assert c.units["conv.1"].corr.shape == (1, 4, 4)
    assert c.naive is not None and c.naive.loss("test").shape == (1, 3)


def test_recordings_that_cannot_be_paired(mlp_rec, cnn_rec, mlp_config):
    with pytest.raises(UnitscopeError, match="the recordings have different architectures"):
        compare(mlp_rec, cnn_rec)
    other_probe = fit(mlp_config.override({"data.n_probe": 30}))
    with pytest.raises(UnitscopeError, match="different probe sets"):
        compare(mlp_rec, other_probe)
    with pytest.raises(UnitscopeError, match=r"member pair \(0, 0\) is not valid"):
        compare(mlp_rec, members=(0, 0))
    with pytest.raises(UnitscopeError, match=r"member pair \(0, 5\) is not valid"):
        compare(mlp_rec, members=[(0, 5)])
    with pytest.raises(UnitscopeError, match="unknown matching method 'weight'"):
        compare(mlp_rec, method="weight")
    single = fit(mlp_config.override({"seeds.init": [0]}))
    with pytest.raises(UnitscopeError, match="the recording holds 1 member; matching needs 2"):
        pairs(single)
    with pytest.raises(UnitscopeError, match=r"^`seed` must be a seed: .*, got -1\.$"):
        compare(mlp_rec, seed=-1)
    linear = fit(mlp_config.override({"model.hidden": []}))
    with pytest.raises(
        UnitscopeError, match=r"^the recording has no hidden layer .*: there are no units to match"
    ):
        pairs(linear)
