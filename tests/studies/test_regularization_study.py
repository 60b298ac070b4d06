"""Study ``regularization``: verdict logic on hand-made numbers, and a tiny run end to end."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from unitscope import data, report
from unitscope.studies import regularization as reg

from ._consistency import check_result

torch.set_num_threads(1)


# ---- verdict logic ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("strong", "none", "expected"),
    [
        (0.60, 0.04, "supported"),  # many (>= 0.5) and L1 pins far more than no L1
        (0.50, 0.04, "supported"),  # exactly "many"
        (0.45, 0.04, "mixed"),  # L1 pins more, but not many
        (0.10, 0.04, "mixed"),  # gain 0.06 >= 0.05
        (0.08, 0.04, "refuted"),  # gain 0.04 < 0.05: L1 is not what pins them
        (0.60, 0.58, "refuted"),  # many pinned, but as many without L1
        (float("nan"), 0.04, "inconclusive"),
    ],
)
def test_verdict_l1_pins_on_both_sides_of_each_threshold(strong, none, expected) -> None:
    assert reg.verdict_l1_pins(strong, none) == expected


def test_thresholds_are_the_stated_ones() -> None:
    assert (reg.PINNED_BELOW, reg.PINNED_MANY, reg.PINNED_GAIN) == (0.05, 0.5, 0.05)


def test_verdict_alike_is_the_diversity_rule() -> None:
    up, down = {"lo": 0.1, "hi": 0.2}, {"lo": -0.2, "hi": -0.1}
    assert reg.verdict_alike({"L2 0.01": up}, {"L2 0.01": down}) == "supported"
    assert reg.verdict_alike({"L2 0.01": down}, {"L2 0.01": up}) == "refuted"


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


def test_pinned_fraction_by_hand() -> None:
    # one layer, init RMS 1: |w| < 0.05 at the end for 0.01 and 0.04, not for 0.06 and 2
    w = np.array([[[[1.0, -1.0, 1.0, -1.0]]], [[[0.01, -0.06, 0.04, 2.0]]]])  # (T=2, K=1, 1, 4)
    rec = SimpleNamespace(params={"hidden.0.weight": w, "hidden.0.bias": np.zeros((2, 1, 1))})
    assert reg.pinned_fraction(rec).tolist() == [[0.0], [0.5]]


# ---- a tiny run ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def result():
    return reg.run("tiny")


def test_tiny_run_finishes_without_failures(result) -> None:
    assert result.failures == []
    assert [f.claim.split()[0] for f in result.findings] == ["Strong", "L1", "L2", "dropout"]
    assert set(result.numbers["settings"]) == {
        "no regularization",
        "L1 0.03",
        "L2 0.01",
        "dropout 0.3",
    }


def test_tiny_run_verdicts_follow_from_their_numbers(result) -> None:
    pins, *alike = result.findings
    assert pins.verdict == reg.verdict_l1_pins(
        pins.numbers["pinned_strongest"], pins.numbers["pinned_none"]
    )
    settings = result.numbers["settings"]
    assert pins.numbers["pinned_none"] == pytest.approx(
        settings["no regularization"]["pinned_end"]["mean"]
    )
    for f in alike:
        assert f.verdict == reg.verdict_alike(f.numbers["corr_change"], f.numbers["rank_change"])
        for name, c in f.numbers["corr_change"].items():
            assert c == settings[name]["change_vs_none"]["mean_abs_corr"]


def test_tiny_run_figures_exist_and_build(result) -> None:
    check_result(result, 4)
    ids = [f.id for f in result.figures]
    assert "regularization-filters" in ids  # digits inputs: weights drawn as 8x8 images
    assert all(finding.figures for finding in result.findings)
    for spec in result.figures:
        report.figure_from_spec(spec)
    json.dumps(result.to_dict())


@pytest.mark.parametrize("scale", ["tiny", "small", "full"])
def test_every_scale_has_valid_configs_and_data(scale) -> None:
    base = reg.base_config(scale)
    data.load(base.data.name, **base.data.options)
    for group in reg.settings(scale).values():
        for overrides in group.values():
            base.override(overrides)
