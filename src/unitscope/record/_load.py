"""A user's weights and model, read without running anything the files could smuggle in.

Checkpoints are read with ``torch.load(..., weights_only=True)`` (tensors and plain containers
only: a pickle that would construct other objects is refused) or from ``.safetensors``. A model
is built by a factory the *caller* names, ``"pkg.module:factory"`` (a function or class that
takes no arguments and returns the ``nn.Module``); a name stored in a recording's metadata is
a description and is never imported on its own.
"""

from __future__ import annotations

import importlib
import os
import pickle
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .._errors import UnitscopeError

FACTORY_FORM = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
_WRAPPERS = ("state_dict", "model_state_dict", "model")  # keys of common checkpoint dicts


def load_state(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """The state_dict in ``path`` (``.safetensors``, or a ``torch.save`` file read with
    ``weights_only=True``); a checkpoint dict holding it under ``state_dict`` / ``model`` is
    unwrapped."""
    path = Path(path)
    if not path.is_file():
        raise UnitscopeError(f"cannot read weights {str(path)!r}: no such file.")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path)))
        except (SafetensorError, OSError) as err:
            raise UnitscopeError(f"cannot read weights {str(path)!r}: {err}.") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnitscopeError(
            f"refused to load {str(path)!r}: it is not tensors and plain containers "
            f"({_unpickler_reason(err)}), and unitscope never unpickles anything else "
            "(weights_only=True); save model.state_dict() with torch.save, or use .safetensors."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        reason = (str(err).splitlines() or [type(err).__name__])[0]
        raise UnitscopeError(
            f"cannot read weights {str(path)!r}: {reason} (expected a torch.save state_dict or "
            ".safetensors)."
        ) from None
    return state_of(obj, repr(str(path)))


def _unpickler_reason(err: Exception) -> str:
    """The one informative line of torch's weights-only error, e.g. 'Unsupported global: ...'."""
    text = str(err)
    tail = text.split("WeightsUnpickler error:", 1)[-1]
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    reason = lines[0] if lines else type(err).__name__
    return reason if len(reason) <= 120 else reason[:117] + "..."


def state_of(obj: Any, where: str) -> dict[str, Tensor]:
    """``obj`` as a state_dict (name → tensor), unwrapping one common checkpoint key."""
    if isinstance(obj, Mapping) and obj and all(isinstance(v, Tensor) for v in obj.values()):
        return {str(k): v for k, v in obj.items()}
    if isinstance(obj, Mapping):
        for key in _WRAPPERS:
            if key in obj:
                return state_of(obj[key], f"{where}[{key!r}]")
        keys = sorted(str(k) for k in obj)[:6]
        raise UnitscopeError(
            f"{where} is not a state_dict (name -> tensor): it has keys {keys}; save "
            "model.state_dict()."
        )
    raise UnitscopeError(
        f"{where} is not a state_dict (name -> tensor), got {type(obj).__name__}; save "
        "model.state_dict()."
    )


def resolve_factory(factory: str | Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    """The callable behind ``"pkg.module:factory"`` (imported now), or ``factory`` itself."""
    if callable(factory):
        return factory
    if not isinstance(factory, str) or not FACTORY_FORM.match(factory):
        raise UnitscopeError(
            f"a model factory is written 'pkg.module:factory' (a function or class that takes "
            f"no arguments and returns the nn.Module), got {factory!r}."
        )
    module_name, _, attr = factory.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise UnitscopeError(
            f"cannot import {module_name!r} for the model factory {factory!r} ({err}); run from "
            "the folder that holds it or add that folder to PYTHONPATH."
        ) from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise UnitscopeError(f"{module_name!r} has no {attr!r} (model factory {factory!r}).")
        target = getattr(target, part)
    if not callable(target):
        raise UnitscopeError(f"the model factory {factory!r} is not callable.")
    return target


def factory_name(factory: Any) -> str | None:
    """``"pkg.module:factory"`` for a string or an importable top-level function/class."""
    if isinstance(factory, str):
        if not FACTORY_FORM.match(factory):
            raise UnitscopeError(
                f"a model factory is written 'pkg.module:factory', got {factory!r}."
            )
        return factory
    name = f"{getattr(factory, '__module__', '')}:{getattr(factory, '__qualname__', '')}"
    return name if FACTORY_FORM.match(name) else None


def build(factory: str | Callable[[], nn.Module]) -> nn.Module:
    """A new model from ``factory``; it must return an ``nn.Module``."""
    made = resolve_factory(factory)()
    if not isinstance(made, nn.Module):
        raise UnitscopeError(
            f"the model factory {factory!r} returned {type(made).__name__}, not an nn.Module."
        )
    return made


def load_into(model: nn.Module, state: Mapping[str, Tensor], where: str) -> nn.Module:
    """``model`` with ``state`` loaded strictly; a mismatch is one line naming the keys."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        raise UnitscopeError(
            f"{where} does not fit the model: missing {_few(missing)}, unexpected {_few(extra)}."
        )
    for key, value in state.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise UnitscopeError(
                f"{where}: {key!r} has shape {tuple(value.shape)}, the model's is "
                f"{tuple(own[key].shape)}."
            )
    model.load_state_dict(dict(state))
    return model


def _few(names: list[str], limit: int = 4) -> str:
    more = f", ... and {len(names) - limit} more" if len(names) > limit else ""
    return "[" + ", ".join(repr(n) for n in names[:limit]) + more + "]"
