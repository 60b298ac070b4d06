"""Playground views: hand-set units give known pictures; recordings give the same as models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope import views
from unitscope._errors import UnitscopeError
from unitscope.data import grid_2d
from unitscope.models import MLP, SmallCNN


def hand_mlp(w, b, out_w, activation="relu", out_b=None) -> MLP:
    """A one-member MLP 2 -> len(w) -> len(out_w) with the given weights."""
    net = MLP(2, [len(w)], len(out_w), activation=activation).double()
    with torch.no_grad():
        net.hidden[0].weight[0] = torch.tensor(w, dtype=torch.float64)
        net.hidden[0].bias[0] = torch.tensor(b, dtype=torch.float64)
        net.out.weight[0] = torch.tensor(out_w, dtype=torch.float64)
        net.out.bias[0] = torch.tensor(out_b or [0.0] * len(out_w), dtype=torch.float64)
    return net


def test_relu_unit_with_weight_1_0_is_max_x_0():
    points, _ = grid_2d(np.array([[-2.0, -1.0], [2.0, 1.0]]), 9, margin=0.0)
    net = hand_mlp([[1.0, 0.0], [0.0, 2.0]], [0.0, -1.0], [[1.0, 1.0]])
    grid = views.unit_outputs(net, "hidden.0", points)  # (K=1, U=2, P)
    np.testing.assert_allclose(grid[0, 0], np.maximum(points[:, 0], 0.0))
    np.testing.assert_allclose(grid[0, 1], np.maximum(2 * points[:, 1] - 1.0, 0.0))
    image = grid[0, 0].reshape(9, 9)  # rows along y, columns along x
    np.testing.assert_allclose(image[0], np.maximum(np.linspace(-2, 2, 9), 0))


def test_tanh_unit_is_tanh_of_its_input():
    points = np.array([[0.5, -1.0], [1.0, 1.0]])
    net = hand_mlp([[1.0, 1.0]], [0.25], [[1.0]], activation="tanh")
    grid = views.unit_outputs(net, "hidden.0", points)
    np.testing.assert_allclose(grid[0, 0], np.tanh(points.sum(1) + 0.25))


def test_binary_decision_score_is_2p_minus_1():
    points = np.array([[-1.0, 0.0], [0.0, 0.0], [2.0, 0.0]])
    net = hand_mlp([[1.0, 0.0], [-1.0, 0.0]], [0.0, 0.0], [[0.0, 0.0], [1.0, -1.0]])
    dec = views.decision(net, points, "classification")  # logits [0, x]
    assert dec.mode == "diverging"
    np.testing.assert_allclose(dec.score[0], np.tanh(points[:, 0] / 2), atol=1e-12)
    assert dec.label[0].tolist() == [0, 0, 1]


def test_multiclass_decision_gives_class_and_confidence():
    net = hand_mlp([[1.0, 0.0]], [0.0], [[0.0], [1.0], [2.0]])
    dec = views.decision(net, np.array([[3.0, 0.0], [-1.0, 0.0]]), "classification")
    assert dec.mode == "classes"
    assert dec.label[0].tolist() == [2, 0]
    logits = np.array([0.0, 3.0, 6.0])
    np.testing.assert_allclose(dec.score[0, 0], np.exp(6) / np.exp(logits).sum())


def test_regression_decision_is_the_output():
    net = hand_mlp([[1.0, 0.0]], [0.0], [[2.0]], out_b=[-1.0])
    dec = views.decision(net, np.array([[3.0, 0.0], [-1.0, 0.0]]), "regression")
    np.testing.assert_allclose(dec.score[0], [5.0, -1.0])


def test_plane_views_match_each_checkpoint_model(moons_rec):
    pv = views.plane_views(moons_rec, "hidden.1", resolution=6, margin=0.25, members=[1])
    points, extent = grid_2d(moons_rec.probe_x, 6, 0.25)
    assert pv.extent == extent and pv.members == (1,)
    assert pv.units.shape == (len(moons_rec.steps), 1, 4, 6, 6)
    for t, step in enumerate(moons_rec.steps):
        net = moons_rec.model(int(step), [1])
        want = views.unit_outputs(net, "hidden.1", points).reshape(4, 6, 6)
        np.testing.assert_allclose(pv.units[t, 0], want, rtol=1e-5, atol=1e-6)
        dec = views.decision(net, points, "classification")
        assert (pv.decision.label[t, 0].ravel() == dec.label[0]).all()


def test_plane_view_errors(moons_rec, cnn_rec):
    net = hand_mlp([[1.0, 0.0]], [0.0], [[1.0]])
    with pytest.raises(UnitscopeError, match=r"2-D points of shape \(n, 2\)"):
        views.unit_outputs(net, "hidden.0", np.zeros((4, 3)))
    with pytest.raises(UnitscopeError, match="Did you mean 'hidden.0'"):
        views.unit_outputs(net, "hiden.0", np.zeros((4, 2)))
    with pytest.raises(UnitscopeError, match="plane views need 2-D inputs"):
        views.plane_views(cnn_rec, "conv.0")
    with pytest.raises(UnitscopeError, match="out of range"):
        views.plane_views(moons_rec, "hidden.0", members=[5])
    with pytest.raises(UnitscopeError, match="`task` must be"):
        views.decision(net, np.zeros((2, 2)), "ranking")
    with pytest.raises(UnitscopeError, match="SmallCNN expects images"):
        views.unit_outputs(SmallCNN(1, (4, 4), [2], 2), "conv.0", np.zeros((3, 2)))


def test_a_resolution_that_cannot_fit_is_refused_before_the_grid_exists(moons_rec, monkeypatch):
    from unitscope.views._plane import plane_bytes

    monkeypatch.setattr("unitscope._memory.memory_limit", lambda: 16 * 10**9)
    with pytest.raises(
        UnitscopeError,
        match=r"^unit views at resolution 200000 \(200000x200000 points for each of 4 "
        r"checkpoints\) would need about [\d,.]+ TB of memory, more than the 16 GB available "
        r"here; use a smaller resolution \(the report's default is 64\)\.$",
    ):
        views.plane_views(moons_rec, "hidden.0", resolution=200_000)
    with pytest.raises(UnitscopeError, match="`resolution` must be >= 2, got 1"):
        views.plane_views(moons_rec, "hidden.0", resolution=1)
    small = plane_bytes(moons_rec, 10, 1)
    assert plane_bytes(moons_rec, 20, 1) == pytest.approx(4 * small, rel=1e-3)  # ~ points
    assert plane_bytes(moons_rec, 10, 2) > 1.9 * small  # ~ members
