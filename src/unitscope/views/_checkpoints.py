"""Shared plumbing: all checkpoints as one batched model, the run's loss, array conversions,
and measures that are undefined on their input turned into reasons."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .._errors import UnitscopeError
from ..measures import DegenerateInputWarning
from ..models import UnitModel, build
from ..record import Recording


def model_dtype(model: UnitModel) -> torch.dtype:
    """The floating dtype of ``model``'s parameters."""
    return next(iter(model.parameters())).dtype


def as_tensor(x: np.ndarray | Tensor, model: UnitModel) -> Tensor:
    """``x`` as a tensor with the model's dtype and device."""
    p = next(iter(model.parameters()))
    return torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x).to(p.device, p.dtype)


def check_members(rec: Recording, members: Sequence[int] | None) -> list[int]:
    """The member indices to use (all when None), validated against the recording."""
    index = list(range(rec.members)) if members is None else [int(m) for m in members]
    bad = [m for m in index if not 0 <= m < rec.members]
    if not index or bad:
        raise UnitscopeError(
            f"members {list(members or [])} are out of range: the recording has "
            f"{rec.members} members (0..{rec.members - 1})."
        )
    return index


def checkpoint_model(rec: Recording, members: Sequence[int] | None = None) -> UnitModel:
    """Every checkpoint of the chosen members as one model with ``T * M`` members.

    Member ``t * M + m`` of the result is member ``members[m]`` at checkpoint ``t``, so one
    forward pass evaluates the whole training history.
    """
    index = check_members(rec, members)
    T, M = len(rec.steps), len(index)
    net = build(rec.meta.model_spec, members=T * M)
    dtype = torch.float64 if rec.meta.dtype == "float64" else torch.float32
    net.to(dtype)
    params = {}
    for name, value in rec.params.items():
        chosen = np.ascontiguousarray(value[:, index])  # (T, M, ...)
        params[name] = torch.from_numpy(chosen.reshape(T * M, *chosen.shape[2:]))
    return net.load_params(params)


def loss_name(rec: Recording) -> str:
    """The loss the run was trained with (``cross_entropy`` or ``mse``)."""
    return rec.meta.loss


def member_losses(out: Tensor, y: Tensor, loss: str) -> Tensor:
    """Mean loss of each member (K,); ``out`` (K, n, C), ``y`` labels (n,) or targets (n, C).

    Classification labels under ``mse`` are compared with their one-hot codes, as in training.
    """
    K, n, C = out.shape
    if loss == "cross_entropy":
        if y.dim() != 1:
            raise UnitscopeError("cross-entropy needs integer class labels of shape (n,).")
        return (
            F.cross_entropy(out.reshape(K * n, C), y.repeat(K), reduction="none").view(K, n).mean(1)
        )
    if loss != "mse":
        raise UnitscopeError(f"unknown loss {loss!r}; expected 'cross_entropy' or 'mse'.")
    target = F.one_hot(y, C).to(out.dtype) if y.dim() == 1 else y.to(out.dtype)
    return (out - target.unsqueeze(0)).pow(2).mean(dim=(1, 2))


def targets(y: np.ndarray, model: UnitModel) -> Tensor:
    """Labels as int64 tensors, regression targets in the model's dtype."""
    arr = np.asarray(y)
    if arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer):
        return torch.as_tensor(arr, dtype=torch.int64, device=next(model.parameters()).device)
    return as_tensor(arr.reshape(len(arr), -1), model)


T_ = TypeVar("T_")


def with_reasons(fn: Callable[[], T_]) -> tuple[T_, list[str]]:
    """Run ``fn``; each :class:`DegenerateInputWarning` it gives (a measure undefined on its
    input, returned as NaN) becomes a reason in the returned list instead of a printed warning.
    Other warnings are not touched.

    Example:
        >>> from unitscope.measures import linear_cka
        >>> x = np.random.default_rng(0).normal(size=(20, 3))
        >>> value, why = with_reasons(lambda: linear_cka(x, np.ones((20, 2))))
        >>> value, why
        (nan, ['linear CKA is 0/0: `y` is constant over samples'])
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DegenerateInputWarning)
        value = fn()
    reasons = []
    for w in caught:
        if issubclass(w.category, DegenerateInputWarning):  # "why; returning NaN."
            reasons.append(str(w.message).removesuffix(".").removesuffix("; returning NaN"))
        else:  # recorded only because record=True catches everything: give it back
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return value, sorted(set(reasons))
