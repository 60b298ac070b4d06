from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
import torch
from scipy import stats

from unitscope import report
from unitscope.studies import convex as c
from unitscope.studies._finding import Control, Interval
from unitscope.studies._stats import pair_interval, t_interval

from ._consistency import check_result


def _iv(lo: float, hi: float, n: int = 16) -> Interval:
    return Interval((lo + hi) / 2, lo, hi, n)


# ---- regression statistics against plain references ---------------------------------------------
def test_ols_and_wald_against_a_plain_reference(rng):
    n, d = 200, 3
    x = rng.standard_normal((n, d))
    y = (x @ np.array([1.0, 1.0, -2.0]) + 0.5 + 0.3 * rng.standard_normal(n))[:, None]
    beta, cov, sigma2, dof = c.ols(x, y)
    design = np.column_stack([x, np.ones(n)])
    ref = np.linalg.solve(design.T @ design, design.T @ y[:, 0])
    np.testing.assert_allclose(beta, ref[:3], rtol=1e-10)
    resid = y[:, 0] - design @ ref
    s2 = resid @ resid / (n - 4)
    assert sigma2 == pytest.approx(s2) and dof == n - 4
    contrast = np.array([1.0, -1.0, 0.0, 0.0])
    t_ref = contrast @ ref / np.sqrt(s2 * contrast @ np.linalg.inv(design.T @ design) @ contrast)
    t, p = c.wald_equal(beta, cov, sigma2, dof, 0, 1)
    assert t == pytest.approx(t_ref)
    assert p == pytest.approx(2 * stats.t.sf(abs(t_ref), n - 4))


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.12, -0.3])
def test_tost_agrees_with_the_90_percent_interval_inside_the_margin(rng, shift):
    n = 300
    x = rng.standard_normal((n, 2))
    y = (x @ np.array([1.0, 1.0 + shift]) + 0.5 * rng.standard_normal(n))[:, None]
    beta, cov, sigma2, dof = c.ols(x, y)
    se = np.sqrt(sigma2 * (cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]))
    d = beta[0] - beta[1]
    p_ref = max(stats.t.sf((d + c.MARGIN) / se, dof), stats.t.cdf((d - c.MARGIN) / se, dof))
    assert c.tost_equal(beta, cov, sigma2, dof, 0, 1) == pytest.approx(p_ref)
    iv = c.difference_interval(beta, cov, sigma2, dof, 0, 1)
    assert iv.level == pytest.approx(0.90) and iv.n == n and iv.value == pytest.approx(d)
    inside = iv.lo > -c.MARGIN and iv.hi < c.MARGIN
    assert (p_ref < c.ALPHA) == inside


@pytest.mark.parametrize(("hits", "n"), [(0, 50), (3, 50), (25, 50), (50, 50), (51, 1000)])
def test_rate_interval_is_clopper_pearson(hits, n):
    iv = c.rate_interval(hits, n)
    ref = stats.binomtest(hits, n).proportion_ci(0.95, method="exact")
    assert (iv.lo, iv.hi) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert iv.value == hits / n and iv.n == n


def test_pair_data_is_exchangeable_or_differs_by_the_effect():
    ex, small = c.pair_data(3, 4000), c.pair_data(3, 4000, effect=0.1)
    i, j = c.PAIR
    assert ex.extras["beta"][i] == ex.extras["beta"][j]
    assert small.extras["beta"][j] - small.extras["beta"][i] == pytest.approx(0.1)
    r = np.corrcoef(ex.x[:, i], ex.x[:, j])[0, 1]
    assert r == pytest.approx(c.RHO, abs=0.05)
    assert ex.x[:, j].std() == pytest.approx(ex.x[:, i].std(), rel=0.05)


def test_repeated_tests_hold_the_level_and_detect_the_effect():
    seeds = range(1000, 2000)
    ex, small = c.repeated_tests(0.0, 768, seeds), c.repeated_tests(c.SMALL_EFFECT, 768, seeds)
    size = c.rate_interval(int(ex["rejects"].sum()), len(seeds))
    power = c.rate_interval(int(small["rejects"].sum()), len(seeds))
    assert size.lo < c.ALPHA < size.hi  # calibrated on exchangeable data
    assert 0.5 < power.value < 0.95  # the small effect is detectable, and can be missed
    assert small["equal"].mean() < 2 * c.ALPHA < ex["equal"].mean()


# ---- deep linear weights ----------------------------------------------------------------------
def _linear_net(rng, h=3, d=6, out=4):
    return rng.standard_normal((h, d)), rng.standard_normal((out, h))


def test_a_signed_permutation_is_distance_zero_and_a_scaling_is_not(rng):
    a = _linear_net(rng)
    for perm, signs in itertools.product(itertools.permutations(range(3)), [(1, -1, 1)]):
        p = np.eye(3)[list(perm)] * np.array(signs)[:, None]  # signed permutation matrix
        b = (p @ a[0], a[1] @ p.T)
        assert c.signed_permutation_distance(a, b) == pytest.approx(0.0, abs=1e-12)
    scaled = (np.diag([2.0, 1, 1]) @ a[0], a[1] @ np.diag([0.5, 1, 1]))  # same function
    assert c.signed_permutation_distance(a, scaled) > c.DIFFERENT_WEIGHTS


def test_invertible_relation_finds_m_and_fails_where_no_m_exists(rng):
    a = _linear_net(rng)
    m = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    related = (m @ a[0], a[1] @ np.linalg.inv(m))
    residual, cond = c.invertible_relation(a, related)
    assert residual < 1e-10 and cond == pytest.approx(np.linalg.cond(m))
    unrelated = _linear_net(rng)  # another row space: W1' = M W1 has no solution
    assert c.invertible_relation(a, unrelated)[0] > 0.1
    collapsed = (np.zeros((3, 6)), a[1])  # M = 0 is not invertible
    assert c.invertible_relation(a, collapsed)[0] == np.inf


