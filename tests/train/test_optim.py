"""The flat-buffer optimizers compute torch.optim's SGD, Adam and AdamW, step for step.

Both paths (PyTorch's fused kernel on the flat buffer, and the plain elementwise one) are
run for 25 steps on the parameters of a small batched MLP with made-up gradients and compared
in float64 with torch.optim (its default, single-tensor implementation) after every step.
"""

from __future__ import annotations

import pytest
import torch

from unitscope.models import MLP
from unitscope.train._optim import FlatOptimizer, FlatParams

CASES = {
    "sgd": ("sgd", {"lr": 0.1}),
    "sgd weight decay": ("sgd", {"lr": 0.1, "weight_decay": 0.01}),
    "sgd momentum": ("sgd", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.003}),
    "sgd nesterov": ("sgd", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    "adam": ("adam", {"lr": 0.01}),
    "adam weight decay": ("adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    "adamw": ("adamw", {"lr": 0.01, "weight_decay": 0.1}),
}
TORCH = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
STEPS = 25


def model() -> MLP:
    net = MLP(5, [7, 3], 4, members=3).double()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return net


def gradients(net: MLP) -> list[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(1)
    return [
        {
            n: torch.randn(p.shape, generator=gen, dtype=torch.float64)
            for n, p in net.named_parameters()
        }
        for _ in range(STEPS)
    ]


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("case", list(CASES))
def test_flat_optimizer_is_torch_optim_step_for_step(case, fused):
    name, kwargs = CASES[case]
    ours, theirs = model(), model()
    flat = FlatParams(ours)
    opt = FlatOptimizer(flat, name, fused=fused, **kwargs)
    assert opt.fused == (fused and hasattr(torch, f"_fused_{name}_"))
    ref = TORCH[name](theirs.parameters(), **kwargs)
    for grads in gradients(ours):
        for n, g in grads.items():
            flat.grads[n].copy_(g)
            dict(theirs.named_parameters())[n].grad = g.clone()
        opt.step()
        ref.step()
        for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
            assert p.data_ptr() >= flat.flat.data_ptr()  # still a view of the buffer
            assert torch.allclose(p, q, rtol=0, atol=1e-12), n
    start = model()  # the comparison can fail: the parameters moved
    assert (
        max(
            float((p - q).detach().abs().max())
            for p, q in zip(flat.params, FlatParams(start).params)
        )
        > 0.05
    )


def test_flat_params_put_weights_first_and_share_memory():
    net = model()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    flat = FlatParams(net)
    assert flat.n_weights == 3 * (7 * 5 + 3 * 7 + 4 * 3)
    assert torch.equal(flat.weights[: 3 * 7 * 5], before["hidden.0.weight"].flatten())
    for n, p in net.named_parameters():
        assert torch.equal(p, before[n])
    flat.flat.zero_()
    assert all(not p.detach().any() for p in net.parameters())


@pytest.mark.parametrize("fused", [True, False])
def test_an_update_in_member_parts_is_the_whole_update(fused):
    whole, parts = model(), model()
    flats = FlatParams(whole), FlatParams(parts)
    opts = [FlatOptimizer(f, "adam", lr=0.01, weight_decay=0.1, fused=fused) for f in flats]
    for grads in gradients(whole)[:5]:
        for f in flats:
            for n, g in grads.items():
                f.grads[n].copy_(g)
        opts[0].step()
        opts[1].advance()
        for members in [(1, 3), (0, 1)]:  # each member's slice of every parameter
            opts[1].update(flats[1].ranges(members))
    assert torch.equal(flats[0].flat, flats[1].flat)
    assert not torch.equal(flats[0].flat, FlatParams(model()).flat)
    assert [s.stop - s.start for s in flats[0].ranges((0, 1))] == [35, 21, 12, 7, 3, 4]
