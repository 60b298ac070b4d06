"""Zeiler–Fergus views of feature maps: filters, maps, top patches, occlusion, evolution.

Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks" (ECCV 2014) showed,
per feature map, the input patches that excite it most, their deconvnet projections
(:mod:`._deconv`), how the maps change during training, and how the class probability drops
when a square of the input is hidden (occlusion sensitivity). These functions compute the
arrays for those pictures from a SmallCNN with K members; the maps themselves come from
:func:`~._maps.feature_maps`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._errors import UnitscopeError
from ..models import UnitModel
from ..record import Recording
from ._checkpoints import as_tensor, check_members, checkpoint_model
from ._deconv import deconv_projection
from ._maps import checked_images, feature_maps
from ._receptive import ReceptiveField, conv_index, crop, receptive_field


def first_layer_filters(model: UnitModel) -> np.ndarray:
    """Every first-layer filter: (K, C, C_in, k, k)."""
    conv_index(model, "conv.0")
    return model.param_dict()["conv.0.weight"].double().cpu().numpy()


@dataclass(frozen=True)
class TopPatches:
    """The input patches that excite each map most, one per image.

    Attributes:
        value: (K, C, n_top) activation at the map's strongest position in that image.
        index: (K, C, n_top) image indices, strongest first.
        position: (K, C, n_top, 2) (row, col) of that position in the map.
        patches: (K, C, n_top, C_in, size, size) the receptive-field crops of the input.
        field: the layer's receptive field.
    """

    value: np.ndarray
    index: np.ndarray
    position: np.ndarray
    patches: np.ndarray
    field: ReceptiveField


def top_patches(
    model: UnitModel,
    layer: str,
    images: np.ndarray,
    n_top: int = 9,
    *,
    maps: np.ndarray | None = None,
) -> TopPatches:
    """For every map, the ``n_top`` images whose strongest activation is largest, cropped.

    ``maps`` may pass :func:`feature_maps` of these images when they are already computed.

    Example:
        >>> from unitscope.models import SmallCNN
        >>> net = SmallCNN(1, (8, 8), [2], 3)
        >>> top = top_patches(net, "conv.0", np.random.default_rng(0).normal(size=(12, 1, 8, 8)))
        >>> top.patches.shape
        (1, 2, 9, 1, 3, 3)
    """
    images = checked_images(images, model)
    if not 1 <= n_top <= len(images):
        raise UnitscopeError(
            f"`n_top` must be in 1..{len(images)} (the number of images), got {n_top}."
        )
    maps = feature_maps(model, layer, images) if maps is None else maps  # (K, n, C, H, W)
    K, n, C, H, W = maps.shape
    flat = maps.reshape(K, n, C, H * W)
    peak = flat.max(axis=-1)  # (K, n, C)
    where = flat.argmax(axis=-1)
    order = np.argsort(-peak, axis=1, kind="stable")[:, :n_top]  # (K, n_top, C)
    index = np.moveaxis(order, 1, 2)  # (K, C, n_top)
    kk, cc = np.meshgrid(np.arange(K), np.arange(C), indexing="ij")
    value = peak[kk[..., None], index, cc[..., None]]
    rows, cols = np.divmod(where[kk[..., None], index, cc[..., None]], W)
    field = receptive_field(model, layer)
    patches = np.zeros((K, C, n_top, images.shape[1], field.size, field.size))
    for k, c, j in np.ndindex(K, C, n_top):
        top, left = field.corner(int(rows[k, c, j]), int(cols[k, c, j]))
        patches[k, c, j] = crop(images[index[k, c, j]], top, left, field.size)
    return TopPatches(value, index, np.stack([rows, cols], -1), patches, field)


def occlusion(
    model: UnitModel,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    size: int = 3,
    fill: float | None = None,
    chunk: int = 4096,
) -> np.ndarray:
    """Probability of the true class while a square hides the input around each pixel.

    Args:
        model: a classifier with K members.
        images: (n, C_in, H, W).
        labels: (n,) true classes.
        size: side of the occluding square, centered on each pixel (clipped at the border).
        fill: value painted into the square; the mean of ``images`` when None.
        chunk: occluded images per forward pass.

    Returns:
        (K, n, H, W): entry (k, i, r, c) is member k's probability of ``labels[i]`` when the
        square centered at (r, c) is hidden. Low values mark the evidence the model uses.
    """
    images = checked_images(images, model)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if len(labels) != len(images):
        raise UnitscopeError(
            f"occlusion needs one label per image, got {len(labels)} labels "
            f"for {len(images)} images."
        )
    if size < 1:
        raise UnitscopeError(f"occluder `size` must be >= 1, got {size}.")
    n, _, H, W = images.shape
    value = float(images.mean()) if fill is None else float(fill)
    half = size // 2
    batch = np.repeat(images, H * W, axis=0).reshape(n, H, W, *images.shape[1:])
    for r, c in np.ndindex(H, W):
        batch[
            :, r, c, :, max(r - half, 0) : r - half + size, max(c - half, 0) : c - half + size
        ] = value
    batch = batch.reshape(n * H * W, *images.shape[1:])
    probs = []
    with torch.no_grad():
        for start in range(0, len(batch), chunk):
            out = model(as_tensor(batch[start : start + chunk], model))  # (K, b, classes)
            probs.append(torch.softmax(out.double(), dim=-1).cpu().numpy())
    prob = np.concatenate(probs, axis=1).reshape(model.members, n, H * W, -1)
    truth = np.take_along_axis(prob, labels[None, :, None, None], axis=-1)[..., 0]
    return truth.reshape(model.members, n, H, W)


def map_evolution(
    rec: Recording, layer: str, image: int = 0, *, members: Sequence[int] | None = None
) -> np.ndarray:
    """The maps of ``layer`` for probe image ``image`` at every checkpoint: (T, M, C, H, W).

    Uses the recorded maps when the run kept them (``train.record_maps``), else recomputes.
    """
    rec.check_layer(layer)
    index = check_members(rec, members)
    if not 0 <= image < len(rec.probe_x):
        raise UnitscopeError(f"probe image {image} out of range 0..{len(rec.probe_x) - 1}.")
    if layer in rec.maps:
        return rec.maps[layer][:, index, image].astype(np.float64)
    net = checkpoint_model(rec, index)
    maps = feature_maps(net, layer, rec.probe_x[image : image + 1])  # (T*M, 1, C, H, W)
    return maps[:, 0].reshape(len(rec.steps), len(index), *maps.shape[2:])


def projection_evolution(
    rec: Recording,
    layer: str,
    steps: Sequence[int] | None = None,
    *,
    member: int = 0,
    n_images: int = 64,
):
    """Deconvnet projections of each map's strongest activation at several checkpoints.

    Returns:
        ``(steps, projection)``: the chosen steps (T',) and one
        :class:`~unitscope.views._deconv.Projection` whose leading axis runs over them.
    """
    chosen = list(rec.steps) if steps is None else [int(s) for s in steps]
    ts = [rec.step_index(s) for s in chosen]
    check_members(rec, [member])
    net = checkpoint_model(rec, [member]).select(ts)  # one member per chosen checkpoint
    return np.asarray(chosen), deconv_projection(net, layer, rec.probe_x[:n_images])
