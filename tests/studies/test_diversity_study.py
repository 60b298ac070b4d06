"""Study ``diversity``: verdicts on both sides of their thresholds, each control flipping its
finding, a plain reference for near-twin pairs, and a tiny run end to end."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pytest
import torch

from unitscope import data, report
from unitscope.studies import diversity as d
from unitscope.studies._finding import Interval
from unitscope.studies._stats import holm_intervals

from ._consistency import check_result

torch.set_num_threads(1)


def ci(lo: float, hi: float) -> dict[str, float]:
    return {"mean": (lo + hi) / 2, "lo": lo, "hi": hi, "n": 4}


def iv(lo: float, hi: float) -> Interval:
    return Interval((lo + hi) / 2, lo, hi, 8)


UP, DOWN, FLAT = ci(0.1, 0.3), ci(-0.3, -0.1), ci(-0.1, 0.1)


# ---- verdict logic ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("corr", "rank", "expected"),
    [
        (UP, DOWN, d.ALIKE),
        (DOWN, UP, d.DIFFERENT),
        (FLAT, DOWN, d.UNCLEAR),  # |corr| interval contains 0
        (UP, FLAT, d.UNCLEAR),  # rank interval contains 0
        (UP, UP, d.UNCLEAR),  # measures disagree
        (ci(0.0, 0.2), DOWN, d.UNCLEAR),  # touching 0 does not exclude it
        (ci(1e-9, 0.2), ci(-0.2, -1e-9), d.ALIKE),  # just excluding 0
    ],
)
def test_direction_needs_both_intervals_to_exclude_zero(corr, rank, expected) -> None:
    assert d.direction(corr, rank) == expected
    as_iv = Interval(corr["mean"], corr["lo"], corr["hi"], 4)
    assert d.direction(as_iv, Interval(rank["mean"], rank["lo"], rank["hi"], 4)) == expected


def test_direction_of_an_unbounded_interval_is_unclear() -> None:
    assert d.direction(Interval(0.2, -np.inf, np.inf, 1), iv(-0.3, -0.1)) == d.UNCLEAR


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([d.ALIKE, d.ALIKE], "supported"),  # all more alike
        ([d.ALIKE, d.UNCLEAR], "mixed"),
        ([d.ALIKE, d.DIFFERENT], "mixed"),
        ([d.DIFFERENT, d.UNCLEAR], "refuted"),  # none alike, different share 1/2 >= 0.5
        ([d.DIFFERENT, d.UNCLEAR, d.UNCLEAR], "mixed"),  # different share 1/3 < 0.5
        ([d.UNCLEAR, d.UNCLEAR], "inconclusive"),  # nothing changed clearly
        ([], "inconclusive"),
    ],
)
def test_alike_verdict_on_both_sides_of_each_threshold(labels, expected) -> None:
    assert d.alike_verdict(labels) == expected


def test_verdict_alike_keeps_its_mapping_form() -> None:  # regularization uses it
    assert d.verdict_alike({"a": UP, "b": UP}, {"a": DOWN, "b": DOWN}) == "supported"
    assert d.verdict_alike({"a": DOWN}, {"a": UP}) == "refuted"
    assert d.REFUTE_SHARE == 0.5


def test_twins_test_decides_against_the_margin() -> None:
    m = d.TWIN_MARGIN
    up = [m + 0.05 + 0.001 * i for i in range(8)]
    none = [0.0] * 8
    noisy = [(-1) ** i * 0.2 for i in range(8)]
    assert d.twins_test({"a": up, "b": up})[0] == "supported"
    assert d.twins_test({"a": none, "b": none})[0] == "refuted"
    verdict, rows, ivs = d.twins_test({"a": up, "b": none, "c": noisy})
    assert verdict == "mixed" and rows == {"a": "supported", "b": "refuted", "c": "inconclusive"}
    assert ivs["a"].method == "holm"


def test_alike_test_uses_holm_intervals_over_the_conditions(rng) -> None:
    deltas = {f"c{i}": rng.normal(0.2, 0.05, 8).tolist() for i in range(5)}
    ranks = {k: (-np.array(v)).tolist() for k, v in deltas.items()}
    verdict, labels, corr, rank = d.alike_test(deltas, ranks)
    assert corr == holm_intervals(deltas) and rank == holm_intervals(ranks)
    assert verdict == "supported" and set(labels.values()) == {d.ALIKE}


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        ({"init_train_loss": 1.0, "final_train_loss": 0.4, "final_train_acc": 0.9}, True),
        ({"init_train_loss": 1.0, "final_train_loss": 0.6, "final_train_acc": 0.9}, False),
        ({"init_train_loss": 1.0, "final_train_loss": 0.4, "final_train_acc": 0.7}, False),
        ({"init_train_loss": 1.0, "final_train_loss": 0.1}, True),  # regression: no accuracy
    ],
)
def test_trained_premise_on_both_sides(t, expected) -> None:
    assert d.trained(t) is expected


# ---- measures --------------------------------------------------------------------------------
def _twins_reference(x: np.ndarray, threshold: float) -> tuple[int, int]:
    live = [u for u in range(x.shape[1]) if np.std(x[:, u]) > 0]
    n = 0
    for a, b in combinations(live, 2):
        n += abs(np.corrcoef(x[:, a], x[:, b])[0, 1]) >= threshold
    return n, len(live) * (len(live) - 1) // 2


def test_near_twin_pairs_count_pairs_not_chains(rng) -> None:
    a = rng.normal(size=400)
    b = a + 0.12 * rng.normal(size=400)  # a~b and b~c are twins, a~c is not
    c = b + 0.12 * rng.normal(size=400)
    x = np.column_stack([a, b, c, rng.normal(size=400), np.zeros(400), -2 * a])
    want = _twins_reference(x, d.DUPLICATE_CORR)
    assert abs(np.corrcoef(a, c)[0, 1]) < d.DUPLICATE_CORR
    twins, pairs = d.near_twin_pairs(x[None])
    # a~b, b~c, a~(-2a), b~(-2a); not a~c or c~(-2a) (a chain would join all four); 5 live
    assert (twins[0], pairs[0]) == want and want == (4, 10)
    assert d.twin_fraction(x) == pytest.approx(0.4)


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


# ---- each control flips its finding (numbers made by hand) -----------------------------------
ALIKE_SEEDS = [0.1 + 0.01 * i for i in range(8)]  # clearly up
FLAT_SEEDS = [(-1) ** i * 0.05 for i in range(8)]  # no change


def fake_rows(corr, rank, twins, c_corr, c_rank, c_twins, trained=True) -> dict:
    row = {
        "condition": "cond",
        "training": {"init_train_loss": 1.0, "final_train_loss": 0.1, "trained": trained},
        "delta": {"mean_abs_corr": corr, "effective_rank": rank, "twin_fraction": twins},
        "control_delta": {
            "mean_abs_corr": c_corr,
            "effective_rank": c_rank,
            "twin_fraction": c_twins,
        },
        "twins": {
            "pairs_init": 1.0,
            "pairs_end": 3.0,
            "pairs_untrained": 1.0,
            "fraction_init": 0.1,
            "fraction_end": 0.3,
            "fewest_live_pairs": 6.0,
        },
    }
    return {"a": row, "b": {**row, "condition": "cond b"}}


DOWN_SEEDS = [-v for v in ALIKE_SEEDS]


def test_with_a_flat_control_the_findings_keep_their_verdicts() -> None:
    rows = fake_rows(ALIKE_SEEDS, DOWN_SEEDS, ALIKE_SEEDS, FLAT_SEEDS, FLAT_SEEDS, FLAT_SEEDS)
    alike, twins = d.findings(rows)
    assert (alike.measured, alike.control.verdict, alike.verdict) == (
        "supported",
        "inconclusive",
        "supported",
    )
    assert (twins.measured, twins.control.verdict, twins.verdict) == (
        "supported",
        "inconclusive",
        "supported",
    )


def test_a_control_that_changes_too_makes_the_findings_inconclusive() -> None:
    rows = fake_rows(ALIKE_SEEDS, DOWN_SEEDS, ALIKE_SEEDS, ALIKE_SEEDS, DOWN_SEEDS, ALIKE_SEEDS)
    for f in d.findings(rows):
        assert f.measured == "supported" and f.control.verdict == "supported"
        assert f.verdict == "inconclusive" and "cannot discriminate" in f.reason


def test_a_condition_that_did_not_train_makes_the_findings_inconclusive() -> None:
    rows = fake_rows(
        ALIKE_SEEDS, DOWN_SEEDS, ALIKE_SEEDS, FLAT_SEEDS, FLAT_SEEDS, FLAT_SEEDS, trained=False
    )
    for f in d.findings(rows):
        assert not f.premise.holds and f.verdict == "inconclusive"
    assert "did not train: cond" in d.findings(rows)[0].summary


def test_the_summaries_follow_the_numbers() -> None:
    yes = d.findings(
        fake_rows(ALIKE_SEEDS, DOWN_SEEDS, ALIKE_SEEDS, FLAT_SEEDS, FLAT_SEEDS, FLAT_SEEDS)
    )
    no = d.findings(
        fake_rows(DOWN_SEEDS, ALIKE_SEEDS, [0.0] * 8, FLAT_SEEDS, FLAT_SEEDS, FLAT_SEEDS)
    )
    assert [f.measured for f in no] == ["refuted", "refuted"]
    for a, b in zip(yes, no, strict=True):
        assert a.summary.split(":")[0] != b.summary.split(":")[0]
    assert no[0].summary.startswith("Training made the units more alike in no condition")


# ---- a tiny run ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def result():
    return d.run("tiny")


def test_tiny_run_finishes_and_passes_the_contract(result) -> None:
    check_result(result, 2)
    assert result.name == d.NAME and result.elapsed_s > 0
    rows = result.numbers["conditions"]
    assert {"MLP-8 moons", "MLP-8 teacher", "CNN-4,4 digits conv.0"} <= set(rows)
    for t in rows.values():  # every condition says how well it trained
        assert {"final_train_loss", "init_train_loss", "trained"} <= set(t["training"])


def test_tiny_run_verdicts_and_controls_follow_from_their_numbers(result) -> None:
    alike, twins = result.findings
    n, c = alike.numbers, alike.control.numbers
    assert alike.measured == d.alike_test(n["delta_corr"], n["delta_rank"])[0]
    assert alike.control.verdict == d.alike_test(c["delta_corr"], c["delta_rank"])[0]
    assert twins.measured == d.twins_test(twins.numbers["delta_twin_fraction"])[0]
    assert twins.control.verdict == d.twins_test(twins.control.numbers["delta_twin_fraction"])[0]
    trained = [t["training"]["trained"] for t in result.numbers["conditions"].values()]
    assert alike.premise.holds == all(trained)
    for t in result.numbers["conditions"].values():
        assert t["training"]["trained"] == d.trained(t["training"])
        assert len(t["delta"]["mean_abs_corr"]) == result.numbers["seeds"]


def test_tiny_run_figures_exist_and_build(result) -> None:
    assert [f.id for f in result.figures][:2] == ["diversity-table", "diversity-mean-abs-corr"]
    assert "diversity-twin-fraction" in {f.id for f in result.figures}
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
