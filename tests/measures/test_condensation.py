"""Lazy or rich: orientation clusters, relative change and init alignment against plain
float64 references, with the invariances ReLU's positive homogeneity promises."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unitscope._errors import UnitscopeError
from unitscope.measures import (
    DegenerateInputWarning,
    init_alignment,
    orientation_clusters,
    relative_change,
)


def ref_clusters(w, a, cos, floor):
    """Plain reference: keep units over the floor, then greedily merge clusters while every
    cross pair has cosine >= cos (complete linkage, smallest max-distance first)."""
    w = np.asarray(w, float)
    a = np.atleast_2d(np.asarray(a, float))
    weight = [math.sqrt(sum(a[o, u] ** 2 for o in range(a.shape[0]))) * math.sqrt(
        sum(v * v for v in w[u])) for u in range(len(w))]  # fmt: skip
    keep = [u for u in range(len(w)) if weight[u] > floor * max(weight)]

    def cosine(i, j):
        return float(np.dot(w[i], w[j]) / math.sqrt(np.dot(w[i], w[i]) * np.dot(w[j], w[j])))

    clusters = [[u] for u in keep]
    while True:
        best = None
        for i in range(len(clusters)):
            for j in range(i + 1, len(clusters)):
                d = max(1 - cosine(p, q) for p in clusters[i] for q in clusters[j])
                if d <= 1 - cos and (best is None or d < best[0]):
                    best = (d, i, j)
        if best is None:
            return len(clusters)
        _, i, j = best
        clusters[i] += clusters.pop(j)


def planted(rng, n_dirs=3, per=5, dim=4, noise=1e-4):
    dirs = rng.normal(size=(n_dirs, dim))
    w = np.repeat(dirs, per, axis=0) * rng.uniform(0.5, 2, (n_dirs * per, 1))
    return w + noise * rng.normal(size=w.shape), rng.normal(size=(2, n_dirs * per))


@pytest.mark.parametrize("seed", range(5))
def test_planted_directions_are_counted(seed):
    w, a = planted(np.random.default_rng(seed))
    assert orientation_clusters(w, a).count == 3


@pytest.mark.parametrize("seed", range(5))
def test_matches_the_plain_reference_on_random_layers(seed):
    rng = np.random.default_rng(seed)
    w, a = rng.normal(size=(12, 3)), rng.normal(size=(2, 12))
    for cos in (0.5, 0.9, 0.99):
        assert orientation_clusters(w, a, cos=cos, weight_floor=0.1).count == ref_clusters(
            w, a, cos, 0.1
        )


@pytest.mark.parametrize("seed", range(4))
def test_unchanged_by_permuting_units(seed):
    rng = np.random.default_rng(seed)
    w, a = planted(rng, noise=0.05)
    p = rng.permutation(len(w))
    x, y = orientation_clusters(w, a, cos=0.95), orientation_clusters(w[p], a[:, p], cos=0.95)
    assert x.count == y.count
    np.testing.assert_allclose(y.weight, x.weight[p], rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_unchanged_by_positive_rescaling_of_a_unit(seed):
    rng = np.random.default_rng(seed)
    w, a = planted(rng, noise=0.05)
    b = rng.normal(size=len(w))
    c = rng.uniform(0.01, 100, len(w))
    x = orientation_clusters(w, a, bias=b, cos=0.95)
    y = orientation_clusters(w * c[:, None], a / c[None, :], bias=b * c, cos=0.95)
    assert x.count == y.count and (x.labels == y.labels).all()
    np.testing.assert_allclose(x.weight, y.weight, rtol=1e-12)


def test_opposite_directions_are_distinct_and_the_floor_ignores_small_units():
    w = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    assert orientation_clusters(w, np.ones(3)).count == 3
    res = orientation_clusters(w, [1.0, 1.0, 1e-4], weight_floor=0.01)
    assert res.count == 2 and res.labels[2] == -1


def test_the_bias_is_part_of_the_direction():
    w = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert orientation_clusters(w, np.ones(2)).count == 1
    assert orientation_clusters(w, np.ones(2), bias=[0.0, 5.0]).count == 2


def test_all_zero_weights_give_zero_clusters():
    assert orientation_clusters(np.zeros((4, 3)), np.ones(4)).count == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"w": np.ones(3), "a": np.ones(3)}, r"`w` must be \(n_units, fan_in\)"),
        ({"w": np.ones((3, 2)), "a": np.ones(4)}, r"`a` must have one column per unit \(3\)"),
        ({"w": np.ones((3, 2)), "a": np.ones(3), "cos": 1.5}, r"`cos` must be in \(0, 1\]"),
        ({"w": np.ones((3, 2)), "a": np.ones(3), "weight_floor": 1.0}, r"`weight_floor`"),
        ({"w": np.ones((3, 2)), "a": np.ones(3), "bias": np.ones(2)}, r"one value per unit"),
        ({"w": np.full((3, 2), np.nan), "a": np.ones(3)}, r"NaN or infinite"),
    ],
)
def test_orientation_clusters_errors(kwargs, match):
    with pytest.raises(UnitscopeError, match=match):
        orientation_clusters(**kwargs)


def test_relative_change_matches_the_formula():
    rng = np.random.default_rng(0)
    w0, wt = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    res = relative_change(wt, w0)
    for u in range(6):
        ref = math.sqrt(sum((wt[u, i] - w0[u, i]) ** 2 for i in range(4))) / math.sqrt(
            sum(w0[u, i] ** 2 for i in range(4))
        )
        assert res.per_unit[u] == pytest.approx(ref, rel=1e-12)
    assert res.layer == pytest.approx(np.linalg.norm(wt - w0) / np.linalg.norm(w0), rel=1e-12)


def test_relative_change_is_scale_free_and_survives_huge_weights():
    rng = np.random.default_rng(1)
    w0, wt = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    a, b = relative_change(wt, w0), relative_change(wt * 1e300, w0 * 1e300)
    np.testing.assert_allclose(b.per_unit, a.per_unit, rtol=1e-12)
    assert b.layer == pytest.approx(a.layer, rel=1e-12)


def test_relative_change_of_a_zero_start_is_nan_and_shapes_must_match():
    res = relative_change(np.ones((2, 2)), np.array([[0.0, 0.0], [1.0, 1.0]]))
    assert math.isnan(res.per_unit[0]) and res.per_unit[1] == 0.0
    with pytest.raises(UnitscopeError, match=r"same shape, got \(2, 2\) and \(3, 2\)"):
        relative_change(np.ones((2, 2)), np.ones((3, 2)))


def test_init_alignment_matches_pearson_per_unit():
    rng = np.random.default_rng(2)
    x0 = rng.normal(size=(40, 5))
    xt = 0.7 * x0 + rng.normal(size=(40, 5))
    ref = [np.corrcoef(xt[:, u], x0[:, u])[0, 1] for u in range(5)]
    np.testing.assert_allclose(init_alignment(xt, x0), ref, rtol=1e-12)
    np.testing.assert_allclose(init_alignment(xt * 1e200, x0 * 1e-200), ref, rtol=1e-10)


def test_init_alignment_warns_on_constant_units_and_refuses_mismatched_shapes():
    x = np.random.default_rng(3).normal(size=(10, 2))
    const = x.copy()
    const[:, 1] = 1.0
    with pytest.warns(DegenerateInputWarning, match=r"units \[1\] are constant"):
        out = init_alignment(const, x)
    assert out[0] == pytest.approx(1.0) and math.isnan(out[1])
    with pytest.raises(UnitscopeError, match="same shape"):
        init_alignment(x, x[:, :1])
