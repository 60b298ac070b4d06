"""CKA: linear, debiased, RBF against plain float64 references written from the papers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from unitscope._errors import UnitscopeError
from unitscope.measures import DegenerateInputWarning, debiased_linear_cka, linear_cka, rbf_cka

SHAPES = [(30, 5, 7), (12, 40, 25), (100, 3, 3), (9, 4, 6), (6, 50, 2)]


# -- references: slow and obvious ------------------------------------------------------------


def ref_hsic_biased(k: np.ndarray, l: np.ndarray) -> float:
    """Gretton et al. (2005): tr(K H L H) / (n − 1)² with the explicit centring matrix H."""
    n = k.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    return float(np.trace(k @ h @ l @ h)) / (n - 1) ** 2


def ref_cka(k: np.ndarray, l: np.ndarray) -> float:
    """Kornblith et al. (2019), eq. (3)."""
    return ref_hsic_biased(k, l) / math.sqrt(ref_hsic_biased(k, k) * ref_hsic_biased(l, l))


def ref_hsic_unbiased(k: np.ndarray, l: np.ndarray) -> float:
    """Song et al. (2012): the U-statistic, summed over distinct index tuples by brute force.

    HSIC = E[k_ij l_ij] + E[k_ij] E[l_qr] − 2 E[k_ij l_iq], every expectation over distinct
    indices (so no diagonal enters).
    """
    n = k.shape[0]
    t1 = sum(k[i, j] * l[i, j] for i, j in itertools.permutations(range(n), 2))
    t3 = sum(k[i, j] * l[i, q] for i, j, q in itertools.permutations(range(n), 3))
    t2 = sum(k[i, j] * l[q, r] for i, j, q, r in itertools.permutations(range(n), 4))
    return t1 / math.perm(n, 2) + t2 / math.perm(n, 4) - 2 * t3 / math.perm(n, 3)


def ref_debiased_cka(x: np.ndarray, y: np.ndarray) -> float:
    k, l = x @ x.T, y @ y.T  # raw (uncentred) linear kernels: the U-statistic needs no centring
    return ref_hsic_unbiased(k, l) / math.sqrt(ref_hsic_unbiased(k, k) * ref_hsic_unbiased(l, l))


def ref_rbf_gram(x: np.ndarray, factor: float) -> np.ndarray:
    n = x.shape[0]
    d2 = np.array([[np.sum((x[i] - x[j]) ** 2) for j in range(n)] for i in range(n)])
    pairs = [d2[i, j] for i in range(n) for j in range(i + 1, n)]
    sigma = factor * math.sqrt(float(np.median(pairs)))
    return np.exp(-d2 / (2 * sigma**2))


def _pair(seed: int, n: int, d1: int, d2: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d1)) + rng.standard_normal(d1)
    y = x[:, :1] @ rng.standard_normal((1, d2)) + rng.standard_normal((n, d2))
    return x, y


# -- against the references ------------------------------------------------------------------


@pytest.mark.parametrize(("n", "d1", "d2"), SHAPES)
@pytest.mark.parametrize("method", ["auto", "feature", "gram"])
def test_linear_cka_matches_reference(n, d1, d2, method):
    x, y = _pair(n + d1, n, d1, d2)
    assert linear_cka(x, y, method=method) == pytest.approx(ref_cka(x @ x.T, y @ y.T), abs=1e-12)


@pytest.mark.parametrize(("n", "d1", "d2"), [(7, 3, 4), (9, 12, 2), (10, 4, 4)])
@pytest.mark.parametrize("method", ["feature", "gram"])
def test_debiased_cka_matches_u_statistic(n, d1, d2, method):
    x, y = _pair(n, n, d1, d2)
    got = debiased_linear_cka(x, y, method=method)
    assert got == pytest.approx(ref_debiased_cka(x, y), abs=1e-10)


@pytest.mark.parametrize(("n", "d1", "d2"), [(25, 3, 6), (12, 30, 4)])
@pytest.mark.parametrize("factor", [0.5, 1.0, 2.0])
def test_rbf_cka_matches_reference(n, d1, d2, factor):
    x, y = _pair(d2, n, d1, d2)
    want = ref_cka(ref_rbf_gram(x, factor), ref_rbf_gram(y, factor))
    assert rbf_cka(x, y, sigma_factor=factor) == pytest.approx(want, abs=1e-12)


def test_rbf_absolute_sigma_and_debiased():
    x, y = _pair(3, 12, 3, 2)
    kx, ky = (np.exp(-np.sum((a[:, None] - a[None]) ** 2, -1) / (2 * 1.5**2)) for a in (x, y))
    assert rbf_cka(x, y, sigma=1.5) == pytest.approx(ref_cka(kx, ky), abs=1e-12)
    unb = ref_hsic_unbiased(kx, ky) / math.sqrt(
        ref_hsic_unbiased(kx, kx) * ref_hsic_unbiased(ky, ky)
    )
    assert rbf_cka(x, y, sigma=(1.5, 1.5), debiased=True) == pytest.approx(unb, abs=1e-10)


def test_gram_form_equals_feature_form():
    for seed, (n, d1, d2) in enumerate(SHAPES):
        x, y = _pair(seed, n, d1, d2)
        assert linear_cka(x, y, method="gram") == pytest.approx(
            linear_cka(x, y, method="feature"), abs=1e-13
        )
        if n >= 4:
            assert debiased_linear_cka(x, y, method="gram") == pytest.approx(
                debiased_linear_cka(x, y, method="feature"), abs=1e-12
            )


# -- properties ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fn", [linear_cka, debiased_linear_cka])
def test_invariant_to_rotation_scale_translation(seed, fn):
    rng = np.random.default_rng(seed)
    x, y = _pair(seed, 60, 6, 4)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    base = fn(x, y)
    assert fn(x, 7.5 * y @ q + rng.standard_normal(4) * 100) == pytest.approx(base, abs=1e-10)
    assert fn(x, x) == pytest.approx(1.0, abs=1e-12)
    assert fn(y, x) == pytest.approx(base, abs=1e-13)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(3, 40),
    d=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-3, 1e3),
    shift=st.floats(-1e3, 1e3),
)
def test_linear_cka_is_one_for_any_similarity_transform(n, d, seed, scale, shift):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    for method in ("feature", "gram"):
        assert linear_cka(x, scale * x @ q + shift, method=method) == pytest.approx(1.0, abs=1e-9)


def test_general_linear_map_changes_cka():
    x, y = _pair(0, 200, 5, 5)
    a = np.diag([10.0, 1.0, 1.0, 0.1, 1.0]) @ np.random.default_rng(1).standard_normal((5, 5))
    assert abs(linear_cka(x, y @ a) - linear_cka(x, y)) > 0.01
    assert linear_cka(x, x @ a) < 0.99


def test_rbf_cka_is_invariant_to_rotation_and_translation():
    x, y = _pair(5, 40, 4, 4)
    q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((4, 4)))
    assert rbf_cka(x, y @ q + 3.0) == pytest.approx(rbf_cka(x, y), abs=1e-12)


def test_large_offsets_do_not_cancel():
    """Naive raw-moment formulas lose every digit when the mean dwarfs the spread."""
    x, y = _pair(3, 500, 8, 6)
    shifted = linear_cka(x + 1e8, y - 1e8, method="feature")
    assert shifted == pytest.approx(linear_cka(x, y), abs=1e-9)


def test_debiased_cka_is_not_clamped():
    """Independent small samples: the unbiased estimate must be free to go below 0."""
    rng = np.random.default_rng(0)
    values = [
        debiased_linear_cka(rng.standard_normal((8, 2)), rng.standard_normal((8, 2)))
        for _ in range(30)
    ]
    assert min(values) < 0.0


def test_float32_and_torch_inputs_compute_in_float64():
    x, y = _pair(4, 50, 6, 3)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    want = linear_cka(x32.astype(np.float64), y32.astype(np.float64))
    assert linear_cka(x32, y32) == pytest.approx(want, abs=1e-13)  # cast while centring
    assert linear_cka(torch.from_numpy(x32), torch.from_numpy(y32)) == linear_cka(x32, y32)
    assert isinstance(linear_cka(x, y), float)


# -- degenerate input and errors -------------------------------------------------------------


def test_constant_input_is_nan_with_reason():
    x, _ = _pair(0, 20, 3, 3)
    with pytest.warns(DegenerateInputWarning, match="`y` is constant over samples"):
        assert math.isnan(linear_cka(x, np.ones((20, 4)), method="feature"))
    with pytest.warns(DegenerateInputWarning, match="kernel matrix of `x` is zero"):
        assert math.isnan(linear_cka(np.zeros((20, 30)), x, method="gram"))
    with pytest.warns(DegenerateInputWarning, match="unbiased HSIC of `x` with itself"):
        assert math.isnan(debiased_linear_cka(np.full((10, 2), 3.0), x[:10]))


def test_rbf_bandwidth_zero_is_nan_with_reason():
    x = np.zeros((10, 2))
    x[:2] = [[1.0, 0.0], [0.0, 1.0]]  # most pairs coincide: median squared distance 0
    with pytest.warns(DegenerateInputWarning, match="pass an absolute `sigma`"):
        assert math.isnan(rbf_cka(x, np.random.default_rng(0).standard_normal((10, 2))))


def test_errors():
    x, y = _pair(0, 10, 3, 3)
    with pytest.raises(UnitscopeError, match=r"at least 4 samples \(rows\) for the unbiased"):
        debiased_linear_cka(x[:3], y[:3])
    with pytest.raises(UnitscopeError, match="`method` must be one of 'auto', 'feature', 'gram'"):
        linear_cka(x, y, method="fast")
    with pytest.raises(UnitscopeError, match=r"`sigma_factor` must be > 0, got -1"):
        rbf_cka(x, y, sigma_factor=-1)
    with pytest.raises(UnitscopeError, match=r"`sigma` must be > 0, got 0"):
        rbf_cka(x, y, sigma=0)
    with pytest.raises(UnitscopeError, match="one number or a pair"):
        rbf_cka(x, y, sigma=(1.0, 2.0, 3.0))
