"""Permuting a model's units: the function must not change, and the gather is the right one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.match import identity_perms, invert, permute, random_perms
from unitscope.models import MLP


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_permuted_mlp_computes_the_same_function(random_mlp, depth, seed):
    net = random_mlp(depth, 9, K=3, seed=seed, activation="tanh" if seed else "relu")
    moved = permute(net, random_perms(net, seed=seed + 10))
    x = torch.randn(17, 12, dtype=torch.float64)
    out, hidden = net.forward_hidden(x)
    out_moved, hidden_moved = moved.forward_hidden(x)
    assert (out_moved - out).abs().max() <= 1e-12
    # the hidden units themselves did move: the function is kept by moving them consistently
    assert not torch.equal(hidden_moved["hidden.0"], hidden["hidden.0"])


@pytest.mark.parametrize("pool", ["max", "avg", "none"])
def test_permuted_cnn_computes_the_same_function(random_cnn, pool):
    net = random_cnn(K=2, seed=3, channels=(4, 5, 3) if pool != "none" else (4, 5), pool=pool)
    perms = random_perms(net, seed=4)
    moved = permute(net, perms)
    x = torch.randn(6, 2, 8, 8, dtype=torch.float64)
    assert (moved(x) - net(x)).abs().max() <= 1e-12
    # each conv channel's map moved to its new slot
    _, h = net.forward_hidden(x)
    _, hm = moved.forward_hidden(x)
    p = torch.as_tensor(perms["conv.0"])
    for k in range(2):
        assert torch.allclose(hm["conv.0"][k], h["conv.0"][k][:, p[k]], atol=1e-12)


def test_gather_matches_a_hand_permuted_one_layer_mlp():
    net = MLP(2, [3], 2, members=1).double()
    with torch.no_grad():
        net.hidden[0].weight[0] = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        net.hidden[0].bias[0] = torch.tensor([0.125, 0.25, 0.5])
        net.out.weight[0] = torch.tensor([[7.0, 8.0, 9.0], [10.0, 11.0, 12.0]])
    moved = permute(net, {"hidden.0": [2, 0, 1]})  # slot i receives old unit perm[i]
    assert moved.hidden[0].weight[0].tolist() == [[5.0, 6.0], [1.0, 2.0], [3.0, 4.0]]
    assert moved.hidden[0].bias[0].tolist() == [0.5, 0.125, 0.25]
    assert moved.out.weight[0].tolist() == [[9.0, 7.0, 8.0], [12.0, 10.0, 11.0]]
    assert torch.equal(moved.out.bias, net.out.bias)


def test_cnn_head_moves_whole_channel_blocks(random_cnn):
    net = random_cnn(K=1, channels=(2, 3))  # final maps 2x2 -> blocks of 4 head columns
    moved = permute(net, {"conv.1": [2, 0, 1]})
    w, wm = net.out.weight[0], moved.out.weight[0]  # (5, 3 * 4)
    for slot, old in enumerate([2, 0, 1]):
        assert torch.equal(wm[:, slot * 4 : slot * 4 + 4], w[:, old * 4 : old * 4 + 4])


def test_permute_then_inverse_restores_every_parameter_exactly(random_cnn):
    net = random_cnn(K=3)
    perms = random_perms(net, seed=7)
    back = permute(permute(net, perms), invert(perms))
    for name, p in net.param_dict().items():
        assert torch.equal(back.param_dict()[name], p)
    same = permute(net, identity_perms(net))
    assert all(torch.equal(same.param_dict()[n], p) for n, p in net.param_dict().items())


def test_permute_leaves_the_original_untouched(random_mlp):
    net = random_mlp(2, 5)
    before = {n: p.clone() for n, p in net.param_dict().items()}
    permute(net, random_perms(net, seed=0))
    assert all(torch.equal(before[n], p) for n, p in net.param_dict().items())


def test_a_shared_permutation_applies_to_every_member(random_mlp):
    net = random_mlp(1, 4, K=3)
    moved = permute(net, {"hidden.0": np.array([3, 2, 1, 0])})
    assert torch.equal(moved.hidden[0].weight, net.hidden[0].weight[:, [3, 2, 1, 0]])


@pytest.mark.parametrize(
    ("perms", "message"),
    [
        ({"hiden.0": [0, 1, 2, 3]}, r"unknown layer 'hiden.0'. Did you mean 'hidden.0'\?"),
        ({"hidden.0": [0, 1, 2]}, r"the permutation of 'hidden.0' has shape \(3,\); expected"),
        ({"hidden.0": [0, 1, 1, 3]}, r"is not a rearrangement of 0..3"),
        ({"hidden.0": np.zeros((3, 4), dtype=int)}, r"expected \(4,\) or \(2, 4\)"),
    ],
)
def test_bad_permutations_are_refused(random_mlp, perms, message):
    with pytest.raises(UnitscopeError, match=message):
        permute(random_mlp(1, 4, K=2), perms)
