"""Study ``feature_maps``: verdict logic on hand-made numbers, findings built from hand-made
cases (words follow the numbers, controls flip verdicts), and a tiny run end to end."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from unitscope import data, report
from unitscope.studies import feature_maps as fm
from unitscope.studies._finding import Interval

from ._consistency import check_result

torch.set_num_threads(1)
NAN = float("nan")


def iv(lo: float, hi: float) -> Interval:
    return Interval((lo + hi) / 2, lo, hi, 6)


# ---- verdict logic ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("corr", "twins", "expected"),
    [
        (iv(0.1, 0.3), iv(0.0, 0.0), "supported"),
        (iv(0.1, 0.55), iv(0.0, 0.0), "inconclusive"),  # mean |corr| straddles 0.5
        (iv(0.6, 0.9), iv(0.0, 0.0), "refuted"),  # maps too alike
        (iv(0.1, 0.3), iv(2.0, 4.0), "refuted"),  # near-twin pairs in every seed
        (iv(0.1, 0.3), iv(0.0, 2.0), "inconclusive"),  # twins straddle 1 per seed
        (Interval(0.3, -np.inf, np.inf, 1), iv(0.0, 0.0), "inconclusive"),  # one seed
    ],
)
def test_verdict_maps_differ(corr, twins, expected) -> None:
    assert fm.verdict_maps_differ(corr, twins) == expected


@pytest.mark.parametrize(
    ("matched", "share", "expected"),
    [
        (iv(0.92, 0.97), iv(0.85, 0.95), "supported"),
        (iv(0.85, 0.95), iv(0.8, 0.9), "inconclusive"),  # matched straddles 0.9
        (iv(0.92, 0.97), iv(0.4, 0.6), "inconclusive"),  # high, but so is the null
        (iv(0.4, 0.6), iv(0.2, 0.4), "refuted"),  # nearer to chance than to the same maps
        (iv(0.4, 0.6), iv(0.4, 0.6), "inconclusive"),
        (iv(0.4, 0.6), Interval(NAN, NAN, NAN, 0), "inconclusive"),
    ],
)
def test_verdict_same_maps_uses_the_null(matched, share, expected) -> None:
    assert fm.verdict_same_maps(matched, share) == expected


@pytest.mark.parametrize(
    ("log_spreads", "expected"),
    [
        ({"conv.0": iv(-17, -15), "conv.1": iv(-16, -12.8)}, "supported"),  # rounding level
        ({"conv.0": iv(-17, -15), "conv.1": iv(-12.5, -11)}, "mixed"),  # above, not apart
        ({"conv.0": iv(-17, -15), "conv.1": iv(-2.5, 0.5)}, "refuted"),  # separated
        ({"conv.0": iv(-17, -15), "conv.1": iv(-13, -11)}, "inconclusive"),  # straddles
        ({"conv.0": iv(-17, -15), "conv.1": iv(-4, 0.5)}, "mixed"),  # may or may not be apart
        ({}, "inconclusive"),  # no seed kept live maps
    ],
)
def test_verdict_symmetric_on_log10_spreads(log_spreads, expected) -> None:
    tol = dict.fromkeys(log_spreads, 2e-13)  # log10: -12.7
    sep = dict.fromkeys(log_spreads, 1e-3)  # log10: -3
    assert fm.verdict_symmetric(log_spreads, tol, sep) == expected


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        (["supported", "supported"], "supported"),
        (["refuted", "refuted"], "refuted"),
        (["supported", "refuted", "inconclusive"], "mixed"),
        (["refuted", "inconclusive"], "inconclusive"),
        ([], "inconclusive"),
    ],
)
def test_combine_over_cases(verdicts, expected) -> None:
    assert fm.combine(verdicts) == expected


def test_positions_makes_every_image_position_an_observation() -> None:
    maps = np.arange(2 * 3 * 4 * 2 * 2, dtype=float).reshape(2, 3, 4, 2, 2)  # (K, n, C, H, W)
    obs = fm.positions(maps)
    assert obs.shape == (2, 3 * 2 * 2, 4)
    assert obs[1, 5].tolist() == maps[1, 1, :, 0, 1].tolist()  # image 1, row 0, col 1


def test_within_layer_by_hand() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 40, 3, 2, 2))  # (K, n, C, H, W)
    x[0, :, 2] = -2 * x[0, :, 0] + 1  # seed 0: map 2 is a twin of map 0
    x[1, :, 1] = 0.5  # seed 1: map 1 is dead
    w = fm.within_layer(x)
    assert w.twins.tolist() == [1.0, 0.0] and w.live.tolist() == [3.0, 2.0]
    ref = np.abs(np.corrcoef(fm.positions(x)[1][:, [0, 2]].T)[0, 1])  # the one live pair
    assert w.corr[1] == pytest.approx(ref)
    upper = np.abs(np.corrcoef(fm.positions(x)[0].T))[np.triu_indices(3, 1)]
    assert w.corr[0] == pytest.approx(upper.mean())


def test_share_and_pair_matrix() -> None:
    a = fm.Across(
        seeds=3,
        pairs=[(0, 1), (0, 2), (1, 2)],
        matched=np.array([0.6, 0.8, 1.0]),
        null=np.array([0.2, 0.6, 0.5]),
        unaligned=np.zeros(3),
        per_map=np.zeros((3, 2)),
        perm=np.arange(2),
        cross=np.eye(2),
    )
    np.testing.assert_allclose(a.share, [0.5, 0.5, 1.0])
    m = a.matrix(a.matched)
    assert m[2, 1] == m[1, 2] == 1.0 and np.isnan(m[0, 0])


# ---- findings from hand-made cases -------------------------------------------------------------
K = 6
SPREAD = np.linspace(-1.0, 1.0, K)


def across(matched: float, null: float) -> fm.Across:
    pairs = [(i, j) for i in range(K) for j in range(i + 1, K)]
    wobble = 0.01 * np.sin(np.arange(len(pairs)))
    return fm.Across(
        seeds=K,
        pairs=pairs,
        matched=matched + wobble,
        null=np.full(len(pairs), null),
        unaligned=np.zeros(len(pairs)),
        per_map=np.full((len(pairs), 4), matched),
        perm=np.arange(4),
        cross=np.eye(4),
    )


def case(corr: float, matched: float, init_matched: float, null: float = 0.2) -> fm.Case:
    return fm.Case(
        dataset="digits x2",
        layer="conv.0",
        maps=4,
        within=fm.Within(corr + 0.02 * SPREAD, np.zeros(K), np.full(K, 4.0), np.eye(4)),
        across=across(matched, null),
        untrained=across(init_matched, null),
        accuracy=0.95 + 0.01 * SPREAD,
        chance=0.1,
    )


def symmetric(spread: float, live: int = 4) -> fm.Symmetric:
    within = fm.Within(np.ones(live), np.full(live, 6.0), np.full(live, 4.0), np.ones((4, 4)))
    return fm.Symmetric(
        spread={"conv.0": spread * (1 + 0.1 * np.linspace(-1, 1, live))},
        tolerance={"conv.0": 2e-13},
        separated={"conv.0": 1e-3},
        map_spread={"conv.0": spread},
        within={"conv.0": within},
        moved=0.3,
        live_members=list(range(live)),
        members=live,
        accuracy=np.full(live, 0.5),
        example=np.zeros((4, 3, 3)),
    )


def test_differ_finding_words_follow_the_numbers_and_the_control_refutes() -> None:
    apart = fm.finding_differ({"c": case(0.2, 0.5, 0.5)}, symmetric(1e-16))
    alike = fm.finding_differ({"c": case(0.8, 0.5, 0.5)}, symmetric(1e-16))
    assert (apart.measured, alike.measured) == ("supported", "refuted")
    assert apart.summary.startswith("In every layer the maps compute different things")
    assert alike.summary.startswith("In no layer")
    assert apart.control.verdict == "refuted"  # identical maps are not "different things"
    assert apart.premise.holds and apart.verdict == "supported"


def test_differ_control_that_passes_too_flips_the_finding() -> None:
    apart = case(0.2, 0.5, 0.5)
    looks_apart = dataclasses.replace(
        symmetric(1e-16), within={"conv.0": apart.within}
    )  # a "symmetric" run whose maps came out as different as the trained ones
    f = fm.finding_differ({"c": apart}, looks_apart)
    assert f.measured == "supported" and f.control.verdict == "supported"
    assert f.verdict == "inconclusive" and "cannot discriminate" in f.reason


def test_same_finding_words_follow_the_numbers_and_the_untrained_control() -> None:
    same = fm.finding_same({"c": case(0.2, matched=0.97, init_matched=0.3)})
    chance = fm.finding_same({"c": case(0.2, matched=0.35, init_matched=0.3)})
    assert (same.measured, chance.measured) == ("supported", "refuted")
    assert same.summary.startswith("Two seeds learn the same maps in another order")
    assert chance.summary.startswith("The maps two seeds learn are nearer to chance")
    assert same.control.verdict == "refuted" and same.verdict == "supported"
    # untrained networks that match as well as trained ones: the test cannot discriminate
    rigged = fm.finding_same({"c": case(0.2, matched=0.97, init_matched=0.97)})
    assert rigged.control.verdict == "supported" and rigged.verdict == "inconclusive"


def test_same_verdict_reads_the_null_not_only_the_matched_correlation() -> None:
    # matched 0.93 looks like "the same maps", but the null is 0.85: only half the way
    f = fm.finding_same({"c": case(0.2, matched=0.93, init_matched=0.3, null=0.85)})
    assert f.measured == "inconclusive"
    assert f.interval["c share above null"].value == pytest.approx((0.93 - 0.85) / 0.15, 0.05)


def test_symmetric_finding_words_and_control() -> None:
    kept = fm.finding_symmetric(symmetric(1e-16), symmetric(0.5))
    apart = fm.finding_symmetric(symmetric(0.5), symmetric(0.5))
    assert (kept.measured, apart.measured) == ("supported", "refuted")
    assert "acts like one map per layer" in kept.summary
    assert "one map per layer" not in apart.summary
    assert kept.control.verdict == "refuted" and kept.verdict == "supported"
    rigged = fm.finding_symmetric(symmetric(1e-16), symmetric(1e-16))  # dropout did nothing
    assert rigged.verdict == "inconclusive"
    dead = fm.finding_symmetric(symmetric(1e-16, live=1), symmetric(0.5))
    assert not dead.premise.holds and dead.verdict == "inconclusive"


def test_symmetric_caption_is_generated_from_the_verdict() -> None:
    def caption(measured: str) -> str:
        figs = fm.symmetric_figures(symmetric(1e-16), measured)
        return next(f.caption for f in figs if f.id == "feature-maps-symmetric-maps")

    assert "every map is the same picture" in caption("supported")
    assert "the maps are different pictures" in caption("refuted")
    assert "not decided" in caption("inconclusive")


def test_premise_fails_when_a_network_did_not_train() -> None:
    c = dataclasses.replace(case(0.2, 0.5, 0.5), accuracy=np.full(K, 0.2))  # chance 0.1
    f = fm.finding_differ({"c": c}, symmetric(1e-16))
    assert not f.premise.holds and f.verdict == "inconclusive"


# ---- a tiny run ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def result():
    return fm.run("tiny")


def test_tiny_run_finishes_without_failures(result) -> None:
    assert result.failures == []
    assert len(result.findings) == 3
    assert set(result.numbers["cases"]) == {
        f"{d} conv.{i}" for d in ("digits x2", "photo patches") for i in (0, 1)
    }
    assert set(result.numbers["symmetric"]) == {"symmetric init", "symmetric init + dropout"}


def test_tiny_run_verdicts_follow_from_their_numbers(result) -> None:
    differ, same, sym = result.findings
    cases = result.numbers["cases"]
    for k in cases:
        corr, twins = differ.interval[f"{k} mean |corr|"], differ.interval[f"{k} twin pairs"]
        assert differ.numbers["per_case"][k] == fm.verdict_maps_differ(corr, twins)
        assert corr.value == pytest.approx(np.nanmean(cases[k]["mean_abs_corr"]))
        matched, share = same.interval[f"{k} matched"], same.interval[f"{k} share above null"]
        assert same.numbers["per_case"][k] == fm.verdict_same_maps(matched, share)
        assert matched.value == pytest.approx(np.mean(cases[k]["matched_mean"]))
        assert share.value == pytest.approx(np.mean(cases[k]["share_above_null"]))
        assert len(cases[k]["perm_first_pair"]) == cases[k]["maps"]
    assert differ.measured == fm.combine(differ.numbers["per_case"].values())
    assert same.measured == fm.combine(same.numbers["per_case"].values())
    log_spreads = {k.split()[0]: v for k, v in sym.interval.items()}  # "conv.0 log10 spread"
    assert set(log_spreads) == set(sym.thresholds["tolerances"])
    assert sym.measured == fm.verdict_symmetric(
        log_spreads, sym.thresholds["tolerances"], sym.thresholds["separated"]
    )


def test_tiny_run_controls_are_judged_by_the_claims_own_verdict_functions(result) -> None:
    differ, same, sym = result.findings
    ctrl = same.control.numbers
    for k, verdict in ctrl["per_case"].items():
        matched = Interval(**ctrl[f"{k} matched"])
        share = Interval(**ctrl[f"{k} share above null"])
        assert verdict == fm.verdict_same_maps(matched, share)
    assert same.control.verdict == fm.combine(ctrl["per_case"].values())
    ctrl = sym.control.numbers
    spreads = {k.split()[0]: Interval(**v) for k, v in ctrl["log10_spread"].items()}
    assert sym.control.verdict == fm.verdict_symmetric(
        spreads, ctrl["tolerance"], ctrl["separated"]
    )
    ctrl = differ.control.numbers
    for layer, verdict in ctrl["per_layer"].items():
        corr, twins = (
            Interval(**ctrl[f"{layer} mean |corr|"]),
            Interval(**ctrl[f"{layer} twin pairs"]),
        )
        assert verdict == fm.verdict_maps_differ(corr, twins)


def test_tiny_run_figures_exist_and_build(result) -> None:
    check_result(result, 3)
    ids = [f.id for f in result.figures]
    for kind in ("filters", "top-patches", "deconv", "occlusion", "corr"):
        assert f"feature-maps-digits-x2-{kind}" in ids
    assert all(finding.figures for finding in result.findings)
    for spec in result.figures:
        report.figure_from_spec(spec)
    json.dumps(result.to_dict())


@pytest.mark.parametrize("scale", ["tiny", "small", "full"])
def test_every_scale_has_valid_configs_and_data(scale) -> None:
    base = fm.base_config(scale)
    for overrides in fm.datasets(scale).values():
        cfg = base.override(overrides)
        data.load(cfg.data.name, seed=cfg.data.seed, **cfg.data.options)
    for dropout in (0.0, fm.SYMMETRY_BREAKER):
        cfg = fm.symmetric_config(scale, dropout)
        assert cfg.init.scheme == "symmetric" and cfg.train.dtype == "float64"
        assert cfg.model.dropout == dropout and cfg.seeds.members >= 3
