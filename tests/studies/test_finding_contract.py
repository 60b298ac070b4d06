"""The Finding contract: a verdict survives only when its control fails and its premise holds;
intervals over seeds, Holm's correction and generated words behave as documented."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from unitscope._errors import UnitscopeError
from unitscope.studies._finding import Control, Finding, Interval, Premise, judge
from unitscope.studies._stats import (
    bootstrap_interval,
    family_verdict,
    holm,
    holm_intervals,
    interval_verdict,
    min_detectable,
    one_sided_p,
    pair_interval,
    t_interval,
    worded,
)

HOLDS = Premise("trained", True, {"accuracy": 0.9})
FAILS = Premise("trained", False, {"accuracy": 0.1})
CONTROL_FAILS = Control("shuffled labels", "refuted")
CONTROL_PASSES = Control("shuffled labels", "supported")


def _finding(measured, control, premise):
    return Finding("s", "claim", measured, "summary", {"x": 1}, control=control, premise=premise)


@pytest.mark.parametrize("measured", ["supported", "refuted", "mixed", "inconclusive"])
def test_a_failing_control_and_a_holding_premise_keep_the_measured_verdict(measured):
    f = _finding(measured, CONTROL_FAILS, HOLDS)
    assert f.verdict == measured and f.reason == ""


@pytest.mark.parametrize("measured", ["supported", "mixed"])
def test_a_control_that_also_passes_makes_the_finding_inconclusive(measured):
    f = _finding(measured, CONTROL_PASSES, HOLDS)
    assert f.verdict == "inconclusive"
    assert "cannot discriminate" in f.reason and "shuffled labels" in f.reason


def test_a_refuted_claim_is_not_rescued_by_its_control():
    assert _finding("refuted", CONTROL_PASSES, HOLDS).verdict == "refuted"


def test_a_failed_premise_makes_any_verdict_inconclusive_with_the_reason():
    f = _finding("supported", CONTROL_FAILS, FAILS)
    assert f.verdict == "inconclusive" and "premise does not hold: trained" in f.reason


@pytest.mark.parametrize(
    ("control", "premise", "why"),
    [(None, HOLDS, "no control"), (CONTROL_FAILS, None, "premise was not measured")],
)
def test_a_finding_without_control_or_premise_cannot_be_supported(control, premise, why):
    f = _finding("supported", control, premise)
    assert f.verdict == "inconclusive" and why in f.reason


def test_to_dict_carries_interval_control_premise_and_the_measured_verdict():
    f = Finding(
        "s", "c", "supported", "sum", {"x": 1},
        interval={"x": Interval(1.0, 0.5, 1.5, 8)}, control=CONTROL_PASSES, premise=HOLDS,
    )  # fmt: skip
    d = f.to_dict()
    assert d["verdict"] == "inconclusive" and d["measured_verdict"] == "supported"
    assert d["interval"]["x"] == {
        "value": 1.0, "lo": 0.5, "hi": 1.5, "level": 0.95, "n": 8, "method": "t"
    }  # fmt: skip
    assert d["control"]["verdict"] == "supported" and d["premise"]["holds"] is True


def test_t_interval_matches_the_textbook_formula():
    v = np.array([0.3, 0.9, 0.5, 0.7, 0.4, 0.8])
    iv = t_interval(v)
    half = stats.t.ppf(0.975, 5) * v.std(ddof=1) / math.sqrt(6)
    assert iv.value == pytest.approx(v.mean(), abs=1e-15)
    assert (iv.lo, iv.hi) == pytest.approx((v.mean() - half, v.mean() + half), abs=1e-12)
    assert iv.n == 6


def test_t_interval_of_one_seed_decides_nothing():
    iv = t_interval([0.4])
    assert iv.n == 1 and iv.lo == -math.inf and interval_verdict(iv, 0.0) == "inconclusive"


def test_interval_verdict_flips_as_the_threshold_crosses_the_interval():
    iv = Interval(0.5, 0.4, 0.6, 8)
    assert interval_verdict(iv, 0.3) == "supported"
    assert interval_verdict(iv, 0.5) == "inconclusive"
    assert interval_verdict(iv, 0.7) == "refuted"
    assert interval_verdict(iv, 0.7, greater=False) == "supported"
    assert interval_verdict(iv, 0.3, greater=False) == "refuted"


def test_pair_interval_resamples_seeds_not_pairs():
    """Pair values driven by one outlying seed: the seed bootstrap must be wider than a naive
    t interval that treats the K(K-1)/2 pairs as independent."""
    rng = np.random.default_rng(0)
    K = 8
    effect = rng.normal(0, 1, K)
    m = effect[:, None] + effect[None, :] + rng.normal(0, 0.05, (K, K))
    iv = pair_interval(m, seed=1)
    pairs = m[np.triu_indices(K, 1)]
    naive = t_interval(pairs)
    assert iv.value == pytest.approx(np.mean(m[~np.eye(K, dtype=bool)]))
    assert iv.n == K
    assert iv.hi - iv.lo > 1.5 * (naive.hi - naive.lo)


def test_pair_interval_refuses_a_non_square_matrix():
    with pytest.raises(UnitscopeError, match=r"must be square \(K, K\), got shape \(2, 3\)"):
        pair_interval(np.zeros((2, 3)))


def test_bootstrap_interval_covers_the_mean_and_is_reproducible():
    v = list(np.random.default_rng(3).normal(1.0, 0.2, 12))
    a = bootstrap_interval(v, np.mean, seed=5)
    b = bootstrap_interval(v, np.mean, seed=5)
    assert a == b and a.lo < np.mean(v) < a.hi and a.n == 12


def test_min_detectable_effect_is_found_with_the_stated_power():
    # simulate t-tests of 16 seeds whose true mean is the MDE of their SD: ~80% reject
    rng = np.random.default_rng(0)
    sd, n = 0.3, 16
    seeds = np.linspace(-1, 1, n)
    values = seeds / seeds.std(ddof=1) * sd  # SD exactly 0.3
    mde = min_detectable(values)
    assert mde == pytest.approx((stats.t.ppf(0.975, 15) + stats.t.ppf(0.8, 15)) * sd / 4, 1e-3)
    draws = rng.normal(mde, sd, size=(4000, n))
    power = (stats.ttest_1samp(draws, 0.0, axis=1).pvalue < 0.05).mean()
    assert 0.76 < power < 0.84
    # stricter alpha (Holm over m tests) or fewer seeds: a larger effect is needed
    assert min_detectable(values, alpha=0.05 / 4) > mde
    assert min_detectable(values[::4]) > mde
    assert min_detectable([1.0]) == math.inf


def test_holm_matches_the_step_down_definition():
    p = [0.01, 0.04, 0.03, 0.2]
    # sorted: 0.01*4=0.04, 0.03*3=0.09, 0.04*2=0.08 -> 0.09 (monotone), 0.2*1=0.2
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.2])


def test_holm_intervals_are_wider_than_single_intervals():
    groups = {"a": [1.0, 1.2, 0.9, 1.1], "b": [2.0, 2.1, 1.8, 2.2]}
    fam = holm_intervals(groups)
    single = t_interval(groups["a"])
    assert fam["a"].hi - fam["a"].lo > single.hi - single.lo
    assert fam["a"].method == "holm" and fam["a"].level == 0.95


def test_one_sided_p_agrees_with_scipy_and_handles_constant_values():
    v = [0.2, 0.4, 0.35, 0.5]
    assert one_sided_p(v, 0.1, greater=True) == pytest.approx(
        stats.ttest_1samp(v, 0.1, alternative="greater").pvalue
    )
    assert one_sided_p([1.0, 1.0], 0.5, greater=True) == 0.0
    assert one_sided_p([1.0, 1.0], 0.5, greater=False) == 1.0


def test_family_verdict():
    assert family_verdict(["supported", "supported"]) == "supported"
    assert family_verdict(["refuted", "refuted"]) == "refuted"
    assert family_verdict(["supported", "refuted"]) == "mixed"
    assert family_verdict(["supported", "inconclusive"]) == "mixed"
    assert family_verdict([]) == "inconclusive"


def test_worded_follows_the_verdict():
    phrases = {"supported": "alike", "other": "not shown alike"}
    assert worded("supported", **phrases) == "alike"
    assert worded("refuted", **phrases) == "not shown alike"
    with pytest.raises(UnitscopeError, match="no phrase for verdict 'mixed'"):
        worded("mixed", supported="x")


def test_judge_is_what_finding_uses():
    assert judge("supported", CONTROL_FAILS, HOLDS) == ("supported", "")
