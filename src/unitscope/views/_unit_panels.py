"""Per-unit numbers a unit panel shows: sibling correlation, clustering order, ablation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .._errors import UnitscopeError
from ..models import MLP, ParamAxis, UnitModel
from ..models._unit_axes import expand_permutation
from ..record import Recording
from ._checkpoints import as_tensor, checkpoint_model, loss_name, member_losses, targets


def correlation_matrix(acts: np.ndarray) -> np.ndarray:
    """Pearson correlation between the units of a layer.

    Args:
        acts: (..., n_samples, n_units) activations.

    Returns:
        (..., n_units, n_units) correlations; a constant (e.g. dead) unit correlates 0 with
        every other unit and 1 with itself.

    Example:
        >>> a = np.array([[0.0, 1.0, 5.0], [1.0, 3.0, 5.0], [2.0, 5.0, 5.0]])
        >>> correlation_matrix(a).round(3).tolist()
        [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    a = np.asarray(acts, dtype=np.float64)
    if a.ndim < 2 or a.shape[-2] < 2:
        raise UnitscopeError(f"correlations need (..., n_samples >= 2, n_units), got {a.shape}.")
    centered = a - a.mean(axis=-2, keepdims=True)
    norm = np.sqrt((centered**2).sum(axis=-2))  # (..., U)
    safe = np.where(norm > 1e-12 * (1 + np.abs(a).max()), norm, np.inf)
    z = centered / safe[..., None, :]
    corr = np.einsum("...nu,...nv->...uv", z, z)
    diag = np.arange(corr.shape[-1])
    corr[..., diag, diag] = 1.0
    return np.clip(corr, -1.0, 1.0)


def sibling_correlation(acts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's correlation with its most similar sibling in the same layer.

    Args:
        acts: (..., n_samples, n_units) activations, n_units >= 2.

    Returns:
        ``(corr, sibling)``, both (..., n_units): the largest correlation with another unit and
        that unit's index.
    """
    corr = correlation_matrix(acts)
    if corr.shape[-1] < 2:
        raise UnitscopeError("sibling correlation needs a layer with at least 2 units.")
    diag = np.arange(corr.shape[-1])
    corr[..., diag, diag] = -np.inf
    sibling = corr.argmax(axis=-1)
    return np.take_along_axis(corr, sibling[..., None], axis=-1)[..., 0], sibling


def cluster_order(corr: np.ndarray, method: str = "average") -> np.ndarray:
    """A unit order that puts similar units next to each other.

    Hierarchical clustering (scipy) of the distance ``1 - corr`` with optimal leaf ordering.

    Args:
        corr: (n_units, n_units) symmetric similarity, e.g. :func:`correlation_matrix`.
        method: scipy linkage method (``average``, ``complete``, ``single``, ...).

    Returns:
        (n_units,) permutation: ``corr[order][:, order]`` shows the clusters as blocks.

    Example:
        >>> c = np.array([[1, 0, .9], [0, 1, 0], [.9, 0, 1]])
        >>> cluster_order(c).tolist() in ([0, 2, 1], [2, 0, 1], [1, 0, 2], [1, 2, 0])
        True
    """
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import squareform

    c = np.asarray(corr, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise UnitscopeError(f"cluster_order needs a square matrix, got shape {c.shape}.")
    if not np.isfinite(c).all():
        raise UnitscopeError("cluster_order: the matrix contains NaN/Inf values.")
    if len(c) < 3:
        return np.arange(len(c))
    dist = np.clip(1.0 - (c + c.T) / 2, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    condensed = squareform(dist, checks=False)
    try:
        tree = linkage(condensed, method=method)
    except ValueError as err:
        raise UnitscopeError(f"unknown linkage method {method!r} ({err}).") from None
    return leaves_list(optimal_leaf_ordering(tree, condensed)).astype(np.int64)


def cluster_groups(corr: np.ndarray, threshold: float = 0.9) -> np.ndarray:
    """Group ids (n_units,): units joined while their average correlation exceeds ``threshold``.

    Units in one group are near-duplicates of each other (redundant units); a unit alone in
    its group computes something no sibling computes.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    if not -1.0 <= threshold <= 1.0:
        raise UnitscopeError(f"`threshold` must be a correlation in [-1, 1], got {threshold}.")
    c = np.asarray(corr, dtype=np.float64)
    if len(c) < 2:
        return np.zeros(len(c), dtype=np.int64)
    dist = np.clip(1.0 - (c + c.T) / 2, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")
    return fcluster(tree, t=1.0 - threshold, criterion="distance").astype(np.int64) - 1


def ablation_by_member(
    model: UnitModel, layer: str, x: np.ndarray, y: np.ndarray, *, loss: str
) -> np.ndarray:
    """Loss increase when one unit is silenced, for every unit and member.

    A unit is silenced by zeroing the weights that read it (its outgoing weights), which is
    the same as fixing its output at 0.

    Args:
        model: K members.
        layer: a studied layer.
        x, y: inputs and labels (or regression targets).
        loss: ``"cross_entropy"`` or ``"mse"``.

    Returns:
        (K, n_units): ``loss(unit u zeroed) - loss(intact)``.
    """
    axes = model.check_layer(layer)
    xt, yt = as_tensor(x, model), targets(y, model)
    if isinstance(model, MLP) and axes.outgoing == (ParamAxis("out.weight", 2),):
        return _head_ablation(model, layer, xt, yt, loss)
    params = dict(model.named_parameters())
    with torch.no_grad():
        base = member_losses(model(xt), yt, loss)  # (K,)
        out = torch.empty(model.members, axes.n_units, dtype=torch.float64)
        for u in range(axes.n_units):
            saved = [(params[a.param], a, _silence(params[a.param], a, u)) for a in axes.outgoing]
            try:
                out[:, u] = (member_losses(model(xt), yt, loss) - base).double().cpu()
            finally:
                for p, a, old in saved:
                    _index(p, a, u).copy_(old)
    return out.numpy()


def _head_ablation(
    model: UnitModel, layer: str, xt: torch.Tensor, yt: torch.Tensor, loss: str
) -> np.ndarray:
    """The last hidden layer of an MLP feeds the linear head, so silencing unit u only
    subtracts its contribution ``h_u * W[:, u]`` from the output: one forward pass in all."""
    with torch.no_grad():
        out, hidden = model.forward_hidden(xt)  # (K, n, C)
        h = hidden[layer]  # (K, n, U)
        w = dict(model.named_parameters())["out.weight"]  # (K, C, U)
        K, n, C = out.shape
        U = h.shape[-1]
        base = member_losses(out, yt, loss)  # (K,)
        result = torch.empty(K, U, dtype=torch.float64)
        chunk = max(1, int(2**24 // max(1, K * n * C)))
        for start in range(0, U, chunk):
            units = slice(start, min(start + chunk, U))
            cut = h[:, :, units].transpose(1, 2)[..., None] * w[:, None, :, units].permute(
                0, 3, 1, 2
            )
            silenced = (out[:, None] - cut).reshape(-1, n, C)  # (K * u, n, C)
            losses = member_losses(silenced, yt, loss).view(K, -1)
            result[:, units] = (losses - base[:, None]).double().cpu()
    return result.numpy()


def _index(p: torch.Tensor, axis, u: int) -> torch.Tensor:
    idx = expand_permutation(torch.tensor([u]), axis.block)
    return p.narrow(axis.axis, int(idx[0]), len(idx))


def _silence(p: torch.Tensor, axis, u: int) -> torch.Tensor:
    view = _index(p, axis, u)
    old = view.clone()
    view.zero_()
    return old


def ablation_over_training(
    rec: Recording, layer: str, *, members: Sequence[int] | None = None
) -> np.ndarray:
    """:func:`ablation_by_member` on the probe set at every checkpoint: (T, M, n_units)."""
    rec.check_layer(layer)
    net = checkpoint_model(rec, members)
    imp = ablation_by_member(net, layer, rec.probe_x, rec.probe_y, loss=loss_name(rec))
    return imp.reshape(len(rec.steps), -1, imp.shape[-1])
