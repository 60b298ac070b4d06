"""Re-basin of any nn.Module: a ResNet-style network written here, the way a user writes one.

The traced spec is checked against a permutation written by hand for this network; planted
permutations are recovered exactly; BatchNorm statistics stay out of the matching objective;
BatchNorm reset, interpolation and REPAIR are checked against plain float64 computations.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from unitscope import match
from unitscope._errors import UnitscopeError
from unitscope.models import MLP


class Block(nn.Module):
    """Two 3x3 convs with BatchNorm, one ReLU module used twice, a 1x1 conv + BN downsample."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.down: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.down = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.down is None else self.down(x)
        return self.relu(out + skip)


class ResNet(nn.Module):
    """Stem, an identity block, a stride-2 block with downsample, global average pool, head."""

    def __init__(self, width: int = 8, classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.b1 = Block(width, width, 1)
        self.b2 = Block(width, 2 * width, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn(self.conv(x)))
        x = self.b2(self.b1(x))
        return self.fc(torch.flatten(self.pool(x), 1))


GROUPS = {"conv": 8, "b1.conv1": 8, "b2.conv1": 16, "b2.conv2": 16}


def hand_permute(state: dict[str, Tensor], perms: dict[str, Tensor]) -> dict[str, Tensor]:
    """This ResNet's permutation written out by hand (the reference for the traced spec)."""
    out = dict(state)

    def take(name: str, axis: int, group: str) -> None:
        out[name] = out[name].index_select(axis, perms[group])

    bn = ("weight", "bias", "running_mean", "running_var")
    for p in ("conv.weight", *(f"bn.{q}" for q in bn)):
        take(p, 0, "conv")
    for block, s_in, s_out in (("b1", "conv", "conv"), ("b2", "conv", "b2.conv2")):
        inner = f"{block}.conv1"
        take(f"{block}.conv1.weight", 0, inner)
        take(f"{block}.conv1.weight", 1, s_in)
        take(f"{block}.conv2.weight", 0, s_out)
        take(f"{block}.conv2.weight", 1, inner)
        for p in bn:
            take(f"{block}.bn1.{p}", 0, inner)
            take(f"{block}.bn2.{p}", 0, s_out)
    take("b2.down.0.weight", 0, "b2.conv2")
    take("b2.down.0.weight", 1, "conv")
    for p in bn:
        take(f"b2.down.1.{p}", 0, "b2.conv2")
    take("fc.weight", 1, "b2.conv2")
    return out


def make(seed: int = 0, dtype: torch.dtype = torch.float64, width: int = 8) -> ResNet:
    """A ResNet with random BatchNorm parameters and statistics (so wrong moves show)."""
    torch.manual_seed(seed)
    net = ResNet(width).to(dtype)
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=gen))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(m.weight.shape, generator=gen))
                m.bias.copy_(0.3 * torch.randn(m.weight.shape, generator=gen))
                m.running_mean.copy_(0.3 * torch.randn(m.weight.shape, generator=gen))
    return net.eval()


