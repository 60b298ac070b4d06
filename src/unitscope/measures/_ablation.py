"""Per-unit ablation importance: how much the loss rises when one unit is zeroed."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from .._errors import UnitscopeError
from ..record._hooks import eval_mode, resolve_layers


def ablation_importance(
    model: nn.Module,
    layer: str,
    loss_fn: Callable[[nn.Module], Any],
    *,
    units: Sequence[int] | None = None,
) -> np.ndarray:
    """Loss increase when each unit of ``layer`` is zeroed: ``L(model with unit j = 0) − L(model)``.

    A forward hook sets channel j of the layer's output (axis 1: (N, n_units) or
    (N, C, H, W)) to 0; the hook is removed after each evaluation, even on error. The model runs
    in eval mode without gradients; its train/eval flags are restored afterwards.

    Args:
        model: any ``nn.Module``.
        layer: module name whose output holds the units (did-you-mean on a typo).
        loss_fn: ``loss_fn(model)`` evaluates the model on your data and returns a scalar loss
            (float or 0-d tensor). It is called once per unit plus once for the baseline.
        units: which units to ablate (default: all).

    Returns:
        float64 array (n_units,) (or (len(units),)); positive means the unit helps.

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(1, 2, bias=False), torch.nn.Linear(2, 1))
    >>> with torch.no_grad():
    ...     _ = net[0].weight.copy_(torch.tensor([[1.0], [0.0]]))
    ...     _ = net[1].weight.copy_(torch.tensor([[1.0, 1.0]]))
    ...     _ = net[1].bias.zero_()
    >>> x = torch.ones(4, 1)
    >>> ablation_importance(net, "0", lambda m: ((m(x) - 1.0) ** 2).mean())  # unit 1 is silent
    array([1., 0.])
    """
    module = resolve_layers(model, [layer])[layer]
    with eval_mode(model), torch.no_grad():
        n_units, base = _baseline(model, module, loss_fn)
        chosen = list(range(n_units)) if units is None else [_unit(u, n_units) for u in units]
        out = np.empty(len(chosen))
        for i, j in enumerate(chosen):
            with _zeroed(module, j):
                out[i] = _loss(loss_fn, model, f"with unit {j} of {layer!r} zeroed") - base
    return out


def _baseline(model: nn.Module, module: nn.Module, loss_fn: Callable) -> tuple[int, float]:
    widths: list[int] = []

    def hook(_m: nn.Module, _i: Any, output: Any) -> None:
        if not isinstance(output, torch.Tensor) or output.dim() < 2:
            raise UnitscopeError(
                "ablation needs a layer whose output is a tensor (N, n_units, ...), got "
                f"{type(output).__name__}."
            )
        widths.append(int(output.shape[1]))

    handle = module.register_forward_hook(hook)
    try:
        base = _loss(loss_fn, model, "on the intact model")
    finally:
        handle.remove()
    if not widths:
        raise UnitscopeError("the layer did not run when `loss_fn` evaluated the model.")
    return widths[0], base


@contextmanager
def _zeroed(module: nn.Module, unit: int) -> Iterator[None]:
    def hook(_m: nn.Module, _i: Any, output: torch.Tensor) -> torch.Tensor:
        out = output.clone()
        out[:, unit] = 0
        return out

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _loss(loss_fn: Callable, model: nn.Module, when: str) -> float:
    value = loss_fn(model)
    try:
        loss = float(value)
    except (TypeError, ValueError, RuntimeError):
        raise UnitscopeError(
            f"`loss_fn` must return a scalar loss, got {type(value).__name__} {when}."
        ) from None
    if not math.isfinite(loss):
        raise UnitscopeError(f"`loss_fn` returned {loss} {when}; the loss must be finite.")
    return loss


def _unit(u: Any, n_units: int) -> int:
    if isinstance(u, bool) or not isinstance(u, (int, np.integer)) or not 0 <= u < n_units:
        raise UnitscopeError(f"`units` must hold indices in [0, {n_units}), got {u!r}.")
    return int(u)
