from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from unitscope import report
from unitscope.init import initialize
from unitscope.models import MLP
from unitscope.studies import saddle as s
from unitscope.studies._finding import Control, Interval
from unitscope.studies._stats import t_interval

from ._consistency import check_result


@pytest.fixture(scope="module")
def result():
    torch.set_num_threads(1)
    return s.run("tiny")


def _iv(value: float, lo: float, hi: float, n: int = 8) -> Interval:
    return Interval(value, lo, hi, n)


# ---- pieces --------------------------------------------------------------------------------


def test_duplicate_keeps_the_function_for_any_share():
    net = initialize(MLP(2, [3], 2, activation="tanh"), "kaiming", seeds=[1]).double()
    x = torch.randn(20, 2, dtype=torch.float64)
    for share in (0.5, 0.2, 1.0, -1.0, 2.0):
        wide = MLP(2, [4], 2, activation="tanh").double()
        wide.load_params(s.duplicate(net.param_dict(), unit=1, share=share))
        torch.testing.assert_close(wide(x), net(x), atol=1e-14, rtol=0)


def test_hessian_of_a_quadratic_by_hand():
    # linear net with one unit: f = a * (w x + b) + c; MSE on hand-picked data
    net = MLP(1, [1], 1, activation="linear").double()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    x = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    y = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    loss, grad, hess = s.loss_and_hessian(net, x, y)
    assert loss == 0.5  # mean of (0-1)^2 and (0-0)^2
    # at zero weights only the output bias c has a nonzero gradient: dL/dc = mean(2 (f - y))
    order = [n for n, _ in net.named_parameters()]
    assert grad[order.index("out.bias")] == -1.0
    assert hess[order.index("out.bias"), order.index("out.bias")] == 2.0
    assert np.allclose(hess, hess.T)


def _problem(seeds: int = 2, width: int = 1):
    x, y, _ = s.teacher_data(seeds, 64)
    net = initialize(
        MLP(2, [width], 1, activation="tanh", members=seeds), "kaiming", seeds=list(range(seeds))
    ).double()
    flat = s.Flat(width)
    return flat, flat.flat(net.param_dict()), x, y


def test_flat_network_is_the_model_and_its_hessian():
    flat, theta, x, y = _problem(width=2)
    net = MLP(2, [2], 1, activation="tanh").double().load_params(flat.params(theta[:1]))
    loss, grad, hess = s.loss_and_hessian(net, x[0], y[0])
    assert float(flat.loss(theta, x, y)[0]) == pytest.approx(loss, rel=1e-14)
    np.testing.assert_allclose(flat.grad(theta, x, y)[0].numpy(), grad, atol=1e-14)
    np.testing.assert_allclose(flat.hess(theta, x, y)[0].numpy(), hess, atol=1e-12)


def test_split_matrix_against_a_plain_formula():
    flat, theta, x, y = _problem(width=2)
    B = s.split_matrix(flat, theta, x, y, [1, 0]).numpy()
    p = {k: v.numpy() for k, v in flat.params(theta).items()}
    for k, u in enumerate([1, 0]):
        X, Y = x[k].numpy(), y[k].numpy()[:, 0]
        h = np.tanh(X @ p["hidden.0.weight"][k].T + p["hidden.0.bias"][k])
        f = h @ p["out.weight"][k, 0] + p["out.bias"][k, 0]
        ref = np.zeros((3, 3))
        for i in range(len(X)):
            z = X[i] @ p["hidden.0.weight"][k, u] + p["hidden.0.bias"][k, u]
            phi2 = -2 * np.tanh(z) * (1 - np.tanh(z) ** 2)
            xt = np.append(X[i], 1.0)
            ref += p["out.weight"][k, 0, u] * 2 * (f[i] - Y[i]) / len(X) * phi2 * np.outer(xt, xt)
        np.testing.assert_allclose(B[k], ref, atol=1e-14)


