"""The hand-written MLP step (train/_dense.py) computes what autograd computes.

Reference: ``model.forward_hidden`` with the same dropout masks, ``member_loss``, summed over
members, and ``backward()``, in float64. Every case compares the members' losses and every
parameter's gradient, and the outputs of ``forward`` with ``model(x)``.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from unitscope.init import initialize
from unitscope.models import ACTIVATIONS, MLP
from unitscope.train import _dense, member_loss

K, N, D, C = 3, 11, 5, 4

CASES = [
    (act, hidden, bias, loss, shared, p)
    for act, (hidden, bias, loss, shared, p) in itertools.product(
        ACTIVATIONS,
        [
            ([6], True, "cross_entropy", True, 0.0),
            ([6, 7], True, "mse", False, 0.3),
            ([6, 7], False, "cross_entropy", False, 0.5),
            ([], True, "mse", True, 0.0),
            ([8], True, "cross_entropy", True, 0.2),
        ],
    )
]


def data(loss: str, shared: bool) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn((N, D) if shared else (K, N, D), generator=gen, dtype=torch.float64)
    lead = (N,) if shared else (K, N)
    if loss == "cross_entropy":
        return x, torch.randint(0, C, lead, generator=gen)
    return x, torch.randn((*lead, C), generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("act, hidden, bias, loss, shared, p", CASES)
def test_hand_written_step_is_autograd(act, hidden, bias, loss, shared, p):
    net = initialize(
        MLP(D, hidden, C, activation=act, bias=bias, members=K).double(), "kaiming", seeds=[0, 1, 2]
    )
    x, y = data(loss, shared)
    gen = torch.Generator().manual_seed(5)
    masks = [torch.rand((K, u, N), generator=gen) >= p for u in hidden] if p else None

    def noise(i: int, h: torch.Tensor) -> torch.Tensor:  # h (K, N, U)
        assert masks is not None
        return h * masks[i].transpose(1, 2) / (1.0 - p)

    out_ref, _ = net.forward_hidden(x, noise if p else None)  # (K, N, C)
    want = member_loss(out_ref, y, loss)
    want.sum().backward()

    grads = {n: torch.full_like(q, float("nan")) for n, q in net.named_parameters()}
    dense = _dense.Dense.of(net)
    with torch.no_grad():
        out, layers = _dense.forward(dense, x, masks, p)  # (K, C, N)
        assert torch.allclose(out.transpose(1, 2), out_ref, rtol=0, atol=1e-12)
        losses, g = _dense.loss_and_grad(out, y, loss)
        _dense.backward(dense, x, layers, g, _dense.Dense.of(net, grads))
    assert torch.allclose(losses, want, rtol=0, atol=1e-12)
    for name, q in net.named_parameters():
        assert q.grad is not None and float(q.grad.abs().max()) > 0
        assert torch.allclose(grads[name], q.grad, rtol=0, atol=1e-12), name


def test_evaluation_needs_no_gradient_and_leaves_outputs():
    net = initialize(MLP(D, [6], C, members=K).double(), "kaiming", seeds=[0, 1, 2])
    x, y = data("cross_entropy", True)
    with torch.no_grad():
        out, _ = _dense.forward(_dense.Dense.of(net), x)
        kept = out.clone()
        losses, same = _dense.loss_and_grad(out, y, "cross_entropy", grad=False)
    assert same is out and torch.equal(out, kept)
    assert torch.allclose(losses, member_loss(net(x), y, "cross_entropy"), rtol=0, atol=1e-12)
