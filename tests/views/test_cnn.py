"""Feature-map views: receptive fields, top patches and occlusion on hand-set networks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from unitscope import views
from unitscope._errors import UnitscopeError
from unitscope.models import MLP, SmallCNN
from unitscope.views._receptive import crop


def pointwise_cnn(size=(4, 4), out=2, pool="none") -> SmallCNN:
    """One conv map that copies relu(x) (1x1 kernel, weight 1), a zero dense head."""
    net = SmallCNN(1, size, [1], out, kernel_size=1, pool=pool).double()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.conv[0].weight.fill_(1.0)
    return net


@pytest.mark.parametrize(
    ("kernel", "pool", "layer", "want"),
    [
        (3, "max", "conv.0", (3, 1, -1)),
        (3, "max", "conv.1", (8, 2, -3)),
        (3, "none", "conv.1", (5, 1, -2)),
        (5, "avg", "conv.1", (14, 2, -6)),
    ],
)
def test_receptive_field_formula(kernel, pool, layer, want):
    net = SmallCNN(1, (16, 16), [2, 2], 3, kernel_size=kernel, pool=pool)
    assert dataclasses.astuple(views.receptive_field(net, layer)) == want


@pytest.mark.parametrize("pool", ["avg", "none"])
def test_receptive_field_is_where_the_gradient_lives(pool):
    """With linear units and average pooling, a position depends on exactly its field."""
    net = SmallCNN(1, (16, 16), [2, 2], 3, activation="linear", pool=pool).double()
    with torch.no_grad():
        for p in net.parameters():
            p.uniform_(0.5, 1.0, generator=torch.Generator().manual_seed(1))
    field = views.receptive_field(net, "conv.1")
    x = torch.zeros(1, 1, 16, 16, dtype=torch.float64, requires_grad=True)
    row, col = 2, 3
    _, hidden = net.forward_hidden(x)
    (grad,) = torch.autograd.grad(hidden["conv.1"][0, 0, 0, row, col], x)
    top, left = field.corner(row, col)
    want = np.zeros((16, 16), dtype=bool)
    want[max(top, 0) : top + field.size, max(left, 0) : left + field.size] = True
    assert ((grad[0, 0].numpy() != 0) == want).all()


def test_top_patches_find_the_planted_maxima(rng):
    images = rng.uniform(0, 1, size=(6, 1, 4, 4))
    spots = [(0, 0), (1, 2), (3, 3), (2, 1), (0, 3), (3, 0)]
    for i, (r, c) in enumerate(spots):
        images[i, 0, r, c] = 10.0 + i
    top = views.top_patches(pointwise_cnn(), "conv.0", images, n_top=3)
    assert top.index[0, 0].tolist() == [5, 4, 3]
    assert top.value[0, 0].tolist() == [15.0, 14.0, 13.0]
    assert top.position[0, 0].tolist() == [[3, 0], [0, 3], [2, 1]]
    assert top.patches.shape == (1, 1, 3, 1, 1, 1) and top.patches[0, 0, 0, 0, 0, 0] == 15.0


def test_top_patches_crop_the_receptive_field(rng):
    net = SmallCNN(1, (8, 8), [2], 3, kernel_size=3)
    images = rng.normal(size=(5, 1, 8, 8))
    top = views.top_patches(net, "conv.0", images, n_top=2)
    k, c, j = 0, 1, 0
    r, q = top.position[k, c, j]
    want = crop(images[top.index[k, c, j]], r - 1, q - 1, 3)
    np.testing.assert_array_equal(top.patches[k, c, j], want)


def test_occlusion_only_matters_where_the_evidence_is():
    net = pointwise_cnn()
    with torch.no_grad():
        net.out.weight[0, 1, 1 * 4 + 2] = 3.0  # class-1 logit = 3 * relu(x[1, 2])
    image = np.full((1, 1, 4, 4), 0.5)
    base = 1 / (1 + np.exp(-1.5))
    occ = views.occlusion(net, image, np.array([1]), size=1, fill=0.0)
    want = np.full((4, 4), base)
    want[1, 2] = 0.5
    np.testing.assert_allclose(occ[0, 0], want)
    wide = views.occlusion(net, image, np.array([1]), size=3, fill=0.0)[0, 0]
    assert np.isclose(wide[0:3, 1:4], 0.5).all() and np.isclose(wide[3], base).all()


def test_filters_and_maps(cnn_rec):
    net = cnn_rec.model()
    np.testing.assert_array_equal(
        views.first_layer_filters(net), cnn_rec.params["conv.0.weight"][-1]
    )
    maps = views.feature_maps(net, "conv.1", cnn_rec.probe_x[:3])
    assert maps.shape == (2, 3, 4, 8, 8) and (maps >= 0).all()


def test_map_evolution_recorded_equals_recomputed(cnn_rec):
    recorded = views.map_evolution(cnn_rec, "conv.1", 2, members=[1])
    bare = dataclasses.replace(cnn_rec, maps={})
    recomputed = views.map_evolution(bare, "conv.1", 2, members=[1])
    assert recorded.shape == (3, 1, 4, 8, 8)
    np.testing.assert_allclose(recorded, recomputed, rtol=1e-4, atol=1e-5)


def test_projection_evolution_shapes(cnn_rec):
    steps, proj = views.projection_evolution(cnn_rec, "conv.0", [0, 6], member=1, n_images=5)
    assert steps.tolist() == [0, 6]
    assert proj.image.shape == (2, 3, 1, 16, 16) and proj.crops.shape == (2, 3, 1, 3, 3)


def test_cnn_view_errors(cnn_rec):
    net = cnn_rec.model()
    images = cnn_rec.probe_x[:4]
    with pytest.raises(UnitscopeError, match="need a SmallCNN"):
        views.feature_maps(MLP(2, [3], 2), "hidden.0", np.zeros((2, 2)))
    with pytest.raises(UnitscopeError, match="unknown conv layer 'conv.5'"):
        views.feature_maps(net, "conv.5", images)
    with pytest.raises(UnitscopeError, match=r"images must have shape \(n, 1, 16, 16\)"):
        views.feature_maps(net, "conv.0", images[:, :, :8])
    with pytest.raises(UnitscopeError, match="`n_top` must be in 1..4"):
        views.top_patches(net, "conv.0", images, n_top=9)
    with pytest.raises(UnitscopeError, match="one label per image"):
        views.occlusion(net, images, np.zeros(3))
    with pytest.raises(UnitscopeError, match="`size` must be >= 1"):
        views.occlusion(net, images, np.zeros(4), size=0)
    with pytest.raises(UnitscopeError, match="probe image 99 out of range"):
        views.map_evolution(cnn_rec, "conv.0", 99)
    with pytest.raises(UnitscopeError, match="not a checkpoint"):
        views.projection_evolution(cnn_rec, "conv.0", [3])


def test_precomputed_maps_give_the_same_views(cnn_rec):
    net, images = cnn_rec.model(), cnn_rec.probe_x
    maps = views.feature_maps(net, "conv.1", images)
    a, b = (
        views.top_patches(net, "conv.1", images),
        views.top_patches(net, "conv.1", images, maps=maps),
    )
    np.testing.assert_array_equal(a.patches, b.patches)
    p, q = (
        views.deconv_projection(net, "conv.1", images),
        views.deconv_projection(net, "conv.1", images, maps=maps),
    )
    np.testing.assert_array_equal(p.image, q.image)