def test_converge_reaches_a_minimum_whose_duplicate_is_predicted_by_B():
    flat, theta, x, y = _problem()
    theta = s.converge(flat, s.adam(flat, theta, x, y, 100), x, y)
    numbers = s.narrow_numbers(flat, theta, x, y)
    assert numbers["grad_norm"].max() <= 1e-12
    assert numbers["eig_min_rel"].min() >= -s.PSD_TOL
    half = s.at_half(flat, s.Flat(2), theta, x, y, [0, 0])
    # at λ = 1/2 the split is an eigen-space of the Hessian with eigenvalues B / 2
    np.testing.assert_allclose(half["eig_min"], half["half_beta_min"], rtol=1e-8)


def test_split_direction_has_overlap_one_and_a_common_move_has_none():
    wide = s.Flat(3)
    gen = torch.Generator().manual_seed(0)
    split = s.split_direction(wide, [0, 1], gen)
    np.testing.assert_allclose(s.split_overlap(wide, split, [0, 1]), 1.0, rtol=1e-12)
    together = split.abs()  # both copies moved the same way
    np.testing.assert_allclose(s.split_overlap(wide, together, [0, 1]), 0.0, atol=1e-12)


def test_count_negative_uses_a_relative_tolerance():
    ev = torch.tensor([[-1.0, -1e-12, 2.0], [-1e-3, 1.0, 3.0]], dtype=torch.float64)
    scale = ev.abs().max(1).values
    assert s.count_negative(ev, scale).tolist() == [1, 1]


# ---- verdicts on both sides ------------------------------------------------------------------


def test_verdict_same_function_on_both_sides():
    assert s.verdict_same_function(_iv(0.0, 0.0, 1e-12)) == "supported"
    assert s.verdict_same_function(_iv(1e-3, 1e-4, 1e-2)) == "refuted"
    assert s.verdict_same_function(_iv(1e-11, -1e-9, 1e-9)) == "inconclusive"


def test_verdict_saddle_on_both_sides():
    along = _iv(0.99, 0.98, 1.0)
    assert s.verdict_saddle(_iv(-1e-2, -2e-2, -1e-3), along) == "supported"
    assert s.verdict_saddle(_iv(1e-3, 1e-4, 2e-3), along) == "refuted"
    assert s.verdict_saddle(_iv(-1e-2, -2e-2, -1e-3), _iv(0.1, 0.0, 0.2)) == "refuted"
    assert s.verdict_saddle(_iv(-1e-3, -2e-3, 1e-3), along) == "inconclusive"


def test_verdict_line_on_both_sides():
    assert s.verdict_line(_iv(1.0, 1.0, 1.0)) == "supported"
    assert s.verdict_line(_iv(0.4, 0.2, 0.6)) == "refuted"
    assert s.verdict_line(_iv(0.96, 0.9, 1.0)) == "inconclusive"


def test_verdict_growth_on_both_sides():
    ok = _iv(1e-3, 0.0, 2e-3)
    assert s.verdict_growth(_iv(1e-2, 5e-3, 2e-2), ok) == "supported"
    assert s.verdict_growth(_iv(0.0, 0.0, 0.0), ok) == "refuted"  # does not grow
    assert s.verdict_growth(_iv(1e-2, 5e-3, 2e-2), _iv(0.5, 0.3, 0.7)) == "refuted"  # wrong rate
    assert s.verdict_growth(_iv(1e-2, -1e-3, 2e-2), ok) == "inconclusive"


# ---- the tiny run --------------------------------------------------------------------------


def test_tiny_run_meets_the_contract_and_its_premise_is_verified(result):
    check_result(result, 4)
    n = result.numbers["narrow"]
    # the premise: a true critical point with a positive semi-definite Hessian
    assert max(n["grad_norm"]) <= 1e-9
    assert min(n["eig_min_rel"]) >= -s.PSD_TOL
    for f in result.findings[1:]:
        assert f.premise.holds
        assert f.premise.numbers["max_grad_norm"] == max(n["grad_norm"])
        assert f.premise.numbers["min_eigenvalue"] == min(n["eig_min"])


