"""Measures per checkpoint and per member: broadcasting, unit summaries, recordings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from unitscope._errors import UnitscopeError
from unitscope.measures import (
    DegenerateInputWarning,
    apply_measure,
    dead_units,
    distinct_units,
    effective_rank,
    linear_cka,
    over_recording,
    participation_ratio,
    symmetry_spread,
    unit_summary,
)

T, K, N, U = 3, 4, 30, 5


@dataclass
class FakeRecording:
    """The Recording interface the measures rely on, on plain arrays."""

    acts: np.ndarray  # (T, K, n_probe, n_units)
    params: np.ndarray  # (T, K, n_units, fan_in)
    probe_hash: str = "abc123"

    def activations(self, layer: str) -> np.ndarray:
        return self.acts

    def weights(self, layer: str) -> np.ndarray:
        return self.params


def _rec(seed: int = 0, probe_hash: str = "abc123") -> FakeRecording:
    rng = np.random.default_rng(seed)
    acts = rng.standard_normal((T, K, N, U)).astype(np.float32)
    acts[..., 1] = np.maximum(acts[..., 1], 0) * 0  # a dead unit
    return FakeRecording(acts, rng.standard_normal((T, K, U, 3)), probe_hash)


def test_members_pairwise_at_every_checkpoint():
    rec = _rec()
    got = over_recording("linear_cka", rec, "hidden.0", reference="members")
    assert got.shape == (T, K, K)
    for t in range(T):
        for a in range(K):
            for b in range(K):
                want = linear_cka(rec.acts[t, a], rec.acts[t, b])
                assert got[t, a, b] == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize(("reference", "t_ref"), [("final", -1), ("initial", 0)])
def test_against_a_reference_snapshot(reference, t_ref):
    rec = _rec(1)
    got = over_recording("procrustes_distance", rec, "h", reference=reference, alpha=0.5)
    assert got.shape == (T, K)
    from unitscope.measures import procrustes_distance

    want = [
        [procrustes_distance(rec.acts[t, k], rec.acts[t_ref, k], alpha=0.5) for k in range(K)]
        for t in range(T)
    ]
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert np.all(got[t_ref] < 1e-7)


def test_two_recordings_member_by_member():
    a, b = _rec(2), _rec(3)
    got = over_recording("cca_similarity", a, "h", other=b)
    from unitscope.measures import cca_similarity

    assert got[1, 2] == pytest.approx(cca_similarity(a.acts[1, 2], b.acts[1, 2]), abs=1e-12)
    with pytest.raises(UnitscopeError, match="different probe sets .* record both on the same"):
        over_recording("cca_similarity", a, "h", other=_rec(3, probe_hash="zzz"))


def test_unit_summary_matches_the_single_matrix_functions():
    rec = _rec(4)
    s = unit_summary(rec.acts, rec.params)  # the dead unit is grouped, not an error
    for t in range(T):
        for k in range(K):
            a = rec.acts[t, k]
            assert s["effective_rank"][t, k] == pytest.approx(effective_rank(a), abs=1e-12)
            assert s["participation_ratio"][t, k] == pytest.approx(
                participation_ratio(a), abs=1e-12
            )
            assert s["distinct_units"][t, k] == distinct_units(a)
            assert s["dead_units"][t, k] == dead_units(a).sum() == 1
            spread = symmetry_spread(rec.params[t, k])
            assert s["spread_max"][t, k] == pytest.approx(spread.max_distance, abs=1e-12)
            assert s["spread_mean"][t, k] == pytest.approx(spread.mean_distance, abs=1e-12)
    assert over_recording("spread_max", rec, "h").shape == (T, K)


def test_distinct_units_of_a_stack_equal_the_single_matrix_count():
    """The batched group count (one graph for all slices) against unit_groups slice by slice,
    on slices with duplicates up to sign and scale, a chain a~b~c whose ends are below the
    threshold, dead and constant units, and magnitudes of 1e200 and 1e-300."""
    rng = np.random.default_rng(11)
    acts = rng.standard_normal((3, 5, 60, 9))
    acts[..., 1] = -3.0 * acts[..., 0]  # a duplicate up to sign and scale
    base = rng.standard_normal((3, 5, 60))
    step = 0.12 * rng.standard_normal((3, 5, 60))
    acts[..., 2], acts[..., 3], acts[..., 4] = base, base + step, base + 2 * step  # a chain
    acts[0, :, :, 5] = 0.0  # dead
    acts[1, :, :, 5:7] = 2.5  # two constant units: one group
    acts[2, 1] *= 1e200
    acts[2, 2] *= 1e-300
    s = unit_summary(acts, threshold=0.99)
    expected = [[distinct_units(acts[t, k], threshold=0.99) for k in range(5)] for t in range(3)]
    np.testing.assert_array_equal(s["distinct_units"], np.array(expected, dtype=np.float64))
    assert s["distinct_units"][0, 0] == 6  # 9 units - the duplicate - the chain's two links
    scaled = unit_summary(acts[2, 0] * 1e200)
    for key in ("effective_rank", "participation_ratio", "distinct_units"):
        assert scaled[key] == pytest.approx(unit_summary(acts[2, 0])[key], rel=1e-12), key


def test_constant_elements_are_nan_with_one_warning():
    acts = np.random.default_rng(5).standard_normal((2, 10, 3))
    acts[1] = 4.0
    with pytest.warns(DegenerateInputWarning, match="1 element"):
        s = unit_summary(acts)
    assert np.isnan(s["effective_rank"][1]) and np.isfinite(s["effective_rank"][0])
    with pytest.warns(DegenerateInputWarning, match=r"linear CKA is 0/0 for 1 element\(s\)"):
        got = apply_measure("linear_cka", acts, acts[:1])
    assert np.isnan(got[1]) and got[0] == pytest.approx(1.0)


def test_generic_path_equals_fast_linear_path():
    acts = np.random.default_rng(6).standard_normal((2, 3, 20, 25))  # n < d: Gram self terms
    fast = apply_measure("linear_cka", acts[:, :, None], acts[:, None])
    slow = apply_measure("linear_cka", acts[:, :, None], acts[:, None], method="gram")
    np.testing.assert_allclose(fast, slow, atol=1e-12)


def test_errors():
    rec = _rec()
    with pytest.raises(UnitscopeError, match="leading axes of `x` \\(3, 4\\) and `y` \\(2,\\)"):
        apply_measure("linear_cka", rec.acts, rec.acts[0, :2])
    with pytest.raises(UnitscopeError, match="same number of samples"):
        apply_measure("linear_cka", rec.acts, rec.acts[:, :, :10])
    with pytest.raises(UnitscopeError, match="`reference` must be one of 'final', 'initial'"):
        over_recording("linear_cka", rec, "h", reference="last")
    with pytest.raises(UnitscopeError, match="unknown measure 'effective_rnk'"):
        over_recording("effective_rnk", rec, "h")
    with pytest.raises(UnitscopeError, match=r"`weights` must be \(\*\(3, 4\), n_units, fan_in\)"):
        unit_summary(rec.acts, rec.params[0])
