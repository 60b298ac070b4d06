"""CCA, SVCCA and PWCCA against covariance-formula references (Hotelling; Raghu; Morcos)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unitscope._errors import UnitscopeError
from unitscope.measures import (
    DegenerateInputWarning,
    StreamingMeasure,
    canonical_correlations,
    cca_r2_similarity,
    cca_similarity,
    pwcca_similarity,
    svcca_similarity,
)

# -- references: the textbook covariance formulas --------------------------------------------


def inv_sqrt(c: np.ndarray) -> np.ndarray:
    lam, v = np.linalg.eigh(c)
    return v @ np.diag(lam**-0.5) @ v.T


def ref_cca(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ρ = singular values of Σxx^{-1/2} Σxy Σyy^{-1/2}; also the x-side directions a_i."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    xc, yc = h @ x, h @ y
    sxx, syy, sxy = xc.T @ xc / (n - 1), yc.T @ yc / (n - 1), xc.T @ yc / (n - 1)
    u, rho, _ = np.linalg.svd(inv_sqrt(sxx) @ sxy @ inv_sqrt(syy))
    m = min(x.shape[1], y.shape[1])
    return rho[:m], inv_sqrt(sxx) @ u[:, :m], xc


def ref_pca(x: np.ndarray, keep: float | None, k: int | None) -> np.ndarray:
    xc = x - x.mean(axis=0)
    lam, v = np.linalg.eigh(xc.T @ xc)
    lam, v = lam[::-1], v[:, ::-1]
    if k is None:
        frac = np.cumsum(lam) / lam.sum()
        k = next(i + 1 for i, f in enumerate(frac) if f >= keep)
    return xc @ v[:, :k]


def ref_pwcca(x: np.ndarray, y: np.ndarray) -> float:
    """Morcos et al. (2018): α_i ∝ Σ_j |⟨h_i, x_j⟩| for unit-norm canonical variates h_i of x."""
    rho, a, xc = ref_cca(x, y)
    h = xc @ a
    h = h / np.linalg.norm(h, axis=0)
    alpha = np.array(
        [sum(abs(h[:, i] @ xc[:, j]) for j in range(x.shape[1])) for i in range(len(rho))]
    )
    return float(np.sum(alpha / alpha.sum() * rho))


def _pair(seed: int, n: int, d1: int, d2: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d1)) @ rng.standard_normal((d1, d1)) + 5.0
    y = x[:, :2] @ rng.standard_normal((2, d2)) + rng.standard_normal((n, d2))
    return x, y


SHAPES = [(50, 4, 6), (200, 8, 3), (30, 5, 5)]


@pytest.mark.parametrize(("n", "d1", "d2"), SHAPES)
def test_canonical_correlations_match_reference(n, d1, d2):
    x, y = _pair(n, n, d1, d2)
    want = ref_cca(x, y)[0]
    np.testing.assert_allclose(canonical_correlations(x, y), want, atol=1e-10)
    assert cca_similarity(x, y) == pytest.approx(want.mean(), abs=1e-10)
    assert cca_r2_similarity(x, y) == pytest.approx(np.mean(want**2), abs=1e-10)


@pytest.mark.parametrize(("n", "d1", "d2"), SHAPES)
@pytest.mark.parametrize(("keep", "k"), [(0.5, None), (0.9, None), (0.99, None), (None, 2)])
def test_svcca_matches_reference(n, d1, d2, keep, k):
    x, y = _pair(n + 1, n, d1, d2)
    want = ref_cca(ref_pca(x, keep, k), ref_pca(y, keep, k))[0].mean()
    got = svcca_similarity(x, y, keep=keep, n_components=k)
    assert got == pytest.approx(want, abs=1e-10)


@pytest.mark.parametrize(("n", "d1", "d2"), SHAPES)
def test_pwcca_matches_reference(n, d1, d2):
    x, y = _pair(n + 2, n, d1, d2)
    assert pwcca_similarity(x, y) == pytest.approx(ref_pwcca(x, y), abs=1e-10)


def test_pwcca_weights_come_from_x():
    x, y = _pair(0, 100, 3, 6)
    assert pwcca_similarity(x, y) != pytest.approx(pwcca_similarity(y, x), abs=1e-3)


@pytest.mark.parametrize("seed", range(3))
def test_cca_is_invariant_to_invertible_maps(seed):
    rng = np.random.default_rng(seed)
    x, y = _pair(seed, 80, 4, 5)
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((5, 5))
    np.testing.assert_allclose(
        canonical_correlations(x @ a + 3, y @ b - 1), canonical_correlations(x, y), atol=1e-9
    )
    assert cca_similarity(y, x) == pytest.approx(cca_similarity(x, y), abs=1e-12)
    assert cca_similarity(x, x @ a) == pytest.approx(1.0, abs=1e-10)


def test_rank_deficient_columns_are_dropped():
    x, y = _pair(4, 60, 3, 4)
    redundant = np.column_stack([x, 2 * x[:, 0] - x[:, 1], np.full(60, 7.0)])  # rank 3 of 5
    np.testing.assert_allclose(canonical_correlations(redundant, y), ref_cca(x, y)[0], atol=1e-10)
    assert svcca_similarity(redundant, y, keep=1.0) == pytest.approx(
        ref_cca(x, y)[0].mean(), abs=1e-10
    )


def test_float32_rounding_noise_is_not_a_direction():
    """Units that are a linear map of 3 inputs, stored in float32: rank 3, not 6."""
    rng = np.random.default_rng(5)
    z = rng.standard_normal((400, 3))
    x32 = (z @ rng.standard_normal((3, 6)) + 1.0).astype(np.float32)
    y = np.column_stack([z[:, 0], rng.standard_normal((400, 3))])
    rho = canonical_correlations(x32, y)
    assert rho.shape == (3,)
    np.testing.assert_allclose(rho, canonical_correlations(z, y), atol=1e-5)
    acc = StreamingMeasure("cca_similarity")
    for s in range(0, 400, 64):
        acc.update(x32[s : s + 64], y[s : s + 64])
    assert acc.compute() == pytest.approx(cca_similarity(x32, y), abs=1e-8)


def test_more_units_than_samples_warns_correlations_are_trivial():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((10, 8)), rng.standard_normal((10, 8))
    with pytest.warns(DegenerateInputWarning, match=r"at least 7 canonical correlation\(s\) are 1"):
        rho = canonical_correlations(x, y)
    assert np.sum(np.isclose(rho, 1.0)) >= 7


def test_rank_zero_is_nan_with_reason():
    x, _ = _pair(0, 20, 3, 3)
    with pytest.warns(DegenerateInputWarning, match=r"`y` has rank 0"):
        assert math.isnan(cca_similarity(x, np.ones((20, 2))))
    with pytest.warns(DegenerateInputWarning, match="rank 0"):
        assert math.isnan(pwcca_similarity(np.zeros((20, 2)), x))
    with pytest.warns(DegenerateInputWarning, match="`x` has rank 0"):
        assert math.isnan(svcca_similarity(np.zeros((20, 2)), x))


def test_svcca_errors():
    x, y = _pair(0, 30, 4, 4)
    with pytest.raises(UnitscopeError, match=r"`keep` must be in \(0, 1\], got 1.5"):
        svcca_similarity(x, y, keep=1.5)
    with pytest.raises(UnitscopeError, match="either `keep` or `n_components`, not both"):
        svcca_similarity(x, y, keep=0.9, n_components=2)
    with pytest.raises(UnitscopeError, match=r"between 1 and the rank of `x` \(4\), got 9"):
        svcca_similarity(x, y, n_components=9)
    with pytest.raises(UnitscopeError, match="`n_components` must be an integer, got 2.5"):
        svcca_similarity(x, y, n_components=2.5)