def test_tiny_run_verdicts_follow_from_their_intervals(result):
    same, saddle, line, growth = result.findings
    assert same.measured == s.verdict_same_function(same.interval["max_output_difference"])
    assert same.verdict == "supported"  # exact in float64: 0 difference
    assert saddle.measured == s.verdict_saddle(
        saddle.interval["smallest_relative"], saddle.interval["overlap"]
    )
    assert saddle.interval["smallest_relative"].value == pytest.approx(
        float(np.mean(saddle.numbers["smallest_relative"]))
    )
    assert line.measured == s.verdict_line(t_interval(line.numbers["agreement"]))
    assert growth.measured == s.verdict_growth(
        growth.interval["rate"], growth.interval["rate_error"]
    )


def test_tiny_run_controls_flip_their_verdicts(result):
    same, saddle, line, growth = result.findings
    # each control, judged by the claim's own verdict function on its measured numbers
    assert same.control.verdict == s.verdict_same_function(
        t_interval(same.control.numbers["max_output_difference"])
    )
    assert saddle.control.verdict == s.verdict_saddle(
        t_interval(saddle.control.numbers["smallest_relative"]),
        t_interval(saddle.control.numbers["overlap"]),
    )
    assert line.control.verdict == s.verdict_line(t_interval(line.control.numbers["agreement"]))
    assert growth.control.verdict == s.verdict_growth(
        t_interval(growth.control.numbers["rate"]),
        t_interval(growth.control.numbers["rate_error"]),
    )
    for f in result.findings:
        assert f.control.verdict != "supported", f.claim
    # where the claim comes out supported, its control gives another verdict
    assert same.measured == "supported" and same.control.verdict == "refuted"
    assert line.measured == "supported" and line.control.verdict == "refuted"
    # and a control that came out supported would make the finding inconclusive
    for f in result.findings:
        flipped = dataclasses.replace(f, control=Control(f.control.what, "supported"))
        if f.measured in ("supported", "mixed"):
            assert flipped.verdict == "inconclusive"


def test_a_premise_that_fails_makes_the_findings_inconclusive(result):
    m = {"narrow": {k: np.asarray(v) for k, v in result.numbers["narrow"].items()}}
    assert s.critical_premise(m).holds
    m["narrow"]["grad_norm"] = m["narrow"]["grad_norm"] + 2.6e-3  # stopped early
    assert not s.critical_premise(m).holds
    m = {"narrow": {k: np.asarray(v) for k, v in result.numbers["narrow"].items()}}
    m["narrow"]["eig_min_rel"] = np.array([-2.9e-4])  # a negative curvature of its own
    assert not s.critical_premise(m).holds


def test_figure_titles_are_worded_from_the_verdicts(result):
    for spec in result.figures:
        report.figure_from_spec(spec)
    titles = {}
    for verdict in ("supported", "refuted"):
        found = dict.fromkeys(("same", "saddle", "line", "growth"), verdict)
        m = _measured(result)
        titles[verdict] = [f.title for f in s.figures(m, found)]  # type: ignore[arg-type]
    assert all(a != b for a, b in zip(titles["supported"], titles["refuted"]))


def _measured(result):
    """The arrays figures() reads, rebuilt from the result's JSON numbers."""
    num = result.numbers

    def arrays(d):
        return {k: np.asarray(v) for k, v in d.items()}

    setup = s.setup("tiny")
    return {
        "setup": setup,
        "narrow": arrays(num["narrow"]),
        "half": arrays(num["half"]),
        "line": arrays(num["line"]),
        "early_line": arrays(num["early_line"]),
        "growth": arrays(num["growth"]),
        "teacher_growth": arrays(num["teacher_growth"]),
    }


@pytest.mark.parametrize("scale", ["tiny", "small", "full"])
def test_every_scale_has_a_setup(scale):
    cfg = s.setup(scale)
    assert cfg.seeds >= 3 and 0.5 in cfg.shares and 0.0 in cfg.shares
    assert any(x < 0 for x in cfg.shares) and any(x > 1 for x in cfg.shares)
