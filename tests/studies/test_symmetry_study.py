from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from unitscope import report
from unitscope.studies import StudyResult
from unitscope.studies import symmetry as s
from unitscope.studies._finding import Control, Interval
from unitscope.studies._stats import t_interval
from unitscope.train import fit

from ._consistency import check_result


@pytest.fixture(scope="module")
def tiny():
    torch.set_num_threads(1)
    result = StudyResult(s.NAME, s.TITLE, s.QUESTION)
    m = s.measure("tiny", result, None)
    return m, s.finish(result, m)


def _iv(value: float, lo: float, hi: float, n: int = 8) -> Interval:
    return Interval(value, lo, hi, n)


# ---- verdicts on both sides ------------------------------------------------------------------


def test_verdict_keeps_on_both_sides():
    low, high, straddle = _iv(-3, -4, -2), _iv(2, 1, 3), _iv(0, -1, 1)
    assert s.verdict_keeps({"a": low, "b": low}) == "supported"
    assert s.verdict_keeps({"a": low, "b": high}) == "mixed"
    assert s.verdict_keeps({"a": high}) == "refuted"
    assert s.verdict_keeps({"a": straddle}) == "inconclusive"


def test_verdict_breaks_on_both_sides():
    assert s.verdict_breaks({"d": _iv(2, 1, 3)}) == "supported"
    assert s.verdict_breaks({"d": _iv(-6, -6, -6)}) == "refuted"
    assert s.verdict_breaks({"d": _iv(0.5, -1, 2)}) == "inconclusive"


def test_verdict_unstable_on_both_sides():
    grows, shrinks = _iv(0.01, 0.005, 0.02), _iv(-0.03, -0.04, -0.02)
    exp, line = _iv(1.0, 1.0, 1.0), _iv(0.1, 0.0, 0.3)
    assert s.verdict_unstable({"e": grows}, {"e": exp}) == "supported"
    assert s.verdict_unstable({"e": shrinks}, {"e": exp}) == "refuted"
    assert s.verdict_unstable({"e": grows}, {"e": line}) == "refuted"  # grows, but linearly
    assert s.verdict_unstable({"e": grows, "f": shrinks}, {"e": exp, "f": exp}) == "mixed"
    assert s.verdict_unstable({"e": _iv(0.01, -0.01, 0.03)}, {"e": exp}) == "inconclusive"


def test_verdict_rounding_on_both_sides():
    assert s.verdict_rounding(_iv(1.0, 0.5, 1.5)) == "supported"
    assert s.verdict_rounding(_iv(-11, -13, -9)) == "refuted"
    assert s.verdict_rounding(_iv(-1, -3, 1)) == "inconclusive"


# ---- pieces --------------------------------------------------------------------------------


def test_growth_fits_tell_an_exponential_from_a_line():
    steps = np.arange(0, 300, 10)
    exponential = np.minimum(1e-8 * np.exp(0.05 * steps), 1.0)  # saturates
    fits = s.growth_fits(steps, exponential)
    assert fits["rate"] == pytest.approx(0.05, rel=1e-6)
    assert s.growth_rate(steps, exponential) == pytest.approx(0.05, rel=1e-6)
    assert fits["exp_better"] == 1.0 and fits["r2_exp"] == pytest.approx(1.0)
    line = 1e-3 + 1e-4 * steps
    fits = s.growth_fits(steps, line)
    assert fits["exp_better"] == 0.0 and fits["r2_line"] == pytest.approx(1.0)
    assert fits["r2_line_log"] > fits["r2_exp"]


def test_growth_fits_need_three_points():
    assert math.isnan(s.growth_fits(np.array([0, 1]), np.array([1e-8, 2e-8]))["rate"])


def test_groups_and_ranges():
    t = torch.tensor([[1.0, 1.0, 2.0, 1.0], [3.0, 3.0, 3.0, 3.0]])
    assert s._groups(t) == [[0, 1, 3], [2]]
    assert s._ranges([[0, 1, 2], [3]]) == "0-2 | 3"
    assert s._ranges([[0, 1, 3], [2]]) == "0,1,3 | 2"


