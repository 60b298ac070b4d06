"""A Recording of the user's own networks: K members, T checkpoints each, on a probe set.

Every member at every checkpoint runs once over the probe inputs in eval mode, without
gradients; forward hooks record the named layers (``"layer1.0.relu#1"`` for one call of a
reused module). A layer whose outputs have positions is stored as the per-unit mean over them,
read with its ``layout`` (never guessed), as unitscope's own conv recordings are. The probe
loss and accuracy become the curves, and each checkpoint's state_dict the parameters (so a
factory can rebuild the members later). Checkpoint files are read with
``torch.load(weights_only=True)`` or safetensors only.
"""

from __future__ import annotations

import copy
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._errors import UnitscopeError
from .._layout import layout_for, require_layout
from .._version import __version__
from ..models import UnitAxes
from ._hooks import capture, eval_mode, resolve_layers, run_batch
from ._load import factory_name, load_into, load_state, state_of
from ._meta import DatasetInfo, RecordingMeta
from ._validate import SEED_SOURCES, probe_fingerprint

State = Mapping[str, Tensor] | str | os.PathLike


def from_models(
    models: nn.Module | Sequence[nn.Module],
    probe: Any,
    layers: str | Sequence[str],
    *,
    checkpoints: Sequence[Sequence[State]] | None = None,
    steps: Sequence[int] | None = None,
    layout: str | Mapping[str, str] | None = None,
    factory: str | Callable[[], nn.Module] | None = None,
    name: str = "probe set",
    keep_weights: bool = True,
) -> Any:
    """Build a :class:`~unitscope.record.Recording` from torch networks; see
    :meth:`Recording.from_models`."""
    from ._recording import Recording

    start = time.perf_counter()
    nets = _members(models)
    x, y, task = _probe(probe)
    names = [layers] if isinstance(layers, str) else [str(n) for n in layers]
    resolve_layers(nets[0], names)  # did-you-mean before anything runs
    plan = _plan(nets, checkpoints)
    T, K = len(plan), len(nets)
    step_values = _steps(steps, T)
    acts: dict[str, list[list[np.ndarray]]] = {n: [[] for _ in range(T)] for n in names}
    params: list[list[dict[str, np.ndarray]]] = [[] for _ in range(T)]
    outs: list[list[Tensor | None]] = [[] for _ in range(T)]
    layouts: dict[str, str] = {}
    for t, row in enumerate(plan):
        for k, state in enumerate(row):
            net = nets[k] if state is None else load_into(copy.deepcopy(nets[k]), *state)
            got, out = _run(net, x, names)
            for layer in names:
                units, layouts[layer] = _units(got[layer], layout, layer)
                acts[layer][t].append(units)
            outs[t].append(out)
            if keep_weights:
                params[t].append(_state_arrays(net))
    stacked = {n: _stack(acts[n], f"layer {n!r}") for n in names}  # (T, K, n, U)
    curves, n_outputs, loss = _curves(outs, y, task)
    dtype = _dtype(nets[0])
    meta = RecordingMeta(
        config={"source": "Recording.from_models", "train": {"dtype": dtype, "loss": loss}},
        seeds={s: [None] * K for s in SEED_SOURCES},
        layers=tuple(names),
        layer_kind={n: ("dense" if layouts[n] == "ND" else "conv") for n in names},
        layouts=layouts,
        unit_axes={n: UnitAxes(n, int(stacked[n].shape[-1]), (), ()) for n in names},
        model_spec={
            "kind": "torch",
            "class": f"{type(nets[0]).__module__}.{type(nets[0]).__qualname__}",
            "factory": None if factory is None else factory_name(factory),
        },
        dataset=DatasetInfo(
            name=str(name),
            task=task,
            origin="the probe set given to Recording.from_models",
            n_train=0,
            n_test=0,
            input_shape=tuple(int(s) for s in x.shape[1:]),
            n_outputs=n_outputs,
        ),
        probe_hash=probe_fingerprint(x, y),
        versions={
            "unitscope": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        elapsed_s=round(time.perf_counter() - start, 3),
    )
    return Recording(
        steps=np.asarray(step_values, dtype=np.int64),
        params=_stack_params(params) if keep_weights else {},
        acts=stacked,
        curves=curves,
        curve_steps=np.asarray(step_values if curves else [], dtype=np.int64),
        probe_x=x,
        probe_y=y,
        diverged=np.full(K, -1, dtype=np.int64),
        meta=meta,
    )


# ---- inputs -----------------------------------------------------------------------------------
def _members(models: Any) -> list[nn.Module]:
    nets = [models] if isinstance(models, nn.Module) else list(models)
    if not nets:
        raise UnitscopeError("`models` is empty; pass one nn.Module per member.")
    for i, net in enumerate(nets):
        if not isinstance(net, nn.Module):
            raise UnitscopeError(f"`models[{i}]` must be an nn.Module, got {type(net).__name__}.")
    shapes = [{k: tuple(v.shape) for k, v in net.state_dict().items()} for net in nets]
    for i, s in enumerate(shapes[1:], start=1):
        if s != shapes[0]:
            raise UnitscopeError(
                f"`models[{i}]` has another architecture than `models[0]` (their state_dicts "
                "differ); the members of a recording are networks of one architecture."
            )
    return nets


def _probe(probe: Any) -> tuple[np.ndarray, np.ndarray, str]:
    if hasattr(probe, "x") and hasattr(probe, "y"):
        probe = (probe.x, probe.y)
    if not isinstance(probe, (tuple, list)) or len(probe) != 2:
        raise UnitscopeError(
            "`probe` must be (inputs, targets): the targets let report and match score the "
            f"members; got {type(probe).__name__}."
        )
    x, y = (v.detach().cpu().numpy() if isinstance(v, Tensor) else np.asarray(v) for v in probe)
    if x.ndim < 2 or x.shape[0] < 2 or y.ndim < 1 or y.shape[0] != x.shape[0]:
        raise UnitscopeError(
            f"`probe` needs inputs (n, ...) and targets (n, ...) with n >= 2, got shapes "
            f"{tuple(x.shape)} and {tuple(y.shape)}."
        )
    if x.dtype.kind != "f" or not np.isfinite(x).all():
        raise UnitscopeError("`probe` inputs must be finite floating-point numbers.")
    if y.dtype.kind in "iu" and y.ndim == 1:
        return np.ascontiguousarray(x), y.astype(np.int64), "classification"
    if y.dtype.kind == "f" and np.isfinite(y).all():
        return np.ascontiguousarray(x), np.ascontiguousarray(y), "regression"
    raise UnitscopeError(
        f"`probe` targets must be class labels (n,) of integers or finite float targets, got "
        f"dtype {y.dtype} and shape {tuple(y.shape)}."
    )


def _plan(nets: list[nn.Module], checkpoints: Any) -> list[list[tuple[Any, str] | None]]:
    """Per checkpoint t, per member k: (state, where) to load, or None for the model as is."""
    if checkpoints is None:
        return [[None] * len(nets)]
    per_member = list(checkpoints)
    if len(per_member) != len(nets):
        raise UnitscopeError(
            f"`checkpoints` must list the checkpoints of each of the {len(nets)} member(s), got "
            f"{len(per_member)} lists."
        )
    lists = [[c] if isinstance(c, (str, os.PathLike, Mapping)) else list(c) for c in per_member]
    counts = {len(c) for c in lists}
    if len(counts) != 1 or 0 in counts:
        raise UnitscopeError(
            f"every member needs the same number (>= 1) of checkpoints, got "
            f"{[len(c) for c in lists]}."
        )
    T = counts.pop()
    return [[_state(lists[k][t], k, t) for k in range(len(nets))] for t in range(T)]


def _state(item: Any, k: int, t: int) -> tuple[Any, str]:
    if isinstance(item, (str, os.PathLike)):
        return load_state(item), f"checkpoint {str(item)!r}"
    return state_of(item, f"checkpoint {t} of member {k}"), f"checkpoint {t} of member {k}"


def _steps(steps: Any, T: int) -> list[int]:
    if steps is None:  # 1..T: no checkpoint is presumed to be the network before training
        return list(range(1, T + 1))
    values = list(steps)
    if len(values) != T or not all(isinstance(s, (int, np.integer)) for s in values):
        raise UnitscopeError(f"`steps` must be {T} integers, one per checkpoint, got {values}.")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise UnitscopeError(f"`steps` must increase, got {values}.")
    return [int(s) for s in values]


# ---- one member at one checkpoint -------------------------------------------------------------
def _run(net: nn.Module, x: np.ndarray, names: list[str]) -> tuple[dict[str, Tensor], Any]:
    with capture(net, names, dtype=None) as cap, eval_mode(net), torch.no_grad():
        out = run_batch(net, x)
    return {k: v.cpu() for k, v in cap.take().items()}, out


def _units(t: Tensor, layout: Any, layer: str) -> tuple[np.ndarray, str]:
    """(n, U) float32 units of one layer, and its layout."""
    arr = t.double().numpy() if t.is_floating_point() else t.numpy()
    try:
        lay = require_layout(tuple(arr.shape), layout_for(layer, arr.ndim, layout), "acts")
    except UnitscopeError as err:
        raise UnitscopeError(f"layer {layer!r}: {err}") from None
    n, c = arr.shape[lay.samples], arr.shape[lay.units]
    by_unit = arr.transpose(lay.samples, lay.units, *lay.positions).reshape(n, c, -1)
    return by_unit.mean(axis=2, dtype=np.float64).astype(np.float32), lay.text  # (n, U)


def _state_arrays(net: nn.Module) -> dict[str, np.ndarray]:
    out = {}
    for key, value in net.state_dict().items():
        v = value.detach().cpu()
        if v.dtype in (torch.bfloat16, torch.float16):
            v = v.float()
        out[key] = v.numpy().copy()
    return out


def _dtype(net: nn.Module) -> str:
    for p in net.parameters():
        if p.is_floating_point():
            return str(p.dtype).replace("torch.", "")
    return "float32"


# ---- stacking ---------------------------------------------------------------------------------
def _stack(rows: list[list[np.ndarray]], what: str) -> np.ndarray:
    shapes = {a.shape for row in rows for a in row}
    if len(shapes) != 1:
        raise UnitscopeError(f"{what} has different shapes across members/checkpoints: {shapes}.")
    return np.stack([np.stack(row) for row in rows])  # (T, K, ...)


def _stack_params(params: list[list[dict[str, np.ndarray]]]) -> dict[str, np.ndarray]:
    keys = list(params[0][0])
    return {key: _stack([[p[key] for p in row] for row in params], repr(key)) for key in keys}


def _curves(
    outs: list[list[Any]], y: np.ndarray, task: str
) -> tuple[dict[str, np.ndarray], int | None, str]:
    """Probe loss (and accuracy) of every member at every checkpoint, when the outputs are
    (n, n_outputs) tensors that fit the targets; else no curves."""
    loss = "cross_entropy" if task == "classification" else "mse"
    first = outs[0][0]
    if not isinstance(first, Tensor) or first.dim() != 2:
        return {}, None, loss
    n_out = int(first.shape[1])
    yt = torch.from_numpy(y)
    if task == "classification" and int(yt.max()) >= n_out:
        return {}, n_out, loss
    if task == "regression" and tuple(yt.reshape(len(yt), -1).shape) != tuple(first.shape):
        return {}, n_out, loss
    losses = np.empty((len(outs[0]), len(outs)))
    accs = np.empty_like(losses)
    for t, row in enumerate(outs):
        for k, out in enumerate(row):
            o = out.detach().cpu().double()
            if task == "classification":
                losses[k, t] = float(F.cross_entropy(o, yt))
                accs[k, t] = float((o.argmax(1) == yt).double().mean())
            else:
                losses[k, t] = float(((o - yt.double().reshape(o.shape)) ** 2).mean())
    curves = {"probe_loss": losses}
    if task == "classification":
        curves["probe_acc"] = accs
    return curves, n_out, loss
