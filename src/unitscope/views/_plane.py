"""Playground-style views of 2-D data: each unit's output over the input plane, and the output.

TensorFlow Playground draws every neuron as a small heatmap of its activation over the input
plane. :func:`unit_outputs` computes exactly those heatmaps for one model; :func:`plane_views`
computes them, and the network's decision over the same grid, for every checkpoint of a
recording in one batched forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._errors import UnitscopeError
from .._memory import check_memory
from ..data._checks import check_int
from ..models import UnitModel
from ..record import Recording
from ._checkpoints import as_tensor, check_members, checkpoint_model


def _grid(x: np.ndarray, resolution: int, margin: float) -> tuple[np.ndarray, tuple]:
    from ..data import grid_2d

    points, extent = grid_2d(np.asarray(x, dtype=np.float64), resolution, margin)
    return points, extent


def unit_outputs(model: UnitModel, layer: str, points: np.ndarray) -> np.ndarray:
    """Every unit's output at every point of the input plane.

    Args:
        model: a dense model with 2 inputs (K members).
        layer: a dense studied layer, e.g. ``"hidden.0"``.
        points: (n_points, 2) inputs, e.g. from :func:`unitscope.data.grid_2d`.

    Returns:
        (K, n_units, n_points) float64 activations (after the nonlinearity).

    Example:
        >>> from unitscope.models import MLP
        >>> net = MLP(2, [3], 1)
        >>> unit_outputs(net, "hidden.0", np.zeros((5, 2))).shape
        (1, 3, 5)
    """
    model.check_layer(layer)
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 2:
        raise UnitscopeError(f"unit views need 2-D points of shape (n, 2), got {points.shape}.")
    with torch.no_grad():
        _, hidden = model.forward_hidden(as_tensor(points, model))
    h = hidden[layer]
    if h.dim() != 3:
        raise UnitscopeError(f"layer {layer!r} is not dense; plane views need dense units.")
    return h.transpose(1, 2).double().cpu().numpy()  # (K, U, P)


@dataclass(frozen=True)
class Decision:
    """The network's output over the plane, reduced to what a picture shows.

    Attributes:
        mode: ``"diverging"`` (binary classification: ``score = 2 p(class 1) - 1``;
            regression: the first output) or ``"classes"`` (several classes).
        score: (K, n_points) the diverging value, or the winning class's probability.
        label: (K, n_points) the predicted class (``-1`` for regression).
    """

    mode: str
    score: np.ndarray
    label: np.ndarray


def decision(model: UnitModel, points: np.ndarray, task: str) -> Decision:
    """The decision of every member at every point (see :class:`Decision`)."""
    if task not in ("classification", "regression"):
        raise UnitscopeError(f"`task` must be 'classification' or 'regression', got {task!r}.")
    with torch.no_grad():
        return decide(model(as_tensor(points, model)), task)


def decide(out: torch.Tensor, task: str) -> Decision:
    """:class:`Decision` from network outputs ``out`` (K, n_points, n_outputs)."""
    out = out.detach().double()
    if task == "regression":
        none = np.full(tuple(out.shape[:2]), -1, dtype=np.int64)
        return Decision("diverging", out[..., 0].cpu().numpy(), none)
    prob = torch.softmax(out, dim=-1) if out.shape[-1] > 1 else torch.sigmoid(out)
    if out.shape[-1] == 1:
        score = (2 * prob[..., 0] - 1).cpu().numpy()
        return Decision("diverging", score, (score > 0).astype(np.int64))
    best, winner = prob.max(dim=-1)
    if out.shape[-1] == 2:
        score = (2 * prob[..., 1] - 1).cpu().numpy()
        return Decision("diverging", score, winner.cpu().numpy())
    return Decision("classes", best.cpu().numpy(), winner.cpu().numpy())


@dataclass(frozen=True)
class PlaneViews:
    """Unit and decision grids for every checkpoint of some members of a recording.

    Attributes:
        steps: (T,) checkpoint steps.
        members: the member indices, M of them.
        extent: ``(x_min, x_max, y_min, y_max)`` of the grid.
        units: (T, M, n_units, R, R) unit outputs; row index along y, column along x.
        decision: the output over the plane, ``score`` and ``label`` of shape (T, M, R, R).
    """

    steps: np.ndarray
    members: tuple[int, ...]
    extent: tuple[float, float, float, float]
    units: np.ndarray
    decision: Decision


def plane_views(
    rec: Recording,
    layer: str,
    *,
    resolution: int = 64,
    margin: float = 0.5,
    members: Sequence[int] | None = None,
) -> PlaneViews:
    """Unit heatmaps and the decision over the input plane at every checkpoint.

    The grid spans the probe inputs plus ``margin`` (see :func:`unitscope.data.grid_2d`).
    All checkpoints run as one batched model, so this costs one forward pass.
    """
    rec.check_layer(layer)
    ds = rec.meta.dataset
    if not ds.is_2d:
        raise UnitscopeError(
            f"plane views need 2-D inputs; dataset {ds.name!r} has inputs of "
            f"shape {ds.input_shape}."
        )
    index = check_members(rec, members)
    check_plane_size(rec, resolution, len(index))
    points, extent = _grid(rec.probe_x, resolution, margin)
    net = checkpoint_model(rec, index)
    T, M, R = len(rec.steps), len(index), resolution
    with torch.no_grad():
        out, hidden = net.forward_hidden(as_tensor(points, model=net))
    units = hidden[layer].transpose(1, 2).double().cpu().numpy()  # (T*M, U, P)
    dec = decide(out, ds.task)
    units = units.reshape(T, M, units.shape[1], R, R)
    shaped = Decision(dec.mode, dec.score.reshape(T, M, R, R), dec.label.reshape(T, M, R, R))
    return PlaneViews(rec.steps.copy(), tuple(index), extent, units, shaped)


def plane_bytes(rec: Recording, resolution: int, n_members: int) -> int:
    """Bytes of the arrays :func:`plane_views` makes for ``n_members`` members.

    Counted: the grid; the forward pass of every checkpoint over it (each layer before and
    after its nonlinearity, and the outputs); float64 copies of the widest layer's units and
    of the decision. Measured on a 16-unit MLP with 11 checkpoints: 3.2 kB per grid point;
    this formula gives 3.5 kB.
    """
    T, P = len(rec.steps), resolution * resolution
    item = 8 if rec.meta.dtype == "float64" else 4
    widths = [int(rec.acts[layer].shape[-1]) for layer in rec.layers]
    outputs = int(rec.meta.dataset.n_outputs or 0)
    forward = T * n_members * P * 2 * (sum(widths) + outputs) * item
    copies = T * n_members * P * (max(widths, default=0) + 2 + 2 * outputs) * 8
    return 16 * P + forward + copies


def check_plane_size(rec: Recording, resolution: int, n_members: int = 1) -> None:
    """Refuse, before the grid exists, a resolution whose views would not fit in memory.

    Raises:
        UnitscopeError: ``resolution`` is not an integer >= 2, or the views would need more
            memory than this machine has (the message gives the estimate).
    """
    resolution = check_int("resolution", resolution, minimum=2)
    check_memory(
        plane_bytes(rec, resolution, n_members),
        f"unit views at resolution {resolution} ({resolution}x{resolution} points for each "
        f"of {len(rec.steps)} checkpoints)",
        "use a smaller resolution (the report's default is 64)",
    )
