"""Per-unit numbers: correlations against numpy, planted clusters, ablation by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope import views
from unitscope._errors import UnitscopeError
from unitscope.models import MLP, SmallCNN


def planted(rng, n=200):
    """Six units in two groups of three near-copies: {0, 3, 5} and {1, 2, 4}."""
    a, b = rng.normal(size=(2, n))
    cols = {
        0: a,
        3: 2 * a,
        5: a + 0.01 * rng.normal(size=n),
        1: b,
        2: -0.5 * b + 0.02 * rng.normal(size=n) + 3 * b,
        4: b + 1,
    }
    return np.stack([cols[i] for i in range(6)], axis=1)


def test_correlation_matches_numpy_and_handles_dead_units(rng):
    x = rng.normal(size=(3, 50, 5))
    x[..., 4] = 2.0  # a dead unit
    corr = views.correlation_matrix(x)
    for i in range(3):
        np.testing.assert_allclose(corr[i, :4, :4], np.corrcoef(x[i, :, :4].T), atol=1e-12)
    assert (corr[:, 4, :4] == 0).all() and (corr[:, 4, 4] == 1).all()


def test_sibling_is_the_planted_copy(rng):
    corr, sibling = views.sibling_correlation(planted(rng))
    assert sibling[3] in (0, 5) and sibling[1] in (2, 4)
    assert corr.min() > 0.99


def test_cluster_order_makes_groups_contiguous(rng):
    x = planted(rng)
    perm = rng.permutation(6)
    order = views.cluster_order(views.correlation_matrix(x[:, perm]))
    groups = [set(np.flatnonzero(np.isin(perm, g)).tolist()) for g in ([0, 3, 5], [1, 2, 4])]
    first = set(order[:3].tolist())
    assert first in groups
    assert sorted(order.tolist()) == list(range(6))


def test_cluster_groups_recover_the_plant(rng):
    groups = views.cluster_groups(views.correlation_matrix(planted(rng)), 0.9)
    assert groups[0] == groups[3] == groups[5] != groups[1] == groups[2] == groups[4]
    assert len(set(views.cluster_groups(np.eye(4), 0.5).tolist())) == 4  # nothing alike


def test_cluster_errors():
    with pytest.raises(UnitscopeError, match="square"):
        views.cluster_order(np.zeros((3, 4)))
    with pytest.raises(UnitscopeError, match="NaN"):
        views.cluster_order(np.full((3, 3), np.nan))
    with pytest.raises(UnitscopeError, match="unknown linkage method"):
        views.cluster_order(np.eye(3), method="nearest")
    with pytest.raises(UnitscopeError, match=r"\[-1, 1\]"):
        views.cluster_groups(np.eye(3), 2.0)
    with pytest.raises(UnitscopeError, match="n_samples >= 2"):
        views.correlation_matrix(np.zeros((1, 3)))


def test_ablation_by_hand(rng):
    """y = relu(x0) fitted exactly by unit 0; unit 1 is never read."""
    net = MLP(2, [2], 1).double()
    with torch.no_grad():
        net.hidden[0].weight[0] = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
        net.out.weight[0] = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    x = rng.normal(size=(40, 2))
    y = np.maximum(x[:, :1], 0)
    before = {k: v.clone() for k, v in net.param_dict().items()}
    imp = views.ablation_by_member(net, "hidden.0", x, y, loss="mse")
    np.testing.assert_allclose(imp, [[np.mean(y**2), 0.0]], atol=1e-12)
    assert all(torch.equal(before[k], v) for k, v in net.param_dict().items())


def test_ablation_of_conv_maps_equals_zeroing_the_map(rng):
    net = SmallCNN(1, (4, 4), [3], 3, members=2).double()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(generator=torch.Generator().manual_seed(0))
    x, y = rng.normal(size=(10, 1, 4, 4)), rng.integers(0, 3, 10)
    imp = views.ablation_by_member(net, "conv.0", x, y, loss="cross_entropy")
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)

    def loss(model):
        out = model(xt)
        return torch.stack([torch.nn.functional.cross_entropy(o, yt) for o in out]).numpy()

    with torch.no_grad():
        base = loss(net)
        for c in range(3):
            cut = net.select([0, 1])
            cut.conv[0].weight[:, c] = 0
            cut.conv[0].bias[:, c] = 0
            np.testing.assert_allclose(imp[:, c], loss(cut) - base, atol=1e-12)


def test_ablation_over_training_and_errors(moons_rec):
    imp = views.ablation_over_training(moons_rec, "hidden.0", members=[0])
    assert imp.shape == (len(moons_rec.steps), 1, 6)
    net = moons_rec.model()
    with pytest.raises(UnitscopeError, match="unknown loss 'hinge'"):
        views.ablation_by_member(
            net, "hidden.0", moons_rec.probe_x, moons_rec.probe_y, loss="hinge"
        )
    with pytest.raises(UnitscopeError, match="integer class labels"):
        views.ablation_by_member(
            net,
            "hidden.0",
            moons_rec.probe_x,
            np.zeros((len(moons_rec.probe_x), 2)),
            loss="cross_entropy",
        )
    with pytest.raises(UnitscopeError, match="at least 2 units"):
        views.sibling_correlation(np.zeros((5, 1)) + np.arange(5)[:, None])


def test_the_old_twin_name_says_where_each_ablation_went():
    with pytest.raises(
        UnitscopeError,
        match=r"^views\.ablation_importance is now views\.ablation_by_member\(.*"
        r"measures\.ablation_importance\(model, layer, loss_fn\)\.$",
    ):
        views.ablation_importance  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        views.nothing  # noqa: B018


@pytest.mark.parametrize(("layer", "loss"), [("hidden.0", "mse"), ("hidden.1", "cross_entropy")])
def test_ablation_equals_zeroing_outgoing_weights(rng, layer, loss):
    """hidden.1 takes the one-pass shortcut through the linear head, hidden.0 the loop."""
    net = MLP(3, [4, 5], 3, members=2).double()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(generator=torch.Generator().manual_seed(3))
    x, y = rng.normal(size=(30, 3)), rng.integers(0, 3, 30)
    imp = views.ablation_by_member(net, layer, x, y, loss=loss)
    nxt = "hidden.1" if layer == "hidden.0" else "out"
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)

    def losses(model):
        out = model(xt)
        if loss == "mse":
            target = torch.nn.functional.one_hot(yt, 3).double()
            return ((out - target) ** 2).mean(dim=(1, 2)).numpy()
        return torch.stack([torch.nn.functional.cross_entropy(o, yt) for o in out]).numpy()

    with torch.no_grad():
        base = losses(net)
        for u in range(imp.shape[1]):
            cut = net.select([0, 1])
            dict(cut.named_parameters())[f"{nxt}.weight"][:, :, u] = 0
            np.testing.assert_allclose(imp[:, u], losses(cut) - base, atol=1e-12)
