"""One conformance suite over every registered measure: shapes, dtypes, inputs, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

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
