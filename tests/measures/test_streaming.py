"""Streaming accumulators: many batches = one shot (≤ 1e-10); Nguyen minibatch CKA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.measures import (
    DegenerateInputWarning,
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


# -- extreme scales: the moments keep one power-of-two scale per side across batches --------


@pytest.mark.parametrize("name", sorted(ONE_SHOT))
@pytest.mark.parametrize(("sx", "sy"), [(1e200, 1e200), (1e-300, 1e-300), (1e200, 1e-100)])
def test_streaming_at_extreme_scales_equals_one_shot_at_scale_one(name, sx, sy):
    x, y = _data(10, n=300)
    acc = StreamingMeasure(name)
    for s in _batches(300, 10):
        acc.update(x[s] * sx, y[s] * sy)
    assert acc.compute() == pytest.approx(ONE_SHOT[name](x, y), rel=1e-9)


@pytest.mark.parametrize("name", sorted(ONE_SHOT))
def test_streaming_rescales_stored_moments_when_a_batch_is_far_larger(name):
    """The first batches set the scale at 1e-150; a later one at 1e-100 shrinks the stored sums
    by an exact power of two. Same data in one shot: the same value."""
    x, y = _data(11, n=300)
    x, y = x * 1e-100, y * 1e-100
    x[:150] *= 1e-50
    y[:150] *= 1e-50
    acc = StreamingMeasure(name)
    for s in (slice(0, 100), slice(100, 150), slice(150, 300)):
        acc.update(x[s], y[s])
    assert acc.compute() == pytest.approx(ONE_SHOT[name](x, y), rel=1e-9)


def test_streaming_unit_correlation_at_1e200():
    x, _ = _data(12, n=200)
    acc = StreamingUnitCorrelation().update(x[:80] * 1e200).update(x[80:] * 1e200)
    np.testing.assert_allclose(acc.compute(), unit_correlation(x), atol=1e-10)
    np.testing.assert_allclose(unit_correlation(x * 1e-300), unit_correlation(x), atol=1e-12)
    grows = x * 1e-100
    grows[:80] *= 1e-50  # the second batch moves the scale: the stored moments shrink to follow
    acc = StreamingUnitCorrelation().update(grows[:80]).update(grows[80:])
    np.testing.assert_allclose(acc.compute(), unit_correlation(grows), atol=1e-10)


@pytest.mark.parametrize(("sx", "sy"), [(1e200, 1e200), (1e-300, 1e-300), (1e-100, 1e200)])
def test_minibatch_cka_at_extreme_scales(sx, sy):
    x, y = _data(13, n=250, d1=5, d2=4)
    plain, scaled = MinibatchCKA(), MinibatchCKA()
    for s in (slice(0, 100), slice(100, 200), slice(200, 250)):
        plain.update(x[s], y[s])
        scaled.update(x[s] * sx, y[s] * sy)
    assert scaled.compute() == pytest.approx(plain.compute(), rel=1e-9)


def test_minibatch_cka_with_batches_of_different_scales():
    """Per-batch HSIC terms come in each batch's own units (2^-333 and 2^-329 here); the sums
    convert them exactly to common units."""
    x, y = _data(14, n=200, d1=5, d2=4)
    x[:100] *= 0.1  # a smaller first batch still counts (its terms ~1e-4 of the second's)
    plain = MinibatchCKA().update(x[:100], y[:100]).update(x[100:], y[100:])
    scaled = MinibatchCKA().update(x[:100] * 1e-100, y[:100] * 1e200)
    scaled.update(x[100:] * 1e-100, y[100:] * 1e200)
    assert scaled.compute() == pytest.approx(plain.compute(), rel=1e-9)
    second = MinibatchCKA().update(x[100:], y[100:]).compute()
    assert plain.compute() != pytest.approx(second, rel=1e-6)  # the first batch mattered


@pytest.mark.parametrize("name", sorted(ONE_SHOT))
def test_a_constant_stream_is_nan_with_a_warning(name):
    acc = StreamingMeasure(name)
    y = _data(15, n=60)[1]
    for s in (slice(0, 20), slice(20, 60)):
        acc.update(np.full((s.stop - s.start, 3), 0.1), y[s])
    with pytest.warns(DegenerateInputWarning, match=r"`x`.*\bconstant|rank 0"):
        assert np.isnan(acc.compute())
