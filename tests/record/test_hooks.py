"""Forward hooks on any model: names checked, reuse reported, hooks and modes always restored."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from unitscope._errors import UnitscopeError
from unitscope.record._hooks import capture, eval_mode, module_names, record_activations


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(4, 2))


def _no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_records_detached_float32_copies_over_a_loader():
    net = _mlp().double()
    x = torch.randn(10, 3, dtype=torch.float64)
    loader = DataLoader(TensorDataset(x, torch.zeros(10)), batch_size=4)
    acts = record_activations(net, loader, ["0", "1"])
    assert acts["0"].shape == (10, 4) and acts["0"].dtype == np.float32
    with torch.no_grad():
        pre = net[0](x)
    # the in-place ReLU after layer 0 must not have overwritten the stored pre-activations
    np.testing.assert_allclose(acts["0"], pre.numpy(), rtol=1e-6)
    np.testing.assert_allclose(acts["1"], np.maximum(pre.numpy(), 0), rtol=1e-6)
    assert net.training and _no_hooks(net)
    assert record_activations(net, x.numpy(), "3")["3"].shape == (10, 2)  # one numpy batch


def test_unknown_layer_lists_the_available_names():
    net = _mlp()
    with pytest.raises(
        UnitscopeError, match=r"unknown layer '4'.* Available: '0', '1', '2', '3'\."
    ):
        record_activations(net, torch.randn(2, 3), ["0", "4"])
    with pytest.raises(UnitscopeError, match="unknown layer 'fc1'"):
        record_activations(nn.Sequential(), torch.randn(2, 3), "fc1")
    with pytest.raises(UnitscopeError, match="Did you mean 'encoder.fc1'"):
        record_activations(Unused(), torch.randn(2, 3), "encoder.fc")
    with pytest.raises(
        UnitscopeError, match=r"layer\(s\) \['spare'\] did not run during the forward"
    ):
        record_activations(Unused(), torch.randn(2, 3), ["encoder.fc1", "spare"])


class Unused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential()
        self.encoder.add_module("fc1", nn.Linear(3, 3))
        self.spare = nn.Linear(3, 3)

    def forward(self, x):
        return self.encoder(x)


class SharedReLU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.act = nn.Linear(3, 4), nn.Linear(4, 4), nn.ReLU()

    def forward(self, x):
        return self.act(self.fc2(self.act(self.fc1(x))))


def test_a_reused_module_is_reported():
    net = SharedReLU()
    with pytest.raises(UnitscopeError, match="module 'act' ran 2 times in one forward pass"):
        record_activations(net, torch.randn(5, 3), ["fc1", "act"])
    assert _no_hooks(net)
    assert record_activations(net, torch.randn(5, 3), ["fc1", "fc2"])["fc2"].shape == (5, 4)


def test_hooks_removed_and_modes_restored_after_an_exception():
    net = _mlp()
    net[2].eval()
    with pytest.raises(ZeroDivisionError), capture(net, ["0"]) as cap, eval_mode(net):
        net(torch.randn(2, 3))
        assert len(cap.outputs["0"]) == 1 and not net.training
        raise ZeroDivisionError
    assert _no_hooks(net) and net.training and not net[2].training


class TupleAndDict(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(3, 5, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return {"logits": self.head(out[:, -1]), "features": out[:, -1]}


def test_tuple_and_dict_outputs():
    torch.manual_seed(1)
    net = TupleAndDict()
    x = torch.randn(4, 6, 3)
    got = record_activations(net, x, ["rnn", "head"])
    assert got["rnn"].shape == (4, 6, 5)  # element 0 of (output, h_n) by default
    h_n = record_activations(net, x, ["rnn"], select={"rnn": 1})["rnn"]
    np.testing.assert_allclose(h_n[0], got["rnn"][:, -1], rtol=1e-6)
    wrapped = nn.Sequential()
    wrapped.add_module("net", net)
    with pytest.raises(
        UnitscopeError, match=r"'net' returns a dict with tensors \['logits', 'features'\]"
    ):
        record_activations(wrapped, x, ["net"])
    feats = record_activations(wrapped, x, ["net"], select={"net": "features"})["net"]
    np.testing.assert_allclose(feats, got["rnn"][:, -1], rtol=1e-6)
    with pytest.raises(UnitscopeError, match="unknown output key of layer 'net': 'logit'"):
        record_activations(wrapped, x, ["net"], select={"net": "logit"})
    with pytest.raises(
        UnitscopeError, match=r"select\['rnn'\] must be an index into the 2-element"
    ):
        record_activations(net, x, ["rnn"], select={"rnn": 5})
    assert _no_hooks(net)


def test_other_errors():
    net = _mlp()
    with pytest.raises(UnitscopeError, match="`layers` is empty"):
        record_activations(net, torch.randn(2, 3), [])
    with pytest.raises(UnitscopeError, match="names a module twice"):
        record_activations(net, torch.randn(2, 3), ["0", "0"])
    with pytest.raises(UnitscopeError, match="yielded no batches"):
        record_activations(net, [], ["0"])
    with pytest.raises(UnitscopeError, match="iterable of batches, got int"):
        record_activations(net, 3, ["0"])
    assert module_names(net) == ["0", "1", "2", "3"]