def inputs(n: int = 16, dtype: torch.dtype = torch.float64, seed: int = 0) -> Tensor:
    return torch.randn(n, 1, 8, 8, dtype=dtype, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def spec():
    return match.permutation_spec(make(), inputs())


# ---- the spec ---------------------------------------------------------------------------
def test_traced_groups_follow_the_residual_streams(spec):
    assert spec.sizes == GROUPS
    assert set(spec.groups["conv"].producers) == {"conv", "b1.conv2"}
    assert set(spec.groups["b2.conv2"].producers) == {"b2.conv2", "b2.down.0"}
    assert spec.fixed == {"fc": "model output"}
    # BatchNorm running statistics move with their channels but are not matched
    axes = {(a.tensor, a.axis): a.matched for g in spec.groups.values() for a in g.axes}
    assert axes[("bn.running_mean", 0)] is False and axes[("bn.weight", 0)] is True
    assert ("bn.num_batches_tracked", 0) not in axes
    # REPAIR hooks the BatchNorm after each conv (the pre-activations)
    assert [p.module for p in spec.repair][:3] == ["bn", "b1.bn1", "b1.bn2"]
    assert "b2.down.1" in {p.module for p in spec.repair}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_traced_permutation_equals_the_hand_written_one(spec, seed):
    net = make(seed)
    perms = match.random_perms(net, seed=seed, spec=spec)
    moved = match.permute(net, perms, spec=spec).state_dict()
    by_hand = hand_permute(net.state_dict(), {k: torch.as_tensor(v) for k, v in perms.items()})
    assert all(torch.equal(moved[k], by_hand[k]) for k in by_hand)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_permuted_network_computes_the_same_function(spec, dtype, tol):
    net = make(3, dtype)
    moved = match.permute(net, match.random_perms(spec, seed=4), spec=spec)
    x = inputs(32, dtype, seed=5)
    assert (moved(x) - net(x)).abs().max() <= tol
    assert not torch.equal(moved.conv.weight, net.conv.weight)  # the units did move
    moved.train(), net.train()  # batch statistics are permutation-equivariant too
    assert (moved(x) - net(x)).abs().max() <= tol


def test_permute_leaves_the_input_model_alone(spec):
    net = make(0)
    before = copy.deepcopy(net.state_dict())
    match.permute(net, match.random_perms(spec, seed=1), spec=spec)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


# ---- weight matching --------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_permutation_is_recovered_exactly(spec, seed):
    b = make(seed)
    perms = match.random_perms(spec, seed=seed + 10)
    b_perm = match.permute(b, perms, spec=spec)
    found = match.weights(b, b_perm, spec=spec)
    inverse = match.invert(perms)
    assert all(np.array_equal(found.perms[g][0], inverse[g]) for g in GROUPS)
    back = match.permute(b_perm, found.perms, spec=spec).state_dict()
    assert all(torch.equal(back[k], v) for k, v in b.state_dict().items())
    assert found.converged and (np.diff(found.trace[:, 0]) >= 0).all()


def test_objective_is_the_parameter_inner_product_and_ignores_bn_statistics(spec):
    a, b = make(0), make(1)
    found = match.weights(a, b, spec=spec, start="identity")
    # plain float64 reference: sum over named_parameters only, B permuted by hand
    moved = hand_permute(b.state_dict(), {k: torch.as_tensor(v[0]) for k, v in found.perms.items()})
    reference = sum(float((p.detach() * moved[n]).sum()) for n, p in a.named_parameters())
    assert found.objective[0] == pytest.approx(reference, rel=1e-12)
    # running statistics a thousand times larger change nothing
    with torch.no_grad():
        for m in b.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.mul_(1000.0)
                m.running_var.mul_(1000.0)
    again = match.weights(a, b, spec=spec, start="identity")
    assert all(np.array_equal(found.perms[g], again.perms[g]) for g in GROUPS)
    assert np.array_equal(found.trace, again.trace)


def test_state_dicts_match_like_modules(spec):
    a, b = make(0), make(1)
    from_modules = match.weights(a, b, spec=spec)
    from_states = match.weights(a.state_dict(), b.state_dict(), spec=spec)
    assert all(np.array_equal(from_modules.perms[g], from_states.perms[g]) for g in GROUPS)
    moved = match.permute(b.state_dict(), from_states.perms, spec=spec)
    assert isinstance(moved, dict)
    reference = match.permute(b, from_modules.perms, spec=spec).state_dict()
    assert all(torch.equal(moved[k], reference[k]) for k in reference)
    assert match.align(a, b, spec=spec).keys() == from_modules.perms.keys()


# ---- interpolation, BatchNorm reset, REPAIR ----------------------------------------------
def _data(n: int = 40, seed: int = 0) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return inputs(n, seed=seed), torch.randint(0, 10, (n,), generator=gen)


def test_curve_endpoints_and_midpoint_are_the_losses_of_those_networks():
    a, b = make(0), make(1)
    x, y = _data()
    curve = match.interpolate(a, b, {"test": (x, y)}, n_points=3)
    mid = copy.deepcopy(a)
    sb = b.state_dict()
    mid.load_state_dict(
        {
            k: 0.5 * v + 0.5 * sb[k] if v.is_floating_point() else v
            for k, v in a.state_dict().items()
        }
    )
    for i, net in enumerate((a, mid, b)):
        with torch.no_grad():
            out = net(x)
        assert curve.loss("test")[0, i] == pytest.approx(float(F.cross_entropy(out, y)), rel=1e-10)
        acc = float((out.argmax(1) == y).double().mean())
        assert curve.accuracy("test")[0, i] == pytest.approx(acc)
    assert curve.barrier("test").shape == (1,)


def test_reset_bn_recomputes_the_running_statistics_on_the_loader():
    a = make(0)
    x, y = _data(48)
    loader = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 48, 16)]
    curve = match.interpolate(a, a, {"test": (x, y)}, n_points=2, reset_bn=loader)
    # reference: the stem BN's statistics are the average of the per-batch statistics
    with torch.no_grad():
        z = [a.conv(xb) for xb, _ in loader]
    mean = torch.stack([zb.mean(dim=(0, 2, 3)) for zb in z]).mean(0)
    var = torch.stack([zb.var(dim=(0, 2, 3), unbiased=True) for zb in z]).mean(0)
    net = match.repair(a, a, x, lam=0.0, spec=match.permutation_spec(a, x), reset_bn=loader)
    assert torch.allclose(net.bn.running_mean, mean, atol=1e-12)
    assert torch.allclose(net.bn.running_var, var, atol=1e-12)
    # a DataLoader of (x, y) batches and a generator of inputs give the same statistics
    spec = match.permutation_spec(a, x)
    dl = DataLoader(TensorDataset(x, y), batch_size=16)
    for source in (dl, (xb for xb, _ in loader)):
        again = match.repair(a, a, x, lam=0.0, spec=spec, reset_bn=source)
        assert torch.allclose(again.bn.running_mean, mean, atol=1e-12)
    # with reset statistics the endpoints' loss is that of A with the new statistics
    with torch.no_grad():
        expected = float(F.cross_entropy(net(x), y))
    assert curve.loss("test")[0, 0] == pytest.approx(expected, rel=1e-6)


