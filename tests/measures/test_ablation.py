"""Ablation importance on a network with hand-set weights, worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from unitscope._errors import UnitscopeError
from unitscope.measures import ablation_importance


def _net() -> nn.Module:
    """y = 2·relu(x) + 1·relu(−x) + 0·relu(x); hidden units 0, 1, 2."""
    net = nn.Sequential(nn.Linear(1, 3, bias=False), nn.ReLU(), nn.Dropout(0.5), nn.Linear(3, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0], [-1.0], [1.0]]))
        net[3].weight.copy_(torch.tensor([[2.0, 1.0, 0.0]]))
        net[3].bias.zero_()
    return net


X = torch.tensor([[1.0], [-2.0], [3.0]])


def _mse(model: nn.Module) -> torch.Tensor:
    target = 2 * torch.relu(X) + torch.relu(-X)
    return ((model(X) - target) ** 2).mean()


def test_importance_by_hand():
    # zeroing unit 0 removes 2·relu(x): errors (2, 0, 6) -> mean((4 + 0 + 36)) / 3 = 40/3
    # zeroing unit 1 removes relu(−x): errors (0, 2, 0) -> 4/3; unit 2 does nothing.
    got = ablation_importance(_net(), "1", _mse)
    np.testing.assert_allclose(got, [40 / 3, 4 / 3, 0.0], atol=1e-6)
    assert got.dtype == np.float64
    np.testing.assert_allclose(
        ablation_importance(_net(), "0", _mse, units=[1]), [4 / 3], atol=1e-6
    )


def test_modes_restored_and_hooks_removed_even_on_error():
    net = _net()
    net.train()
    net[2].eval()  # a mixed state must come back exactly
    calls = []

    def failing(model):
        calls.append(model.training)
        if len(calls) > 1:
            raise RuntimeError("boom")
        return _mse(model)

    with pytest.raises(RuntimeError, match="boom"):
        ablation_importance(net, "1", failing)
    assert calls == [False, False]  # evaluated in eval mode (dropout off)
    assert net.training and not net[2].training and net[0].training
    assert all(not m._forward_hooks for m in net.modules())


def test_errors():
    net = _net()
    with pytest.raises(UnitscopeError, match="unknown layer '7'.*Available: '0', '1', '2', '3'"):
        ablation_importance(net, "7", _mse)
    with pytest.raises(UnitscopeError, match=r"`units` must hold indices in \[0, 3\), got 3"):
        ablation_importance(net, "1", _mse, units=[3])
    with pytest.raises(UnitscopeError, match="`loss_fn` returned nan on the intact model"):
        ablation_importance(net, "1", lambda m: float("nan"))
    with pytest.raises(UnitscopeError, match="`loss_fn` must return a scalar loss, got str"):
        ablation_importance(net, "1", lambda m: "low")
    with pytest.raises(UnitscopeError, match="did not run"):
        ablation_importance(net, "1", lambda m: 0.0)
    assert all(not m._forward_hooks for m in net.modules())
