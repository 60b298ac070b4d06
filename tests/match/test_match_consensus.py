"""match.consensus: float64 references for every step (correlations, pairwise matches, cycle
consistency over ordered triples, the joint alignment, consensus units), planted permutations
of one network, the untrained baseline from a recording, and bad input."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from unitscope import match
from unitscope._errors import UnitscopeError
from unitscope.match._consensus import (
    aligned_correlation,
    consensus_units,
    cycle_consistency,
    joint_alignment,
    pairwise_perms,
    unit_correlations,
)

# ---- plain float64 references ------------------------------------------------------------------


def ref_corr(acts):
    """(K, K, U, U) by np.corrcoef on the stacked units."""
    K, _, U = acts.shape
    big = np.corrcoef(np.concatenate(list(acts), axis=1).T)  # (KU, KU)
    return np.array(
        [[big[a * U : (a + 1) * U, b * U : (b + 1) * U] for b in range(K)] for a in range(K)]
    )


def ref_perm(c):
    rows, cols = linear_sum_assignment(-c)
    out = np.empty(len(rows), dtype=int)
    out[rows] = cols
    return out


def ref_cycle(perms):
    """Every ordered triple of distinct members, unit by unit."""
    K, _, U = perms.shape
    cycle = np.full((K, K, K), np.nan)
    for a, b, c in permutations(range(K), 3):
        hits = [perms[b, c, perms[a, b, i]] == perms[a, c, i] for i in range(U)]
        cycle[a, b, c] = np.mean(hits)
    return cycle


def ref_unit_cycle(perms):
    K, _, U = perms.shape
    out = np.zeros((K, U))
    for a in range(K):
        for i in range(U):
            pairs = [(b, c) for b, c in permutations(range(K), 2) if a not in (b, c)]
            out[a, i] = np.mean([perms[b, c, perms[a, b, i]] == perms[a, c, i] for b, c in pairs])
    return out


def objective(corr, order):
    """Σ over pairs of members and positions of the aligned correlation."""
    K, U = order.shape
    return sum(
        corr[a, b, order[a, j], order[b, j]]
        for a in range(K)
        for b in range(K)
        if a != b
        for j in range(U)
    )


def planted(K, U, n=300, noise=0.0, seed=0):
    """K reorderings of one network's units (plus noise): member k's unit i is base unit p[k][i]."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, U))
    p = [rng.permutation(U) for _ in range(K)]
    acts = np.stack([base[:, pk] + noise * rng.normal(size=(n, U)) for pk in p])
    return acts, p


def random_acts(K=4, U=6, n=80, seed=0):
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, 3))
    return np.stack([shared @ rng.normal(size=(3, U)) + rng.normal(size=(n, U)) for _ in range(K)])


