"""Study correspondence: verdicts on both sides, each control flipping its finding, premises
that fail, words generated from verdicts, the intervals' resampling of seeds, and the tiny run
re-deriving its verdicts from its own numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unitscope.cli._io import to_jsonable
from unitscope.measures import linear_cka
from unitscope.report._studies import figure_from_spec, study_document
from unitscope.report._write import render_html
from unitscope.studies import correspondence as c
from unitscope.studies._finding import Interval

from ._consistency import check_result

K, U = 6, 8


def iv(lo, hi):
    return Interval((lo + hi) / 2, lo, hi, K)


def test_verdict_functions_on_both_sides():
    assert c.verdict_stitches(iv(0.5, 2.0)) == "supported"
    assert c.verdict_stitches(iv(8.0, 12.0)) == "refuted"
    assert c.verdict_stitches(iv(3.0, 7.0)) == "inconclusive"
    assert c.verdict_consistent(iv(0.7, 0.9)) == "supported"
    assert c.verdict_consistent(iv(0.1, 0.3)) == "refuted"
    assert c.verdict_consistent(iv(0.4, 0.6)) == "inconclusive"
    assert c.verdict_shared(iv(0.6, 0.8)) == "supported"
    assert c.verdict_shared(iv(0.0, 0.1)) == "refuted"


# ---- numbers shaped like `measure`'s, with chosen values --------------------------------------


def pair_matrix(value, rng, spread=0.3):
    m = np.full((K, K), np.nan)
    for i in range(K):
        for j in range(i + 1, K):
            m[i, j] = value + spread * rng.uniform(-1, 1)
    return m.tolist()


def cycle_tensor(value, rng):
    t = np.full((K, K, K), np.nan)
    for a in range(K):
        for b in range(K):
            for d in range(K):
                if len({a, b, d}) == 3:
                    t[a, b, d] = value
    jitter = rng.uniform(-0.03, 0.03, size=t.shape)
    return np.clip(t + jitter, 0, 1).tolist()


def universal_numbers(best, rng, threshold=0.8):
    partner = np.clip(best + 0.05 * rng.standard_normal((K, K, U)), -1, 1)
    partner[np.arange(K), np.arange(K)] = np.nan
    return {
        "partner": partner.tolist(),
        "active": np.ones((K, U), dtype=bool).tolist(),
        "threshold": threshold,
        "best": np.nanmean(partner, axis=1).tolist(),
        "rotated": np.full((K, U), 0.5).tolist(),
        "shuffled": np.full((K, U), 0.1).tolist(),
        "untrained": np.full((K, U), 0.4).tolist(),
        "fraction": [float(best > threshold)] * K,
        "fraction_fixed": [0.0] * K,
        "null_fractions": {"rotated": 0.01, "shuffled": 0.0, "untrained": 0.0},
    }


def numbers(
    *,
    stitch=1.0,
    stitch_untrained=40.0,
    cycle=0.9,
    cycle_untrained=0.1,
    best=0.95,
    best_rotated=0.5,
    acc=0.97,
    cka=0.95,
):
    rng = np.random.default_rng(0)
    return {
        "K": K,
        "units": U,
        "training": {"test_acc": [acc] * K, "train_acc": [1.0] * K, "live_share": [0.9] * K},
        "stitching": {
            "trained permutation": pair_matrix(stitch, rng),
            "untrained permutation": pair_matrix(stitch_untrained, rng),
            "trained direct": pair_matrix(0.2, rng),
            "input direct": pair_matrix(0.5, rng),
            "input permutation": pair_matrix(40.0, rng),
            "untrained direct": pair_matrix(5.0, rng),
        },
        "cycle": cycle_tensor(cycle, rng),
        "cycle_untrained": cycle_tensor(cycle_untrained, rng),
        "chance": 1 / U,
        "consensus_units": 5,
        "consensus_threshold": 0.8,
        "support_histogram": [0] * (K + 1),
        "sweeps": 2,
        "universal": universal_numbers(best, rng),
        "universal_rotated": universal_numbers(best_rotated, rng),
        "cka": cka,
        "svcca": 0.8,
    }


def findings(s):
    v = c.intervals(s)
    return c.finding_stitch(s, v), c.finding_consistent(s, v), c.finding_shared(s, v)


def test_every_claim_is_supported_when_its_numbers_and_controls_say_so():
    for f in findings(numbers()):
        assert f.measured == "supported" and f.control.verdict == "refuted", f.claim
        assert f.premise.holds and f.verdict == "supported"


def test_every_claim_is_refuted_on_the_other_side():
    s = numbers(stitch=12.0, cycle=0.2, best=0.6)
    assert [f.verdict for f in findings(s)] == ["refuted"] * 3


def test_each_control_that_comes_out_supported_makes_its_finding_inconclusive():
    stitch, _, _ = findings(numbers(stitch_untrained=1.0))  # A before training stitches too
    _, consistent, _ = findings(numbers(cycle_untrained=0.9))  # untrained matches agree too
    _, _, shared = findings(numbers(best_rotated=0.95))  # a rotated basis is "shared" too
    for f in (stitch, consistent, shared):
        assert f.measured == "supported" and f.control.verdict == "supported"
        assert f.verdict == "inconclusive" and "cannot discriminate" in f.reason


def test_failed_premises_make_the_findings_inconclusive():
    for f in findings(numbers(acc=0.5)):
        assert not f.premise.holds and f.verdict == "inconclusive"
    _, consistent, shared = findings(numbers(cka=0.3))  # the span is not shared
    assert consistent.verdict == "supported"
    assert not shared.premise.holds and shared.verdict == "inconclusive"


def test_summaries_and_titles_follow_the_verdicts():
    good, bad = numbers(), numbers(stitch=12.0, cycle=0.2, best=0.6)
    for f_good, f_bad in zip(findings(good), findings(bad)):
        assert f_good.summary.split(":")[0] != f_bad.summary.split(":")[0]
    verdicts = {"supported": {"consistent": "supported", "shared": "supported"}}
    verdicts["refuted"] = {"consistent": "refuted", "shared": "refuted"}
    titles = {
        k: {f.id: f.title for f in c.figures(good, c.intervals(good), v)}
        for k, v in verdicts.items()
    }
    for fid in ("correspondence-cycle", "correspondence-universal"):
        assert titles["supported"][fid] != titles["refuted"][fid]
    assert "agree with each other" in titles["supported"]["correspondence-cycle"]


def test_intervals_resample_seeds_and_hold_the_full_statistic():
    s = numbers(cycle=0.6)
    v = c.intervals(s)
    cyc = np.asarray(s["cycle"])
    assert v["cycle"].value == pytest.approx(np.nanmean(cyc)) and v["cycle"].n == K
    u = s["universal"]
    partner = np.asarray(u["partner"])
    share = (np.nanmean(partner, axis=1) > u["threshold"]).mean()
    assert v["universal"].value == pytest.approx(share) and v["universal"].n == K
    assert v["cycle"].lo < v["cycle"].value < v["cycle"].hi
    assert v["permutation"].method == "bootstrap" and v["permutation"].n == K


def test_resampled_statistics_match_plain_loops_over_the_drawn_seeds():
    s = numbers(cycle=0.6, best=0.8)
    cyc = np.asarray(s["cycle"])
    u = s["universal"]
    partner, thr = np.asarray(u["partner"]), u["threshold"]
    rng = np.random.default_rng(4)
    member = np.zeros((30, K), dtype=bool)
    for b in range(30):
        member[b, rng.integers(0, K, K)] = True
    member[0] = [True, True] + [False] * (K - 2)  # two seeds: no triple
    got_cycle, got_share = c.cycle_mean(cyc, member), c.universal_share(u, member)
    for b in range(30):
        seeds = np.flatnonzero(member[b])
        triples = [cyc[a, e, f] for a in seeds for e in seeds for f in seeds if a != e != f != a]
        if len(seeds) < 3:
            assert np.isnan(got_cycle[b])
        else:
            assert got_cycle[b] == pytest.approx(np.mean(triples))
        shares = []
        for k in seeds:
            best = np.mean([partner[k, m] for m in seeds if m != k], axis=0)
            shares.append(np.mean(best > thr))
        assert got_share[b] == pytest.approx(np.mean(shares))


def test_rotated_layers_keep_the_span_and_lose_the_basis():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(3, 50, 5)) + 2.0
    rot = c.rotated_layers(acts)
    for k in range(3):
        assert linear_cka(acts[k], rot[k]) == pytest.approx(1.0)
        centred = acts[k] - acts[k].mean(0)
        q = np.linalg.lstsq(centred, rot[k], rcond=None)[0]
        np.testing.assert_allclose(q @ q.T, np.eye(5), atol=1e-10)
        assert np.abs(q - np.eye(5)).max() > 0.1  # not the identity


def test_tiny_run_verdicts_follow_from_numbers():
    result = c.run("tiny")
    check_result(result, 3)
    stitch, consistent, shared = result.findings
    s = result.numbers
    v = c.intervals(s)
    assert stitch.measured == c.verdict_stitches(stitch.interval["permutation penalty"])
    assert consistent.measured == c.verdict_consistent(consistent.interval["cycle consistency"])
    assert shared.measured == c.verdict_shared(shared.interval["universal share"])
    # each control is the same verdict function on the control's own measured numbers
    assert stitch.control.verdict == c.verdict_stitches(v["permutation untrained"])
    assert consistent.control.verdict == c.verdict_consistent(v["cycle untrained"])
    assert shared.control.verdict == c.verdict_shared(v["universal rotated"])
    # untrained A is useless to B; rotating a layer leaves ~1 - quantile of its units universal
    assert v["permutation untrained"].value > v["permutation"].value
    assert v["universal rotated"].value < 0.1
    assert s["chance"] == pytest.approx(1 / s["units"])
    for spec in result.figures:
        assert figure_from_spec(spec).id == spec.id
    html = render_html(study_document([result]))
    assert all(f.claim.replace("'", "&#x27;") in html for f in result.findings)
    json.dumps(to_jsonable(result.to_dict()), allow_nan=False)  # findings.json is strict JSON
