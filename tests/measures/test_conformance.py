"""One conformance suite over every registered measure: shapes, dtypes, inputs, errors."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from unitscope._errors import UnitscopeError
from unitscope.measures import (
    MEASURES,
    DegenerateInputWarning,
    apply_measure,
    compute,
    get_measure,
    list_measures,
)
from unitscope.measures._validate import constant_columns

NAMES = sorted(MEASURES)
SHAPES = [(40, 5, 7), (60, 3, 3), (25, 8, 2), (12, 20, 15)]  # the last has n < d


def _pair(seed: int, n: int, d1: int, d2: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d1)) + 0.5
    y = np.tanh(x[:, :1] @ rng.standard_normal((1, d2))) + 0.5 * rng.standard_normal((n, d2))
    return x, y


def _self_value(name: str) -> float:
    return 0.0 if get_measure(name).convention == "distance" else 1.0


def test_registry_is_complete_and_names_state_the_contract():
    assert [m.name for m in list_measures()] == list(MEASURES)
    assert len(MEASURES) >= 11
    for m in list_measures():
        assert m.fn.__name__ == m.name
        assert m.convention == ("distance" if m.name.endswith("_distance") else "similarity")
        assert m.name.endswith(("_similarity", "_cka", "_distance"))
        assert m.description and "\n" not in m.description
        assert m.fn.__doc__ and ">>>" in m.fn.__doc__


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("n", "d1", "d2"), SHAPES)
def test_returns_a_finite_python_float(name, n, d1, d2):
    x, y = _pair(n, n, d1, d2)
    with warnings.catch_warnings():  # CCA-type measures warn that n < d makes ρ = 1 trivially
        warnings.simplefilter("ignore", DegenerateInputWarning)
        value = compute(name, x, y)
        assert value == MEASURES[name].fn(x, y)
    assert type(value) is float and math.isfinite(value)


@pytest.mark.parametrize("name", NAMES)
def test_identical_inputs_are_maximally_similar(name):
    x, _ = _pair(1, 50, 4, 4)
    tol = 1e-7 if name == "procrustes_distance" else 1e-10
    assert compute(name, x, x.copy()) == pytest.approx(_self_value(name), abs=tol)


@pytest.mark.parametrize("name", NAMES)
def test_symmetry_flag_is_honest(name):
    x, y = _pair(2, 50, 3, 6)
    same = compute(name, x, y) == pytest.approx(compute(name, y, x), abs=1e-10)
    assert same == MEASURES[name].symmetric


@pytest.mark.parametrize("name", NAMES)
def test_numpy_float32_and_torch_inputs_agree(name):
    x, y = _pair(3, 40, 5, 3)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    want = compute(name, x32.astype(np.float64), y32.astype(np.float64))
    # float32 input is computed in float64 (cast while centring, or up front)
    assert compute(name, x32, y32) == pytest.approx(want, abs=1e-12)
    assert compute(name, torch.from_numpy(x32), torch.from_numpy(y32)) == compute(name, x32, y32)
    assert compute(name, torch.from_numpy(x), torch.from_numpy(y)) == compute(name, x, y)
    assert compute(name, torch.from_numpy(x32).to(torch.bfloat16), y) == pytest.approx(
        compute(name, torch.from_numpy(x32).to(torch.bfloat16).float().numpy(), y), abs=0
    )
    counts = np.round(3 * x).astype(np.int64)
    assert compute(name, counts, y) == compute(name, counts.astype(np.float64), y)


@pytest.mark.parametrize("name", NAMES)
def test_leading_axes_apply_per_checkpoint_and_member(name):
    rng = np.random.default_rng(4)
    acts = rng.standard_normal((2, 3, 30, 4)) + rng.standard_normal((2, 3, 1, 4))  # (T, K, n, U)
    got = apply_measure(name, acts, acts[-1:])  # each snapshot vs the final one, (T, K)
    want = [[compute(name, acts[t, k], acts[-1, k]) for k in range(3)] for t in range(2)]
    np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_raises_one_clear_error(name):
    x, y = _pair(5, 20, 3, 3)
    with pytest.raises(
        UnitscopeError, match=r"same number of rows \(paired samples\), got 20 and 19"
    ):
        compute(name, x, y[:19])
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(UnitscopeError, match=r"`x` contains 1 NaN or infinite value\(s\)"):
        compute(name, bad, y)
    bad[0, 0] = np.inf
    with pytest.raises(UnitscopeError, match=r"`y` contains 1 NaN or infinite"):
        compute(name, x, bad)
    with pytest.raises(
        UnitscopeError, match=r"`x` must be 2-D \(n_samples, n_units\), got shape \(20,\)"
    ):
        compute(name, x[:, 0], y)
    with pytest.raises(UnitscopeError, match=r"got shape \(20, 3, 1\). For conv activations use"):
        compute(name, x[:, :, None], y)
    with pytest.raises(UnitscopeError, match="must hold real numbers, got dtype complex128"):
        compute(name, x + 1j, y)
    with pytest.raises(
        UnitscopeError, match="`x` must be a numpy array or torch tensor of numbers, got str"
    ):
        compute(name, "x.npy", y)
    with pytest.raises(UnitscopeError, match=rf"option 'bogus' does not apply to '{name}'"):
        compute(name, x, y, bogus=1)
    with pytest.raises(UnitscopeError, match=r"needs at least \d samples \(rows\)"):
        compute(name, x[:1], y[:1])


def test_unknown_measure_suggests_the_closest_name():
    with pytest.raises(
        UnitscopeError, match="unknown measure 'linear_kca'. Did you mean 'linear_cka'"
    ):
        get_measure("linear_kca")


# -- scale and constants: every measure is scale-invariant and says when an input is constant --

SCALES = [(1e200, 1e200), (1e-100, 1e-100), (1e-300, 1e-300), (1e200, 1e-300), (2.0**-1000, 1.0)]


def _procrustes_reference(x: np.ndarray, y: np.ndarray) -> float:
    """Plain float64: centre, divide by the largest magnitude, nuclear norm over Frobenius norms."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    xc, yc = xc / np.abs(xc).max(), yc / np.abs(yc).max()
    nuclear = np.linalg.svd(xc.T @ yc, compute_uv=False).sum()
    return float(nuclear / (np.linalg.norm(xc) * np.linalg.norm(yc)))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("sx", "sy"), SCALES)