def test_best_rank_loss_is_eckart_young(rng):
    x = rng.standard_normal((200, 6))
    y = x @ rng.standard_normal((6, 4)) + 0.1 * rng.standard_normal((200, 4))
    b = np.linalg.solve(x.T @ x, x.T @ y)
    fitted = x @ b
    s = np.linalg.svd(fitted, compute_uv=False)
    base = ((fitted - y) ** 2).sum()
    for rank in (1, 2, 4):
        ref = (base + (s[rank:] ** 2).sum()) / y.size
        assert c.best_rank_loss(x, y, rank) == pytest.approx(ref, rel=1e-10)


def test_predictions_match_the_torch_model():
    from unitscope.train import fit

    cfg = c._regression_config("tiny", [4], "relu", 0.05).override({"train.steps": 5})
    ds = c.pair_data(0, 64)
    rec = fit(cfg, dataset=ds)
    with torch.no_grad():
        ref = rec.model().forward(torch.as_tensor(ds.x)).numpy()[..., 0]  # (K, n)
    np.testing.assert_allclose(c.predictions(rec, ds.x)[-1], ref, rtol=1e-10, atol=1e-12)


# ---- verdicts on both sides -------------------------------------------------------------------
def test_verdicts_on_both_sides():
    tol = c.OLS_TOLERANCE
    assert c.verdict_converges(_iv(0, tol / 2)) == "supported"
    assert c.verdict_converges(_iv(2 * tol, 3 * tol)) == "refuted"
    assert c.verdict_converges(_iv(tol / 2, 2 * tol)) == "inconclusive"
    assert c.verdict_equal_weights(_iv(0.6, 0.8)) == "supported"
    assert c.verdict_equal_weights(_iv(0.02, 0.1)) == "refuted"
    assert c.verdict_equal_weights(_iv(0.4, 0.6)) == "inconclusive"
    same, differ, related = _iv(0, 1e-8), _iv(0.5, 0.9), _iv(0, 1e-8)
    assert c.verdict_deep_linear(same, differ, related) == "supported"
    assert c.verdict_deep_linear(_iv(0.5, 1), differ, related) == "refuted"
    assert c.verdict_deep_linear(same, _iv(0, 0.01), related) == "refuted"
    assert c.verdict_deep_linear(same, differ, _iv(0.5, 2)) == "refuted"
    assert c.verdict_deep_linear(same, _iv(0.05, 0.2), related) == "inconclusive"


# ---- a tiny run ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def result():
    return c.run("tiny")


def test_tiny_run_verdicts_follow_from_numbers(result):
    check_result(result, 3)
    conv, equal, deep = result.findings
    assert conv.measured == c.verdict_converges(t_interval(conv.numbers["distance_to_ols"]))
    tests = result.numbers["tests"]["exchangeable"]
    rate = c.rate_interval(int(sum(tests["equal"])), len(tests["equal"]))
    assert equal.measured == c.verdict_equal_weights(rate)
    d = {k: np.array(v) for k, v in result.numbers["deep"].items()}
    same = [pair_interval(d[f"same_{k}"]) for k in ("function", "weights", "residual")]
    assert deep.measured == c.verdict_deep_linear(*same)


def test_tiny_run_controls_flip_their_verdicts(result):
    conv, equal, deep = result.findings
    relu = np.array(result.numbers["relu"]["distance_to_best"])[-1]
    best = int(np.argmin(result.numbers["relu"]["final_loss"]))
    assert conv.control.verdict == c.verdict_converges(t_interval(np.delete(relu, best)))
    small = result.numbers["tests"]["small_effect"]["equal"]
    assert equal.control.verdict == c.verdict_equal_weights(
        c.rate_interval(int(sum(small)), len(small))
    )
    d = {k: np.array(v) for k, v in result.numbers["deep"].items()}
    other = [pair_interval(d[f"other_{k}"]) for k in ("function", "weights", "residual")]
    assert deep.control.verdict == c.verdict_deep_linear(*other)
    for f in result.findings:
        assert f.measured == "supported" and f.control.verdict == "refuted", f.claim


def test_a_supported_control_or_a_failed_premise_makes_a_finding_inconclusive(result):
    for f in result.findings:
        fooled = dataclasses.replace(f, control=Control(f.control.what, "supported"))
        assert fooled.verdict == "inconclusive"
        failed = dataclasses.replace(f, premise=dataclasses.replace(f.premise, holds=False))
        assert failed.verdict == "inconclusive"


def test_titles_follow_the_verdicts(result):
    found = dict(zip(("ols", "equal", "deep"), result.findings))
    holds = {k: dataclasses.replace(f, premise=dataclasses.replace(f.premise, holds=True))
             for k, f in found.items()}  # fmt: skip
    fooled = {k: dataclasses.replace(f, control=dataclasses.replace(f.control, verdict="supported"))
              for k, f in holds.items()}  # fmt: skip
    titles = [{f.id: f.title for f in c._figures({}, fs)} for fs in (holds, fooled)]
    assert set(titles[0]) == {"convex-equal", "convex-deep"}  # the tables; no runs given
    for fig_id, title in titles[1].items():
        assert "no decision" in title and title != titles[0][fig_id]


def test_tiny_run_figures_build_and_numbers_are_json(result):
    assert [f.id for f in result.figures] == ["convex-ols", "convex-equal", "convex-deep"]
    for spec in result.figures:
        report.figure_from_spec(spec)
    json.dumps(result.to_dict())
