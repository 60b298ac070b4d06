"""Activation matching: correlations against a plain reference, planted permutations, bounds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from unitscope._errors import UnitscopeError
from unitscope.match import (
    CrossCorrelation,
    activations,
    cross_correlation,
    hungarian,
    match_layers,
    permute,
    random_perms,
)


def plain_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Reference: np.corrcoef on (n, U) arrays, A's units against B's."""
    U = a.shape[1]
    return np.corrcoef(a.T, b.T)[:U, U:]


def test_cross_correlation_matches_numpy(rng):
    a = rng.normal(size=(3, 40, 5))
    b = a[..., [1, 0, 4]] * 2.0 + rng.normal(size=(3, 40, 3))
    r = cross_correlation(a, b, layout="KND")
    for k in range(3):
        np.testing.assert_allclose(r[k], plain_corr(a[k], b[k]), atol=1e-12)


def test_agrees_with_the_measures_unit_correlation(rng):
    from unitscope.measures import to_units, unit_correlation

    maps_a, maps_b = rng.normal(size=(6, 3, 4, 4)), rng.normal(size=(6, 3, 4, 4))
    expected = unit_correlation(
        to_units(maps_a, "positions", layout="NCHW").values,
        to_units(maps_b, "positions", layout="NCHW").values,
    )
    got = cross_correlation(maps_a, maps_b, layout="NCHW")[0]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_streaming_equals_one_pass_even_with_a_large_offset(rng):
    a = 1e6 + rng.normal(size=(1, 300, 4))  # a raw second moment would cancel here
    b = -3e5 + rng.normal(size=(1, 300, 4))
    acc = CrossCorrelation()
    for lo in range(0, 300, 37):
        acc.update(a[:, lo : lo + 37], b[:, lo : lo + 37])
    np.testing.assert_allclose(acc.compute()[0], plain_corr(a[0] - 1e6, b[0] + 3e5), atol=1e-9)


@pytest.mark.parametrize("within", ["both", "a", "none"])
def test_every_within_mode_streams_the_same_blocks(rng, within):
    """A shared K=1 side (kept K=1, its moments computed once) against K members, streamed in
    uneven batches with a large offset and a dead unit: the cross block, A's own block and the
    active flags against np.corrcoef on each member, in every accumulation mode."""
    a = 1e5 + rng.normal(size=(1, 230, 4))
    b = rng.normal(size=(3, 230, 5)) + a[..., [0, 1, 2, 3, 0]]
    b[1, :, 2] = 7.0  # a unit of member 1 that does not vary
    acc = CrossCorrelation(within=within)
    for lo in range(0, 230, 41):
        acc.update(a[:, lo : lo + 41], b[:, lo : lo + 41])
    cross, own, active_a, active_b = acc.blocks()
    assert cross.shape == (3, 4, 5) and active_a.shape == (3, 4) and active_b.shape == (3, 5)
    for k in range(3):
        live = np.ones(5, dtype=bool)
        live[2] = k != 1
        np.testing.assert_array_equal(active_b[k], live)
        expected = plain_corr(a[0] - 1e5, b[k][:, live])
        np.testing.assert_allclose(cross[k][:, live], expected, atol=1e-10)
        assert np.all(cross[k][:, ~live] == 0.0)
    assert active_a.all()
    if within == "none":
        assert own is None
    else:
        for k in range(3):
            np.testing.assert_allclose(own[k], np.corrcoef(a[0].T), atol=1e-10)
    if within == "both":
        corr, active = acc.full()
        np.testing.assert_array_equal(corr[:, :4, 4:], cross)
        np.testing.assert_array_equal(active, np.concatenate([active_a, active_b], axis=1))
    else:
        with pytest.raises(UnitscopeError, match="`full` needs both runs' within co-moments"):
            acc.full()


def test_a_mistyped_within_mode_is_refused():
    with pytest.raises(UnitscopeError, match=r"`within` must be one of \('both', 'a', 'none'\)"):
        CrossCorrelation(within="b")


def test_conv_maps_count_every_position_as_an_observation(rng):
    maps_a = rng.normal(size=(10, 3, 4, 4))  # (n, C, H, W)
    maps_b = rng.normal(size=(10, 3, 4, 4))
    flat = lambda m: m.transpose(0, 2, 3, 1).reshape(-1, 3)  # noqa: E731  (n*H*W, C)
    np.testing.assert_allclose(
        cross_correlation(maps_a, maps_b, layout="NCHW")[0],
        plain_corr(flat(maps_a), flat(maps_b)),
        atol=1e-12,
    )


def test_identical_runs_match_with_correlation_one_and_the_identity(rng):
    a = rng.normal(size=(2, 50, 7))
    m = activations(a, a, layout="KND")
    np.testing.assert_allclose(m.matched, 1.0, atol=1e-12)
    assert (m.perm == np.arange(7)).all()
    np.testing.assert_allclose(m.unaligned, 1.0, atol=1e-12)


def test_planted_permutation_is_recovered_on_every_active_unit(random_mlp):
    net = random_mlp(2, 24, K=2, seed=1)
    with torch.no_grad():  # kill three units of hidden.0 in member 0: always negative input
        net.hidden[0].bias[0, [2, 5, 11]] = -1e3
    planted = random_perms(net, seed=3)
    moved = permute(net, planted)
    found = match_layers(net, moved, torch.randn(200, 12, dtype=torch.float64))
    for layer, m in found.items():
        inverse = np.argsort(planted[layer], axis=1)
        assert (m.perm[m.active_a] == inverse[m.active_a]).all()
        np.testing.assert_allclose(m.matched[m.active_a], 1.0, atol=1e-12)
    dead = found["hidden.0"]
    assert not dead.active_a[0, [2, 5, 11]].any() and dead.active_a[1].all()
    assert (dead.corr[0, [2, 5, 11]] == 0).all()