def test_extreme_scales_give_the_value_at_scale_one(name, sx, sy):
    x, y = _pair(6, 40, 5, 7)
    want = compute(name, x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no NaN, no spurious "constant" warning
        got = compute(name, x * sx, y * sy)
        swapped = compute(name, x * sy, y * sx)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert swapped == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_procrustes_at_1e200_matches_a_plain_reference():
    x, y = _pair(6, 40, 5, 7)
    want = _procrustes_reference(x * 1e200, y * 1e200)
    assert want == pytest.approx(_procrustes_reference(x, y), rel=1e-12)
    assert compute("procrustes_similarity", x * 1e200, y * 1e200) == pytest.approx(want, rel=1e-12)


def _constant(d: int, kind: str) -> np.ndarray:
    """40 identical rows: zeros, or values whose computed column mean is off by rounding."""
    row = 0.1 + 0.3 * np.arange(d)  # 0.1 is inexact: np.mean of 40 copies is not 0.1
    scale = {"zeros": 0.0, "constant": 1.0, "constant 1e200": 1e200, "constant 1e-300": 1e-300}
    return np.repeat(row[None, :] * scale[kind], 40, axis=0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["zeros", "constant", "constant 1e200", "constant 1e-300"])
@pytest.mark.parametrize("side", ["x", "y", "both"])
def test_constant_input_is_nan_with_one_kind_of_warning_naming_it(name, kind, side):
    x, y = _pair(7, 40, 5, 3)
    x = _constant(5, kind) if side in ("x", "both") else x
    y = _constant(3, kind) if side in ("y", "both") else y
    named = "x" if side == "both" else side
    with pytest.warns(DegenerateInputWarning, match=rf"`{named}`.*\bconstant") as caught:
        value = compute(name, x, y)
    assert math.isnan(value)
    assert all(issubclass(w.category, DegenerateInputWarning) for w in caught)  # no overflow


def test_a_column_that_differs_in_one_unsampled_row_is_not_constant():
    """The constant-column check samples nine rows, then compares candidates in full."""
    x = np.repeat((0.1 + 0.3 * np.arange(3))[None, :], 1000, axis=0)
    x[501, 2] = 0.2  # not one of the nine sampled rows
    assert constant_columns(x).tolist() == [[True, True, False]]
    assert constant_columns(x[None], axis=-2).tolist() == [[[True, True, False]]]
    y = np.random.default_rng(8).standard_normal((1000, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compute("linear_cka", x, y) >= 0.0  # one varying unit: defined, no warning


# -- every registered measure against a plain float64 reference ------------------------------
# Written from the papers' definitions, by another route than the library where one exists
# (Gram matrices with an explicit centring matrix, U-centring, covariance eigenproblems, loops).


def _c(a: np.ndarray) -> np.ndarray:
    return a - a.mean(axis=0)


def _hsic(k: np.ndarray, l: np.ndarray) -> float:
    """Biased HSIC with the centring matrix H = I - 11ᵀ/n (the n² factor cancels in CKA)."""
    n = len(k)
    h = np.eye(n) - np.ones((n, n)) / n
    return float(np.trace(k @ h @ l @ h))


def _cka(k: np.ndarray, l: np.ndarray) -> float:
    return _hsic(k, l) / math.sqrt(_hsic(k, k) * _hsic(l, l))


def _u_centred(k: np.ndarray) -> np.ndarray:
    """U-centring (Székely & Rizzo 2014) of a Gram with its diagonal zeroed."""
    n = len(k)
    k = k - np.diag(np.diag(k))
    u = k - k.sum(0)[None, :] / (n - 2) - k.sum(1)[:, None] / (n - 2)
    u = u + k.sum() / ((n - 1) * (n - 2))
    np.fill_diagonal(u, 0.0)
    return u


def _hsic_u(k: np.ndarray, l: np.ndarray) -> float:
    """Unbiased HSIC as the inner product of U-centred Grams, equal to Song et al.'s form."""
    n = len(k)
    return float(np.sum(_u_centred(k) * _u_centred(l)) / (n * (n - 3)))


def ref_linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    return _cka(x @ x.T, y @ y.T)


def ref_debiased_linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    k, l = x @ x.T, y @ y.T
    return _hsic_u(k, l) / math.sqrt(_hsic_u(k, k) * _hsic_u(l, l))


def _rbf(a: np.ndarray, factor: float = 0.5) -> np.ndarray:
    n = len(a)
    d = np.array([[float(np.sum((a[i] - a[j]) ** 2)) for j in range(n)] for i in range(n)])
    sigma = factor * math.sqrt(float(np.median(d[np.triu_indices(n, 1)])))
    return np.exp(-d / (2 * sigma**2))


def ref_rbf_cka(x: np.ndarray, y: np.ndarray) -> float:
    return _cka(_rbf(x), _rbf(y))


def _canonical(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ρ² are the eigenvalues of Sxx⁻¹ Sxy Syy⁻¹ Syx; its eigenvectors are x's directions."""
    xc, yc = _c(x), _c(y)
    sxx, syy, sxy = xc.T @ xc, yc.T @ yc, xc.T @ yc
    lam, a = np.linalg.eig(np.linalg.solve(sxx, sxy) @ np.linalg.solve(syy, sxy.T))
    order = np.argsort(-lam.real)[: min(x.shape[1], y.shape[1])]
    return np.sqrt(np.clip(lam.real[order], 0, None)), a.real[:, order]


def ref_cca_similarity(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(_canonical(x, y)[0]))


def ref_cca_r2_similarity(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(_canonical(x, y)[0] ** 2))


def ref_svcca_similarity(x: np.ndarray, y: np.ndarray, keep: float = 0.99) -> float:
    def reduced(a: np.ndarray) -> np.ndarray:
        _, s, vt = np.linalg.svd(_c(a), full_matrices=False)
        share = np.cumsum(s**2) / np.sum(s**2)
        k = next(i + 1 for i in range(len(s)) if share[i] >= keep)
        return _c(a) @ vt[:k].T

    return ref_cca_similarity(reduced(x), reduced(y))


def ref_pwcca_similarity(x: np.ndarray, y: np.ndarray) -> float:
    rho, a = _canonical(x, y)
    h = _c(x) @ a
    h = h / np.linalg.norm(h, axis=0)  # canonical variates of x, unit norm
    alpha = np.abs(h.T @ _c(x)).sum(axis=1)  # Σ_j |⟨h_i, x̃_j⟩|
    return float(alpha @ rho / alpha.sum())


def _whitened(a: np.ndarray, alpha: float) -> np.ndarray:
    """X̃(αI + (1 − α)C^{-1/2}) with C = X̃ᵀX̃/n (full rank here)."""
    ac = _c(a)
    lam, v = np.linalg.eigh(ac.T @ ac / len(a))
    return ac @ (alpha * np.eye(a.shape[1]) + (1 - alpha) * (v / np.sqrt(lam)) @ v.T)


def ref_procrustes_similarity(x: np.ndarray, y: np.ndarray, alpha: float = 1.0) -> float:
    xw, yw = _whitened(x, alpha), _whitened(y, alpha)
    m = xw.T @ yw
    small = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T  # full rank: no spurious roots
    nuclear = float(np.sum(np.sqrt(np.linalg.eigvalsh(small))))
    return nuclear / float(np.linalg.norm(xw) * np.linalg.norm(yw))


def ref_procrustes_distance(x: np.ndarray, y: np.ndarray, alpha: float = 1.0) -> float:
    return math.acos(min(ref_procrustes_similarity(x, y, alpha), 1.0))


def _ranks(v: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(v)).astype(np.float64)  # no ties in random data


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / math.sqrt((a @ a) * (b @ b)))


def ref_rsa_similarity(x: np.ndarray, y: np.ndarray) -> float:
    def rdm(a: np.ndarray) -> np.ndarray:  # 1 − Pearson r between two samples' vectors
        n = len(a)
        return np.array([1 - _pearson(a[i], a[j]) for i in range(n) for j in range(i + 1, n)])

    return _pearson(_ranks(rdm(x)), _ranks(rdm(y)))


def ref_mutual_knn_similarity(x: np.ndarray, y: np.ndarray, k: int = 10) -> float:
    def neighbours(a: np.ndarray) -> list[set[int]]:
        u = a / np.linalg.norm(a, axis=1, keepdims=True)
        n = len(a)
        return [
            set(sorted((j for j in range(n) if j != i), key=lambda j: (-(u[i] @ u[j]), j))[:k])
            for i in range(n)
        ]

    nx, ny = neighbours(x), neighbours(y)
    return float(np.mean([len(a & b) / k for a, b in zip(nx, ny)]))


REFERENCES = {
    "linear_cka": ref_linear_cka,
    "debiased_linear_cka": ref_debiased_linear_cka,
    "rbf_cka": ref_rbf_cka,
    "cca_similarity": ref_cca_similarity,
    "cca_r2_similarity": ref_cca_r2_similarity,
    "svcca_similarity": ref_svcca_similarity,
    "pwcca_similarity": ref_pwcca_similarity,
    "procrustes_similarity": ref_procrustes_similarity,
    "procrustes_distance": ref_procrustes_distance,
    "rsa_similarity": ref_rsa_similarity,
    "mutual_knn_similarity": ref_mutual_knn_similarity,
}


def test_every_registered_measure_has_a_reference():
    assert set(REFERENCES) == set(MEASURES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("seed", "n", "d1", "d2"), [(10, 40, 5, 3), (11, 60, 4, 7)])
def test_matches_the_plain_float64_reference(name, seed, n, d1, d2):
    x, y = _pair(seed, n, d1, d2)
    want = REFERENCES[name](x, y)
    # a value away from 0 and from the self-value tells a wrong formula from a right one
    assert abs(want) > 0.05 and abs(want - _self_value(name)) > 0.05
    assert compute(name, x, y) == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("name", ["procrustes_similarity", "procrustes_distance"])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.8])
def test_partial_whitening_matches_the_plain_reference(name, alpha):
    x, y = _pair(12, 50, 4, 6)
    want = REFERENCES[name](x, y, alpha=alpha)
    assert compute(name, x, y, alpha=alpha) == pytest.approx(want, abs=1e-9)


# -- invariances, as each measure promises them ------------------------------------------------


def _rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


TRANSFORMS = {
    "rotation": lambda a, rng: a @ _rotation(a.shape[1], rng),
    "isotropic scaling": lambda a, rng: a * 3.7,
    "unit permutation": lambda a, rng: a[:, rng.permutation(a.shape[1])],
    "translation": lambda a, rng: a + 5.0 * rng.standard_normal(a.shape[1]),
    "invertible linear map": lambda a, rng: (
        a @ (np.eye(a.shape[1]) + rng.random((a.shape[1],) * 2))
    ),
}
SIMILARITY_TRANSFORMS = {"rotation", "isotropic scaling", "unit permutation", "translation"}
# (name, options) -> {side: transforms the docstring promises leave the value unchanged}
PROMISES: dict[tuple[str, tuple], dict[str, set[str]]] = {
    **{
        (name, ()): {"x": SIMILARITY_TRANSFORMS, "y": SIMILARITY_TRANSFORMS}
        for name in (
            "linear_cka",
            "debiased_linear_cka",
            "rbf_cka",  # the bandwidth is a multiple of the median distance: scale-free
            "svcca_similarity",
            "procrustes_similarity",
            "procrustes_distance",
        )
    },
    **{
        (name, ()): {"x": SIMILARITY_TRANSFORMS | {"invertible linear map"}}
        | {"y": SIMILARITY_TRANSFORMS | {"invertible linear map"}}
        for name in ("cca_similarity", "cca_r2_similarity")
    },
    # the weights come from x's units: not rotation-invariant on that side
    ("pwcca_similarity", ()): {
        "x": {"isotropic scaling", "unit permutation", "translation"},
        "y": SIMILARITY_TRANSFORMS | {"invertible linear map"},
    },
    # whitening α mixes the data's scale with √n: only rotation and translation for 0 < α < 1
    ("procrustes_distance", (("alpha", 0.5),)): {
        "x": {"rotation", "unit permutation", "translation"},
        "y": {"rotation", "unit permutation", "translation"},
    },
    ("procrustes_distance", (("alpha", 0.0),)): {
        "x": SIMILARITY_TRANSFORMS | {"invertible linear map"},
        "y": SIMILARITY_TRANSFORMS | {"invertible linear map"},
    },
    # correlation distance between samples centres across units, not across samples
    ("rsa_similarity", ()): {
        "x": {"isotropic scaling", "unit permutation"},
        "y": {"isotropic scaling", "unit permutation"},
    },
    ("rsa_similarity", (("rdm_metric", "euclidean"),)): {
        "x": SIMILARITY_TRANSFORMS,
        "y": SIMILARITY_TRANSFORMS,
    },
    # cosine neighbours are angles from the origin: a translation moves them
    ("mutual_knn_similarity", ()): {
        "x": {"rotation", "isotropic scaling", "unit permutation"},
        "y": {"rotation", "isotropic scaling", "unit permutation"},
    },
    ("mutual_knn_similarity", (("metric", "euclidean"),)): {
        "x": SIMILARITY_TRANSFORMS,
        "y": SIMILARITY_TRANSFORMS,
    },
}
CASES = [(name, opts, side) for (name, opts), sides in PROMISES.items() for side in sides]


def test_every_registered_measure_states_its_invariances():
    assert {name for name, _ in PROMISES} == set(MEASURES)


def _shaped(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A pair whose last directions carry under 1% of the variance (SVCCA drops them)."""
    x, y = _pair(seed, 40, 5, 4)
    return x * [1.0, 0.8, 0.5, 0.3, 0.02], y * [1.0, 0.6, 0.3, 0.02]


def _transformed(side: str, transform: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = _shaped(seed)
    rng = np.random.default_rng(seed + 100)
    if side == "x":
        return TRANSFORMS[transform](x, rng), y
    return x, TRANSFORMS[transform](y, rng)


@pytest.mark.parametrize(("name", "opts", "side"), CASES)
def test_promised_invariances_hold(name, opts, side):
    want = compute(name, *_shaped(13), **dict(opts))
    for transform in sorted(PROMISES[name, opts][side]):
        got = compute(name, *_transformed(side, transform, 13), **dict(opts))
        assert got == pytest.approx(want, abs=1e-9), f"{transform} of {side} changed {name}"


@pytest.mark.parametrize(("name", "opts", "side"), CASES)
def test_transforms_not_promised_do_change_the_value(name, opts, side):
    """The promises are not vacuous: what a measure does not promise moves it."""
    want = compute(name, *_shaped(13), **dict(opts))
    for transform in sorted(set(TRANSFORMS) - PROMISES[name, opts][side]):
        got = compute(name, *_transformed(side, transform, 13), **dict(opts))
        assert abs(got - want) > 1e-6, f"{name} is unchanged by {transform} of {side}"


# -- metrics: the triangle inequality over random triples --------------------------------------

METRICS = [m.name for m in list_measures() if "triangle inequality" in (m.fn.__doc__ or "")]


def test_the_documented_metrics_are_the_distances():
    assert [m.name for m in list_measures() if m.convention == "distance"] == METRICS
    assert "procrustes_distance" in METRICS


def _triple(seed: int, widths: tuple[int, int], between: float, noise: float):
    """x, y and a z near the path between them (a nearly flat triangle: the hard case)."""
    rng = np.random.default_rng(seed)
    x, y = (rng.standard_normal((30, w)) for w in widths)
    width = max(widths)
    pad = [np.pad(a, ((0, 0), (0, width - a.shape[1]))) for a in (x, y)]
    z = (1 - between) * pad[0] + between * pad[1] + noise * rng.standard_normal((30, width))
    return x, y, z


def _options(name: str, alpha: float) -> dict[str, float]:
    return {"alpha": alpha} if "alpha" in MEASURES[name].options else {}


@pytest.mark.parametrize("name", METRICS)
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    widths=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    between=st.floats(0.0, 1.0),
    noise=st.sampled_from([0.0, 0.05, 1.0]),
    alpha=st.sampled_from([1.0, 0.5, 0.0]),
)
def test_triangle_inequality(name, seed, widths, between, noise, alpha):
    triple = _triple(seed, widths, between, noise)
    options = _options(name, alpha)
    for a, b, c in itertools.permutations(triple):
        assert compute(name, a, c, **options) <= (
            compute(name, a, b, **options) + compute(name, b, c, **options) + 1e-7
        )


@pytest.mark.parametrize("name", METRICS)
def test_the_triples_can_break_a_triangle_inequality(name):
    """The squared distance is no metric, and a flat triple shows it: the test has teeth."""
    x, y, z = _triple(0, (4, 4), 0.5, 0.01)
    squared = {
        k: compute(name, a, b) ** 2
        for k, (a, b) in {"xy": (x, y), "xz": (x, z), "zy": (z, y)}.items()
    }
    assert squared["xy"] > squared["xz"] + squared["zy"]
