"""Recording.from_models: the user's own networks as a Recording — activations and curves
against plain references, checkpoints from state_dicts and files (never other pickles),
save/load through the strict validation, rebuilding members, and every error path."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from unitscope._errors import UnitscopeError
from unitscope.match import activations, pairs
from unitscope.record import Recording


class Net(nn.Module):
    """conv -> relu -> (channels-last) pointwise -> mean -> fc."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.act = nn.ReLU()
        self.pw = nn.Linear(3, 5)
        self.fc = nn.Linear(5, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pw(self.act(self.conv(x)).permute(0, 2, 3, 1))  # (N, H, W, 5)
        return self.fc(torch.tanh(h).mean((1, 2)))


def make() -> Net:
    return Net().double()


def _nets(k: int = 2) -> list[Net]:
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(make())
    return out


@pytest.fixture
def probe():
    g = torch.Generator().manual_seed(0)
    return torch.randn(24, 1, 5, 5, generator=g, dtype=torch.float64), torch.randint(
        0, 4, (24,), generator=g
    )


LAYOUT = {"act": "NCHW", "pw": "NHWC"}


def test_activations_and_curves_against_plain_references(probe):
    nets = _nets()
    rec = Recording.from_models(nets, probe, ["act", "pw", "fc"], layout=LAYOUT)
    x, y = probe
    assert rec.activations("act").shape == (1, 2, 24, 3) and rec.members == 2
    for k, net in enumerate(nets):
        with torch.no_grad():
            conv = torch.relu(net.conv(x)).numpy()  # (N, C, H, W)
            pw = net.pw(torch.relu(net.conv(x)).permute(0, 2, 3, 1)).numpy()  # (N, H, W, 5)
            logits = net(x).numpy()
        want_act = np.array([[conv[n, c].mean() for c in range(3)] for n in range(24)])
        want_pw = np.array([[pw[n, :, :, d].mean() for d in range(5)] for n in range(24)])
        np.testing.assert_allclose(rec.activations("act")[0, k], want_act, rtol=1e-6)
        np.testing.assert_allclose(rec.activations("pw")[0, k], want_pw, rtol=1e-6)
        np.testing.assert_allclose(rec.activations("fc")[0, k], logits, rtol=1e-6)
        shifted = logits - logits.max(1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
        ce = -np.mean(log_p[np.arange(24), y.numpy()])
        assert rec.curves["probe_loss"][k, 0] == pytest.approx(ce, abs=1e-12)
        acc = np.mean(logits.argmax(1) == y.numpy())
        assert rec.curves["probe_acc"][k, 0] == acc
    assert rec.meta.layouts == {"act": "NCHW", "pw": "NHWC", "fc": "ND"}
    assert rec.meta.layer_kind == {"act": "conv", "pw": "conv", "fc": "dense"}
    assert rec.meta.model_spec["kind"] == "torch" and rec.meta.dataset.n_outputs == 4
    assert all(not m._forward_hooks for net in nets for m in net.modules())


def test_checkpoints_from_state_dicts_and_files(tmp_path, probe):
    from safetensors.torch import save_file

    nets = _nets()
    early = [{k: v * 0.5 for k, v in n.state_dict().items()} for n in nets]
    torch.save(nets[0].state_dict(), tmp_path / "a.pt")
    save_file(nets[1].state_dict(), str(tmp_path / "b.safetensors"))
    rec = Recording.from_models(
        _nets(),
        probe,
        ["act"],
        layout=LAYOUT,
        checkpoints=[[early[0], tmp_path / "a.pt"], [early[1], str(tmp_path / "b.safetensors")]],
        steps=[10, 200],
    )
    assert rec.steps.tolist() == [10, 200] and rec.params["conv.weight"].shape == (2, 2, 3, 1, 3, 3)
    np.testing.assert_array_equal(rec.params["fc.bias"][0, 1], early[1]["fc.bias"].numpy())
    np.testing.assert_array_equal(rec.params["fc.bias"][1, 1], nets[1].fc.bias.detach().numpy())
    last = Recording.from_models(nets, probe, ["act"], layout=LAYOUT)
    np.testing.assert_array_equal(rec.activations("act")[1], last.activations("act")[0])
    # unnumbered checkpoints are 1..T: none is presumed to be the network before training
    assert last.steps.tolist() == [1]
    from unitscope.match import compare

    with pytest.raises(UnitscopeError, match="null='untrained' needs the step-0 checkpoint"):
        compare(last, method="activations", barrier=False, null="untrained")
    assert rec.curve_steps.tolist() == [10, 200]


def test_a_pickle_of_other_objects_is_never_loaded(tmp_path, probe):
    class Evil:
        def __reduce__(self):
            return (print, ("this must not run",))

    torch.save({"conv.weight": Evil()}, tmp_path / "evil.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UnitscopeError, match=r"Unsupported global.*never unpickles anything else"):
        Recording.from_models(
            _nets(1), probe, ["fc"], checkpoints=[[tmp_path / "evil.pt"]], layout=LAYOUT
        )
    with pytest.raises(UnitscopeError, match=r"refused to load .*junk.pt"):
        Recording.from_models(_nets(1), probe, ["fc"], checkpoints=[[tmp_path / "junk.pt"]])


def test_saves_and_loads_through_the_strict_validation(tmp_path, probe):
    rec = Recording.from_models(
        _nets(), probe, ["act", "fc"], layout=LAYOUT, factory="tests_h14_nets:make"
    )
    folder = rec.save(tmp_path / "rec")
    back = Recording.load(folder)
    assert back.identical(rec) and back.is_torch
    assert back.meta.model_spec["factory"] == "tests_h14_nets:make"
    meta = json.loads((folder / "meta.json").read_text())
    meta["layouts"].pop("act")
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(UnitscopeError, match="'layouts' must name the layout of every layer"):
        Recording.load(folder)
    meta["layouts"]["act"] = "NCHW"
    meta["model_spec"]["factory"] = "os.system"  # not 'pkg.module:factory'; never imported
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(UnitscopeError, match="factory that is null or 'pkg.module:factory'"):
        Recording.load(folder)


def test_members_are_rebuilt_by_a_factory_the_caller_names(tmp_path, probe, monkeypatch):
    (tmp_path / "tests_h14_nets.py").write_text(
        textwrap.dedent(
            """
            from tests.record.test_from_models import make
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    nets = _nets()
    rec = Recording.from_models(nets, probe, ["fc"], layout=LAYOUT)
    for factory in (make, "tests_h14_nets:make"):
        (b,) = rec.modules(factory, members=[1])
        with torch.no_grad():
            torch.testing.assert_close(b(probe[0]), nets[1](probe[0]), rtol=0, atol=0)
    sys.modules.pop("tests_h14_nets", None)
    with pytest.raises(UnitscopeError, match="cannot import 'no_such_pkg.nets'"):
        rec.modules("no_such_pkg.nets:make")
    with pytest.raises(UnitscopeError, match="written 'pkg.module:factory'"):
        rec.modules("make()")
    with pytest.raises(UnitscopeError, match="returned int, not an nn.Module"):
        rec.modules(lambda: 3)
    with pytest.raises(
        UnitscopeError, match=r"does not fit the model: missing \['extra.bias', 'extra.weight'\]"
    ):
        rec.modules(lambda: nn.ModuleDict({"conv": make().conv, "extra": nn.Linear(1, 1)}))
    with pytest.raises(UnitscopeError, match="kept no weights"):
        Recording.from_models(nets, probe, ["fc"], keep_weights=False).modules(make)


def test_what_needs_unitscopes_own_model_says_so(probe):
    rec = Recording.from_models(_nets(), probe, ["act"], layout=LAYOUT)
    with pytest.raises(UnitscopeError, match=r"rebuild its members with rec.modules\("):
        rec.model()
    with pytest.raises(UnitscopeError, match="does not know which parameters hold the units"):
        rec.weights("act")


def test_members_are_matched_on_their_recorded_activations(probe):
    rec = Recording.from_models(_nets(3), probe, ["act", "pw"], layout=LAYOUT)
    comp = pairs(rec, method="activations", barrier=False, seed=2)
    assert comp.pairs == [(0, 1), (0, 2), (1, 2)] and comp.method == "activations"
    acts = rec.activations("pw")[0]
    want = activations(acts[[0, 0, 1]], acts[[1, 2, 2]], layout="KND", seed=2)
    np.testing.assert_array_equal(comp.units["pw"].perm, want.perm)
    np.testing.assert_allclose(comp.units["pw"].null, want.null)
    assert comp.summary()["pairs"][0]["layers"]["pw"]["alignment_perm"] == want.perm[0].tolist()
    with pytest.raises(UnitscopeError, match="weight matching of a torch recording needs"):
        pairs(rec)
    late = Recording.from_models(_nets(2), probe, ["act"], layout=LAYOUT, steps=[5])
    with pytest.raises(UnitscopeError, match="null='untrained' needs the step-0 checkpoint"):
        pairs(late, method="activations", barrier=False, null="untrained")


class Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.act = nn.Linear(4, 4), nn.Linear(4, 3), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.act(x))))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layers": ["act"], "layout": None}, r"layer 'act': `acts` has shape \(24, 3, 5, 5\)"),
        ({"layers": ["ac"]}, "unknown layer 'ac'. Did you mean 'act'"),
        ({"models": []}, "`models` is empty"),
        ({"models": [make(), nn.Linear(2, 2)]}, r"`models\[1\]` has another architecture"),
        ({"models": [make(), "net"]}, r"`models\[1\]` must be an nn.Module, got str"),
        ({"probe": "x"}, r"`probe` must be \(inputs, targets\)"),
        ({"probe": (torch.randn(24, 1, 5, 5), torch.zeros(23))}, "n >= 2, got shapes"),
        ({"checkpoints": [[{}]]}, r"must list the checkpoints of each of the 2 member"),
        ({"checkpoints": [[], []]}, r"the same number \(>= 1\) of checkpoints, got \[0, 0\]"),
        ({"steps": [3, 4]}, "`steps` must be 1 integers"),
        ({"checkpoints": [[{"a": 1}], [{}]]}, "is not a state_dict"),
    ],
)
def test_bad_input_is_one_clear_line(probe, kwargs, message):
    args = {"models": _nets(), "probe": probe, "layers": ["act", "fc"], "layout": LAYOUT}
    args.update(kwargs)
    with pytest.raises(UnitscopeError, match=message):
        Recording.from_models(**args)


def test_a_reused_module_needs_its_call():
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    with pytest.raises(UnitscopeError, match="'act#0' or 'act#1'"):
        Recording.from_models([Shared()], (x, y), ["act"])
    rec = Recording.from_models([Shared()], (x, y), ["act#1", "fc2"])
    assert rec.layers == ["act#1", "fc2"] and rec.activations("act#1").shape == (1, 1, 10, 4)
