"""Unit-level measures against loops and hand-worked cases; planted permutations recovered."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from unitscope._errors import UnitscopeError
from unitscope.measures import (
    DegenerateInputWarning,
    SymmetrySpread,
    dead_units,
    distinct_units,
    effective_rank,
    participation_ratio,
    saturated_units,
    symmetry_spread,
    unit_correlation,
    unit_groups,
    weight_cosine,
)


def ref_corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / math.sqrt((a @ a) * (b @ b)))


def test_unit_correlation_matches_loops():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 4)), rng.standard_normal((40, 3))
    want = [[ref_corr(x[:, i], y[:, j]) for j in range(3)] for i in range(4)]
    np.testing.assert_allclose(unit_correlation(x, y), want, atol=1e-14)
    np.testing.assert_allclose(unit_correlation(x), np.corrcoef(x.T), atol=1e-14)


@pytest.mark.parametrize("seed", range(3))
def test_planted_permutation_is_recovered(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((200, 12))
    perm = rng.permutation(12)
    y = x[:, perm] * rng.uniform(0.5, 2.0, 12) + 0.3 * rng.standard_normal((200, 12))
    _, found = linear_sum_assignment(unit_correlation(x, y), maximize=True)
    np.testing.assert_array_equal(perm[found], np.arange(12))


def test_weight_cosine_and_spread_match_loops():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 3, 2, 2))  # conv kernels: flattened per unit
    flat = w.reshape(5, -1)
    want = [[a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for b in flat] for a in flat]
    np.testing.assert_allclose(weight_cosine(torch.from_numpy(w)), want, atol=1e-14)
    mean = flat.mean(axis=0)
    dist = [np.linalg.norm(row - mean) for row in flat]
    got = symmetry_spread(w)
    assert got.max_distance == pytest.approx(max(dist), abs=1e-14)
    assert got.mean_distance == pytest.approx(np.mean(dist), abs=1e-14)


def test_identical_units_have_zero_spread():
    w = np.tile(np.array([[0.3, -1.0, 2.0]]), (6, 1))
    assert symmetry_spread(w) == SymmetrySpread(0.0, 0.0)
    w[2, 0] += 0.5
    assert symmetry_spread(w).max_distance == pytest.approx(0.5 * 5 / 6, abs=1e-14)


def test_effective_rank_and_participation_ratio_match_formulas():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((100, 5)) @ np.diag([3.0, 2.0, 1.0, 0.5, 0.1])
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    p = s / s.sum()
    assert effective_rank(x) == pytest.approx(math.exp(-np.sum(p * np.log(p))), abs=1e-12)
    lam = np.linalg.eigvalsh(np.cov(x.T))
    assert participation_ratio(x) == pytest.approx(lam.sum() ** 2 / np.sum(lam**2), abs=1e-12)
    assert effective_rank(np.eye(4), center=False) == pytest.approx(4.0, abs=1e-12)
    assert 1.0 <= effective_rank(x) <= 5.0


def test_groups_are_connected_components():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((500, 1)), rng.standard_normal((500, 1))
    chain_mid = a + 0.09 * b  # |corr(a, mid)| ≥ 0.99 and |corr(mid, far)| ≥ 0.99 ...
    chain_far = a + 0.18 * b  # ... but |corr(a, far)| < 0.99: single linkage joins all three
    x = np.hstack([a, -2 * a, b, chain_mid, chain_far, np.zeros((500, 1)), np.ones((500, 1))])
    assert abs(ref_corr(a[:, 0], chain_far[:, 0])) < 0.99
    assert unit_groups(x).tolist() == [0, 0, 1, 0, 0, 2, 2]
    assert distinct_units(x) == 3
    assert distinct_units(x, threshold=0.9999) == 5  # a~-2a, b, mid, far, {0, 1}


def test_dead_and_saturated_units():
    x = np.array([[0.0, 0.5, -0.999, 1.0], [-1.0, 0.0, -1.0, 1.0], [0.0, 2.0, 0.999, -0.995]])
    assert dead_units(x).tolist() == [True, False, False, False]
    assert dead_units(x, threshold=1.0).tolist() == [True, False, True, True]
    assert saturated_units(x, fraction=1.0).tolist() == [False, False, True, True]
    assert saturated_units(x, margin=0.0, fraction=0.5).tolist() == [False, False, False, True]
    assert saturated_units(x, low=0.0, high=1.0, margin=0.0).tolist() == [True, False, False, True]


def test_degenerate_units_are_nan_with_reason():
    x = np.column_stack([np.arange(5.0), np.full(5, 2.0)])
    with pytest.warns(DegenerateInputWarning, match=r"constant unit\(s\) 1 of `x`"):
        c = unit_correlation(x)
    assert c[0, 0] == pytest.approx(1.0) and np.isnan(c[1]).all() and np.isnan(c[:, 1]).all()
    with pytest.warns(DegenerateInputWarning, match=r"unit\(s\) 0 with all-zero weights"):
        weight_cosine(np.array([[0.0, 0.0], [1.0, 2.0]]))
    with pytest.warns(DegenerateInputWarning, match="all singular values are 0"):
        assert math.isnan(effective_rank(np.full((4, 3), 7.0)))
    with pytest.warns(DegenerateInputWarning, match="constant over samples"):
        assert math.isnan(participation_ratio(np.full((4, 3), 7.0)))


def test_errors():
    x = np.random.default_rng(0).standard_normal((10, 3))
    with pytest.raises(UnitscopeError, match=r"`threshold` must be in \(0, 1\], got 0"):
        unit_groups(x, threshold=0)
    with pytest.raises(UnitscopeError, match="must have the same number of rows"):
        unit_correlation(x, x[:5])
    with pytest.raises(UnitscopeError, match=r"`w` must be \(n_units, fan_in\)"):
        weight_cosine(np.ones(3))
    with pytest.raises(UnitscopeError, match="`low` must be < `high`"):
        saturated_units(x, low=1.0, high=0.0)
    with pytest.raises(UnitscopeError, match="`margin` must be >= 0"):
        saturated_units(x, margin=-0.1)
    with pytest.raises(UnitscopeError, match=r"`x` must be 2-D \(n_samples, n_units\), got shape"):
        effective_rank(np.ones((2, 3, 4)))
