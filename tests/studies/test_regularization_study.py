"""Study ``regularization``: verdict logic on hand-made numbers, findings built from hand-made
runs (words follow the numbers, controls flip verdicts), and a tiny run end to end."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from unitscope import data, report
from unitscope.studies import regularization as reg
from unitscope.studies._finding import Control, Interval, Premise

from ._consistency import check_result

torch.set_num_threads(1)


def iv(lo: float, hi: float) -> Interval:
    return Interval((lo + hi) / 2, lo, hi, 16)


# ---- verdict logic ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pinned", "gain", "expected"),
    [
        (iv(0.55, 0.65), iv(0.50, 0.60), "supported"),  # many (> 0.5) and far more than no L1
        (iv(0.45, 0.55), iv(0.40, 0.50), "inconclusive"),  # "many" straddles 0.5
        (iv(0.30, 0.45), iv(0.25, 0.40), "mixed"),  # L1 pins more, but clearly not many
        (iv(0.55, 0.65), iv(0.01, 0.04), "refuted"),  # the gain is below 0.05: not L1's doing
        (iv(0.55, 0.65), iv(0.03, 0.07), "inconclusive"),  # the gain straddles 0.05
        (iv(0.55, 0.65), Interval(0.6, float("nan"), float("nan"), 0), "inconclusive"),
    ],
)
def test_verdict_l1_pins_on_both_sides_of_each_threshold(pinned, gain, expected) -> None:
    assert reg.verdict_l1_pins(pinned, gain) == expected


def test_thresholds_are_the_stated_ones() -> None:
    assert (reg.PINNED_BELOW, reg.PINNED_MANY, reg.PINNED_GAIN) == (0.05, 0.5, 0.05)
    assert (reg.EFFECT_SHARE, reg.ALPHA, reg.POWER) == (0.1, 0.05, 0.8)


@pytest.mark.parametrize(
    ("interval", "alike_up", "expected"),
    [
        (iv(-0.01, 0.01), True, "null"),  # inside ±0.02: no change worth the name
        (iv(0.005, 0.015), True, "null"),  # significant, but smaller than the margin
        (iv(0.01, 0.05), True, "for"),  # |corr| clearly up
        (iv(0.01, 0.05), False, "against"),  # rank clearly up: not the alike way
        (iv(-0.05, -0.01), False, "for"),
        (iv(-0.01, 0.05), True, "unsure"),
    ],
)
def test_side_of_one_measure(interval, alike_up, expected) -> None:
    assert reg.side(interval, 0.02, alike_up) == expected


MARGINS = {"corr": 0.02, "rank": 1.0}


@pytest.mark.parametrize(
    ("corr", "rank", "expected"),
    [
        (iv(0.03, 0.05), iv(-3.0, -2.0), reg.ALIKE),
        (iv(-0.05, -0.03), iv(2.0, 3.0), reg.DIFFERENT),
        (iv(-0.01, 0.01), iv(-0.5, 0.5), reg.NO_EFFECT),
        (iv(-0.01, 0.01), iv(2.0, 3.0), reg.NOT_ALIKE),  # rank up, |corr| unchanged
        (iv(0.03, 0.05), iv(2.0, 3.0), reg.NOT_ALIKE),  # the measures disagree
        (iv(-0.01, 0.05), iv(-3.0, -2.0), reg.UNCLEAR),
    ],
)
def test_effect_of_a_setting(corr, rank, expected) -> None:
    assert reg.effect(corr, rank, MARGINS) == expected


@pytest.mark.parametrize(
    ("effects", "expected"),
    [
        ([reg.ALIKE, reg.ALIKE], "supported"),
        ([reg.NO_EFFECT, reg.NOT_ALIKE, reg.DIFFERENT], "refuted"),
        ([reg.ALIKE, reg.NO_EFFECT], "mixed"),
        ([reg.ALIKE, reg.NO_EFFECT, reg.UNCLEAR], "mixed"),
        ([reg.NO_EFFECT, reg.UNCLEAR], "inconclusive"),  # not every setting decided
        ([reg.ALIKE, reg.UNCLEAR], "inconclusive"),
        ([], "inconclusive"),
    ],
)
def test_verdict_alike_over_settings(effects, expected) -> None:
    assert reg.verdict_alike(effects) == expected


@pytest.mark.parametrize(
    ("acc", "base", "expected"),
    [
        ({"L1 0.001": 0.93, "L1 0.01": 0.90, "L1 0.03": 0.11}, 0.93, "L1 0.01"),  # 0.90 >= 0.837
        ({"L1 0.001": 0.93, "L1 0.01": 0.80, "L1 0.03": 0.11}, 0.93, "L1 0.001"),  # 0.80 < 0.837
        ({"L1 0.01": 0.2, "L1 0.03": 0.11}, 0.93, "L1 0.03"),  # none learns: the strongest
        ({"L1 0.01": float("nan"), "L1 0.03": float("nan")}, float("nan"), "L1 0.03"),
    ],
)
def test_strong_l1_is_the_strongest_that_still_learns(acc, base, expected) -> None:
    assert reg.strong_l1(acc, base) == expected


def test_pinned_and_zero_fractions_by_hand() -> None:
    # one layer, init RMS 1: |w| < 0.05 at the end for 0.01, 0.04 and 0, not for 0.06 and 2
    w = np.array([[[[1.0, -1.0, 1.0, -1.0, 1.0]]], [[[0.01, -0.06, 0.04, 2.0, 0.0]]]])
    rec = SimpleNamespace(params={"hidden.0.weight": w, "hidden.0.bias": np.zeros((2, 1, 1))})
    assert reg.pinned_fraction(rec).tolist() == [[0.0], [0.6]]
    assert reg.zero_fraction(rec).tolist() == [0.2]


# ---- findings from hand-made runs --------------------------------------------------------------
K = 12
SPREAD = np.linspace(-1.0, 1.0, K)  # a seed-to-seed spread with SD ~0.62


def make_run(group: str, strength: float, *, pinned=0.03, corr=0.25, rank=16.0, acc=0.93):
    """A Run whose K seeds scatter a little around the given means."""
    zeros = pinned if group == "L1 prox" else 0.0
    return reg.Run(
        group=group,
        strength=strength,
        pinned=np.stack([np.full(K, 0.03), pinned + 0.005 * SPREAD]),
        zeros=np.full(K, zeros),
        measures={
            "mean_abs_corr": corr + 0.003 * SPREAD,
            "effective_rank": rank + 0.1 * SPREAD,
            "dead_units": np.zeros(K),
        },
        accuracy=acc + 0.005 * SPREAD,
        train_accuracy=0.98 + 0.005 * SPREAD,
        weights=np.ones((4, 64)),
        init_weights=np.ones((4, 64)),
    )


def runs_with(pinned: float, corr: float, rank: float) -> dict[str, reg.Run]:
    """Baseline, placebo (same as the baseline) and one strong setting of L1 in each mode and
    of L2, with the given pinned fraction and diversity measures."""
    return {
        reg.BASE: make_run("none", 0.0),
        reg.PLACEBO: make_run("placebo", 0.0),
        "L1 0.01": make_run("L1", 0.01, pinned=pinned),
        "L1 prox 0.01": make_run("L1 prox", 0.01, pinned=pinned),
        "L2 0.01": make_run("L2", 0.01, corr=corr, rank=rank),
    }


def test_l1_finding_words_and_verdict_follow_the_numbers() -> None:
    many = reg.l1_finding(runs_with(pinned=0.8, corr=0.25, rank=16.0))
    few = reg.l1_finding(runs_with(pinned=0.04, corr=0.25, rank=16.0))
    assert (many.measured, few.measured) == ("supported", "refuted")
    assert many.summary.startswith("Many weights end pinned near 0")
    assert few.summary.startswith("Strong L1 does not pin more weights")
    assert many.control.verdict == "refuted"  # the placebo pins no more than the baseline
    assert many.premise.holds and many.verdict == "supported"
    assert many.interval["L1 prox exactly 0"].value == pytest.approx(0.8)
    assert many.interval["L1 exactly 0"].value == 0.0


def test_alike_finding_words_and_verdict_follow_the_numbers() -> None:
    alike = reg.alike_finding(*_test(runs_with(0.03, corr=0.30, rank=12.0), "L2"))
    same = reg.alike_finding(*_test(runs_with(0.03, corr=0.25, rank=16.0), "L2"))
    assert (alike.measured, same.measured) == ("supported", "refuted")
    assert alike.summary.startswith("L2 makes the units more alike at every setting")
    assert same.summary.startswith("L2 does not make the units more alike")
    assert "no effect" in same.summary and "MDE" in same.summary
    assert alike.control.verdict == "refuted"  # placebo = baseline: no effect
    assert alike.verdict == "supported"


def _test(runs: dict[str, reg.Run], group: str) -> tuple[dict[str, reg.Run], reg.AlikeTest]:
    return runs, reg.alike_test(runs, group)


def test_settings_that_no_longer_learn_are_left_out_or_fail_the_premise() -> None:
    runs = runs_with(0.03, corr=0.30, rank=12.0)
    runs["L2 0.1"] = dataclasses.replace(make_run("L2", 0.1), accuracy=np.full(K, 0.2))
    t = reg.alike_test(runs, "L2")
    assert t.tested == ["L2 0.01"] and t.dropped == ["L2 0.1"]
    assert reg.alike_finding(runs, t).verdict == "supported"
    runs["L2 0.01"] = dataclasses.replace(runs["L2 0.01"], accuracy=np.full(K, 0.2))
    t = reg.alike_test(runs, "L2")  # none learns: all are tested, and the premise fails
    assert t.tested == ["L2 0.01", "L2 0.1"] and t.dropped == []
    f = reg.alike_finding(runs, t)
    assert f.measured == "mixed" and not f.premise.holds and f.verdict == "inconclusive"


def test_a_placebo_that_also_pins_makes_the_l1_finding_inconclusive() -> None:
    runs = runs_with(pinned=0.8, corr=0.25, rank=16.0)
    assert reg.l1_finding(runs).verdict == "supported"
    runs[reg.PLACEBO] = make_run("placebo", 0.0, pinned=0.8)  # the control pins as much
    f = reg.l1_finding(runs)
    assert f.measured == "supported" and f.control.verdict == "supported"
    assert f.verdict == "inconclusive" and "cannot discriminate" in f.reason


def test_a_placebo_that_also_makes_units_alike_makes_the_finding_inconclusive() -> None:
    runs = runs_with(0.03, corr=0.30, rank=12.0)
    runs[reg.PLACEBO] = make_run("placebo", 0.0, corr=0.30, rank=12.0)
    f = reg.alike_finding(*_test(runs, "L2"))
    assert f.measured == "supported" and f.control.verdict == "supported"
    assert f.verdict == "inconclusive"


# ---- a tiny run ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def result():
    return reg.run("tiny")


def test_tiny_run_finishes_without_failures(result) -> None:
    assert result.failures == []
    assert [f.claim.split()[0] for f in result.findings] == ["Strong", "L1", "L2", "dropout"]
    assert set(result.numbers["settings"]) == set(reg.settings("tiny"))


def test_tiny_run_verdicts_follow_from_their_numbers(result) -> None:
    pins, *alike = result.findings
    modes = pins.numbers["per_mode"]
    for mode, verdict in modes.items():
        pinned, gain = pins.interval[f"{mode} pinned"], pins.interval[f"{mode} gain"]
        assert verdict == reg.verdict_l1_pins(pinned, gain)
        assert gain.method == "holm" and gain.n == len(reg.base_config("tiny").seeds.init)
    assert set(modes) == set(reg.MODES)
    settings = result.numbers["settings"]
    for f in alike:
        margins = f.thresholds["margins"]
        for name, label in f.numbers["effects"].items():
            corr = f.interval[f"{name} Δ mean |corr|"]
            rank = f.interval[f"{name} Δ effective rank"]
            assert label == reg.effect(corr, rank, margins)
            end = settings[name]["end"]["mean_abs_corr"]["mean"]
            base = settings[reg.BASE]["end"]["mean_abs_corr"]["mean"]
            assert corr.value == pytest.approx(end - base)
        assert f.measured == reg.verdict_alike(f.numbers["effects"].values())


def test_tiny_run_controls_are_judged_by_the_claims_own_verdict_functions(result) -> None:
    pins, *alike = result.findings
    c = {k: Interval(**v) for k, v in pins.control.numbers.items()}
    assert pins.control.verdict == reg.verdict_l1_pins(c["pinned"], c["gain"])
    assert pins.control.verdict != pins.measured  # the placebo does not pin like L1 does
    for f in alike:
        corr = Interval(**f.control.numbers["placebo Δ mean |corr|"])
        rank = Interval(**f.control.numbers["placebo Δ effective rank"])
        label = reg.effect(corr, rank, f.thresholds["margins"])
        assert label == f.control.numbers["effect"]
        assert f.control.verdict == reg.verdict_alike([label])


def test_tiny_run_control_measured_like_the_claim_flips_it(result) -> None:
    # a control whose numbers are the claim's own cannot discriminate: supported -> inconclusive
    pins = result.findings[0]
    mode = "L1"
    same = reg.verdict_l1_pins(pins.interval[f"{mode} pinned"], pins.interval[f"{mode} gain"])
    assert same == "supported"  # strong L1 pins many weights even in the tiny run
    holds = Premise("trained", True)
    fair = dataclasses.replace(pins, premise=holds, measured=same)
    rigged = dataclasses.replace(fair, control=Control("the claim itself", same))
    assert fair.verdict == "supported" and rigged.verdict == "inconclusive"


def test_tiny_run_figures_exist_and_build(result) -> None:
    check_result(result, 4)
    ids = [f.id for f in result.figures]
    assert "regularization-filters" in ids  # digits inputs: weights drawn as 8x8 images
    assert "regularization-l1-sweep" in ids
    assert all(finding.figures for finding in result.findings)
    for spec in result.figures:
        report.figure_from_spec(spec)
    json.dumps(result.to_dict())


@pytest.mark.parametrize("scale", ["tiny", "small", "full"])
def test_every_scale_has_valid_configs_and_data(scale) -> None:
    base = reg.base_config(scale)
    data.load(base.data.name, **base.data.options)
    named = reg.settings(scale)
    assert list(named)[:2] == [reg.BASE, reg.PLACEBO]
    placebo_seeds = set(base.override(named[reg.PLACEBO][2]).seeds.init)
    assert not placebo_seeds & set(base.seeds.init)  # the placebo's seeds are other seeds
    for _, _, overrides in named.values():
        base.override(overrides)
    modes = {base.override(o).optim.l1_mode for g, _, o in named.values() if g in reg.MODES}
    assert modes == {"subgradient", "proximal"}
