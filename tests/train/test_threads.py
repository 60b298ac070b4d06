"""How a run picks its CPU threads and splits its members over them."""

from __future__ import annotations

import pytest

from unitscope.models import MLP, SmallCNN
from unitscope.train._fit import step_macs
from unitscope.train._step import member_groups


def test_a_conv_weight_counts_once_per_output_position():
    net = SmallCNN(1, (8, 8), [2, 3], 4, members=2)
    conv0 = 2 * 2 * 1 * 9 * 8 * 8  # (K, C_out, C_in, 3, 3) on 8x8
    conv1 = 2 * 3 * 2 * 9 * 4 * 4  # after one 2x2 pool
    head = 2 * 4 * 3 * 2 * 2  # (K, out, C * 2 * 2)
    assert step_macs(net, 5) == 5 * (conv0 + conv1 + head)
    assert step_macs(MLP(3, [4], 2, members=2), 5) == 5 * 2 * (4 * 3 + 4 + 2 * 4 + 2)


@pytest.mark.parametrize(
    "members, threads, want",
    [
        (3, 2, [(0, 2), (2, 3)]),
        (1, 2, [(0, 1)]),
        (8, 1, [(0, 8)]),
        (10, 4, [(0, 2), (2, 5), (5, 8), (8, 10)]),
    ],
)
def test_member_groups_cover_every_member_once(members, threads, want):
    assert member_groups(members, threads) == want
