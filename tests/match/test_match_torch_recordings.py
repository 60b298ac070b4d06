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


# ---- stitching and prediction agreement of a torch recording, its networks rebuilt ----------


@pytest.fixture(scope="module")
def stitched():
    """Two checkpoints (0: untrained, 40: trained) of A and of B = A with every group permuted
    at step 40 (another initialization at step 0), and the networks themselves."""
    torch.manual_seed(3)
    a, b0 = make(), make()
    a0 = make()
    a0.load_state_dict(a.state_dict())
    g = torch.Generator().manual_seed(4)
    x = torch.randn(40, 1, 6, 6, generator=g, dtype=torch.float64)
    y = (x[:, 0, :3].mean((1, 2)) > 0).long() + 2 * (x[:, 0, :, :3].mean((1, 2)) > 0).long()
    opt = torch.optim.Adam(a.parameters(), 0.03)
    for _ in range(40):
        opt.zero_grad()
        nn.functional.cross_entropy(a(x), y).backward()
        opt.step()
    a.eval(), a0.eval(), b0.eval()
    spec = permutation_spec(a, x[:8])
    perms = {name: torch.randperm(group.size, generator=g) for name, group in spec.groups.items()}
    b = permute(a, perms, spec=spec).eval()
    states = [[a0.state_dict(), a.state_dict()], [b0.state_dict(), b.state_dict()]]
    rec = Recording.from_models(
        [a, b], (x, y), LAYERS, checkpoints=states, steps=[0, 40], layout="NCHW"
    )
    return rec, {"a": a, "b": b, "a0": a0, "b0": b0}, (x, y)


def test_a_stitched_torch_recording_is_the_stitch_of_its_networks(stitched):
    from unitscope.match import stitch, stitch_recordings

    rec, nets, (x, y) = stitched
    kw = dict(fits=["direct", "permutation"], task_steps=5)
    got = stitch_recordings(rec, members=(0, 1), factory=make, **kw)
    halves = {"fit": (x[0::2], y[0::2]), "eval": (x[1::2], y[1::2])}
    layout = {"3.relu#0": "NCHW", "3.relu#1": "NCHW", "4": "NCHW", "7": "ND"}  # the input: flat
    want = stitch(
        nets["a"], nets["b"], halves, layers_a=LAYERS, layers_b=LAYERS, layout=layout,
        untrained=nets["a0"], loss="cross_entropy", **kw,
    )  # fmt: skip
    assert got.layers_a == got.layers_b == LAYERS and got.step == 40 and got.members == (0, 1)
    assert got.sources == ["trained", "self", "input", "untrained"]
    assert (got.fit_split, got.eval_split) == ("fit", "eval") and got.target == want.target
    assert len(got.entries) == len(want.entries) == 2 * (16 + 16 + 4 + 16)
    for mine, ref in zip(got.entries, want.entries):
        assert (mine.source, mine.fit, mine.layer_a, mine.layer_b) == (
            ref.source, ref.fit, ref.layer_a, ref.layer_b,
        )  # fmt: skip
        assert mine.penalty.keys() == ref.penalty.keys()
        np.testing.assert_array_equal(list(mine.penalty.values()), list(ref.penalty.values()))
    assert any("even rows (20, split 'fit')" in n and "odd rows (20" in n for n in got.notes)


def test_a_permuted_copy_and_a_itself_stitch_for_free_through_the_permutation(stitched):
    from unitscope.match import stitch_recordings

    rec, _, _ = stitched
    kw = dict(fits=["permutation"], controls=["self"], factory=make)
    for pair in ((0, 0), (0, 1)):  # A into A; A into B = permute(A)
        s = stitch_recordings(rec, members=pair, **kw)
        for metric in ("acc", "loss"):
            np.testing.assert_allclose(s.matrix("permutation", "trained", metric).diagonal(),
                                       0.0, atol=1e-9)  # fmt: skip
            np.testing.assert_allclose(s.matrix("permutation", "self", metric).diagonal(),
                                       0.0, atol=1e-9)  # fmt: skip
    assert s.matrix("permutation", "trained", "loss")[0, 1] > 1e-3  # a mismatched pair costs
    found = s.entry("trained", "permutation", "3.relu#0", "3.relu#0").map.perm.tolist()
    assert found != list(range(6))  # B's units are in another order, found by the fit


def test_stitching_a_torch_recording_refuses_what_it_cannot_do(stitched, mlp_rec):
    from unitscope.match import stitch_recordings

    rec, _, (x, y) = stitched
    with pytest.raises(UnitscopeError, match=r"needs its networks: pass factory= .*--model"):
        stitch_recordings(rec)
    with pytest.raises(UnitscopeError, match="`factory` is for recordings of your own torch"):
        stitch_recordings(mlp_rec, factory=make)
    with pytest.raises(
        UnitscopeError, match=r"unknown layer of A '3.rel#1'. Did you mean '3.relu#1'"
    ):
        stitch_recordings(rec, factory=make, layers_a=["3.rel#1"])
    with pytest.raises(UnitscopeError, match="`layout` is not taken for a recording"):
        stitch_recordings(rec, factory=make, layout="NHWC")
    fewer = Recording.from_models([make()], (rec.probe_x, rec.probe_y), ["7"])
    with pytest.raises(UnitscopeError, match="the recordings hold different networks"):
        stitch_recordings(rec, fewer, factory=make)
    later = Recording.from_models([make()] * 2, (x, y), LAYERS, steps=[5], layout="NCHW")
    s = stitch_recordings(
        later, factory=make, fits=["direct"], controls=["untrained"], layers_a=["7"],
        layers_b=["7"], data=(x[:10], y[:10]),
    )  # fmt: skip
    assert s.sources == ["trained"] and "first checkpoint is step 5, not 0" in s.notes[0]
    assert "the given data's even rows (5, split 'fit')" in s.notes[1]


def test_agreement_of_a_torch_recording_rebuilds_its_networks(stitched):
    from unitscope.match import agreement

    rec, nets, (x, _) = stitched
    same = agreement(rec, rec, members=[(0, 0), (1, 1)], factory=make)
    assert same.split == "probe" and same.steps.tolist() == [0, 40]
    np.testing.assert_array_equal(same.values["disagreement"], 0.0)
    np.testing.assert_array_equal(same.values["jsd"], 0.0)
    np.testing.assert_array_equal(same.values["kappa"], 1.0)
    across = agreement(
        rec, members=[(0, 1)], factory="tests.match.test_match_torch_recordings:make"
    )
    with torch.no_grad():  # float64 reference from the networks themselves
        pred = {k: net(x).argmax(1).numpy() for k, net in nets.items()}
    expected = [np.mean(pred["a0"] != pred["b0"]), np.mean(pred["a"] != pred["b"])]
    assert expected[0] > 0  # two initializations disagree; the permuted copy does not
    np.testing.assert_array_equal(across.values["disagreement"][:, 0], expected)
    with pytest.raises(UnitscopeError, match="agreement of a torch recording needs its networks"):
        agreement(rec)
    with pytest.raises(UnitscopeError, match="holds only its probe set, not 'test' data"):
        agreement(rec, factory=make, split="test")
