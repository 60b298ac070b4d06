"""Deconvnet projections (Zeiler & Fergus, ECCV 2014): a map's activation back in pixel space.

The deconvnet runs the network backwards from one activation: max-unpooling with the switches
of the forward pass, rectification, and the transposed filters. With autograd, max-pool and
convolution already go backwards that way; only ReLU differs. Its gradient masks the signal
by where the *forward input* was positive; the deconvnet instead rectifies the *backward
signal*, ``grad_in = max(grad_out, 0)``. :func:`deconvnet` swaps that rule in for the duration
of a ``with`` block and always restores the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._errors import UnitscopeError
from ..models import UnitModel
from ._checkpoints import as_tensor
from ._maps import feature_maps
from ._receptive import ReceptiveField, conv_index, crop, receptive_field


class _RectifiedBackward(torch.autograd.Function):
    """ReLU forward; backward passes ``max(grad, 0)`` whatever the forward input was."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad.clamp(min=0)


def deconv_relu(x: Tensor) -> Tensor:
    """``relu(x)`` whose backward pass is the deconvnet's rectification of the signal."""
    return _RectifiedBackward.apply(x)


@contextmanager
def deconvnet(model: UnitModel) -> Iterator[UnitModel]:
    """Within the block, backpropagation through ``model`` is the deconvnet's backward pass.

    Raises:
        UnitscopeError: the model is not a ReLU SmallCNN.
    """
    conv_index(model, "conv.0")
    if model.spec.get("activation") != "relu":
        raise UnitscopeError(
            f"deconvnet projections need ReLU units, the model uses {model.spec['activation']!r}."
        )
    saved = model.__dict__["act"]
    model.__dict__["act"] = deconv_relu  # a plain attribute (a function), not a submodule
    try:
        yield model
    finally:
        model.__dict__["act"] = saved


@dataclass(frozen=True)
class Projection:
    """Each feature map's strongest activation projected back to the input.

    Attributes:
        value: (K, C) the strongest activation of each map over the images.
        index: (K, C) which image it came from.
        position: (K, C, 2) its (row, col) in the map.
        image: (K, C, C_in, H, W) the projection in pixel space.
        crops: (K, C, C_in, size, size) the projection inside the receptive field.
        patches: (K, C, C_in, size, size) the input image inside the same field.
        field: the layer's receptive field.
    """

    value: np.ndarray
    index: np.ndarray
    position: np.ndarray
    image: np.ndarray
    crops: np.ndarray
    patches: np.ndarray
    field: ReceptiveField


def strongest(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value, image index and (row, col) of each map's largest activation.

    Args:
        maps: (K, n, C, H, W) feature maps of n images.

    Returns:
        ``(value (K, C), index (K, C), position (K, C, 2))``.
    """
    K, n, C, H, W = maps.shape
    flat = np.moveaxis(maps, 2, 1).reshape(K, C, n * H * W)
    best = flat.argmax(axis=-1)  # (K, C)
    value = np.take_along_axis(flat, best[..., None], axis=-1)[..., 0]
    index, rest = np.divmod(best, H * W)
    rows, cols = np.divmod(rest, W)
    return value, index, np.stack([rows, cols], axis=-1)


def project(model: UnitModel, layer: str, images: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Deconvnet projection of chosen activations, all members and maps in one backward pass.

    Args:
        model: a ReLU SmallCNN with K members.
        layer: the conv layer whose activations are projected.
        images: (K, C, C_in, H, W) the input each member shows each of its C maps.
        seeds: (K, C, H', W') the signal put on map c of member k (all other maps get 0).

    Returns:
        (K, C, C_in, H, W) the signal in pixel space.
    """
    conv_index(model, layer)
    x = as_tensor(images, model).requires_grad_(True)
    with deconvnet(model):
        _, hidden = model.forward_hidden(x)
        h = hidden[layer]  # (K, n=C, C, H', W')
        signal = torch.zeros_like(h)
        maps = torch.arange(h.shape[2])
        signal[:, maps, maps] = as_tensor(seeds, model)
        # d(sum(h * signal))/dh = signal: the seeded backward pass, started from a scalar
        (out,) = torch.autograd.grad((h * signal).sum(), x)
    return out.double().cpu().numpy()


def deconv_projection(
    model: UnitModel, layer: str, images: np.ndarray, *, maps: np.ndarray | None = None
) -> Projection:
    """Project each map's strongest activation over ``images`` (n, C_in, H, W) to pixels.

    ``maps`` may pass the feature maps of these images when they are already computed.
    """
    images = np.asarray(images, dtype=np.float64)
    if maps is None:
        maps = feature_maps(model, layer, images)  # (K, n, C, H', W')
    value, index, position = strongest(maps)
    K, _, C, Hm, Wm = maps.shape
    seeds = np.zeros((K, C, Hm, Wm))
    k_idx, c_idx = np.meshgrid(np.arange(K), np.arange(C), indexing="ij")
    seeds[k_idx, c_idx, position[..., 0], position[..., 1]] = value
    image = project(model, layer, images[index], seeds)
    field = receptive_field(model, layer)
    crops = np.zeros((K, C, images.shape[1], field.size, field.size))
    patches = np.zeros_like(crops)
    for k in range(K):
        for c in range(C):
            top, left = field.corner(*position[k, c])
            crops[k, c] = crop(image[k, c], top, left, field.size)
            patches[k, c] = crop(images[index[k, c]], top, left, field.size)
    return Projection(value, index, position, image, crops, patches, field)
