"""Activations of named modules of any ``torch.nn.Module``, captured with forward hooks.

Side effects are scoped: :func:`capture` registers the hooks and always removes them in
``finally``; :func:`eval_mode` sets eval mode and restores every module's own train/eval flag.
Layer names are checked before anything runs (did-you-mean, with the closest names). A module
that runs more than once in one forward pass (one ``nn.ReLU`` object reused in a ResNet block)
has several outputs: pick one call with ``"layer1.0.relu#1"`` (calls count from 0) or
``call=``; without a choice it is refused, with the calls listed, instead of silently mixing
them. Captured tensors are detached copies, stored in float32 on the CPU.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._errors import UnitscopeError, unknown_name

Select = Mapping[str, "int | str"]
CLOSEST = 5  # names shown by an unknown-layer error


def module_names(model: nn.Module) -> list[str]:
    """Names of every submodule of ``model`` that can be recorded, in definition order."""
    return [name for name, _ in model.named_modules() if name]


def split_call(name: str, available: Mapping[str, Any]) -> tuple[str, int | None]:
    """``"layer1.0.relu#1"`` -> ``("layer1.0.relu", 1)``; a name without ``#k`` -> (name, None)."""
    base, sep, tail = name.rpartition("#")
    if not sep or name in available:
        return name, None
    if not tail.isdigit():
        raise UnitscopeError(
            f"layer {name!r}: after '#' comes the call to record, counted from 0, e.g. "
            f"{base + '#1'!r}."
        )
    return base, int(tail)


def resolve_layers(model: nn.Module, layers: str | Sequence[str]) -> dict[str, nn.Module]:
    """Map each requested layer name (``#k`` suffix allowed) to its module; unknown names get
    a did-you-mean with the closest module names."""
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise UnitscopeError("`layers` is empty; name at least one module, e.g. 'hidden.0'.")
    if len(set(names)) != len(names):
        raise UnitscopeError(f"`layers` names a module twice: {names}.")
    available = dict(model.named_modules())
    available.pop("", None)
    out = {}
    for name in names:
        base, _ = split_call(name, available)
        if base not in available:
            raise unknown_name(
                "layer",
                base,
                available,
                closest=CLOSEST,
                every="all names: unitscope.record.module_names(model)",
            )
        out[name] = available[base]
    return out


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode; restore each submodule's own ``training`` flag on exit."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, flag in flags:
            module.training = flag


@dataclass
class Capture:
    """What :func:`capture` collects: per layer, one float32 CPU tensor per forward pass.

    ``targets[layer]`` is the (module name, call) a requested layer reads; ``calls[module]``
    counts the module's calls in the current forward pass.
    """

    layers: list[str]
    select: Mapping[str, int | str]
    outputs: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    targets: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    dtype: torch.dtype | None = torch.float32

    def take(self) -> dict[str, torch.Tensor]:
        """The outputs of the last forward pass, and forget them."""
        out = {name: self.outputs[name][-1] for name in self.layers}
        self.outputs = {name: [] for name in self.layers}
        return out

    def _start(self, *_: Any) -> None:
        self.calls = {module: 0 for module, _ in self.targets.values()}

    def _end(self, *_: Any) -> None:
        missing = [name for name in self.layers if self.calls.get(self.targets[name][0], 0) == 0]
        if missing:
            raise UnitscopeError(
                f"layer(s) {missing} did not run during the forward pass; record modules that "
                "the model calls on every input."
            )
        for name in self.layers:
            module, call = self.targets[name]
            ran = self.calls[module]
            listed = " or ".join(repr(f"{module}#{i}") for i in range(ran))
            if call is None and ran > 1:
                raise UnitscopeError(
                    f"module {module!r} ran {ran} times in one forward pass (one module object "
                    f"is reused, e.g. a shared nn.ReLU), so its output is ambiguous; record one "
                    f"call: {listed} (or call=k, counted from 0)."
                )
            if call is not None and call >= ran:
                raise UnitscopeError(
                    f"layer {name!r}: module {module!r} ran {ran} time(s) in one forward pass, "
                    f"so call {call} does not exist; record {listed}."
                )

    def _hook(self, module: str):
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            index = self.calls.get(module, 0)
            self.calls[module] = index + 1
            for name, (target, call) in self.targets.items():
                if target == module and index == (call or 0):
                    tensor = _pick(name, output, self.select.get(name)).detach()
                    if self.dtype is None:  # as computed, on its device
                        stored = tensor.clone()
                    else:
                        stored = tensor.to(device="cpu", dtype=self.dtype, copy=True)
                    self.outputs[name].append(stored)

        return hook


