"""The deconvnet rule against hand computations, and its context manager's hygiene."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope import views
from unitscope._errors import UnitscopeError
from unitscope.models import MLP, SmallCNN
from unitscope.views._deconv import deconv_relu


def two_layer_pointwise(w1) -> SmallCNN:
    """conv.0 = [relu(x), relu(-x)] (1x1 kernels), conv.1 = relu(w1 . conv.0), no pooling."""
    net = SmallCNN(1, (2, 2), [2, 1], 2, kernel_size=1, pool="none").double()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.conv[0].weight[0, :, 0, 0, 0] = torch.tensor([1.0, -1.0])
        net.conv[1].weight[0, 0, :, 0, 0] = torch.tensor(w1)
    return net


def test_deconv_relu_rectifies_the_backward_signal():
    x = torch.tensor([-1.0, 2.0], requires_grad=True)
    (grad,) = torch.autograd.grad(deconv_relu(x), x, torch.tensor([3.0, -4.0]))
    assert grad.tolist() == [3.0, 0.0]  # plain ReLU would give [0, -4]
    assert deconv_relu(x).tolist() == [0.0, 2.0]


def test_projection_by_hand():
    """conv.1 = relu(2 relu(x) + 3 relu(-x)); the strongest is x = -3 at (0, 1), value 9.

    Deconvnet: the signal 9 reaches conv.0 as [18, 27]; both positive, both kept; the
    transposed conv.0 gives 1 * 18 + (-1) * 27 = -9. (The plain gradient would mask channel
    0, which was off for x = -3, and give -27.)
    """
    net = two_layer_pointwise([2.0, 3.0])
    images = np.array([[[[1.0, -3.0], [0.5, 2.0]]]])
    proj = views.deconv_projection(net, "conv.1", images)
    assert proj.value.tolist() == [[9.0]] and proj.position.tolist() == [[[0, 1]]]
    np.testing.assert_allclose(proj.image[0, 0, 0], [[0.0, -9.0], [0.0, 0.0]])
    x = torch.tensor(images, requires_grad=True)
    (plain,) = torch.autograd.grad(net.forward_hidden(x)[1]["conv.1"][0, 0, 0, 0, 1], x)
    assert 9 * plain[0, 0, 0, 1].item() == -27.0  # seeded with the same activation, 9


def test_unpooling_uses_the_forward_switches():
    net = SmallCNN(1, (4, 4), [1, 1], 2, kernel_size=1, pool="max").double()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.conv[0].weight.fill_(1.0)
        net.conv[1].weight.fill_(1.0)
    image = np.zeros((1, 1, 4, 4))
    image[0, 0, 2, 3], image[0, 0, 3, 2] = 5.0, 4.0
    proj = views.deconv_projection(net, "conv.1", image)
    want = np.zeros((4, 4))
    want[2, 3] = 5.0  # the switch of pooled position (1, 1) is pixel (2, 3)
    np.testing.assert_allclose(proj.image[0, 0, 0], want)
    assert proj.position.tolist() == [[[1, 1]]]


def test_project_handles_every_member_and_map_at_once(cnn_rec):
    net = cnn_rec.model()
    proj = views.deconv_projection(net, "conv.1", cnn_rec.probe_x)
    assert proj.image.shape == (2, 4, 1, 16, 16) and proj.crops.shape == (2, 4, 1, 8, 8)
    single = views.deconv_projection(net.select(1), "conv.1", cnn_rec.probe_x)
    np.testing.assert_allclose(single.image[0], proj.image[1], rtol=1e-5, atol=1e-6)


def test_context_manager_always_restores():
    net = two_layer_pointwise([1.0, 1.0])
    act = net.act
    with pytest.raises(RuntimeError, match="inside"), views.deconvnet(net):
        assert net.act is deconv_relu
        raise RuntimeError("inside")
    assert net.act is act


def test_deconv_errors():
    with (
        pytest.raises(UnitscopeError, match="need ReLU units"),
        views.deconvnet(SmallCNN(1, (4, 4), [1], 2, activation="tanh")),
    ):
        pass
    with pytest.raises(UnitscopeError, match="need a SmallCNN"), views.deconvnet(MLP(2, [2], 1)):
        pass
