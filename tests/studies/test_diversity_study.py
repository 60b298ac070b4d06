"""Study ``diversity``: verdict logic on hand-made numbers, and a tiny run end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from unitscope import data, report
from unitscope.studies import diversity as d

from ._consistency import check_result

torch.set_num_threads(1)


def ci(lo: float, hi: float) -> dict[str, float]:
    return {"mean": (lo + hi) / 2, "lo": lo, "hi": hi, "n": 4}


UP, DOWN, FLAT = ci(0.1, 0.3), ci(-0.3, -0.1), ci(-0.1, 0.1)


# ---- verdict logic ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("corr", "rank", "expected"),
    [
        (UP, DOWN, d.ALIKE),
        (DOWN, UP, d.DIFFERENT),
        (FLAT, DOWN, d.UNCLEAR),  # |corr| CI contains 0
        (UP, FLAT, d.UNCLEAR),  # rank CI contains 0
        (UP, UP, d.UNCLEAR),  # measures disagree
        (ci(0.0, 0.2), DOWN, d.UNCLEAR),  # CI touching 0 does not exclude it
        (ci(1e-9, 0.2), ci(-0.2, -1e-9), d.ALIKE),  # just excluding 0
    ],
)
def test_direction_needs_both_cis_to_exclude_zero(corr, rank, expected) -> None:
    assert d.direction(corr, rank) == expected


def labelled(*pairs: tuple[dict, dict]) -> tuple[dict, dict]:
    return (
        {f"c{i}": c for i, (c, _) in enumerate(pairs)},
        {f"c{i}": r for i, (_, r) in enumerate(pairs)},
    )


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([(UP, DOWN), (UP, DOWN)], "supported"),  # all more alike
        ([(UP, DOWN), (FLAT, FLAT)], "mixed"),  # one alike, one unclear
        ([(UP, DOWN), (DOWN, UP)], "mixed"),  # one each way
        ([(DOWN, UP), (FLAT, FLAT)], "refuted"),  # none alike, different share 1/2 >= 0.5
        ([(DOWN, UP), (FLAT, FLAT), (FLAT, FLAT)], "mixed"),  # different share 1/3 < 0.5
        ([(FLAT, FLAT), (FLAT, FLAT)], "inconclusive"),  # nothing changed clearly
        ([], "inconclusive"),
    ],
)
def test_verdict_alike_on_both_sides_of_each_threshold(pairs, expected) -> None:
    assert d.verdict_alike(*labelled(*pairs)) == expected


def test_refute_share_is_the_stated_threshold() -> None:
    assert d.REFUTE_SHARE == 0.5


@pytest.mark.parametrize(
    ("dups", "expected"),
    [
        ({"a": 0.0, "b": 0.0}, "supported"),
        ({"a": 0.0, "b": 1.0}, "mixed"),
        ({"a": 2.0, "b": 1.0}, "refuted"),
        ({}, "inconclusive"),
    ],
)
def test_verdict_no_duplicates(dups, expected) -> None:
    assert d.verdict_no_duplicates(dups) == expected


def test_duplicates_count_live_units_beyond_their_groups() -> None:
    # 8 units, 2 dead (one group of their own), 5 groups in all -> 4 live groups for 6 live units
    assert d.duplicates(np.array([5.0, 8.0]), np.array([2.0, 0.0]), 8).tolist() == [2.0, 0.0]


def test_mean_abs_correlation_matches_numpy_and_skips_constant_units(rng) -> None:
    x = rng.normal(size=(50, 4))
    x[:, 1] += 0.8 * x[:, 0]
    r = np.abs(np.corrcoef(x, rowvar=False))
    want = r[~np.eye(4, dtype=bool)].mean()
    got = d.mean_abs_correlation(np.stack([x, 2 * x])[:, None])  # (T=2, K=1, n, U)
    assert got.shape == (2, 1) and got == pytest.approx(np.full((2, 1), want), rel=1e-12)
    with_dead = np.column_stack([x, np.zeros(50)])  # a dead unit is left out, not counted as 0
    assert d.mean_abs_correlation(with_dead[None])[0] == pytest.approx(want, rel=1e-12)


def test_change_is_paired_by_seed() -> None:
    c = d.change(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.5, 3.5]))
    assert c["mean"] == pytest.approx(0.5) and c["lo"] == pytest.approx(0.5)


# ---- a tiny run ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def result():
    return d.run("tiny")


def test_tiny_run_finishes_without_failures(result) -> None:
    assert result.failures == []
    assert result.name == d.NAME and result.elapsed_s > 0
    assert [f.claim for f in result.findings] == [
        "Training makes the units of a layer more alike (the asker's intuition).",
        "After training, the units of a layer compute different things: no live unit "
        "duplicates another.",
    ]
    rows = result.numbers["conditions"]
    assert {"MLP-8 moons", "MLP-8 teacher", "CNN-4,4 digits conv.0"} <= set(rows)


def test_tiny_run_verdicts_follow_from_their_numbers(result) -> None:
    alike, dups = result.findings
    assert alike.verdict == d.verdict_alike(
        alike.numbers["corr_change"], alike.numbers["rank_change"]
    )
    assert dups.verdict == d.verdict_no_duplicates(dups.numbers["duplicates_at_end"])
    for row, t in result.numbers["conditions"].items():
        assert alike.numbers["direction"][row] == d.direction(
            t["mean_abs_corr"]["change"], t["effective_rank"]["change"]
        )


def test_tiny_run_figures_exist_and_build(result) -> None:
    check_result(result, 2)
    assert [f.id for f in result.figures][:2] == ["diversity-table", "diversity-mean-abs-corr"]
    assert all(finding.figures for finding in result.findings)
    for spec in result.figures:
        report.figure_from_spec(spec)
    json.dumps(result.to_dict())  # every number is plain JSON


def test_a_failed_condition_is_reported_and_the_rest_still_run(monkeypatch) -> None:
    good = {"data.name": "moons", "model.hidden": [4]}
    monkeypatch.setattr(
        d, "conditions", lambda scale: {"broken": {"data.name": "nope"}, "fine": good}
    )
    r = d.run("tiny")
    assert len(r.failures) == 1 and r.failures[0].startswith("broken: ")
    assert list(r.numbers["conditions"]) == ["fine"] and len(r.findings) == 2


@pytest.mark.parametrize("scale", ["tiny", "small", "full"])
def test_every_scale_has_valid_configs_and_data(scale) -> None:
    base = d.base_config(scale)
    for overrides in d.conditions(scale).values():
        cfg = base.override(overrides)
        data.load(cfg.data.name, seed=cfg.data.seed, **cfg.data.options)
