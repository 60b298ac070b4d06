from __future__ import annotations

import torch

from unitscope.init import initialize
from unitscope.models import MLP
from unitscope.studies import capacity as c

from ._consistency import check_result


def test_verdict_fits_better_on_both_sides():
    sym = {1: 1.0, 4: 1.0, 8: 1.0}
    assert c.verdict_fits_better(sym, {1: 1.0, 4: 0.85, 8: 0.5}) == "supported"
    assert c.verdict_fits_better(sym, {1: 1.0, 4: 0.95, 8: 0.5}) == "mixed"
    assert c.verdict_fits_better(sym, {1: 0.1, 4: 0.95, 8: 0.99}) == "refuted"


def test_verdict_merge_costs_on_both_sides():
    assert c.verdict_merge_costs([0.02, 0.05], [1.0, 1.0]) == "supported"
    assert c.verdict_merge_costs([0.005, 0.0], [1.0, 1.0]) == "refuted"


def test_merging_two_identical_units_keeps_the_function():
    net = initialize(MLP(2, [4], 3), "kaiming", seeds=[0])
    with torch.no_grad():  # unit 3 duplicates unit 1: they are the most similar pair
        net.hidden[0].weight[0, 3] = net.hidden[0].weight[0, 1]
        net.hidden[0].bias[0, 3] = net.hidden[0].bias[0, 1] = 0.3
    x = torch.randn(50, 2)
    merged, pair, corr = c.merge_most_similar(net, x)
    assert sorted(pair) == [1, 3] and corr > 0.999
    assert merged.hidden[0].weight.shape == (1, 3, 2)
    torch.testing.assert_close(merged(x), net(x), atol=1e-5, rtol=1e-5)


def test_tiny_run_verdicts_follow_from_numbers():
    result = c.run("tiny")
    check_result(result, 2)
    better, merge = result.findings
    n = better.numbers
    sym = {int(k): v for k, v in n["symmetric_loss"].items()}
    rand = {int(k): v for k, v in n["random_loss"].items()}
    assert better.verdict == c.verdict_fits_better(sym, rand)
    assert abs(sym[1] - rand[1]) < 1e-6  # width 1: both starts are the same kind of network
    assert merge.verdict == c.verdict_merge_costs(merge.numbers["increase"], merge.numbers["loss"])
