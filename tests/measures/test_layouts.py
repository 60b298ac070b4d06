"""Layouts are never guessed: tokens, channels-last maps and members are read as told, and an
ambiguous tensor without ``layout=`` is refused with the layouts that fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from unitscope._errors import UnitscopeError
from unitscope._layout import parse_layout
from unitscope.match import activations, cross_correlation
from unitscope.measures import layer_similarity_matrix, model_similarity_matrix, to_units


def plain_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    U = a.shape[1]
    return np.corrcoef(a.T, b.T)[:U, U:]


# ---- to_units ---------------------------------------------------------------------------------
def test_tokens_are_features_at_positions(rng):
    tokens = rng.normal(size=(6, 5, 3))  # (N, T, D): 5 tokens of 3 features
    mean = to_units(tokens, "mean", layout="NTD")
    want = [[tokens[n, :, d].mean() for d in range(3)] for n in range(6)]
    np.testing.assert_allclose(mean.values, want, atol=1e-12)
    assert (mean.values.shape, mean.layout) == ((6, 3), "NTD")
    pos = to_units(tokens, "positions", layout="NTD").values
    np.testing.assert_array_equal(pos, [tokens[n, t] for n in range(6) for t in range(5)])
    flat = to_units(tokens, "flatten", layout="NTD").values  # unit-major: (d, t)
    np.testing.assert_array_equal(flat, [tokens[n].T.ravel() for n in range(6)])


@pytest.mark.parametrize("mode", ["mean", "positions", "flatten"])
def test_channels_last_equals_channels_first(rng, mode):
    first = rng.normal(size=(4, 3, 2, 5))  # (N, C, H, W)
    last = first.transpose(0, 2, 3, 1)  # (N, H, W, C)
    a = to_units(first, mode, layout="NCHW").values
    b = to_units(last, mode, layout="NHWC").values
    np.testing.assert_array_equal(a, b)


def test_sequence_first_and_transposed_dense(rng):
    seq = rng.normal(size=(5, 4, 3))  # (T, N, D), nn.LSTM's default
    got = to_units(seq, "mean", layout="TND").values
    np.testing.assert_allclose(got, seq.mean(axis=0), atol=1e-12)
    dense = rng.normal(size=(3, 7))  # (D, N)
    np.testing.assert_array_equal(to_units(dense, layout="DN").values, dense.T)


def test_a_vit_and_a_convnext_map_are_refused_without_a_layout(rng):
    with pytest.raises(UnitscopeError, match=r"shape \(2, 65, 8\): a 3-D tensor could be .*NTD"):
        to_units(rng.normal(size=(2, 65, 8)))
    with pytest.raises(UnitscopeError, match=r"could be \(N, C, H, W\) maps .*'NHWC'"):
        to_units(rng.normal(size=(2, 7, 7, 16)))


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("nchw", "must be a string of capital letters"),
        (4, "must be a string of capital letters"),
        ("NCCW", "names an axis twice"),
        ("NCH", "names 3 axes but `acts` has 4"),
        ("HCWT", "needs exactly one N"),
        ("NCDW", "exactly one N .* and one C or D"),
        ("KNCH", "has a member axis K"),
    ],
)
def test_bad_layouts_are_one_clear_line(layout, message):
    with pytest.raises(UnitscopeError, match=message):
        to_units(np.ones((2, 3, 4, 4)), layout=layout)


def test_parse_orders_members_samples_positions_units():
    assert parse_layout("KNHWC", 5, "x", members=True).order == (0, 1, 2, 3, 4)
    assert parse_layout("CNT", 3, "x").order == (1, 2, 0)


# ---- layer and model matrices -----------------------------------------------------------------
def test_layer_matrix_takes_a_layout_per_layer(rng):
    maps = rng.normal(size=(30, 4, 3, 3))
    acts = {"nchw": maps, "nhwc": maps.transpose(0, 2, 3, 1), "dense": rng.normal(size=(30, 5))}
    m = layer_similarity_matrix(acts, layout={"nchw": "NCHW", "nhwc": "NHWC"})
    assert m.values[0, 1] == pytest.approx(1.0, abs=1e-12)  # the same units, read right
    with pytest.raises(UnitscopeError, match="layer 'nchw': `acts` has shape"):
        layer_similarity_matrix(acts)
    with pytest.raises(UnitscopeError, match="layer 'x' outputs 3-D tensors but layout='NCHW'"):
        layer_similarity_matrix({"x": rng.normal(size=(5, 2, 3))}, layout="NCHW")


class _Tokens(nn.Module):
    """A toy transformer block: (N, T*D) -> tokens (N, T, D) -> mean token -> logits."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(4, 8)
        self.mix = nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x.view(x.shape[0], 5, 4))  # (N, T=5, D=8)
        return self.head(torch.tanh(self.mix(tokens)).mean(1))


def test_model_matrix_on_tokens_needs_the_layout():
    torch.manual_seed(0)
    net, x = _Tokens().double(), torch.randn(64, 20, dtype=torch.float64)
    with pytest.raises(UnitscopeError, match=r"layer 'mix': `acts` has shape \(64, 5, 8\)"):
        model_similarity_matrix(net, None, x, layers_a=["mix", "head"])
    m = model_similarity_matrix(net, None, x, layers_a=["mix", "head"], layout="NTD")
    assert m.unit_views == {"mix": "mean", "head": "dense"}
    np.testing.assert_allclose(np.diag(m.values), 1.0, atol=1e-12)


# ---- match.activations ------------------------------------------------------------------------
def test_matching_tokens_pairs_features_not_samples(rng):
    tokens = rng.normal(size=(40, 6, 5))  # (N, T, D): 5 units
    moved = tokens[..., [4, 3, 2, 1, 0]]
    with pytest.raises(UnitscopeError, match=r"could be .*\(N, T, D\) tokens.*\(K, N, D\)"):
        activations(tokens, moved)
    m = activations(tokens, moved, layout="NTD")
    assert m.perm.shape == (1, 5) and m.perm[0].tolist() == [4, 3, 2, 1, 0]
    flat = tokens.reshape(-1, 5)  # every (sample, token) is an observation
    np.testing.assert_allclose(m.corr[0], plain_corr(flat, moved.reshape(-1, 5)), atol=1e-12)


def test_matching_channels_last_members_equals_channels_first(rng):
    a, b = rng.normal(size=(2, 10, 3, 4, 4)), rng.normal(size=(2, 10, 3, 4, 4))
    first = activations(a, b, layout="KNCHW", seed=3)
    last = activations(
        a.transpose(0, 1, 3, 4, 2), b.transpose(0, 1, 3, 4, 2), layout="KNHWC", seed=3
    )
    np.testing.assert_allclose(first.corr, last.corr, atol=1e-12)
    np.testing.assert_allclose(first.null, last.null, atol=1e-12)  # the same samples shuffled
    with pytest.raises(UnitscopeError, match=r"5-D tensor could be .*'KNCHW'.*'KNHWC'"):
        cross_correlation(a, b)
