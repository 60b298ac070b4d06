"""RSA and mutual k-NN overlap against loop references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unitscope._errors import UnitscopeError
from unitscope.measures import DegenerateInputWarning, mutual_knn_similarity, rdm, rsa_similarity


def ref_rdm(x: np.ndarray, metric: str) -> list[float]:
    out = []
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            a, b = x[i], x[j]
            if metric == "correlation":
                a, b = a - a.mean(), b - b.mean()
                out.append(1 - a @ b / math.sqrt((a @ a) * (b @ b)))
            elif metric == "cosine":
                out.append(1 - a @ b / math.sqrt((a @ a) * (b @ b)))
            elif metric == "euclidean":
                out.append(math.sqrt(np.sum((a - b) ** 2)))
            else:
                out.append(float(np.sum((a - b) ** 2)))
    return out


def ref_ranks(v: list[float]) -> np.ndarray:
    """Average ranks (1-based), ties sharing the mean of their positions."""
    v = np.asarray(v)
    return np.array([np.sum(v < t) + (np.sum(v == t) + 1) / 2 for t in v])


def ref_pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / math.sqrt((a @ a) * (b @ b)))


def ref_knn(x: np.ndarray, y: np.ndarray, k: int, metric: str) -> float:
    def neighbours(a, i):
        if metric == "cosine":
            d = [
                -(a[i] @ a[j]) / (np.linalg.norm(a[i]) * np.linalg.norm(a[j]))
                for j in range(len(a))
            ]
        else:
            d = [np.sum((a[i] - a[j]) ** 2) for j in range(len(a))]
        order = sorted((dist, j) for j, dist in enumerate(d) if j != i)
        return {j for _, j in order[:k]}

    return float(np.mean([len(neighbours(x, i) & neighbours(y, i)) / k for i in range(len(x))]))


def _pair(seed: int, n: int = 25, d1: int = 6, d2: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d1))
    return x, np.tanh(x @ rng.standard_normal((d1, d2))) + 0.3 * rng.standard_normal((n, d2))


@pytest.mark.parametrize("metric", ["correlation", "cosine", "euclidean", "sqeuclidean"])
def test_rdm_matches_loops(metric):
    x, _ = _pair(0, 12)
    np.testing.assert_allclose(rdm(x, metric=metric), ref_rdm(x, metric), atol=1e-12)


@pytest.mark.parametrize("metric", ["correlation", "euclidean"])
@pytest.mark.parametrize("compare", ["spearman", "pearson"])
@pytest.mark.parametrize(("n", "d1", "d2"), [(25, 6, 4), (9, 30, 20)])
def test_rsa_matches_reference(metric, compare, n, d1, d2):
    x, y = _pair(1, n, d1, d2)
    dx, dy = np.array(ref_rdm(x, metric)), np.array(ref_rdm(y, metric))
    if compare == "spearman":
        dx, dy = ref_ranks(dx), ref_ranks(dy)
    got = rsa_similarity(x, y, rdm_metric=metric, compare=compare)
    assert got == pytest.approx(ref_pearson(dx, dy), abs=1e-12)
    assert rsa_similarity(y, x, rdm_metric=metric, compare=compare) == pytest.approx(got, abs=1e-14)


def test_rsa_spearman_is_invariant_to_monotone_distance_changes():
    x, y = _pair(2)
    base = rsa_similarity(x, y, rdm_metric="euclidean")
    assert rsa_similarity(x, y, rdm_metric="sqeuclidean") == pytest.approx(base, abs=1e-12)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("k", [1, 3, 7])
@pytest.mark.parametrize(("n", "d1", "d2"), [(25, 6, 4), (8, 30, 20)])
def test_mutual_knn_matches_reference(metric, k, n, d1, d2):
    x, y = _pair(3, n, d1, d2)
    got = mutual_knn_similarity(x, y, k=k, metric=metric)
    assert got == pytest.approx(ref_knn(x, y, k, metric), abs=1e-15)
    assert mutual_knn_similarity(y, x, k=k, metric=metric) == pytest.approx(got, abs=1e-15)


def test_mutual_knn_is_one_for_a_rotated_copy():
    x, _ = _pair(4)
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((6, 6)))
    assert mutual_knn_similarity(x, 2 * x @ q, k=5) == 1.0


def test_degenerate_rows_are_nan_with_reason():
    x, y = _pair(5, 10)
    x[3] = 1.0
    with pytest.warns(DegenerateInputWarning, match="1 sample.* of `x` are constant across units"):
        assert math.isnan(rsa_similarity(x, y))
    with pytest.warns(DegenerateInputWarning, match="RDM of `y` is constant"):
        assert math.isnan(rsa_similarity(y[:3], np.eye(3), rdm_metric="euclidean"))
    y[0] = 0.0
    with pytest.warns(DegenerateInputWarning, match=r"1 sample\(s\) of `y` are all-zero"):
        assert math.isnan(mutual_knn_similarity(x, y, k=2))


def test_errors():
    x, y = _pair(6, 10)
    with pytest.raises(UnitscopeError, match=r"`k` must be between 1 and 9, got 10"):
        mutual_knn_similarity(x, y, k=10)
    with pytest.raises(UnitscopeError, match="`k` must be an integer, got 2.0"):
        mutual_knn_similarity(x, y, k=2.0)
    with pytest.raises(UnitscopeError, match="`compare` must be one of 'spearman', 'pearson'"):
        rsa_similarity(x, y, compare="kendall")
    with pytest.raises(UnitscopeError, match="`rdm_metric` must be one of"):
        rsa_similarity(x, y, rdm_metric="manhattan")
    with pytest.raises(UnitscopeError, match=r"at least 3 samples \(rows\) for RSA, got 2"):
        rsa_similarity(x[:2], y[:2])
