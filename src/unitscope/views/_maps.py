"""The feature maps of a SmallCNN's conv layer for a batch of images: (K, n, C, H, W).

Shared by the Zeiler–Fergus views (``_cnn.py``) and the deconvnet projections (``_deconv.py``),
which both start from them.
"""

from __future__ import annotations

import numpy as np
import torch

from .._errors import UnitscopeError
from ..models import UnitModel
from ._checkpoints import as_tensor
from ._receptive import conv_index


def checked_images(images: np.ndarray, model: UnitModel) -> np.ndarray:
    """``images`` as float64 (n, C_in, H, W), checked against the model's input shape."""
    arr = np.asarray(images, dtype=np.float64)
    c = int(model.spec["in_channels"])
    h, w = (int(s) for s in model.spec["image_size"])
    if arr.ndim != 4 or arr.shape[1:] != (c, h, w) or len(arr) == 0:
        raise UnitscopeError(
            f"images must have shape (n, {c}, {h}, {w}) for this model, got {arr.shape}."
        )
    return arr


def feature_maps(model: UnitModel, layer: str, images: np.ndarray) -> np.ndarray:
    """The maps of ``layer`` for each image: (K, n, C, H, W), after the ReLU, before pooling."""
    conv_index(model, layer)
    x = as_tensor(checked_images(images, model), model)
    with torch.no_grad():
        _, hidden = model.forward_hidden(x)
    return hidden[layer].double().cpu().numpy()
