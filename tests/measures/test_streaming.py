"""Streaming accumulators: many batches = one shot (≤ 1e-10); Nguyen minibatch CKA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.measures import (
    MinibatchCKA,
    StreamingMeasure,
    StreamingUnitCorrelation,
    cca_r2_similarity,
    cca_similarity,
    compute,
    debiased_linear_cka,
    linear_cka,
    procrustes_distance,
    procrustes_similarity,
    unit_correlation,
)
from unitscope.measures._cka import hsic_unbiased

ONE_SHOT = {
    "linear_cka": linear_cka,
    "cca_similarity": cca_similarity,
    "cca_r2_similarity": cca_r2_similarity,
    "procrustes_similarity": procrustes_similarity,
    "procrustes_distance": procrustes_distance,
}


def _data(seed: int, n: int = 1000, d1: int = 12, d2: int = 7, offset: float = 3.0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d1)) @ rng.standard_normal((d1, d1)) + offset
    y = np.tanh(x[:, :d2]) + 0.5 * rng.standard_normal((n, d2)) - offset
    return x, y


def _batches(n: int, seed: int) -> list[slice]:
    """Uneven batches, including batches of one row."""
    cuts = np.sort(np.random.default_rng(seed).choice(np.arange(1, n), size=37, replace=False))
    edges = sorted({0, 1, 2, *cuts.tolist(), n})
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


@pytest.mark.parametrize("name", sorted(ONE_SHOT))
@pytest.mark.parametrize("seed", range(2))
def test_many_batches_equal_one_shot(name, seed):
    x, y = _data(seed)
    acc = StreamingMeasure(name)
    for s in _batches(len(x), seed):
        acc.update(x[s], y[s])
    assert acc.n_samples == len(x) and len(_batches(len(x), seed)) > 30
    assert acc.compute() == pytest.approx(ONE_SHOT[name](x, y), abs=1e-10)


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_streaming_procrustes_with_whitening(alpha):
    x, y = _data(3, d1=6, d2=6)
    acc = StreamingMeasure("procrustes_similarity", alpha=alpha)
    for s in _batches(len(x), 3):
        acc.update(torch.from_numpy(x[s]).float(), y[s])  # torch float32 batches are accepted
    want = procrustes_similarity(x.astype(np.float32), y, alpha=alpha)
    assert acc.compute() == pytest.approx(want, abs=1e-10)


def test_streaming_survives_huge_offsets():
    """Raw moments (Σxxᵀ − nμμᵀ) lose every digit here; the pairwise merge does not."""
    x, y = _data(4, n=600, offset=0.0)
    acc = StreamingMeasure("linear_cka")
    for s in _batches(600, 4):
        acc.update(x[s] + 1e9, y[s] - 1e9)
    assert acc.compute() == pytest.approx(linear_cka(x, y), abs=1e-8)


def test_streaming_unit_correlation():
    x, _ = _data(5)
    acc = StreamingUnitCorrelation()
    for s in _batches(len(x), 5):
        acc.update(x[s])
    np.testing.assert_allclose(acc.compute(), unit_correlation(x), atol=1e-10)


def test_reset_forgets():
    x, y = _data(6, n=100)
    acc = StreamingMeasure("linear_cka").update(y[:, :3] * 5, x[:, :2])
    acc.reset()
    assert acc.update(x, y).compute() == pytest.approx(linear_cka(x, y), abs=1e-12)


def test_minibatch_cka_full_batch_equals_debiased():
    x, y = _data(7, n=300)
    assert MinibatchCKA().update(x, y).compute() == pytest.approx(
        debiased_linear_cka(x, y), abs=1e-12
    )


def test_minibatch_cka_pools_batches_equally():
    """Nguyen et al. (2021): sum of per-batch unbiased HSIC, every batch weighted equally."""
    x, y = _data(8, n=250, d1=5, d2=4)
    batches = [slice(0, 100), slice(100, 200), slice(200, 250)]
    acc = MinibatchCKA()
    sums = np.zeros(3)
    for s in batches:
        acc.update(x[s], y[s])
        xc, yc = x[s] - x[s].mean(0), y[s] - y[s].mean(0)
        k, l = xc @ xc.T, yc @ yc.T
        sums += [hsic_unbiased(k, l), hsic_unbiased(k, k), hsic_unbiased(l, l)]
    assert acc.n_batches == 3 and acc.n_samples == 250
    assert acc.compute() == pytest.approx(sums[0] / np.sqrt(sums[1] * sums[2]), abs=1e-12)
    assert acc.compute() != pytest.approx(debiased_linear_cka(x, y), abs=1e-6)


def test_streaming_errors():
    x, y = _data(9, n=20)
    with pytest.raises(
        UnitscopeError, match="unknown streaming measure 'linear_ckaa'. Did you mean 'linear_cka'"
    ):
        StreamingMeasure("linear_ckaa")
    with pytest.raises(UnitscopeError, match="unknown streaming measure 'rbf_cka'"):
        StreamingMeasure("rbf_cka")
    with pytest.raises(UnitscopeError, match="option 'alpha' does not apply to 'linear_cka'"):
        StreamingMeasure("linear_cka", alpha=0.5)
    with pytest.raises(UnitscopeError, match=r"`alpha` must be in \[0, 1\], got 2"):
        StreamingMeasure("procrustes_distance", alpha=2)
    acc = StreamingMeasure("linear_cka").update(x[:1], y[:1])
    with pytest.raises(UnitscopeError, match="needs at least 2 samples, got 1"):
        acc.compute()
    with pytest.raises(UnitscopeError, match=r"a batch has units \[3\] / \[7\], but earlier"):
        acc.update(x[:, :3], y)
    with pytest.raises(UnitscopeError, match="same number of rows"):
        acc.update(x[:5], y[:4])
    nan = x.copy()
    nan[2, 1] = np.nan
    with pytest.raises(UnitscopeError, match=r"`x` contains 1 NaN or infinite value\(s\)"):
        StreamingMeasure().update(nan, y)
    with pytest.raises(UnitscopeError, match="before any update"):
        MinibatchCKA().compute()
    with pytest.raises(UnitscopeError, match=r"at least 4 samples \(rows\) per minibatch, got 3"):
        MinibatchCKA().update(x[:3], y[:3])
    with pytest.raises(UnitscopeError, match="needs at least 2 samples, got 0"):
        StreamingUnitCorrelation().compute()
    assert compute("linear_cka", x, y) == linear_cka(x, y)
