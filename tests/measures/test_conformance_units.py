"""The conformance suite, part two: unit-level measures and streaming accumulators.

Every public unit-level measure against a plain float64 reference written here (loops over
units and pairs), with the invariances it promises; the batched summary against the single
functions; every streaming accumulator against its one-shot version over random splits.
(Part one, test_conformance.py, covers the registered layer measures.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import unitscope.measures as ms
from unitscope._errors import UnitscopeError
from unitscope.measures import (
    MEASURES,
    MinibatchCKA,
    StreamingMeasure,
    StreamingUnitCorrelation,
    compute,
    debiased_linear_cka,
    unit_summary,
)

# ---- plain float64 references ---------------------------------------------------------------


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / math.sqrt((a @ a) * (b @ b)))


def ref_unit_correlation(x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    y = x if y is None else y
    return np.array(
        [[_pearson(x[:, i], y[:, j]) for j in range(y.shape[1])] for i in range(x.shape[1])]
    )


def ref_weight_cosine(w: np.ndarray) -> np.ndarray:
    u = len(w)
    return np.array(
        [
            [float(w[i] @ w[j]) / math.sqrt((w[i] @ w[i]) * (w[j] @ w[j])) for j in range(u)]
            for i in range(u)
        ]
    )


def ref_symmetry_spread(w: np.ndarray) -> tuple[float, float]:
    mean = sum(w[j] for j in range(len(w))) / len(w)
    dist = [math.sqrt(float(np.sum((w[j] - mean) ** 2))) for j in range(len(w))]
    return max(dist), sum(dist) / len(dist)


def _singular_values(a: np.ndarray) -> np.ndarray:
    """From the eigenvalues of aᵀa (full column rank here), another route than an SVD."""
    return np.sqrt(np.linalg.eigvalsh(a.T @ a))


def ref_effective_rank(x: np.ndarray, center: bool = True) -> float:
    s = _singular_values(x - x.mean(0) if center else x)
    p = s / s.sum()
    return math.exp(-sum(q * math.log(q) for q in p if q > 0))


def ref_participation_ratio(x: np.ndarray) -> float:
    lam = np.linalg.eigvalsh(np.cov(x.T))
    return float(lam.sum() ** 2 / (lam**2).sum())


def ref_unit_groups(x: np.ndarray, threshold: float = 0.99) -> list[int]:
    """Union-find over the pairs with |corr| >= threshold; groups numbered by first unit."""
    u = x.shape[1]
    parent = list(range(u))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(u):
        for j in range(i + 1, u):
            if abs(_pearson(x[:, i], x[:, j])) >= threshold:
                parent[root(j)] = root(i)
    first: dict[int, int] = {}
    return [first.setdefault(root(i), len(first)) for i in range(u)]


def ref_dead_units(x: np.ndarray, threshold: float = 0.0) -> list[bool]:
    return [all(v <= threshold for v in x[:, j]) for j in range(x.shape[1])]


def ref_saturated_units(
    x: np.ndarray, low=-1.0, high=1.0, margin=0.01, fraction=0.99
) -> list[bool]:
    n = len(x)
    return [
        sum(1 for v in x[:, j] if v <= low + margin or v >= high - margin) / n >= fraction
        for j in range(x.shape[1])
    ]


def ref_init_alignment(t: np.ndarray, z: np.ndarray) -> list[float]:
    return [_pearson(t[:, j], z[:, j]) for j in range(t.shape[1])]


def ref_relative_change(t: np.ndarray, z: np.ndarray) -> tuple[list[float], float]:
    per_unit = [math.sqrt(np.sum((t[j] - z[j]) ** 2) / np.sum(z[j] ** 2)) for j in range(len(z))]
    return per_unit, math.sqrt(np.sum((t - z) ** 2) / np.sum(z**2))


# public names of unitscope.measures that are unit-level measures -> where they are checked
UNIT_LEVEL = {
    "unit_correlation": "here",
    "weight_cosine": "here",
    "symmetry_spread": "here",
    "effective_rank": "here",
    "participation_ratio": "here",
    "unit_groups": "here",
    "distinct_units": "here",
    "dead_units": "here",
    "saturated_units": "here",
    "init_alignment": "here",
    "relative_change": "here",
    "orientation_clusters": "test_condensation.py (complete-linkage reference)",
    "ablation_importance": "test_ablation.py (hand-set weights: the loss worked out by hand)",
}
# the other public functions: layer measures (part one) and the machinery around measures
NOT_UNIT_LEVEL = {
    "apply_measure", "compute", "get_measure", "list_measures", "over_recording", "unit_summary",
    "canonical_correlations", "rdm", "to_units", "layer_similarity_matrix",
    "model_similarity_matrix",
}  # fmt: skip


def test_every_public_unit_measure_is_checked():
    functions = {
        name
        for name in ms.__all__
        if callable(getattr(ms, name)) and name[0].islower() and name not in MEASURES
    }
    assert functions - NOT_UNIT_LEVEL == set(UNIT_LEVEL)


def _acts(seed: int, n: int = 50, u: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, u)) @ rng.standard_normal((u, u)) + rng.standard_normal(u)


def _weights(seed: int, u: int = 6, fan_in: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((u, fan_in))


@pytest.mark.parametrize("seed", range(3))
def test_unit_measures_match_their_references(seed):
    x, y, w = _acts(seed), _acts(seed + 10, u=3), _weights(seed)
    np.testing.assert_allclose(ms.unit_correlation(x), ref_unit_correlation(x), atol=1e-12)
    np.testing.assert_allclose(ms.unit_correlation(x, y), ref_unit_correlation(x, y), atol=1e-12)
    np.testing.assert_allclose(ms.weight_cosine(w), ref_weight_cosine(w), atol=1e-12)
    spread = ms.symmetry_spread(w)
    assert (spread.max_distance, spread.mean_distance) == pytest.approx(
        ref_symmetry_spread(w), abs=1e-12
    )
    assert ms.effective_rank(x) == pytest.approx(ref_effective_rank(x), abs=1e-9)
    assert ms.effective_rank(w, center=False) == pytest.approx(
        ref_effective_rank(w, center=False), abs=1e-9
    )
    assert ms.participation_ratio(x) == pytest.approx(ref_participation_ratio(x), abs=1e-9)
    z = _acts(seed + 20)
    np.testing.assert_allclose(ms.init_alignment(x, z), ref_init_alignment(x, z), atol=1e-12)
    w0 = _weights(seed + 30)
    change = ms.relative_change(w, w0)
    per_unit, layer = ref_relative_change(w, w0)
    np.testing.assert_allclose(change.per_unit, per_unit, atol=1e-12)
    assert change.layer == pytest.approx(layer, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("threshold", [0.9, 0.99])
def test_groups_dead_and_saturated_units_match_their_references(seed, threshold):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((60, 3))
    noise = 0.1 * rng.standard_normal((60, 3))  # |corr| about 0.995 with its source
    x = np.column_stack([base[:, 0], -2 * base[:, 0] + 1, base[:, 1], base[:, 1] + noise[:, 0],
                         base[:, 2], 3 * base[:, 0] + noise[:, 1]])  # fmt: skip
    x = x[:, rng.permutation(6)]
    assert ms.unit_groups(x, threshold=threshold).tolist() == ref_unit_groups(x, threshold)
    assert ms.distinct_units(x, threshold=threshold) == max(ref_unit_groups(x, threshold)) + 1
    relu = np.maximum(x - 1.5, 0)  # some units never reach 1.5: dead
    assert ms.dead_units(relu).tolist() == ref_dead_units(relu)
    assert ms.dead_units(x, threshold=1.0).tolist() == ref_dead_units(x, 1.0)
    squashed = np.tanh(x * rng.choice([0.5, 50.0], 6))
    assert ms.saturated_units(squashed, fraction=0.9).tolist() == ref_saturated_units(
        squashed, fraction=0.9
    )


# ---- invariances ----------------------------------------------------------------------------


def _rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@pytest.mark.parametrize("seed", range(3))
def test_unit_measures_are_invariant_as_promised(seed):
    rng = np.random.default_rng(seed + 40)
    x, w = _acts(seed), _weights(seed)
    perm = rng.permutation(x.shape[1])
    scale = rng.uniform(0.5, 3.0, x.shape[1]) * rng.choice([-1, 1], x.shape[1])
    shift = 10 * rng.standard_normal(x.shape[1])
    corr = ms.unit_correlation(x)
    # correlation: permutation-equivariant; per-unit affine maps change at most the sign
    np.testing.assert_allclose(ms.unit_correlation(x[:, perm]), corr[perm][:, perm], atol=1e-12)
    signs = np.sign(scale)
    np.testing.assert_allclose(
        ms.unit_correlation(x * scale + shift), corr * np.outer(signs, signs), atol=1e-12
    )
    assert ms.distinct_units(x * scale + shift) == ms.distinct_units(x)
    np.testing.assert_allclose(
        ms.init_alignment(x * np.abs(scale) + shift, x), np.ones(x.shape[1]), atol=1e-12
    )
    # the spectrum of the centred layer: rotation, scaling, translation, permutation of units
    q = _rotation(x.shape[1], rng)
    for fn in (ms.effective_rank, ms.participation_ratio):
        want = fn(x)
        for moved in (x @ q, 4.2 * x, x + shift, x[:, perm]):
            assert fn(moved) == pytest.approx(want, abs=1e-9)
    # weights: units are rows; their cosines ignore each unit's length and a rotation of inputs
    r, lengths = _rotation(w.shape[1], rng), rng.uniform(0.5, 3.0, (len(w), 1))
    np.testing.assert_allclose(ms.weight_cosine(lengths * w @ r), ms.weight_cosine(w), atol=1e-12)
    spread = ms.symmetry_spread(w)
    for moved in (w @ r, w + rng.standard_normal(w.shape[1]), w[rng.permutation(len(w))]):
        assert ms.symmetry_spread(moved).max_distance == pytest.approx(spread.max_distance)
        assert ms.symmetry_spread(moved).mean_distance == pytest.approx(spread.mean_distance)
    assert ms.symmetry_spread(2.5 * w).max_distance == pytest.approx(2.5 * spread.max_distance)


@pytest.mark.parametrize("seed", range(2))
def test_the_batched_summary_equals_the_single_measures(seed):
    rng = np.random.default_rng(seed)
    acts = rng.standard_normal((2, 3, 40, 5)) @ rng.standard_normal((5, 5))  # (T, K, n, U)
    acts[1, 2, :, 0] = np.minimum(acts[1, 2, :, 0], 0.0)  # one dead unit somewhere
    weights = rng.standard_normal((2, 3, 5, 4))  # (T, K, U, fan_in)
    summary = unit_summary(acts, weights)
    for t, k in np.ndindex(2, 3):
        a, w = acts[t, k], weights[t, k]
        assert summary["effective_rank"][t, k] == pytest.approx(ms.effective_rank(a), abs=1e-12)
        assert summary["participation_ratio"][t, k] == pytest.approx(
            ms.participation_ratio(a), abs=1e-12
        )
        assert summary["distinct_units"][t, k] == ms.distinct_units(a)
        assert summary["dead_units"][t, k] == ms.dead_units(a).sum()
        spread = ms.symmetry_spread(w)
        assert summary["spread_max"][t, k] == pytest.approx(spread.max_distance, abs=1e-12)
        assert summary["spread_mean"][t, k] == pytest.approx(spread.mean_distance, abs=1e-12)
    assert summary["dead_units"].sum() == 1


# ---- streaming accumulators against their one-shot versions -----------------------------------

STREAMING = sorted(name for name, m in MEASURES.items() if m.streaming)


def _cuts(n: int, data: st.DataObject) -> list[slice]:
    points = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=6)))
    edges = [0, *points, n]
    return [slice(a, b) for a, b in zip(edges, edges[1:])]


def test_the_streaming_flag_is_honest():
    assert {"linear_cka", "cca_similarity", "procrustes_distance"} <= set(STREAMING)
    x = np.random.default_rng(0).standard_normal((20, 3))
    for name in sorted(set(MEASURES) - set(STREAMING)):
        with pytest.raises(UnitscopeError, match=f"unknown streaming measure '{name}'"):
            StreamingMeasure(name).update(x, x)


@pytest.mark.parametrize("name", STREAMING)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), alpha=st.sampled_from([1.0, 0.5, 0.0]), data=st.data())
def test_streaming_equals_the_one_shot_measure(name, seed, alpha, data):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((80, 5)) + 3.0
    y = np.tanh(x @ rng.standard_normal((5, 3))) + 0.3 * rng.standard_normal((80, 3))
    options = {"alpha": alpha} if "alpha" in MEASURES[name].options else {}
    acc = StreamingMeasure(name, **options)
    for rows in _cuts(len(x), data):
        acc.update(x[rows], y[rows])
    assert acc.n_samples == len(x)
    assert acc.compute() == pytest.approx(compute(name, x, y, **options), abs=1e-10)
    acc.reset()
    acc.update(y[:40], x[:40, :3])
    assert acc.compute() == pytest.approx(compute(name, y[:40], x[:40, :3], **options), abs=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_streaming_unit_correlation_equals_the_one_shot(seed, data):
    x = _acts(seed % 1000, n=60)
    acc = StreamingUnitCorrelation()
    for rows in _cuts(len(x), data):
        acc.update(x[rows])
    np.testing.assert_allclose(acc.compute(), ms.unit_correlation(x), atol=1e-12)


def _hsic_u(k: np.ndarray, l: np.ndarray) -> float:
    """Unbiased HSIC (Song et al. 2012) written out term by term."""
    n = len(k)
    kt, lt = k - np.diag(np.diag(k)), l - np.diag(np.diag(l))
    one = np.ones(n)
    total = (
        np.trace(kt @ lt)
        + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
        - 2 / (n - 2) * (one @ kt @ lt @ one)
    )
    return float(total / (n * (n - 3)))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.integers(4, 20), min_size=1, max_size=5))
def test_minibatch_cka_pools_the_unbiased_estimates_of_its_batches(seed, sizes):
    """Σ_b HSIC_u(K_b, L_b) / sqrt(Σ_b HSIC_u(K_b, K_b) · Σ_b HSIC_u(L_b, L_b))."""
    rng = np.random.default_rng(seed)
    acc, sums = MinibatchCKA(), np.zeros(3)
    for m in sizes:
        x, y = rng.standard_normal((m, 5)), rng.standard_normal((m, 3))
        y[:, 0] += x[:, 0]
        acc.update(x, y)
        k, l = x @ x.T, y @ y.T
        sums += [_hsic_u(k, l), _hsic_u(k, k), _hsic_u(l, l)]
    assume(sums[1] > 0 and sums[2] > 0)  # else undefined (NaN, warned): test_streaming.py
    assert acc.compute() == pytest.approx(sums[0] / math.sqrt(sums[1] * sums[2]), abs=1e-10)
    if len(sizes) == 1:
        assert acc.compute() == pytest.approx(debiased_linear_cka(x, y), abs=1e-12)
