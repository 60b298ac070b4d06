"""Study init_scale: verdicts on both sides, controls and premises that flip them, words
generated from the verdicts, and the tiny run re-deriving its own verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from unitscope.studies import init_scale as s
from unitscope.studies._finding import Interval

from ._consistency import check_result


def iv(lo, hi):
    return Interval((lo + hi) / 2, lo, hi, 6)


def test_verdict_functions_on_both_sides():
    assert s.verdict_alike(iv(0.6, 0.9)) == "supported"
    assert s.verdict_alike(iv(-0.1, 0.2)) == "refuted"
    assert s.verdict_alike(iv(0.3, 0.7)) == "inconclusive"
    assert s.verdict_condensed(iv(2, 3)) == "supported"
    assert s.verdict_condensed(iv(20, 30)) == "refuted"
    assert s.verdict_lazy(iv(0.01, 0.1)) == "supported"
    assert s.verdict_lazy(iv(2.0, 9.0)) == "refuted"
    assert s.verdict_dropout(iv(1.0, 3.0)) == "supported"
    assert s.verdict_dropout(iv(-3.0, 1.0)) == "inconclusive"


def rows(small_final, standard_final, *, loss=0.001, n=6, width=32):
    """Synthetic numbers for a two-gain grid: small and standard starts."""
    rng = np.random.default_rng(0)

    def row(final, change):
        final = np.asarray(final, dtype=np.float64) + 0 * rng.random(n)
        return {
            "steps": [0, 10, 100],
            "clusters": [[width, (width + f) / 2, f] for f in final],
            "clusters_init": [float(width)] * n,
            "clusters_final": final.tolist(),
            "fall": (1 - final / width).tolist(),
            "floor_control": [float(width - 1)] * n,
            "relative_change": (change + 0.01 * rng.random(n)).tolist(),
            "relative_loss": [loss] * n,
        }

    grid = [s.Condition(1e-4, width), s.Condition(1.0, width)]
    return grid, {
        grid[0].key: row([2, 2, 3, 2, 2, 3], 900.0),
        grid[1].key: row(standard_final, 0.05),
    }


def test_condensation_is_supported_when_only_the_small_start_condenses():
    grid, r = rows([2] * 6, [30, 31, 29, 30, 31, 30])
    f = s.finding_condensed(grid, r)
    assert f.measured == "supported" and f.control.verdict == "refuted"
    assert f.verdict == "supported"


def test_condensation_is_inconclusive_when_the_standard_start_condenses_too():
    grid, r = rows([2] * 6, [2, 3, 2, 3, 2, 3])
    f = s.finding_condensed(grid, r)
    assert f.control.verdict == "supported" and f.verdict == "inconclusive"
    assert "cannot discriminate" in f.reason


def test_an_untrained_student_makes_the_finding_inconclusive():
    grid, r = rows([2] * 6, [30] * 6, loss=0.5)
    f = s.finding_lazy(grid, r)
    assert f.measured == "supported" and not f.premise.holds and f.verdict == "inconclusive"


def test_alike_is_regime_dependent_and_the_words_follow_the_numbers():
    grid, r = rows([2] * 6, [30, 31, 29, 30, 31, 30])
    f = s.finding_alike(grid, r)
    assert f.measured == "mixed" and f.summary.startswith("regime-dependent")
    grid2, r2 = rows([2] * 6, [2, 3, 2, 3, 2, 3])
    g = s.finding_alike(grid2, r2)
    assert g.measured == "supported" and g.summary.startswith("at every gain")
    title = {x.id: x.title for x in s.figures(grid, r, f.verdict)}["init_scale-clusters"]
    title2 = {x.id: x.title for x in s.figures(grid2, r2, g.verdict)}["init_scale-clusters"]
    assert title != title2 and "depends on the scale" in title


def test_the_floor_control_flips_the_alike_verdict_when_the_floor_alone_explains_the_fall():
    grid, r = rows([2] * 6, [30] * 6)
    assert s.finding_alike(grid, r).control.verdict == "refuted"
    r[grid[0].key]["floor_control"] = [2.0, 3.0, 2.0, 2.0, 3.0, 2.0]  # the floor did it all
    f = s.finding_alike(grid, r)
    assert f.control.verdict == "supported" and f.verdict == "inconclusive"


@pytest.fixture(scope="module")
def tiny():
    return s.run("tiny")


def test_tiny_run_verdicts_follow_from_numbers(tiny):
    check_result(tiny, 3)
    alike, condensed, lazy = tiny.findings
    assert condensed.measured == s.verdict_condensed(condensed.interval["clusters_final"])
    assert lazy.measured == s.verdict_lazy(lazy.interval["relative_change"])
    assert alike.numbers["per_gain"] == {
        k[len("fall ") :]: s.verdict_alike(v) for k, v in alike.interval.items()
    }


def test_tiny_run_small_start_condenses_and_standard_start_stays_lazy(tiny):
    rows = tiny.numbers["conditions"]
    small = rows[s.Condition(1e-4, 16).key]
    standard = rows[s.Condition(1.0, 16).key]
    assert max(small["clusters_final"]) <= 4 < min(standard["clusters_final"])
    assert max(standard["relative_change"]) < 1 < min(small["relative_change"])