def _stats(net: nn.Module, module: str, x: Tensor) -> tuple[Tensor, Tensor]:
    seen: list[Tensor] = []
    handle = net.get_submodule(module).register_forward_hook(lambda m, i, o: seen.append(o))
    try:
        with torch.no_grad():
            net.eval()(x)
    finally:
        handle.remove()
    z = seen[0].transpose(0, 1).reshape(seen[0].shape[1], -1)
    return z.mean(1), z.std(1, unbiased=False)


@pytest.mark.parametrize("lam", [0.25, 0.5])
def test_repair_sets_every_point_to_the_interpolated_statistics(spec, lam):
    a, b = make(0), make(1)
    x = inputs(64, seed=7)
    net = match.repair(a, b, x, lam=lam, spec=spec)
    for p in spec.repair:
        (ma, sa), (mb, sb), (m, s) = (_stats(n, p.module, x) for n in (a, b, net))
        assert torch.allclose(m, (1 - lam) * ma + lam * mb, atol=1e-9), p.module
        assert torch.allclose(s, (1 - lam) * sa + lam * sb, atol=1e-9), p.module
    # batches are REPAIRed point by point with a forward pass each: the same network
    batched = match.repair(a, b, [x[:40], x[40:]], lam=lam, spec=spec)
    for k, v in net.state_dict().items():
        assert torch.allclose(batched.state_dict()[k], v, atol=1e-10), k


def test_interpolate_from_state_dicts_with_a_constructor():
    a, b = make(0), make(1)
    x, y = _data()
    from_modules = match.interpolate(a, b, (x, y), n_points=3)
    from_states = match.interpolate(
        a.state_dict(), b.state_dict(), (x, y), n_points=3, build=lambda: ResNet().double()
    )
    assert np.allclose(from_modules.loss(), from_states.loss(), rtol=1e-12)


