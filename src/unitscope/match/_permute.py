"""Permuting the hidden units of a model: gather along the unit axes, the function is unchanged.

A permutation of layer ``L`` is an integer array ``perm`` of shape (n_units,) or (K, n_units):
slot ``i`` of the permuted layer holds the old unit ``perm[i]`` (or ``perm[k, i]`` in member k).
This is the gathering convention of :func:`unitscope.models._unit_axes.expand_permutation` and of
``acts[..., perm]``: ``permute(model_b, perms)`` puts B's unit ``perm[i]`` where A's unit ``i``
sits. A layer missing from ``perms`` keeps its order.

Because every parameter that reads or writes a unit is gathered with the same index (incoming
weights and bias along axis 1, the next layer's weights along axis 2, conv channels expanded
into ``H*W`` blocks of the flattened dense head), the permuted network computes the same
function: ``permute(model, perms)(x) == model(x)``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, overload

import numpy as np
import torch
from torch import Tensor, nn

from .._errors import UnitscopeError, unknown_name
from ..models import UnitAxes, UnitModel
from ..models._unit_axes import expand_permutation
from ._spec import PermutationSpec, random_module_perms

Perms = dict[str, np.ndarray]


def gather_axis(t: Tensor, index: Tensor, axis: int) -> Tensor:
    """Gather ``t`` along ``axis`` with a per-member index.

    Args:
        t: (K, ...) a parameter with the member axis first.
        index: (K, m) integer index, one row per member.
        axis: the axis to gather along (>= 1).

    Returns:
        ``out`` with ``out[k, ..., i, ...] = t[k, ..., index[k, i], ...]`` (i on ``axis``).
    """
    shape = [1] * t.dim()
    shape[0], shape[axis] = index.shape[0], index.shape[1]
    target = list(t.shape)
    target[axis] = index.shape[1]
    return torch.gather(t, axis, index.view(shape).expand(target))


def check_perms(model: UnitModel, perms: Mapping[str, Any]) -> dict[str, Tensor]:
    """Validate ``perms`` against ``model``; return (K, n_units) int64 tensors on its device."""
    axes = model.unit_axes()
    K = model.members
    device = next(model.parameters()).device
    out = {}
    for layer, perm in perms.items():
        if layer not in axes:
            raise unknown_name("layer", layer, axes)
        p = torch.as_tensor(np.asarray(perm), dtype=torch.int64, device=device)
        U = axes[layer].n_units
        shape = tuple(p.shape)
        if p.dim() == 1:
            p = p.expand(K, -1)
        if p.dim() != 2 or p.shape[1] != U or p.shape[0] not in (1, K):
            raise UnitscopeError(
                f"the permutation of {layer!r} has shape {shape}; expected ({U},) or "
                f"({K}, {U}) for {U} units and {K} members."
            )
        if not torch.equal(p.sort(dim=1).values, torch.arange(U, device=device).expand_as(p)):
            raise UnitscopeError(
                f"the permutation of {layer!r} is not a rearrangement of 0..{U - 1}; every unit "
                "index must appear exactly once."
            )
        out[layer] = p.expand(K, -1)
    return out


def permute_params(
    params: Mapping[str, Tensor], axes: Mapping[str, UnitAxes], perms: Mapping[str, Tensor]
) -> dict[str, Tensor]:
    """Gather every parameter along the unit axes of the permuted layers (the pure core).

    Args:
        params: name -> (K, ...) parameters.
        axes: the model's :meth:`~unitscope.models.UnitModel.unit_axes`.
        perms: layer -> (K, n_units) int64 permutations (already checked).

    Returns:
        New name -> (K, ...) parameters; untouched parameters are the same tensors.
    """
    out = dict(params)
    for layer, perm in perms.items():
        for pa in axes[layer].all:
            out[pa.param] = gather_axis(out[pa.param], expand_permutation(perm, pa.block), pa.axis)
    return out


@overload
def permute(model: UnitModel, perms: Mapping[str, Any], *, spec: Any = None) -> UnitModel: ...
@overload
def permute(model: nn.Module, perms: Mapping[str, Any], *, spec: Any = None) -> nn.Module: ...
@overload
def permute(
    model: Mapping[str, Tensor], perms: Mapping[str, Any], *, spec: Any = None
) -> dict[str, Tensor]: ...


def permute(model: Any, perms: Mapping[str, Any], *, spec: Any = None) -> Any:
    """A copy of ``model`` whose hidden units are rearranged by ``perms``; same function.

    Args:
        model: a model with K members; or any torch ``nn.Module`` (or its state_dict) with
            its ``spec``.
        perms: layer name -> permutation of shape (n_units,) (same for every member) or
            (K, n_units) (one per member); slot ``i`` receives old unit ``perm[i]``. For an
            ``nn.Module``: group name -> (n_units,) (or (1, n_units), as ``weights`` gives).
        spec: the :class:`~unitscope.match.PermutationSpec` of an ``nn.Module``.

    Returns:
        A new model (a new state_dict); ``model`` is not modified.

    Example:
        >>> import torch
        >>> from unitscope.models import MLP
        >>> net = MLP(3, [4, 5], 2, members=2)
        >>> _ = [torch.nn.init.normal_(p) for p in net.parameters()]
        >>> x = torch.randn(6, 3)
        >>> moved = permute(net, random_perms(net, seed=1))
        >>> torch.allclose(moved(x), net(x), atol=1e-5)
        True
    """
    if not isinstance(model, UnitModel):
        from ._module import module_permute

        return module_permute(model, perms, spec)
    checked = check_perms(model, perms)
    params = permute_params(model.param_dict(), model.unit_axes(), checked)
    return copy.deepcopy(model).load_params(params)


def random_perms(model: Any, *, seed: int, spec: Any = None) -> Perms:
    """A random permutation of every studied layer, independent per member: (K, n_units) each.

    For an ``nn.Module`` with its ``spec`` (or a PermutationSpec itself): one (n_units,)
    permutation per group.
    """
    if not isinstance(model, UnitModel):
        return random_module_perms(_spec_of(model, spec), seed=seed)
    rng = np.random.default_rng(seed)
    K = model.members
    return {
        layer: np.stack([rng.permutation(a.n_units) for _ in range(K)])
        for layer, a in model.unit_axes().items()
    }


def identity_perms(model: Any, *, spec: Any = None) -> Perms:
    """The identity permutation of every studied layer: (K, n_units) each (an ``nn.Module``
    with its ``spec``, or a PermutationSpec: (n_units,) per group)."""
    if not isinstance(model, UnitModel):
        return {g: np.arange(n) for g, n in _spec_of(model, spec).sizes.items()}
    K = model.members
    return {layer: np.tile(np.arange(a.n_units), (K, 1)) for layer, a in model.unit_axes().items()}


def _spec_of(model: Any, spec: Any) -> PermutationSpec:
    if isinstance(model, PermutationSpec):
        return model
    from ._module import need_spec

    return need_spec(spec, model)


def invert(perms: Mapping[str, Any]) -> Perms:
    """The inverse permutations: ``permute(permute(m, p), invert(p))`` is ``m`` again.

    >>> invert({"hidden.0": np.array([2, 0, 1])})["hidden.0"].tolist()
    [1, 2, 0]
    """
    return {layer: np.argsort(np.asarray(p), axis=-1) for layer, p in perms.items()}
