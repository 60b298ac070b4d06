from __future__ import annotations

import numpy as np
import torch

from unitscope.init import initialize
from unitscope.models import MLP
from unitscope.studies import saddle as s

from ._consistency import check_result


def test_duplicate_keeps_the_function_for_any_share():
    net = initialize(MLP(2, [3], 2, activation="tanh"), "kaiming", seeds=[1]).double()
    x = torch.randn(20, 2, dtype=torch.float64)
    for share in (0.5, 0.2, 1.0):
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


def test_verdicts_on_both_sides():
    assert s.verdict_same_function(0.0) == "supported"
    assert s.verdict_same_function(1e-6) == "refuted"
    assert s.verdict_saddle(-1e-3, 1.0) == "supported"
    assert s.verdict_saddle(-1e-9, 1.0) == "refuted"
    assert s.verdict_separate([20.0, 30.0]) == "supported"
    assert s.verdict_separate([20.0, 3.0]) == "mixed"
    assert s.verdict_separate([2.0]) == "refuted"


def test_tiny_run_verdicts_follow_from_numbers():
    result = s.run("tiny")
    check_result(result, 3)
    same, saddle, separate = result.findings
    assert same.verdict == s.verdict_same_function(same.numbers["max_output_difference"])
    assert same.verdict == "supported"
    assert saddle.verdict == s.verdict_saddle(
        saddle.numbers["eig_min"], saddle.numbers["eig_max_abs"]
    )
    assert separate.verdict == s.verdict_separate(separate.numbers["growth"])
