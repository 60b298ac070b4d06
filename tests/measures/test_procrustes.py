"""Procrustes score and angular shape distance against an explicit-rotation reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unitscope._errors import UnitscopeError
from unitscope.measures import (
    DegenerateInputWarning,
    cca_similarity,
    procrustes_distance,
    procrustes_similarity,
)

# -- reference: pad, normalize, rotate explicitly, measure the residual ------------------------


def ref_whiten(xc: np.ndarray, alpha: float) -> np.ndarray:
    """Williams et al. (2021): X̃ (αI + (1 − α) C^{-1/2}), C = X̃ᵀX̃ / n (full rank here)."""
    if alpha == 1.0:
        return xc
    lam, v = np.linalg.eigh(xc.T @ xc / xc.shape[0])
    return xc @ (alpha * np.eye(len(lam)) + (1 - alpha) * v @ np.diag(lam**-0.5) @ v.T)


def ref_score(x: np.ndarray, y: np.ndarray, alpha: float = 1.0) -> float:
    """1 − ½ min_Q ‖X̂ − ŶQ‖²_F over orthogonal Q, with zero-padding to a common width."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    xs, ys = ref_whiten(h @ x, alpha), ref_whiten(h @ y, alpha)
    width = max(xs.shape[1], ys.shape[1])
    xs = np.pad(xs, ((0, 0), (0, width - xs.shape[1])))
    ys = np.pad(ys, ((0, 0), (0, width - ys.shape[1])))
    xs, ys = xs / np.linalg.norm(xs), ys / np.linalg.norm(ys)
    u, _, vt = np.linalg.svd(ys.T @ xs)
    q = u @ vt  # the best rotation of ys onto xs
    residual = np.sum((xs - ys @ q) ** 2)
    return 1.0 - residual / 2.0


def _pair(seed: int, n: int, d1: int, d2: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d1)) * np.linspace(0.2, 3.0, d1) + 2.0
    y = x[:, :1] @ rng.standard_normal((1, d2)) + rng.standard_normal((n, d2))
    return x, y


@pytest.mark.parametrize(("n", "d1", "d2"), [(40, 3, 5), (100, 6, 6), (15, 4, 2)])
@pytest.mark.parametrize("alpha", [1.0, 0.7, 0.3, 0.0])
def test_score_matches_explicit_rotation(n, d1, d2, alpha):
    x, y = _pair(n + d1, n, d1, d2)
    want = ref_score(x, y, alpha)
    assert procrustes_similarity(x, y, alpha=alpha) == pytest.approx(want, abs=1e-10)
    assert procrustes_distance(x, y, alpha=alpha) == pytest.approx(math.acos(want), abs=1e-8)


def test_fewer_samples_than_units_uses_qr_route():
    x, y = _pair(0, 8, 30, 20)
    assert procrustes_similarity(x, y) == pytest.approx(ref_score(x, y), abs=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_distance_is_zero_under_rotation_scaling_translation(seed):
    rng = np.random.default_rng(seed)
    x, _ = _pair(seed, 50, 5, 5)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    assert procrustes_distance(x, 3.0 * x @ q - 4.0) < 1e-7
    assert procrustes_distance(x, x @ rng.standard_normal((5, 5))) > 0.05  # not any linear map


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.0])
def test_angular_distance_is_a_metric(seed, alpha):
    rng = np.random.default_rng(seed)
    a, b, c = (rng.standard_normal((30, 4)) @ rng.standard_normal((4, 4)) for _ in range(3))
    dab = procrustes_distance(a, b, alpha=alpha)
    assert dab == pytest.approx(procrustes_distance(b, a, alpha=alpha), abs=1e-12)
    assert dab <= procrustes_distance(a, c, alpha=alpha) + procrustes_distance(c, b, alpha=alpha)
    assert 0.0 < dab <= math.pi / 2


def test_full_whitening_is_mean_cca_for_equal_ranks():
    x, y = _pair(3, 80, 4, 4)
    assert procrustes_similarity(x, y, alpha=0.0) == pytest.approx(cca_similarity(x, y), abs=1e-10)


def test_constant_input_is_nan_with_reason():
    x, _ = _pair(0, 20, 3, 3)
    for alpha in (1.0, 0.5):
        with pytest.warns(DegenerateInputWarning, match="`y` is constant"):
            assert math.isnan(procrustes_distance(x, np.ones((20, 2)), alpha=alpha))


def test_alpha_must_be_in_unit_interval():
    x, y = _pair(0, 20, 3, 3)
    with pytest.raises(UnitscopeError, match=r"`alpha` must be in \[0, 1\], got 1.5"):
        procrustes_similarity(x, y, alpha=1.5)
    with pytest.raises(UnitscopeError, match=r"`alpha` must be in \[0, 1\], got nan"):
        procrustes_distance(x, y, alpha=float("nan"))