def test_log_ratio_floors_zero_spreads():
    r = s.log_ratio(np.array([0.0, 1e-3, 10.0]), np.array([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(r, [math.log10(s.FLOOR), -3.0, 1.0])


def test_distinct_is_exactly_zero_for_identical_units_and_not_otherwise():
    cfg = s.base_config("tiny", 2).override({"train.steps": 2, "train.checkpoints": [0, 2]})
    same = s.distinct_curve(fit(cfg))
    planted = s.distinct_curve(fit(cfg.override({"init.scheme": "symmetric_eps"})))
    assert (same[0] == 0.0).all()
    assert (planted[0] > 0).all()


def test_rounding_sources_report_a_partition_of_the_units():
    cfg = s.base_config("tiny", 3)
    sources = s.rounding_sources(cfg)
    assert len(sources) == 5
    for name, v in sources.items():
        assert len(v["groups"]) == 3, name
        for groups in v["groups"]:
            assert sorted(u for g in groups for u in g) == list(range(16))
        # one group everywhere exactly when no column differs from unit 0
        one = all(len(g) == 1 for g in v["groups"])
        assert one == (v["max_difference"] == 0.0), name
    # a layer of one unit cannot split
    single = s.rounding_sources(cfg.override({"model.hidden": [1]}))
    assert all(len(g) == 1 for v in single.values() for g in v["groups"])


def test_a_plain_product_on_identical_columns_matches_the_reported_groups():
    # the forward product, computed here as the model does it: x @ W^T for K*U columns
    cfg = s.base_config("tiny", 3)
    sources = s.rounding_sources(cfg)
    from unitscope.train import build_model, prepare_data

    train, _, _ = prepare_data(cfg)
    model = build_model(cfg, train, 3).double()
    from unitscope.init import initialize

    initialize(model, "symmetric", seeds=[0, 1, 2])
    w = model.param_dict()["hidden.0.weight"]  # (K, U, d)
    x = torch.as_tensor(train.x, dtype=torch.float64)
    pre = (x @ w.reshape(-1, w.shape[-1]).T).view(-1, 3, w.shape[1]).transpose(0, 1)
    pre = pre + model.param_dict()["hidden.0.bias"].unsqueeze(1)
    got = sources["forward x·Wᵀ + b (hidden pre-activation)"]["groups"]
    assert got == [s._groups(pre[k]) for k in range(3)]


@pytest.mark.parametrize("scale", ["tiny", "small", "full"])
def test_every_scale_has_valid_configs(scale):
    base = s.base_config(scale, 2)
    for change in {**s.KEEPS, **s.BREAKS, **s.SWEEP, "control": s.DECAY_CONTROL}.values():
        base.override(change)
    setup = s.setup(scale)
    s.long_config(scale, setup.seeds, setup.long_cap)
    assert setup.seeds >= 3 and setup.sweep_seeds >= 4


# ---- the tiny run --------------------------------------------------------------------------


def test_tiny_run_meets_the_contract(tiny):
    _, result = tiny
    check_result(result, 4)
    json.dumps(result.to_dict())
    for spec in result.figures:
        report.figure_from_spec(spec)


def test_tiny_run_verdicts_follow_from_their_intervals(tiny):
    _, result = tiny
    keeps, breaks, unstable, rounding = result.findings
    assert keeps.measured == s.verdict_keeps(dict(keeps.interval))
    assert breaks.measured == s.verdict_breaks(dict(breaks.interval))
    rates = {k[6:]: v for k, v in unstable.interval.items() if k.startswith("rate: ")}
    shares = {k[12:]: v for k, v in unstable.interval.items() if k.startswith("exp better: ")}
    assert unstable.measured == s.verdict_unstable(rates, shares)
    assert rounding.measured == s.verdict_rounding(rounding.interval["log10_spread_over_threshold"])
    # the rounding run's units start bitwise identical
    assert rounding.premise.numbers["max_start_difference"] == 0.0
    assert keeps.premise.numbers["max_start_spread"] == 0.0


def test_tiny_run_controls_flip_their_verdicts(tiny):
    _, result = tiny
    keeps, breaks, unstable, rounding = result.findings
    # each control is the claim's own verdict function on the control's measured numbers
    drop = t_interval(keeps.control.numbers["log10_spread_over_tolerance"])
    assert keeps.control.verdict == s.verdict_keeps({"dropout": drop}) == "refuted"
    gd = t_interval(breaks.control.numbers["log10_spread_over_threshold"])
    assert breaks.control.verdict == s.verdict_breaks({"gd": gd}) == "refuted"
    decay = t_interval(unstable.control.numbers["growth_rate_per_step"])
    assert decay.hi < 0 and unstable.control.verdict == "refuted"
    early = t_interval(rounding.control.numbers["log10_spread_over_threshold"])
    assert rounding.control.verdict == s.verdict_rounding(early)
    # the controls come out against the claim, whatever the claim's own verdict
    for f in result.findings:
        assert f.control.verdict != "supported", f.claim
    # a control that came out supported would make a supported claim inconclusive
    for f in result.findings:
        flipped = dataclasses.replace(f, control=Control(f.control.what, "supported"))
        if f.measured in ("supported", "mixed"):
            assert flipped.verdict == "inconclusive"


def test_tiny_run_premises_can_fail(tiny):
    m, _ = tiny
    broken = dataclasses.replace(m, long={**m.long, "horizon": m.long["t_sep"] / 2})
    assert not s.findings(broken)["rounding"].premise.holds
    start = {**m.settings["full-batch GD"], "start_spread": np.full(3, 1e-16)}
    broken = dataclasses.replace(m, settings={**m.settings, "full-batch GD": start})
    assert not s.findings(broken)["keeps"].premise.holds


def test_titles_and_table_words_change_with_the_verdicts(tiny):
    m, _ = tiny
    keys = ("keeps", "breaks", "unstable", "rounding")
    yes = s.figures(m, dict.fromkeys(keys, "supported"))
    no = s.figures(m, dict.fromkeys(keys, "refuted"))
    changed = [a.id for a, b in zip(yes, no) if a.title != b.title]
    assert {"symmetry-table", "symmetry-breakers", "symmetry-eps", "symmetry-rounding"} <= set(
        changed
    )
    # the per-setting words come from each setting's own interval
    settings = {  # every keeping setting's spread set to 1000 x its rounding tolerance
        k: {**v, "spread": m.tolerance[k] * 1e3} if k in m.tolerance else v
        for k, v in m.settings.items()
    }
    table = s.figures(dataclasses.replace(m, settings=settings), {})[0]
    words = {row[0]: row[-1] for row in table.args["rows"]}
    assert all(words[k] == "separated" for k in s.KEEPS)
