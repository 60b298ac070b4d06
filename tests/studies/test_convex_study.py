from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from unitscope.studies import convex as c

from ._consistency import check_result


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


def test_verdicts_on_both_sides():
    assert c.verdict_converges(c.OLS_TOLERANCE / 2) == "supported"
    assert c.verdict_converges(c.OLS_TOLERANCE * 2) == "refuted"
    assert c.verdict_exchangeable(0.3, 0.001) == "supported"
    assert c.verdict_exchangeable(0.01, 0.001) == "mixed"
    assert c.verdict_exchangeable(0.01, 0.2) == "refuted"
    assert c.verdict_deep_linear(1e-5, 0.5) == "supported"
    assert c.verdict_deep_linear(0.5, 0.5) == "mixed"
    assert c.verdict_deep_linear(0.5, 0.01) == "refuted"


def test_tiny_run_verdicts_follow_from_numbers():
    result = c.run("tiny")
    check_result(result, 3)
    conv, exch, deep = result.findings
    assert conv.verdict == c.verdict_converges(conv.numbers["max_deviation"]) == "supported"
    assert exch.verdict == c.verdict_exchangeable(
        exch.numbers["p_exchangeable"], exch.numbers["p_not_exchangeable"]
    )
    assert deep.verdict == c.verdict_deep_linear(
        deep.numbers["function_spread"], deep.numbers["weight_distance"]
    )