# ---- errors -----------------------------------------------------------------------------
def test_foreign_modules_without_a_spec_are_one_clear_line():
    net = make(0)
    for call in (
        lambda: match.permute(net, {}),
        lambda: match.random_perms(net, seed=0),
        lambda: match.weights(net, net),
        lambda: match.repair(net, net, inputs()),
    ):
        with pytest.raises(UnitscopeError, match=r"needs its permutation spec: pass spec="):
            call()
    with pytest.raises(UnitscopeError, match=r"`rec_a` must be a Recording, got ResNet"):
        match.compare(net)
    mlp = MLP(3, [4], 2)
    with pytest.raises(UnitscopeError, match=r"`model_b` must be a unitscope model like `model_a`"):
        match.weights(mlp, net, spec=match.permutation_spec(make(0), inputs()))
    with pytest.raises(UnitscopeError, match=r"`model_a` must be a unitscope model like `model_b`"):
        match.interpolate(net, mlp, _data())


def test_bad_permutations_and_mismatched_models_are_refused(spec):
    net = make(0)
    with pytest.raises(UnitscopeError, match=r"unknown permutation group 'cnv'. Did you mean"):
        match.permute(net, {"cnv": np.arange(8)}, spec=spec)
    with pytest.raises(UnitscopeError, match=r"has shape \(2, 8\); expected \(8,\)"):
        match.permute(net, {"conv": np.zeros((2, 8), dtype=int)}, spec=spec)
    with pytest.raises(UnitscopeError, match=r"not a rearrangement of 0..7"):
        match.permute(net, {"conv": np.zeros(8, dtype=int)}, spec=spec)
    wider = ResNet(width=4).double()
    with pytest.raises(UnitscopeError, match=r"tensor 'conv.weight' of the model_b has shape"):
        match.weights(net, wider, spec=spec)
    with pytest.raises(UnitscopeError, match=r"the models have different architectures"):
        match.interpolate(net, wider, _data())


def test_bad_interpolation_inputs_are_one_clear_line(spec):
    a = make(0)
    x, y = _data()
    with pytest.raises(UnitscopeError, match=r"`model_a` is a state_dict; pass build="):
        match.interpolate(a.state_dict(), a.state_dict(), (x, y))
    with pytest.raises(UnitscopeError, match=r"`reset_bn` gave no batches"):
        match.interpolate(a, a, (x, y), reset_bn=[])
    with pytest.raises(UnitscopeError, match=r"`lam` must be in \[0, 1\], got 1.5"):
        match.repair(a, a, x, lam=1.5, spec=spec)
    with pytest.raises(UnitscopeError, match=r"does not fit `build\(\)`'s model"):
        match.interpolate(a.state_dict(), a.state_dict(), (x, y), build=lambda: ResNet(4))
    with pytest.raises(UnitscopeError, match=r"needs integer class labels"):
        match.interpolate(a, a, (x, y.double()), loss="cross_entropy")


# ---- digits: two trained seeds ------------------------------------------------------------
def _train(seed: int, x: Tensor, y: Tensor, width: int, steps: int) -> ResNet:
    torch.manual_seed(seed)
    net = ResNet(width)
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=gen)
        loss = F.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


@pytest.mark.slow
def test_weight_matching_with_bn_reset_removes_the_digits_barrier():
    from unitscope.data import load, train_test_split

    torch.set_num_threads(1)
    train, test = train_test_split(load("digits"), 0.25, seed=0)
    x, y = torch.as_tensor(train.x, dtype=torch.float32), torch.as_tensor(train.y)
    xt, yt = torch.as_tensor(test.x, dtype=torch.float32), torch.as_tensor(test.y)
    a, b = (_train(seed, x, y, width=48, steps=80) for seed in (0, 1))
    spec = match.permutation_spec(a, x[:8])
    aligned = match.permute(b, match.weights(a, b, spec=spec).perms, spec=spec)
    loader = [x[i : i + 256] for i in range(0, len(x), 256)]
    data = {"test": (xt, yt)}

    def barrier(model_b: nn.Module, **kw) -> float:
        return float(match.interpolate(a, model_b, data, n_points=3, **kw).barrier()[0])

    naive, naive_reset = barrier(b), barrier(b, reset_bn=loader)
    matched = barrier(aligned, reset_bn=loader)
    assert float(match.relative_reduction(np.array([naive]), np.array([matched]))[0]) >= 0.75
    # the matching itself does most of it: more than half of the barrier left after the reset
    assert matched <= 0.5 * naive_reset
