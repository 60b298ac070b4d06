"""match.universal: float64 references (best partner, the rotated and shuffled nulls, the
calibrated threshold, Gurnee's excess rule, CKA/SVCCA of the same pairs), planted answers
(permuted copies + 1% noise are universal, rotated copies are not), and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope import match
from unitscope._errors import UnitscopeError
from unitscope.match._universal import (
    best_partner,
    random_rotation,
    rotated_partners,
    shuffled_partners,
)
from unitscope.measures import linear_cka

# ---- plain float64 references ------------------------------------------------------------------


def ref_best(acts, partners=None):
    """Mean over the other seeds l of max_j corr(acts[k][:, i], partners[l][:, j])."""
    partners = acts if partners is None else partners
    K, _, U = acts.shape
    out = np.zeros((K, U))
    for k in range(K):
        for i in range(U):
            per_seed = []
            for m in range(K):
                if m == k:
                    continue
                r = [np.corrcoef(acts[k][:, i], partners[m][:, j])[0, 1] for j in range(U)]
                per_seed.append(max(r))
            out[k, i] = np.mean(per_seed)
    return out


def seeds(K, U, n=400, seed=0, how="permute", noise=0.01):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, U))
    if how == "permute":
        return np.stack(
            [base[:, rng.permutation(U)] + noise * rng.normal(size=(n, U)) for _ in range(K)]
        )
    return np.stack([base @ random_rotation(U, rng) for _ in range(K)])


# ---- references ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_best_partner_matches_a_plain_reference(seed):
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(60, 3))
    acts = np.stack([shared @ rng.normal(size=(3, 5)) + rng.normal(size=(60, 5)) for _ in range(3)])
    u = match.universal(acts, n_rotations=1, seed=seed)
    np.testing.assert_allclose(u.best, ref_best(acts), atol=1e-12)
    assert np.isnan(u.partner[np.arange(3), np.arange(3)]).all()


def test_best_partner_among_chosen_seeds_counts_repeats_once():
    rng = np.random.default_rng(0)
    partner = rng.uniform(size=(4, 4, 3))
    got = best_partner(partner, [2, 0, 2])
    expected = np.stack([partner[0, 2], partner[2, 0]])
    np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize("seed", [0, 3])
def test_rotated_and_shuffled_nulls_match_plain_references(seed):
    rng = np.random.default_rng(seed)
    acts = rng.normal(size=(3, 50, 4)) + rng.normal(size=(1, 50, 4))
    t = torch.from_numpy(acts)
    rotated = rotated_partners(t, np.random.default_rng(7)).numpy()
    plain_rng = np.random.default_rng(7)
    for k in range(3):
        q = random_rotation(4, plain_rng)
        np.testing.assert_allclose(q @ q.T, np.eye(4), atol=1e-12)
        np.testing.assert_allclose(rotated[k], (acts[k] - acts[k].mean(0)) @ q, atol=1e-12)
    shuffled = shuffled_partners(t, np.random.default_rng(8)).numpy()
    plain_rng = np.random.default_rng(8)
    for k in range(3):
        np.testing.assert_array_equal(shuffled[k], acts[k][plain_rng.permutation(50)])
    # the rotated null of `universal` is the best partner against exactly such layers
    u = match.universal(acts, n_rotations=2, seed=seed)
    plain_rng = np.random.default_rng(seed)
    for r in range(2):
        partners = np.stack(
            [(a - a.mean(0)) @ random_rotation(4, plain_rng) for a in acts]  # one per seed
        )
        np.testing.assert_allclose(u.rotated[r], ref_best(acts, partners), atol=1e-12)


def test_threshold_fractions_and_the_fixed_rule_follow_their_definitions():
    acts = seeds(4, 12, seed=2, noise=0.6)
    u = match.universal(acts, n_rotations=3, quantile=0.9)
    assert u.threshold == pytest.approx(np.quantile(u.rotated.ravel(), 0.9))
    np.testing.assert_allclose(u.fraction(), (u.best > u.threshold).mean(axis=1))
    excess = u.best - u.rotated.mean(axis=0)
    np.testing.assert_allclose(u.fraction("fixed"), (excess > 0.5).mean(axis=1))
    nulls = u.null_fractions()
    assert nulls["rotated"] == pytest.approx((u.rotated > u.threshold).mean())
    assert nulls["shuffled"] == pytest.approx((u.shuffled > u.threshold).mean())
    assert "untrained" not in nulls


def test_span_similarity_is_linear_cka_of_every_pair():
    acts = seeds(3, 6, how="rotate")
    u = match.universal(acts, n_rotations=1)
    for a in range(3):
        for b in range(3):
            if a != b:
                assert u.cka[a, b] == pytest.approx(linear_cka(acts[a], acts[b]))
    assert u.cka[0, 1] == pytest.approx(1.0) and u.svcca[0, 1] == pytest.approx(1.0)


# ---- planted answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_permuted_copies_with_one_percent_noise_are_universal(seed):
    u = match.universal(seeds(6, 32, seed=seed), seed=seed)
    assert u.fraction().min() >= 0.95
    assert u.fraction("fixed").min() >= 0.95  # excess ≈ 1 − rotated max ≈ 0.5+ at width 32
    assert u.null_fractions()["shuffled"] == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_rotated_copies_share_the_span_but_not_the_units(seed):
    u = match.universal(seeds(6, 32, seed=seed, how="rotate"), seed=seed)
    assert u.fraction().mean() <= 0.05
    assert u.fraction("fixed").max() == 0.0
    off = ~np.eye(6, dtype=bool)
    assert u.cka[off].min() > 0.999  # the same subspace: CKA cannot tell


def test_untrained_null_from_a_recording(mlp_rec):
    u = match.universal(mlp_rec, layer="hidden.0")
    assert u.untrained is not None and u.untrained.shape == (3, 8)
    expected = match.universal(mlp_rec.activations("hidden.0")[0], n_rotations=1)
    np.testing.assert_allclose(u.untrained, expected.best)
    assert "untrained" in u.null_fractions() and u.layer == "hidden.0"
    s = u.summary()
    assert len(s["fraction_universal"]) == 3 and s["quantile"] == 0.99


# ---- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantile": 1.0}, r"`quantile` must be in \(0, 1\)"),
        ({"n_rotations": 0}, "`n_rotations` must be >= 1"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_are_one_line(kwargs, message):
    with pytest.raises(UnitscopeError, match=message):
        match.universal(seeds(3, 4), **kwargs)


def test_one_seed_is_refused_and_rules_are_named():
    with pytest.raises(UnitscopeError, match="need K >= 2 seeds"):
        match.universal(seeds(1, 4))
    with pytest.raises(UnitscopeError, match="`rule` must be 'calibrated' or 'fixed'"):
        match.universal(seeds(3, 4)).fraction("gurnee")
