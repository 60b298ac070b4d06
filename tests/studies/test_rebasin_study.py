"""Study rebasin: verdicts on both sides, the random-permutation control flipping them, the
seed-resampled slope, and the tiny run re-deriving its verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from unitscope.studies import rebasin as s
from unitscope.studies._finding import Interval

from ._consistency import check_result

K = 4


def iv(lo, hi):
    return Interval((lo + hi) / 2, lo, hi, K)


def test_verdict_functions_on_both_sides():
    assert s.verdict_connected(iv(0.0, 0.02)) == "supported"
    assert s.verdict_connected(iv(0.1, 0.3)) == "refuted"
    assert s.verdict_connected(iv(0.03, 0.08)) == "inconclusive"
    assert s.verdict_grows(iv(0.05, 0.2)) == "supported"
    assert s.verdict_grows(iv(-0.2, -0.05)) == "refuted"


def pairs(values):
    m = np.full((K, K), np.nan)
    iu = np.triu_indices(K, 1)
    m[iu] = values
    m[(iu[1], iu[0])] = values
    return m


def test_slope_interval_recovers_a_planted_trend_and_its_absence():
    widths = [8, 32, 128]
    rng = np.random.default_rng(0)
    trend = [pairs(0.1 * np.log2(w) + 0.01 * rng.normal(size=6)) for w in widths]
    flat = [pairs(0.5 + 0.05 * rng.normal(size=6)) for _ in widths]
    up = s.slope_interval(trend, widths)
    assert up.value == pytest.approx(0.1, abs=0.01) and up.lo > 0
    none = s.slope_interval(flat, widths)
    assert none.lo < 0 < none.hi


def row(width, aligned, random, naive=0.5, acc=0.95, share=None, share_random=None):
    return {
        "width": width, "depth": 1, "aligned": pairs(aligned).tolist(),
        "random": pairs(random).tolist(), "naive": pairs([naive] * 6).tolist(),
        "repaired": pairs(aligned).tolist(), "matched_corr": pairs([0.6] * 6).tolist(),
        "share": pairs(share if share is not None else 1 - np.asarray(aligned) / naive).tolist(),
        "share_random": pairs(share_random if share_random is not None else [0.0] * 6).tolist(),
        "test_acc": [acc] * K,
    }  # fmt: skip


def test_connected_is_supported_only_while_a_random_permutation_is_not():
    low = [0.01, 0.02, 0.015, 0.01, 0.02, 0.012]
    rows = {"a": row(8, [0.3] * 6, [0.5] * 6), "b": row(128, low, [0.4, 0.5, 0.45, 0.4, 0.5, 0.42])}
    f = s.finding_connected(rows)
    assert f.measured == "supported" and f.control.verdict == "refuted" and f.verdict == "supported"
    rows["b"] = row(128, low, low)  # random permutations connect too: nothing to discriminate
    g = s.finding_connected(rows)
    assert g.control.verdict == "supported" and g.verdict == "inconclusive"


def test_an_untrained_network_makes_it_inconclusive():
    rows = {"b": row(128, [0.01] * 6, [0.4] * 6, acc=0.3)}
    assert s.finding_connected(rows).verdict == "inconclusive"


def test_grows_against_a_random_permutation_that_also_grows():
    shares = {8: 0.3, 32: 0.6, 128: 0.9}
    rows = {
        str(w): row(w, [0.1] * 6, [0.5] * 6, share=[v] * 6, share_random=[0.0] * 6)
        for w, v in shares.items()
    }
    rows["8"]["share"] = pairs([0.28, 0.3, 0.32, 0.29, 0.31, 0.3]).tolist()
    f = s.finding_grows(rows)
    assert f.measured == "supported" and f.verdict == "supported"
    for w, v in shares.items():
        rows[str(w)]["share_random"] = pairs([v + 0.01 * i for i in range(6)]).tolist()
    g = s.finding_grows(rows)
    assert g.control.verdict == "supported" and g.verdict == "inconclusive"


def test_the_barrier_title_follows_the_verdict():
    rows = {"b": row(128, [0.01] * 6, [0.4] * 6)}
    a = {f.id: f.title for f in s.figures(rows, "supported")}["rebasin-barrier"]
    b = {f.id: f.title for f in s.figures(rows, "refuted")}["rebasin-barrier"]
    assert a != b and "one network" in a


def test_tiny_run_verdicts_follow_from_numbers():
    result = s.run("tiny")
    check_result(result, 2)
    connected, grows = result.findings
    assert connected.measured == s.verdict_connected(connected.interval["aligned barrier"])
    assert grows.measured == s.verdict_grows(grows.interval["slope per doubling"])
    for r in result.numbers["conditions"].values():
        aligned, naive = np.nanmean(r["aligned"]), np.nanmean(r["naive"])
        assert aligned < naive  # matching never makes the line worse on average
