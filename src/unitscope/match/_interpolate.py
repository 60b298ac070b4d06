"""Evaluate the networks on the straight line between two models, all points in one batch.

P pairs and T points become one model of P*T members (member ``p*T + t`` is pair p at
``λ_t``), evaluated in chunks of members so memory stays bounded.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .._errors import UnitscopeError
from ..models import UnitModel
from ..train import accuracy, member_loss
from ._checks import pair_models
from ._curve import Curve
from ._repair import preact_stats, repair_members

LOSSES = ("auto", "cross_entropy", "mse")
# Activation elements per evaluated chunk of members: cache-sized chunks, run on one torch
# thread. (Chunks of 1 << 25 made every pass ~128 MB; small chunks on two threads wait at
# every kernel for the other thread: 20x slower on a busy 2-core machine.)
_BUDGET = 1 << 20


def interpolate(
    model_a: Any,
    model_b: Any,
    data: Any,
    *,
    n_points: int = 25,
    repair: bool = False,
    repair_x: Any = None,
    loss: str = "auto",
    reset_bn: Any = None,
    spec: Any = None,
    build: Any = None,
) -> Curve:
    """Loss and accuracy of ``(1 − λ) θ_A + λ θ_B`` at ``n_points`` evenly spaced λ in [0, 1].

    Args:
        model_a, model_b: same architecture; pair k is member k of A with member k of B (a
            1-member model is paired with every member of the other). Or two torch
            ``nn.Module`` networks of one architecture (one pair), or their state_dicts with
            ``build``.
        data: ``{"train": (x, y), "test": (x, y)}`` (any split names; values may also be
            :class:`~unitscope.data.Dataset`), or one ``(x, y)`` / Dataset (split ``"data"``).
            Integer labels (n,) mean classification (cross-entropy and accuracy); float
            targets (n, out) mean regression (mean squared error).
        n_points: number of λ values, both ends included; odd puts λ = ½ on the grid.
        repair: apply REPAIR (Jordan et al., 2022, "REPAIR: REnormalizing Permuted Activations
            for Interpolation Repair"): each interpolated unit's pre-activation mean and std are
            reset to the interpolation of the endpoints' statistics.
        repair_x: inputs on which REPAIR measures the statistics (default: the first split's x).
        loss: ``auto``, ``cross_entropy`` or ``mse``.
        reset_bn: for an ``nn.Module`` with BatchNorm: inputs (a DataLoader or any iterable
            of ``x`` or ``(x, y)`` batches, or a tensor) on which every point's BatchNorm
            running statistics are recomputed — interpolated statistics are wrong, and
            without the reset the midpoint of two BatchNorm networks drops to chance.
            (MLP and SmallCNN have no BatchNorm: no effect.)
        spec: the :class:`~unitscope.match.PermutationSpec` of an ``nn.Module``; needed for
            ``repair`` (its repair points are the layers REPAIR hooks).
        build: for state_dicts: a function returning a new model to load them into.

    Returns:
        The :class:`~unitscope.match.Curve` of the P pairs.

    Example:
        >>> from unitscope.models import MLP
        >>> a = MLP(2, [4], 2)
        >>> _ = [torch.nn.init.normal_(p) for p in a.parameters()]
        >>> x, y = torch.randn(20, 2), torch.randint(0, 2, (20,))
        >>> float(interpolate(a, a, (x, y), n_points=5).barrier()[0])  # B(A, A) = 0
        0.0
    """
    if n_points < 2:
        raise UnitscopeError(f"`n_points` must be >= 2 (both endpoints), got {n_points}.")
    if loss not in LOSSES:
        raise UnitscopeError(f"`loss` must be one of {LOSSES}, got {loss!r}.")
    if not (isinstance(model_a, UnitModel) and isinstance(model_b, UnitModel)):
        from ._module_line import module_interpolate

        return module_interpolate(
            model_a, model_b, data, n_points=n_points, repair=repair, repair_x=repair_x,
            loss=loss, reset_bn=reset_bn, spec=spec, build=build,
        )  # fmt: skip
    a, b = pair_models(model_a, model_b)
    param = next(a.parameters())
    splits = as_splits(data, param.dtype, param.device)
    lambdas = np.linspace(0.0, 1.0, n_points)
    stats = None
    if repair:
        rx = splits[next(iter(splits))][0] if repair_x is None else _tensor(repair_x, param)
        stats = (preact_stats(a, rx), preact_stats(b, rx), rx)
    values = _evaluate_line(a, b, lambdas, splits, loss, stats)
    return Curve(lambdas, values, repaired=repair)


def as_splits(data: Any, dtype: torch.dtype, device: torch.device) -> dict[str, tuple[Tensor, ...]]:
    """Normalize ``data`` to ``{split: (x, y)}`` tensors on the model's dtype and device."""
    if not isinstance(data, Mapping):
        data = {"data": data}
    out: dict[str, tuple[Tensor, ...]] = {}
    for name, value in data.items():
        if hasattr(value, "x") and hasattr(value, "y"):
            value = (value.x, value.y)
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise UnitscopeError(
                f"data split {name!r} must be an (x, y) pair or a Dataset, got "
                f"{type(value).__name__}."
            )
        x = torch.as_tensor(np.asarray(value[0]) if not isinstance(value[0], Tensor) else value[0])
        y = torch.as_tensor(np.asarray(value[1]) if not isinstance(value[1], Tensor) else value[1])
        if x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise UnitscopeError(
                f"data split {name!r} has {x.shape[0]} inputs and {y.shape[0]} targets; they "
                "must match and be non-empty."
            )
        y = y.to(device) if not y.is_floating_point() else y.to(device=device, dtype=dtype)
        out[str(name)] = (x.to(device=device, dtype=dtype), y)
    return out


def _tensor(x: Any, like: Tensor) -> Tensor:
    t = x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    return t.to(device=like.device, dtype=like.dtype)


def line_params(a: UnitModel, b: UnitModel, lambdas: np.ndarray, members: slice) -> dict:
    """Parameters of members ``members`` of the P*T line model (member p*T + t = pair p, λ_t).

    Uses ``θ_A + λ (θ_B − θ_A)`` (``torch.lerp``) so that λ=0 gives exactly θ_A.
    """
    T = len(lambdas)
    index = torch.arange(a.members * T)[members]
    pair, point = index // T, index % T
    pb = b.param_dict()
    out = {}
    for name, ta in a.param_dict().items():
        lam = torch.as_tensor(lambdas, dtype=ta.dtype, device=ta.device)[point.to(ta.device)]
        lam = lam.view(-1, *([1] * (ta.dim() - 1)))
        out[name] = torch.lerp(ta[pair], pb[name].to(ta.dtype)[pair], lam)
    return out


def _evaluate_line(a, b, lambdas, splits, loss, stats) -> dict[str, np.ndarray]:
    P, T = a.members, len(lambdas)
    n_max = max(x.shape[0] for x, _ in splits.values())
    width = max(ax.n_units for ax in a.unit_axes().values())
    chunk = max(1, _BUDGET // max(1, n_max * width * _spatial(a)))
    net = copy.deepcopy(a)
    rows: dict[str, list[Tensor]] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for lo in range(0, P * T, chunk):
            sl = slice(lo, min(lo + chunk, P * T))
            net.load_params(line_params(a, b, lambdas, sl))
            if stats is not None:
                repair_members(net, stats, lambdas, sl)
            for key, value in evaluate(net, splits, loss).items():
                rows.setdefault(key, []).append(value)
    finally:
        torch.set_num_threads(threads)
    return {k: torch.cat(v).view(P, T).cpu().numpy() for k, v in rows.items()}


def _spatial(model: UnitModel) -> int:
    spec = getattr(model, "spec", {})
    hw = spec.get("image_size", [1, 1]) if isinstance(spec, dict) else [1, 1]
    return int(hw[0] * hw[1])


def evaluate(
    model: UnitModel, splits: Mapping[str, tuple[Tensor, Tensor]], loss: str
) -> dict[str, Tensor]:
    """Mean loss (and accuracy) of every member on each split: ``{split}_loss`` (K,) float64."""
    out = {}
    with torch.no_grad():
        for name, (x, y) in splits.items():
            pred = model(x)  # (K, n, n_outputs)
            classify = not y.is_floating_point()
            kind = loss if loss != "auto" else ("cross_entropy" if classify else "mse")
            out[f"{name}_loss"] = _loss(pred, y, kind).to(torch.float64)
            if classify:
                out[f"{name}_acc"] = accuracy(pred, y)
    return out


def _loss(pred: Tensor, y: Tensor, kind: str) -> Tensor:
    """(K,) mean loss, as in training; integer labels with ``mse`` are one-hot targets."""
    if kind == "cross_entropy" and y.is_floating_point():
        raise UnitscopeError("`loss` = 'cross_entropy' needs integer class labels.")
    if kind == "mse" and not y.is_floating_point():
        y = F.one_hot(y, pred.shape[-1]).to(pred.dtype)
    return member_loss(pred, y, kind)