@contextmanager
def capture(
    model: nn.Module,
    layers: str | Sequence[str],
    *,
    select: Select | None = None,
    call: int | Mapping[str, int] | None = None,
    dtype: torch.dtype | None = torch.float32,
) -> Iterator[Capture]:
    """Record the outputs of ``layers`` on every forward pass of ``model`` inside the block.

    Args:
        model: any module; forward passes must go through ``model(...)`` itself.
        layers: names from ``model.named_modules()``, e.g. ``["features.2", "fc1"]``; a
            module called several times per forward pass needs one call, ``"act#1"``.
        select: for modules returning a tuple/list or dict, which element to keep, e.g.
            ``{"lstm": 0, "head": "logits"}``. Default: element 0 of a tuple/list; the only
            tensor of a dict (a dict with several tensors must be selected).
        call: which call of a reused module to record (counted from 0), for every layer (an
            int) or per layer (a dict); a ``#k`` in a name takes precedence.
        dtype: stored copies are moved to the CPU in this dtype; ``None`` keeps each tensor's
            own dtype and device (detached clones).

    Yields:
        A :class:`Capture`; ``capture.outputs[name]`` holds one tensor per forward pass.

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    >>> with capture(net, ["1"]) as cap:
    ...     _ = net(torch.randn(4, 3))
    >>> cap.outputs["1"][0].shape, len(net[1]._forward_hooks)  # hooks are gone after the block
    (torch.Size([4, 2]), 0)
    """
    modules = resolve_layers(model, layers)
    names = list(modules)
    targets = _targets(model, names, call)
    cap = Capture(
        names, dict(select or {}), {name: [] for name in names}, targets=targets, dtype=dtype
    )
    handles = []
    try:
        handles.append(model.register_forward_pre_hook(cap._start))
        hooked: set[str] = set()
        for name, module in modules.items():
            target = targets[name][0]
            if target not in hooked:
                hooked.add(target)
                handles.append(module.register_forward_hook(cap._hook(target)))
        handles.append(model.register_forward_hook(cap._end))
        yield cap
    finally:
        for handle in handles:
            handle.remove()


def _targets(
    model: nn.Module, names: list[str], call: int | Mapping[str, int] | None
) -> dict[str, tuple[str, int | None]]:
    """Each requested name -> (module name, call or None), checking ``call``."""
    available = dict(model.named_modules())
    if isinstance(call, Mapping):
        for key in call:
            if key not in names:
                raise unknown_name("layer in `call`", str(key), names)
    out: dict[str, tuple[str, int | None]] = {}
    for name in names:
        base, k = split_call(name, available)
        chosen = call.get(name) if isinstance(call, Mapping) else call
        k = k if k is not None else chosen
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
            raise UnitscopeError(
                f"`call` must be a call index >= 0 (0 is the first call), got {k!r}."
            )
        out[name] = (base, k)
    return out


