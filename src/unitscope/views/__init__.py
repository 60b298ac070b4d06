"""Views: the arrays a picture of hidden units needs, computed from models and recordings.

This stage sits between matching and the studies. Every function here computes; the report
only draws what these return.

Dense units on 2-D data (TensorFlow Playground style):
    :func:`unit_outputs`, :func:`decision`, :func:`plane_views`.
Per-unit numbers:
    :func:`correlation_matrix`, :func:`sibling_correlation`, :func:`cluster_order`,
    :func:`cluster_groups`, :func:`ablation_by_member`, :func:`ablation_over_training` (for any
    ``nn.Module`` and your own loss: :func:`unitscope.measures.ablation_importance`).
Everything the report of a recording draws, as one frozen :class:`RecordingViews`:
    :func:`recording_views` (or :class:`RecordingViewPlan`, whose stages a progress bar counts).
Feature maps (Zeiler & Fergus, ECCV 2014):
    :func:`first_layer_filters`, :func:`feature_maps`, :func:`receptive_field`,
    :func:`top_patches`, :func:`deconvnet`, :func:`deconv_projection`, :func:`occlusion`,
    :func:`map_evolution`, :func:`projection_evolution`.

>>> import numpy as np
>>> from unitscope.models import MLP
>>> net = MLP(2, [4], 2)
>>> unit_outputs(net, "hidden.0", np.zeros((9, 2))).shape
(1, 4, 9)
"""

from __future__ import annotations

from typing import Any

from .._errors import UnitscopeError
from ._cnn import (
    TopPatches,
    first_layer_filters,
    map_evolution,
    occlusion,
    projection_evolution,
    top_patches,
)
from ._deconv import Projection, deconv_projection, deconvnet
from ._maps import feature_maps
from ._plane import Decision, PlaneViews, decision, plane_views, unit_outputs
from ._receptive import ReceptiveField, receptive_field
from ._recording_views import RecordingViewPlan, RecordingViews, recording_views
from ._unit_panels import (
    ablation_by_member,
    ablation_over_training,
    cluster_groups,
    cluster_order,
    correlation_matrix,
    sibling_correlation,
)

__all__ = [
    "Decision",
    "PlaneViews",
    "Projection",
    "ReceptiveField",
    "RecordingViewPlan",
    "RecordingViews",
    "TopPatches",
    "ablation_by_member",
    "ablation_over_training",
    "cluster_groups",
    "cluster_order",
    "correlation_matrix",
    "decision",
    "deconv_projection",
    "deconvnet",
    "feature_maps",
    "first_layer_filters",
    "map_evolution",
    "occlusion",
    "plane_views",
    "projection_evolution",
    "receptive_field",
    "recording_views",
    "sibling_correlation",
    "top_patches",
    "unit_outputs",
]


def __getattr__(name: str) -> Any:
    """A clear error for a name that moved."""
    if name == "ablation_importance":
        raise UnitscopeError(
            "views.ablation_importance is now views.ablation_by_member(model, layer, x, y, "
            "loss=...) (every member of a unitscope model); for any nn.Module and your own "
            "loss use measures.ablation_importance(model, layer, loss_fn)."
        )
    raise AttributeError(f"module 'unitscope.views' has no attribute {name!r}")
