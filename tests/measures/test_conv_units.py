"""Conv feature maps to units: each mode against loops; the choice is recorded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.measures import to_units


def test_modes_match_loops():
    a = np.random.default_rng(0).standard_normal((3, 4, 2, 5)).astype(np.float32)  # (N, C, H, W)
    mean = to_units(a, "mean", layout="NCHW")
    want = [[a[n, c].astype(np.float64).mean() for c in range(4)] for n in range(3)]
    np.testing.assert_allclose(mean.values, want, atol=1e-12)
    assert (mean.mode, mean.source_shape, mean.values.dtype) == ("mean", (3, 4, 2, 5), np.float64)
    pos = to_units(torch.from_numpy(a), "positions", layout="NCHW")
    rows = [a[n, :, h, w] for n in range(3) for h in range(2) for w in range(5)]
    np.testing.assert_array_equal(pos.values, rows)
    assert pos.mode == "positions" and pos.values.shape == (30, 4)
    flat = to_units(a, "flatten", layout="NCHW")
    np.testing.assert_array_equal(flat.values, [a[n].ravel() for n in range(3)])


def test_dense_and_1d_conv_inputs():
    dense = np.ones((6, 3))
    assert to_units(dense, "positions").mode == "dense"
    assert to_units(np.ones((2, 3, 7)), "positions", layout="NCL").values.shape == (14, 3)


def test_errors():
    with pytest.raises(
        UnitscopeError, match="`mode` must be one of 'mean', 'positions', 'flatten'"
    ):
        to_units(np.ones((2, 3, 4, 4)), "max", layout="NCHW")
    with pytest.raises(UnitscopeError, match=r"`acts` must be \(n_samples, n_units\) or maps"):
        to_units(np.ones(4))
    with pytest.raises(UnitscopeError, match="`acts` contains 1 NaN"):
        to_units(np.array([[[1.0, np.nan]]]), layout="NTD")
