from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from unitscope import report
from unitscope.studies import capacity as c
from unitscope.studies._finding import Control, Interval
from unitscope.studies._stats import holm_intervals, t_interval

from ._consistency import check_result


def _iv(lo: float, hi: float) -> Interval:
    return Interval((lo + hi) / 2, lo, hi, 16)


def _net(rng, units: int = 5, d: int = 2, classes: int = 3) -> c.Net:
    return c.Net(
        rng.standard_normal((units, d)),
        rng.standard_normal(units) * 0.3,
        rng.standard_normal((classes, units)),
        rng.standard_normal(classes),
    )


# ---- verdicts on both sides of their thresholds ------------------------------------------------
def test_verdict_fits_better_on_both_sides():
    above, below, across = _iv(0.15, 0.3), _iv(0.0, 0.05), _iv(0.05, 0.2)
    assert c.verdict_fits_better({2: above, 4: above}) == "supported"
    assert c.verdict_fits_better({2: below, 4: below}) == "refuted"
    assert c.verdict_fits_better({2: above, 4: below}) == "mixed"
    assert c.verdict_fits_better({2: across}) == "inconclusive"


def test_verdict_merge_costs_on_both_sides():
    assert c.verdict_merge_costs({4: _iv(0.02, 0.05), 8: _iv(0.03, 0.1)}) == "supported"
    assert c.verdict_merge_costs({4: _iv(-1e-3, 1e-3)}) == "refuted"
    assert c.verdict_merge_costs({4: _iv(0.02, 0.05), 8: _iv(-1e-3, 1e-3)}) == "mixed"
    assert c.verdict_merge_costs({4: _iv(0.0, 0.05)}) == "inconclusive"


def test_relative_gap_is_per_seed():
    gap = c.relative_gap([1.0, 2.0], [0.5, 2.0])
    np.testing.assert_allclose(gap, [0.5, 0.0])


# ---- merging, planting and refitting against plain references -----------------------------------
def test_cross_entropy_against_a_plain_reference(rng):
    z = rng.standard_normal((20, 3)) * 3
    y = rng.integers(0, 3, 20)
    ref = -np.mean([z[n, y[n]] - math.log(sum(math.exp(v) for v in z[n])) for n in range(20)])
    assert c.cross_entropy(z, y) == pytest.approx(ref, rel=1e-12)


def test_refit_output_is_least_squares_on_the_logits(rng):
    net, x = _net(rng), rng.standard_normal((40, 2))
    target = rng.standard_normal((40, 3))
    refit = c.refit_output(net, x, target)
    design = np.column_stack([np.maximum(x @ net.w1.T + net.b1, 0), np.ones(40)])
    ref = np.linalg.solve(design.T @ design, design.T @ target)  # normal equations
    np.testing.assert_allclose(refit.w2, ref[:-1].T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(refit.b2, ref[-1], rtol=1e-8, atol=1e-10)


def test_merging_two_identical_units_keeps_the_function_and_costs_nothing(rng):
    net = _net(rng)
    w1, b1 = net.w1.copy(), net.b1.copy()
    w1[3], b1[3] = w1[1], b1[1]  # unit 3 duplicates unit 1: the most similar pair
    net = dataclasses.replace(net, w1=w1, b1=b1)
    x = rng.standard_normal((60, 2))
    i, j, corr = c.most_similar_pair(net, x)
    assert (i, j) == (1, 3) and corr == pytest.approx(1.0)
    merged = c.merge(net, i, j)
    assert merged.w1.shape == (4, 2) and merged.w2.shape == (3, 4)
    np.testing.assert_allclose(merged.logits(x), net.logits(x), atol=1e-12)
    y = rng.integers(0, 3, 60)
    assert abs(c.merge_cost(net, i, j, x, y)) < 1e-12


def test_merging_two_different_units_costs_loss(rng):
    # hand-set: unit 0 sees x0, unit 1 sees x1, units 2 and 3 their negatives; class 0 is
    # "x0 large", class 1 "x1 large", class 2 "both negative". Merging 0 and 1 blurs 0 and 1.
    net = c.Net(
        np.array([[1.0, 0], [0, 1], [-1, 0], [0, -1]]),
        np.zeros(4),
        4 * np.array([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]]),
        np.zeros(3),
    )
    x = rng.standard_normal((200, 2))
    y = net.logits(x).argmax(1)  # labels the network fits
    assert c.merge_cost(net, 0, 1, x, y) > 10 * c.COSTS
    assert c.merge_cost(net, 0, 1, x, y) > c.merge_cost(net, 2, 3, x, y)


