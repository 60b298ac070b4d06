"""Matching recordings of the user's own torch networks: planted permutations of a ResNet-style
network recovered through its traced spec, each recorded layer tied to the group that moves its
units, barriers with BatchNorm reset and REPAIR, and the refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from unitscope._errors import UnitscopeError
from unitscope.match import compare, permutation_spec, permute
from unitscope.match._compare_torch import TorchComparison
from unitscope.record import Recording


class Block(nn.Module):
    """A residual block whose one ReLU module runs twice."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))


class Two(nn.Module):
    """Two branches concatenated along the channels."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(6, 3, 1), nn.Conv2d(6, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.a(x), self.b(x)], 1)


def make() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), Block(6), Two(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 4),
    ).double()  # fmt: skip


LAYERS = ["3.relu#0", "3.relu#1", "4", "7"]


@pytest.fixture(scope="module")
def planted():
    torch.manual_seed(0)
    a = make()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(60, 1, 6, 6, generator=g, dtype=torch.float64)
    y = (x[:, 0, :3].mean((1, 2)) > 0).long() + 2 * (x[:, 0, :, :3].mean((1, 2)) > 0).long()
    opt = torch.optim.Adam(a.parameters(), 0.03)
    for _ in range(60):  # trained, so that the line between unaligned copies rises
        opt.zero_grad()
        nn.functional.cross_entropy(a(x), y).backward()
        opt.step()
    a.eval()
    spec = permutation_spec(a, x[:8])
    perms = {name: torch.randperm(group.size, generator=g) for name, group in spec.groups.items()}
    b = permute(a, perms, spec=spec)
    rec = Recording.from_models([a, b], (x, y), LAYERS, layout="NCHW")
    return rec, spec, perms


def test_planted_permutations_are_recovered_layer_by_layer(planted):
    rec, spec, perms = planted
    comp = compare(rec, members=(0, 1), method="activations", barrier=False)  # no networks
    assert not isinstance(comp, TorchComparison)
    from unitscope.match._compare_torch import compare_torch

    found = compare_torch(rec, members=(0, 1), barrier=False, factory=make)
    assert isinstance(found, TorchComparison)
    for group, perm in perms.items():  # weight matching undoes every planted permutation
        assert found.groups[group][0].tolist() == perm.argsort().tolist()
    owner = found.layer_groups
    stream = next(g for g, G in spec.groups.items() if "3.conv2" in G.producers)
    assert owner["3.relu#1"] == stream and owner["3.relu#0"] == "3.conv1"
    assert owner["7"] == "" and owner["4"] is None  # the output stays; the concat mixes groups
    for layer in ("3.relu#0", "3.relu#1", "7"):
        np.testing.assert_allclose(found.aligned_corr(layer), 1.0, atol=1e-9)
    s = found.summary()
    json.dumps(s)  # plain values only
    entry = s["pairs"][0]["layers"]
    assert entry["4"]["alignment_perm"] is None and np.isnan(entry["4"]["mean_aligned_corr"])
    assert entry["3.relu#1"]["group"] == stream and set(s["groups"]) == set(spec.groups)
    assert entry["7"]["alignment_perm"] == [0, 1, 2, 3]


def test_the_aligned_line_is_flat_for_a_permuted_copy(planted):
    from unitscope.match._compare_torch import compare_torch

    rec, _, _ = planted
    comp = compare_torch(rec, members=(0, 1), barrier=True, repair=True, factory=make, n_points=5)
    assert comp.naive is not None and comp.aligned is not None and comp.repaired is not None
    assert comp.naive.splits == ["probe"]
    assert comp.naive.barrier("probe")[0] > 1e-3  # a permuted copy is not aligned as it is
    np.testing.assert_allclose(comp.aligned.barrier("probe"), 0.0, atol=1e-10)
    np.testing.assert_allclose(comp.repaired.barrier("probe"), 0.0, atol=1e-8)
    by_acts = compare_torch(rec, members=(0, 1), method="activations", factory=make, n_points=5)
    assert by_acts.layer_groups["4"] is None  # so groups 4.a and 4.b stay in place
    assert by_acts.groups["4.a"][0].tolist() == [0, 1, 2]
    assert by_acts.aligned is not None
    assert by_acts.aligned.barrier("probe")[0] < comp.naive.barrier("probe")[0]


def test_refusals_say_what_to_do(planted):
    rec, _, _ = planted
    with pytest.raises(UnitscopeError, match="needs its networks: pass factory="):
        compare(rec, members=(0, 1))
    with pytest.raises(UnitscopeError, match="the loss barrier of a torch recording needs"):
        compare(rec, members=(0, 1), method="activations")
    fewer = Recording.from_models([make()], (rec.probe_x, rec.probe_y), ["7"])
    with pytest.raises(UnitscopeError, match="the recordings hold different networks"):
        compare(rec, fewer, method="activations", barrier=False)
    with pytest.raises(UnitscopeError, match="unknown matching method 'hebbian'"):
        compare(rec, method="hebbian")
    via_compare = compare(rec, members=(0, 1), factory=make, barrier=False)  # the same path
    assert isinstance(via_compare, TorchComparison) and via_compare.layer_groups["7"] == ""


def test_a_factory_is_refused_for_unitscopes_own_recordings(mlp_rec):
    with pytest.raises(UnitscopeError, match="`factory` is for recordings of your own torch"):
        compare(mlp_rec, factory=make)