# ---- references ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correlations_and_pairwise_matches_match_plain_references(seed):
    acts = random_acts(seed=seed)
    corr, active = unit_correlations(acts.astype(np.float32))
    np.testing.assert_allclose(
        corr, ref_corr(acts.astype(np.float32).astype(np.float64)), atol=1e-10
    )
    assert active.all()
    perms = pairwise_perms(corr)
    K = acts.shape[0]
    for a in range(K):
        for b in range(K):
            expected = np.arange(acts.shape[2]) if a == b else ref_perm(corr[a, b])
            np.testing.assert_array_equal(perms[a, b], expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cycle_consistency_matches_ordered_triples_unit_by_unit(seed):
    perms = pairwise_perms(unit_correlations(random_acts(K=5, U=7, seed=seed))[0])
    cycle, unit_cycle = cycle_consistency(perms)
    np.testing.assert_allclose(cycle, ref_cycle(perms), equal_nan=True)
    np.testing.assert_allclose(unit_cycle, ref_unit_cycle(perms))
    assert np.nanmin(cycle) >= 0.0 and np.nanmax(cycle) <= 1.0


def test_random_matches_are_consistent_at_chance():
    rng = np.random.default_rng(0)
    K, U = 6, 20
    perms = np.empty((K, K, U), dtype=int)
    for a in range(K):
        perms[a, a] = np.arange(U)
        for b in range(a + 1, K):
            perms[a, b] = rng.permutation(U)
            perms[b, a] = np.argsort(perms[a, b])
    cycle, _ = cycle_consistency(perms)
    assert abs(np.nanmean(cycle) - 1 / U) < 0.04  # a random permutation fixes 1 unit on average


@pytest.mark.parametrize("seed", [0, 1])
def test_joint_alignment_is_optimal_member_by_member_and_never_worse(seed):
    acts = random_acts(K=4, U=4, seed=seed)
    corr, _ = unit_correlations(acts)
    perms = pairwise_perms(corr)
    order, sweeps, converged = joint_alignment(corr, perms)
    assert converged and sweeps >= 1
    assert objective(corr, order) >= objective(corr, perms[0]) - 1e-12
    for k in range(4):  # no other order of member k does better, the others held fixed
        for p in permutations(range(4)):
            other = order.copy()
            other[k] = p
            assert objective(corr, other) <= objective(corr, order) + 1e-12
    aligned = aligned_correlation(corr, order)
    for k in range(4):
        for j in range(4):
            plain = np.mean([corr[k, m, order[k, j], order[m, j]] for m in range(4) if m != k])
            assert aligned[k, j] == pytest.approx(plain)


def test_consensus_units_match_a_plain_reference():
    acts = random_acts(K=5, U=6, seed=3)
    corr, _ = unit_correlations(acts)
    order, _, _ = joint_alignment(corr, pairwise_perms(corr))
    core, present, support = consensus_units(corr, order, fraction=0.5, threshold=0.3)
    for j in range(6):
        r = np.array([[corr[a, b, order[a, j], order[b, j]] for b in range(5)] for a in range(5)])
        partners = [sum(r[a, b] >= 0.3 for b in range(5) if b != a) for a in range(5)]
        means = [np.mean([r[a, b] for b in range(5) if b != a]) for a in range(5)]
        best = max(range(5), key=lambda a: (partners[a], means[a]))
        assert core[j] == best
        expected = [a == best or r[best, a] >= 0.3 for a in range(5)]
        assert present[:, j].tolist() == expected and support[j] == sum(expected)


# ---- planted answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(("K", "U", "noise"), [(3, 5, 0.0), (8, 64, 0.0), (6, 16, 0.05)])
def test_planted_permutations_are_fully_consistent_with_K_copies_of_every_unit(K, U, noise):
    acts, p = planted(K, U, noise=noise)
    c = match.consensus(acts)
    assert c.cycle_mean == 1.0 and (c.unit_cycle == 1.0).all()
    assert c.support.tolist() == [K] * U and c.is_consensus.all() and c.converged
    # every position holds the same base unit in every member
    base_units = np.array([[p[k][c.order[k, j]] for k in range(K)] for j in range(U)])
    assert (base_units == base_units[:, :1]).all()
    assert len({int(u) for u in base_units[:, 0]}) == U
    assert c.chance == 1 / U and c.untrained is None
    groups = c.groups()
    assert len(groups) == U and all(None not in g["units"] and g["support"] == K for g in groups)


def test_half_planted_units_are_consensus_units_and_the_rest_are_not():
    rng = np.random.default_rng(1)
    K, U, n = 6, 10, 400
    shared = rng.normal(size=(n, 5))
    acts = np.stack(
        [
            np.concatenate([shared, rng.normal(size=(n, 5))], 1)[:, rng.permutation(U)]
            for _ in range(K)
        ]
    )
    c = match.consensus(acts, fraction=0.5, threshold=0.5)
    assert c.is_consensus.sum() == 5 and sorted(c.support.tolist())[-5:] == [K] * 5
    assert c.support[~c.is_consensus].max() < 0.5 * K
    strict = match.consensus(acts, fraction=1.0, threshold=0.5)
    assert strict.is_consensus.sum() == 5


def test_the_calibrated_threshold_is_the_rotated_nulls_99th_percentile():
    acts = random_acts(K=4, U=6, seed=5)
    c = match.consensus(acts)
    assert c.threshold == match.universal(acts, untrained=None).threshold
    fixed = match.consensus(acts, threshold=c.threshold)
    np.testing.assert_array_equal(fixed.present, c.present)
    lenient = match.consensus(acts, threshold=-1.0)
    assert lenient.support.tolist() == [4] * 6 and lenient.threshold == -1.0


def test_untrained_baseline_from_arrays_and_from_a_recording(mlp_rec):
    acts, _ = planted(4, 12)
    rng = np.random.default_rng(0)
    c = match.consensus(acts, untrained=rng.normal(size=(4, 300, 12)))
    assert c.untrained is not None and c.untrained_mean < 0.5 < c.cycle_mean
    assert mlp_rec.steps[0] == 0
    r = match.consensus(mlp_rec, layer="hidden.1")
    layer_acts = mlp_rec.activations("hidden.1")
    expected = cycle_consistency(pairwise_perms(unit_correlations(layer_acts[0])[0]))[0]
    np.testing.assert_array_equal(r.untrained, expected)
    direct = match.consensus(layer_acts[-1])
    np.testing.assert_array_equal(r.cycle, direct.cycle)
    assert r.layer == "hidden.1" and r.step == int(mlp_rec.steps[-1])
    s = r.summary()
    assert s["members"] == 3 and len(s["cycle_by_triple"]) == 1 and s["units"] == 6


def test_dead_units_correlate_zero_and_are_flagged():
    acts, _ = planted(4, 6)
    acts[1, :, 2] = 0.5  # a dead unit in member 1
    c = match.consensus(acts)
    assert not c.active[1, 2] and c.active.sum() == 23
    assert (c.corr[1, :, 2] == 0).all()


# ---- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fraction": 0.0}, r"`fraction` must be in \(0, 1\]"),
        ({"fraction": 1.5}, r"`fraction` must be in \(0, 1\]"),
        ({"threshold": 1.0}, r"`threshold` must be a correlation in \[-1, 1\)"),
        ({"fraction": "half"}, "`fraction` must be a number and `threshold` a number or"),
        ({"threshold": "loose"}, "`threshold` a number or 'calibrated', got 0.5 and 'loose'"),
        ({"layer": "hidden.0"}, "names a layer of a recording"),
    ],
)
def test_bad_rules_are_one_line(kwargs, message):
    with pytest.raises(UnitscopeError, match=message):
        match.consensus(planted(3, 4)[0], **kwargs)


def test_two_members_are_refused():
    with pytest.raises(UnitscopeError, match="consensus needs K >= 3 members .* got 2"):
        match.consensus(planted(2, 4)[0])


def test_unknown_layer_suggests_the_closest(mlp_rec):
    with pytest.raises(UnitscopeError, match="unknown layer 'hiden.1'. Did you mean 'hidden.1'"):
        match.consensus(mlp_rec, layer="hiden.1")


def test_planted_conv_channel_permutations_count_every_position_as_an_observation():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(20, 5, 4, 4))  # (n, C, H, W)
    maps = np.stack([base[:, rng.permutation(5)] for _ in range(3)])  # (K, n, C, H, W)
    c = match.consensus(maps, threshold=0.9)
    assert c.cycle_mean == 1.0 and c.support.tolist() == [3] * 5
    u = match.universal(maps)
    assert u.fraction().tolist() == [1.0, 1.0, 1.0]
