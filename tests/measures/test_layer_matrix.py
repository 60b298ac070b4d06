"""Layer × layer matrices from arrays and from two models over a DataLoader in one pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from unitscope._errors import UnitscopeError
from unitscope.measures import (
    MinibatchCKA,
    compute,
    layer_similarity_matrix,
    model_similarity_matrix,
    to_units,
)
from unitscope.record._hooks import record_activations

LAYERS = ["0", "1", "2", "4"]


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 3)
    ).double()


def _loader(n: int = 300, batch: int = 64) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, generator=g, dtype=torch.float64)
    return DataLoader(TensorDataset(x, torch.zeros(n)), batch_size=batch)


def test_array_matrix_equals_pairwise_measure():
    rng = np.random.default_rng(0)
    a = {"h0": rng.standard_normal((40, 5)), "h1": rng.standard_normal((40, 3))}
    b = {"g0": rng.standard_normal((40, 4)), "conv": rng.standard_normal((40, 2, 3, 3))}
    m = layer_similarity_matrix(a, b, "pwcca_similarity", layout="NCHW")
    assert m.rows == ["h0", "h1"] and m.cols == ["g0", "conv"]
    conv = to_units(b["conv"], "mean", layout="NCHW").values
    assert m.values[1, 1] == pytest.approx(compute("pwcca_similarity", a["h1"], conv), abs=1e-14)
    assert m.unit_views == {"h0": "dense", "h1": "dense", "g0": "dense", "conv": "mean"}
    assert m.to_dict()["values"][0][0] == m.values[0, 0] and m.convention == "similarity"


@pytest.mark.parametrize("measure", ["linear_cka", "cca_similarity", "procrustes_distance"])
def test_two_models_one_pass_equals_one_shot(measure):
    a, b, loader = _net(0), _net(1), _loader()
    b.train()
    m = model_similarity_matrix(a, b, loader, layers_a=LAYERS, layers_b=LAYERS[:3], measure=measure)
    assert b.training and all(mod.training for mod in a.modules())  # modes restored
    acts_a = record_activations(a, loader, LAYERS)
    acts_b = record_activations(b, loader, LAYERS[:3])
    want = layer_similarity_matrix(acts_a, acts_b, measure)
    assert m.values.shape == (4, 3) and m.n_samples == 300
    np.testing.assert_allclose(m.values, want.values, atol=1e-7)  # activations stored in float32


def test_model_with_itself_is_symmetric_with_unit_diagonal():
    a = _net(2)
    m = model_similarity_matrix(a, None, _loader(), layers_a=LAYERS)
    np.testing.assert_allclose(np.diag(m.values), 1.0, atol=1e-12)
    np.testing.assert_allclose(m.values, m.values.T, atol=1e-14)


def test_minibatch_cka_matches_the_accumulator():
    a, b, loader = _net(3), _net(4), _loader(256, 64)
    m = model_similarity_matrix(
        a, b, loader, layers_a=["2"], layers_b=["0"], measure="minibatch_cka"
    )
    acc = MinibatchCKA()
    for x, _ in loader:
        acc.update(record_activations(a, x, "2")["2"], record_activations(b, x, "0")["0"])
    assert m.values[0, 0] == pytest.approx(acc.compute(), abs=1e-10)


def test_conv_layers_use_the_requested_unit_view():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 3)).double()
    data = torch.randn(40, 1, 6, 6, dtype=torch.float64)
    m = model_similarity_matrix(net, None, data, layers_a=["1", "2"], conv="flatten", layout="NCHW")
    assert m.unit_views == {"1": "flatten", "2": "flatten"}
    acts = record_activations(net, data, ["1", "2"])
    want = compute("linear_cka", acts["1"].reshape(40, -1), acts["2"].reshape(40, -1))
    assert m.values[0, 1] == pytest.approx(want, abs=1e-10)


def test_errors():
    a = _net(0)
    with pytest.raises(UnitscopeError, match="unknown streaming measure 'rbf_cka'"):
        model_similarity_matrix(a, None, _loader(), layers_a=LAYERS, measure="rbf_cka")
    with pytest.raises(UnitscopeError, match="unknown layer '9'"):
        model_similarity_matrix(a, None, _loader(), layers_a=["9"])
    with pytest.raises(UnitscopeError, match="'minibatch_cka' takes no options"):
        model_similarity_matrix(
            a, None, _loader(), layers_a=LAYERS, measure="minibatch_cka", alpha=1
        )
    with pytest.raises(UnitscopeError, match="at least 4 samples per batch, got 2"):
        model_similarity_matrix(a, None, _loader(6, 4), layers_a=LAYERS, measure="minibatch_cka")
    with pytest.raises(UnitscopeError, match="`data` yielded no batches"):
        model_similarity_matrix(a, None, [], layers_a=LAYERS)
    with pytest.raises(UnitscopeError, match="same number of samples"):
        layer_similarity_matrix({"a": np.ones((5, 2)), "b": np.ones((4, 2))})
    with pytest.raises(UnitscopeError, match="non-empty dict"):
        layer_similarity_matrix({})