def test_a_planted_duplicate_keeps_the_function_and_is_the_pair_found(rng):
    net, x = _net(rng), rng.standard_normal((60, 2))
    planted = c.plant_duplicate(net, 2, share=0.3)
    assert planted.w1.shape == (6, 2)
    np.testing.assert_allclose(planted.logits(x), net.logits(x), atol=1e-12)
    assert c.most_similar_pair(planted, x)[:2] == (2, 5)


def test_dead_units_are_never_the_most_similar_pair(rng):
    net = _net(rng, units=4)
    w1, b1 = net.w1.copy(), net.b1.copy()
    w1[[0, 2]], b1[[0, 2]] = 0.0, -1.0  # two dead units: constant zero, "equal" to each other
    net = dataclasses.replace(net, w1=w1, b1=b1)
    i, j, _ = c.most_similar_pair(net, rng.standard_normal((50, 2)))
    assert {i, j} == {1, 3}


# ---- premise and words ----------------------------------------------------------------------
def _numbers(gap: float, accuracy: float = 0.95, plateau: float = 0.0) -> c.WidthNumbers:
    rng = np.random.default_rng(0)
    sym = {w: list(1.0 + 0.01 * rng.standard_normal(8)) for w in (1, 4, 8)}
    free = {w: [v * (1 - (gap if w > 1 else 0.0)) for v in sym[w]] for w in sym}
    return c.WidthNumbers(
        [1, 4, 8], sym, free, {w: [accuracy] * 8 for w in sym}, {w: plateau for w in sym}, 3
    )


def test_the_premise_fails_when_the_free_nets_did_not_train_or_symmetric_ones_still_move():
    assert c.trained_premise(_numbers(0.5)).holds
    assert not c.trained_premise(_numbers(0.5, accuracy=0.6)).holds
    assert not c.trained_premise(_numbers(0.5, plateau=0.1)).holds
    assert c._fits_better_finding(_numbers(0.5, accuracy=0.6)).verdict == "inconclusive"


def test_verdict_summary_and_title_follow_the_numbers():
    big, none = c._fits_better_finding(_numbers(0.5)), c._fits_better_finding(_numbers(0.0))
    assert (big.verdict, none.verdict) == ("supported", "refuted")
    assert "(supported)" in big.summary and "(refuted)" in none.summary
    titles = [c._figures(_numbers(g), {}, {"fits_better": f.verdict})[0].title for g, f in
              ((0.5, big), (0.0, none))]  # fmt: skip
    assert titles[0] != titles[1] and "every width" in titles[0]


def test_a_supported_control_makes_the_finding_inconclusive():
    f = c._fits_better_finding(_numbers(0.5))
    assert f.verdict == "supported"
    fooled = dataclasses.replace(f, control=Control("width 1", "supported"))
    assert fooled.verdict == "inconclusive" and "cannot discriminate" in fooled.reason


# ---- a tiny run ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def result():
    return c.run("tiny")


def test_tiny_run_verdicts_follow_from_numbers(result):
    check_result(result, 2)
    better, merge = result.findings
    gaps = {int(w): v for w, v in better.numbers["relative_gap"].items()}
    family = holm_intervals({w: v for w, v in gaps.items() if w > 1})
    assert better.measured == c.verdict_fits_better(family)
    assert better.control.verdict == c.verdict_fits_better({1: t_interval(gaps[1])})
    rises = {int(w): v for w, v in merge.numbers["relative_rise"].items()}
    assert merge.measured == c.verdict_merge_costs(holm_intervals(rises))
    assert set(better.interval) == {f"relative_gap_width_{w}" for w in gaps if w > 1}


def test_tiny_run_controls_come_out_differently_from_their_claims(result):
    better, merge = result.findings
    assert better.control.verdict != "supported"  # width 1: the same network class
    assert better.measured != better.control.verdict
    planted = {int(w): Interval(**iv) for w, iv in merge.control.numbers["relative_rise"].items()}
    assert c.verdict_merge_costs(planted) == merge.control.verdict == "refuted"
    assert all(v == 1.0 for v in merge.control.numbers["duplicate_picked"].values())
    random_pairs = {int(w): v for w, v in result.numbers["merge"].items()}
    assert (
        c.verdict_merge_costs(holm_intervals({w: m["random"] for w, m in random_pairs.items()}))
        != merge.control.verdict
    )  # a random pair costs loss: the verdict can come out the other way


def test_tiny_run_figures_build_and_numbers_are_json(result):
    for spec in result.figures:
        report.figure_from_spec(spec)
    json.dumps(result.to_dict())
    sym = result.numbers["loss"]["symmetric"]
    assert set(sym) == {1, 8} and all(len(v) == 4 for v in sym.values())
