from __future__ import annotations

import numpy as np
import pytest

from unitscope.studies import symmetry as s

from ._consistency import check_result


def test_verdict_keeps_on_both_sides():
    tol = {"a": 1e-12, "b": 1e-12}
    assert s.verdict_keeps({"a": 1e-13, "b": 5e-13}, tol) == "supported"
    assert s.verdict_keeps({"a": 1e-13, "b": 2e-12}, tol) == "mixed"
    assert s.verdict_keeps({"a": 1e-3, "b": 2e-12}, tol) == "refuted"


def test_verdict_breaks_on_both_sides():
    scales = {"d": 2.0}
    assert s.verdict_breaks({"d": 2.1 * s.SEPARATED}, scales) == "supported"
    assert s.verdict_breaks({"d": 1.9 * s.SEPARATED}, scales) == "refuted"


def test_verdict_unstable_on_both_sides():
    amp = s.AMPLIFIED
    assert s.verdict_unstable({"e": 0.01}, {"e": amp * 1.1}) == "supported"
    assert s.verdict_unstable({"e": 0.01}, {"e": amp * 0.9}) == "refuted"
    assert s.verdict_unstable({"e": -0.01}, {"e": amp * 2}) == "refuted"
    assert s.verdict_unstable({"e": 0.01, "f": -0.01}, {"e": 50, "f": 50}) == "mixed"


def test_growth_rate_recovers_a_planted_exponential():
    steps = np.arange(0, 200, 10)
    spread = 1e-8 * np.exp(0.05 * steps)
    spread = np.minimum(spread, 1.0)  # saturates
    assert s.growth_rate(steps, spread) == pytest.approx(0.05, rel=1e-6)


def test_tiny_run_verdicts_follow_from_numbers():
    result = s.run("tiny")
    check_result(result, 3)
    keeps, breaks, unstable = result.findings
    assert keeps.verdict == s.verdict_keeps(keeps.numbers["spreads"], keeps.thresholds["tolerance"])
    assert keeps.verdict == "supported"  # exchangeable units stay exchangeable
    scales = result.numbers["weight_scale"]
    assert breaks.verdict == s.verdict_breaks(breaks.numbers["spreads"], scales)
    assert unstable.verdict == s.verdict_unstable(
        unstable.numbers["growth_rate_per_step"], unstable.numbers["amplification"]
    )