def test_planted_conv_channel_permutation_is_recovered(random_cnn):
    net = random_cnn(K=2, seed=2, channels=(5, 6))
    planted = random_perms(net, seed=8)
    found = match_layers(net, permute(net, planted), torch.randn(12, 2, 8, 8).double())
    for layer, m in found.items():
        assert (m.perm[m.active_a] == np.argsort(planted[layer], axis=1)[m.active_a]).all()


def test_hungarian_is_the_best_of_all_permutations(rng):
    corr = rng.uniform(-1, 1, size=(3, 5, 5))
    perm = hungarian(corr)
    for k in range(3):
        best = max(
            sum(corr[k, i, p[i]] for i in range(5)) for p in itertools.permutations(range(5))
        )
        assert corr[k, np.arange(5), perm[k]].sum() == pytest.approx(best, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (30, 4), elements=st.floats(-5, 5)),
    arrays(np.float64, (30, 4), elements=st.floats(-5, 5)),
)
def test_semi_matching_bounds_hungarian_on_any_pair(a, b):
    m = activations(a, b, null=None)
    assert m.semi.mean() >= m.mean[0] - 1e-12
    # the best one-to-one matching beats the average over all permutations (Σ_ij r_ij / U²)
    assert m.mean[0] >= m.corr[0].mean() - 1e-12
    assert np.all(np.abs(m.corr) <= 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hungarian_mean_is_non_negative_between_networks(random_mlp, seed):
    a, b = random_mlp(2, 16, K=2, seed=seed), random_mlp(2, 16, K=2, seed=seed + 7)
    for m in match_layers(a, b, torch.randn(300, 12, dtype=torch.float64)).values():
        assert (m.semi.mean(axis=1) >= m.mean - 1e-12).all()
        assert (m.mean >= 0).all()


def test_trained_runs_beat_the_baselines(mlp_rec):
    acts = mlp_rec.activations("hidden.0")[-1]  # (K, n_probe, U)
    m = activations(acts[[0]], acts[[1]], layout="KND", seed=0)
    assert m.mean[0] > np.nanmean(m.null[0])
    assert m.mean[0] >= m.unaligned[0].mean()
    assert m.semi.mean() >= m.mean[0] >= 0


def test_baselines_against_plain_references(rng):
    a = rng.normal(size=(60, 4))
    a[:, 3] = a[:, 0] + 0.1 * rng.normal(size=60)  # a near-copy sibling
    b = a[:, [2, 3, 0, 1]] + 0.3 * rng.normal(size=(60, 4))
    m = activations(a, b, seed=1)
    r_aa = np.corrcoef(a.T)
    np.fill_diagonal(r_aa, -np.inf)
    np.testing.assert_allclose(m.sibling[0], r_aa.max(axis=1), atol=1e-12)
    r = plain_corr(a, b)
    np.testing.assert_allclose(m.unaligned[0], np.diag(r), atol=1e-12)
    np.testing.assert_allclose(m.semi[0], r.max(axis=1), atol=1e-12)
    np.testing.assert_allclose(m.sorted[0], np.sort(m.matched[0])[::-1])
    assert m.fraction_above(0.9)[0] == np.mean(m.matched[0] > 0.9)
    assert m.fraction_below(0.3)[0] == np.mean(m.matched[0] < 0.3)
    # the shuffled-rows null is far below the real matching
    assert np.nanmean(m.null) < 0.5 < m.mean[0]


def test_an_untrained_network_can_be_the_null(rng):
    a = rng.normal(size=(80, 5))
    other = rng.normal(size=(80, 5))
    m = activations(a, a, null=other)
    expected = plain_corr(a, other)
    perm = hungarian(expected[None])[0]
    np.testing.assert_allclose(m.null[0], expected[np.arange(5), perm], atol=1e-12)
    assert np.isnan(activations(a, a, null=None).null).all()


def test_summary_is_plain_python(rng):
    s = activations(rng.normal(size=(20, 3)), rng.normal(size=(20, 3))).summary()
    assert isinstance(s["perm"], list) and isinstance(s["mean_matched"], float)
    assert set(s) >= {"matched_sorted", "fraction_above_0.9", "fraction_below_0.3", "mean_null"}


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "message"),
    [
        ((20, 3), (20, 4), {}, r"same observations and units .* \(20, 3\) and \(20, 4\)"),
        ((2, 20, 3), (3, 20, 3), {"layout": "KND"}, "runs A and B hold 2 and 3 members"),
        ((1, 3), (1, 3), {}, "needs >= 2 observations"),
        ((20,), (20,), {}, r"a 1-D tensor has no default layout"),
        ((2, 20, 3), (2, 20, 3), {}, r"a 3-D tensor could be .*'NTD'.*'KND'"),
        ((20, 3), (20, 3), {"null": "random"}, "`null` must be 'shuffle', an array or None"),
    ],
)
def test_bad_activations_are_refused(rng, a, b, kwargs, message):
    with pytest.raises(UnitscopeError, match=message):
        activations(rng.normal(size=a), rng.normal(size=b), **kwargs)