def record_activations(
    model: nn.Module,
    data: Any,
    layers: str | Sequence[str],
    *,
    select: Select | None = None,
    call: int | Mapping[str, int] | None = None,
    max_batches: int | None = None,
) -> dict[str, np.ndarray]:
    """Run ``model`` over ``data`` in eval mode without gradients; return each layer's outputs.

    Args:
        model: any ``nn.Module``; its train/eval flags are restored afterwards.
        data: one batch (tensor or array) or an iterable of batches (e.g. a DataLoader);
            see :func:`iter_batches`.
        layers: module names (did-you-mean on a typo). A module that runs several times in
            one forward pass (a ReLU shared inside a ResNet block) needs one call:
            ``"layer1.0.relu#1"`` is its second call; the calls are listed when it is missing.
        select: which element of tuple/dict outputs to keep, see :func:`capture`.
        call: the call to record for every layer (an int) or per layer (a dict), instead of
            the ``#k`` suffix.
        max_batches: stop after this many batches.

    Returns:
        dict layer (as named) → float32 array (n_samples, ...) in the module's output shape,
        e.g. (N, C, H, W) for a conv layer (turn it into units with
        ``measures.to_units(..., layout="NCHW")``).

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())
    >>> acts = record_activations(net, torch.randn(5, 3), ["0", "1"])
    >>> acts["1"].shape, acts["1"].dtype.name, net.training
    ((5, 4), 'float32', True)
    """
    with (
        capture(model, layers, select=select, call=call) as cap,
        eval_mode(model),
        torch.no_grad(),
    ):
        for batch in iter_batches(data, max_batches=max_batches):
            run_batch(model, batch)
    if not cap.outputs[cap.layers[0]]:
        raise UnitscopeError("`data` yielded no batches; pass a tensor or a non-empty loader.")
    return {name: torch.cat(cap.outputs[name]).numpy() for name in cap.layers}


def iter_batches(data: Any, *, max_batches: int | None = None) -> Iterator[Any]:
    """One batch for a tensor or array, else every element of the iterable (a DataLoader)."""
    if isinstance(data, (torch.Tensor, np.ndarray)):
        yield data
        return
    if not isinstance(data, Iterable):
        raise UnitscopeError(
            "`data` must be a tensor, an array or an iterable of batches, "
            f"got {type(data).__name__}."
        )
    for i, batch in enumerate(data):
        if max_batches is not None and i >= max_batches:
            return
        yield batch


def run_batch(model: nn.Module, batch: Any) -> Any:
    """``model(batch)`` for a tensor, ``model(batch[0])`` for (inputs, targets, ...),
    ``model(**batch)`` for a dict; inputs move to the model's device and float dtype."""
    device, dtype = _device_dtype(model)
    if isinstance(batch, Mapping):
        return model(**{k: _to(v, device, dtype) for k, v in batch.items()})
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise UnitscopeError("a batch is an empty tuple/list; expected (inputs, ...).")
        batch = batch[0]
    return model(_to(batch, device, dtype))


def _to(x: Any, device: torch.device, dtype: torch.dtype) -> Any:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=dtype if x.is_floating_point() else x.dtype)
    return x


def _device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        if p.is_floating_point():
            return p.device, p.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def _pick(name: str, output: Any, key: int | str | None) -> torch.Tensor:
    """The tensor to keep from a module's output (tensor, tuple/list or dict)."""
    if isinstance(output, torch.Tensor) and key is None:
        return output
    if isinstance(output, (tuple, list)):
        index = 0 if key is None else key
        if not isinstance(index, int) or not -len(output) <= index < len(output):
            raise UnitscopeError(
                f"select[{name!r}] must be an index into the {len(output)}-element output, "
                f"got {key!r}."
            )
        output = output[index]
    elif isinstance(output, Mapping):
        tensors = [k for k, v in output.items() if isinstance(v, torch.Tensor)]
        if key is None and len(tensors) != 1:
            raise UnitscopeError(
                f"layer {name!r} returns a dict with tensors {tensors}; choose one with "
                f"select={{{name!r}: {tensors[0]!r}}}."
                if tensors
                else f"layer {name!r} returns a dict without tensors."
            )
        chosen = tensors[0] if key is None else key
        if chosen not in output:
            raise unknown_name(f"output key of layer {name!r}:", str(chosen), map(str, output))
        output = output[chosen]
    if not isinstance(output, torch.Tensor):
        raise UnitscopeError(
            f"layer {name!r} outputs {type(output).__name__}, not a tensor; use `select`."
        )
    return output
