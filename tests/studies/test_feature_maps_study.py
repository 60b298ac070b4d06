"""Study ``feature_maps``: verdict logic on hand-made numbers, and a tiny run end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from unitscope import data, report
from unitscope.studies import feature_maps as fm

from ._consistency import check_result

torch.set_num_threads(1)


# ---- verdict logic ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("corr", "distinct", "expected"),
    [
        ({"a": 0.3, "b": 0.1}, {"a": 1.0, "b": 1.0}, "supported"),
        ({"a": 0.5, "b": 0.1}, {"a": 1.0, "b": 1.0}, "mixed"),  # 0.5 is not below 0.5
        ({"a": 0.49}, {"a": 1.0}, "supported"),
        ({"a": 0.3}, {"a": 7 / 8}, "refuted"),  # two maps are duplicates
        ({"a": 0.9, "b": 0.8}, {"a": 1.0, "b": 1.0}, "refuted"),
        ({}, {}, "inconclusive"),
    ],
)
def test_verdict_maps_differ(corr, distinct, expected) -> None:
    assert fm.verdict_maps_differ(corr, distinct) == expected


@pytest.mark.parametrize(
    ("matched", "expected"),
    [
        ({"a": 0.95, "b": 0.9}, "supported"),  # 0.9 is enough
        ({"a": 0.95, "b": 0.89}, "mixed"),
        ({"a": 0.49, "b": 0.1}, "refuted"),
        ({"a": 0.5, "b": 0.1}, "mixed"),  # 0.5 is not below 0.5
        ({"a": 0.95, "b": 0.2}, "mixed"),
        ({"a": float("nan")}, "inconclusive"),
    ],
)
def test_verdict_same_maps(matched, expected) -> None:
    assert fm.verdict_same_maps(matched) == expected


@pytest.mark.parametrize(
    ("spreads", "expected"),
    [
        ({"conv.0": 1e-15, "conv.1": 2e-13}, "supported"),  # at or below the tolerance
        ({"conv.0": 1e-15, "conv.1": 3e-13}, "mixed"),  # above rounding, not separated
        ({"conv.0": 1e-15, "conv.1": 2e-3}, "refuted"),  # separated
        ({}, "inconclusive"),  # no seed kept live maps
    ],
)
def test_verdict_symmetric(spreads, expected) -> None:
    tol = dict.fromkeys(spreads, 2e-13)
    sep = dict.fromkeys(spreads, 1e-3)
    assert fm.verdict_symmetric(spreads, tol, sep) == expected


def test_positions_makes_every_image_position_an_observation() -> None:
    maps = np.arange(2 * 3 * 4 * 2 * 2, dtype=float).reshape(2, 3, 4, 2, 2)  # (K, n, C, H, W)
    obs = fm.positions(maps)
    assert obs.shape == (2, 3 * 2 * 2, 4)
    assert obs[1, 5].tolist() == maps[1, 1, :, 0, 1].tolist()  # image 1, row 0, col 1


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


def test_tiny_run_verdicts_follow_from_their_numbers(result) -> None:
    differ, same, symmetric = result.findings
    assert differ.verdict == fm.verdict_maps_differ(
        differ.numbers["mean_abs_corr"], differ.numbers["distinct_fraction"]
    )
    assert same.verdict == fm.verdict_same_maps(same.numbers["matched"])
    assert symmetric.verdict == fm.verdict_symmetric(
        symmetric.numbers["spreads"],
        symmetric.thresholds["tolerances"],
        symmetric.thresholds["separated"],
    )
    for case, c in result.numbers["cases"].items():
        assert same.numbers["matched"][case] == pytest.approx(np.mean(c["matched_mean"]))
        assert len(c["perm_first_pair"]) == c["maps"]


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
