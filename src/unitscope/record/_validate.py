"""Checks that a recording read from disk is whole and that its metadata tells the truth.

The sha256 in ``meta.json`` only proves that the tensor file is the one written next to that
``meta.json``; anyone can edit both. So :func:`check_loaded` also checks every claim of the
metadata against the tensors: the probe set's hash is recomputed, the model described by
``model_spec`` is rebuilt (without memory, on torch's ``meta`` device) and every parameter,
activation and curve must have the shape that model and the recorded steps imply. A recording
that fails is refused with one line naming the first disagreement.

A recording of the user's own torch networks (``model_spec`` kind ``"torch"``, made by
``Recording.from_models``) names no model unitscope can build, and nothing named in a file is
ever imported; its claims are checked against each other instead: every stored tensor of the
state_dicts has the recorded checkpoints and members, every layer its layout and unit count.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

import numpy as np

from .._errors import UnitscopeError

# Keys of meta.json every reader relies on, with their JSON type.
REQUIRED_META: dict[str, type] = {
    "config": dict,
    "seeds": dict,
    "layers": list,
    "layer_kind": dict,
    "unit_axes": dict,
    "model_spec": dict,
    "dataset": dict,
    "probe_hash": str,
}
# Keys a reader may find besides those: every one that a writer of this format version writes.
OPTIONAL_META = ("extras", "versions", "elapsed_s", "layouts", "sweep")
REQUIRED_TENSORS = ("steps", "curve_steps", "probe/x", "probe/y", "diverged")
GROUPS = ("params", "acts", "maps", "curves")
SEED_SOURCES = ("init", "data", "dropout")


def probe_fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    """sha256 of the probe inputs and targets, exactly as ``Dataset.fingerprint`` computes it."""
    h = hashlib.sha256()
    for a in (x, y):
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def check_header(meta: Any, where: str, *, fmt: str, version: int) -> None:
    """Refuse a meta.json that is not a recording's, or of another format version."""
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise UnitscopeError(
            f"{where} is not a unitscope recording (meta.json has no format {fmt!r})."
        )
    found = meta.get("format_version")
    if type(found) is not int or found != version:  # True == 1 in Python: compare the type too
        raise UnitscopeError(
            f"recording format version {found!r} is not supported "
            f"(this unitscope reads version {version}); re-record it."
        )
    if not isinstance(meta.get("tensors_sha256"), str):
        raise UnitscopeError(
            f"{where}: meta.json has no 'tensors_sha256' string; the recording is corrupt, "
            "re-record it."
        )


def check_loaded(flat: dict[str, np.ndarray], meta: dict[str, Any], where: str) -> None:
    """Raise UnitscopeError unless the tensors ``flat`` and the metadata ``meta`` agree."""
    _check_names(flat, meta, where)
    T, K, n_probe = _check_axes(flat, meta, where)
    _check_model(flat, meta, where, T, K)
    _check_units(flat, meta, where, T, K, n_probe)


class CorruptRecording(UnitscopeError):
    """Tensors and metadata that disagree; ``what`` says how, without the advice."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(
            f"{where} is corrupt: {what}; the files were edited or mixed from different runs, "
            "re-record it."
        )
        self.what = what


def _bad(where: str, what: str) -> CorruptRecording:
    return CorruptRecording(where, what)


def _shape(a: np.ndarray) -> tuple[int, ...]:
    return tuple(int(n) for n in a.shape)


# ---- every expected key and tensor is there ---------------------------------------------------
def _check_names(flat: dict[str, np.ndarray], meta: dict[str, Any], where: str) -> None:
    for key, kind in REQUIRED_META.items():
        if key not in meta:
            raise _bad(where, f"meta.json has no {key!r}")
        if not isinstance(meta[key], kind):
            raise _bad(
                where,
                f"meta.json {key!r} must be a {_json_name(kind)}, got {type(meta[key]).__name__}",
            )
    unknown = sorted(set(meta) - set(REQUIRED_META) - set(OPTIONAL_META))
    if unknown:
        raise _bad(where, f"meta.json holds unexpected keys {_names(unknown)}")
    for name in REQUIRED_TENSORS:
        if name not in flat:
            raise _bad(where, f"the tensor file has no tensor {name!r}")
    for name in flat:
        if name not in REQUIRED_TENSORS and name.split("/", 1)[0] not in GROUPS:
            raise _bad(where, f"the tensor file holds an unexpected tensor {name!r}")


def _json_name(kind: type) -> str:
    names: dict[type, str] = {dict: "JSON object", list: "JSON list", str: "string"}
    return names[kind]


# ---- steps, members and the probe set ---------------------------------------------------------
def _check_axes(
    flat: dict[str, np.ndarray], meta: dict[str, Any], where: str
) -> tuple[int, int, int]:
    for name in ("steps", "curve_steps", "diverged"):
        a = flat[name]
        if a.ndim != 1 or a.dtype.kind not in "iu":
            raise _bad(where, f"{name!r} must be a 1-D integer array, got {a.dtype} {_shape(a)}")
    steps, diverged = flat["steps"], flat["diverged"]
    if len(steps) == 0 or np.any(np.diff(steps) <= 0):
        raise _bad(where, f"the checkpoint steps {_short(steps.tolist())} are not increasing")
    if len(diverged) == 0:
        raise _bad(where, "it holds no member ('diverged' is empty)")
    x, y = flat["probe/x"], flat["probe/y"]
    if x.ndim < 2 or x.shape[0] == 0 or y.ndim < 1 or y.shape[0] != x.shape[0]:
        raise _bad(where, f"the probe set has inputs {_shape(x)} and targets {_shape(y)}")
    actual = probe_fingerprint(x, y)
    if actual != meta["probe_hash"]:
        raise _bad(
            where,
            f"meta.json says probe_hash {meta['probe_hash'][:12]!r} but the stored probe set "
            f"hashes to {actual[:12]!r}",
        )
    ds = meta["dataset"]
    shape = ds.get("input_shape")
    if not isinstance(shape, list) or not all(type(n) is int for n in shape):
        raise _bad(
            where,
            f"meta.json dataset 'input_shape' must be a list of integers, got {_short(shape)}",
        )
    if math.prod(shape) != math.prod(x.shape[1:]):
        raise _bad(
            where, f"the dataset's input shape {shape} does not fit probe inputs {_shape(x)}"
        )
    if ds.get("task") not in ("classification", "regression") or not isinstance(
        ds.get("name"), str
    ):
        raise _bad(
            where, "meta.json dataset needs a 'name' and a 'task' (classification or regression)"
        )
    K = len(diverged)
    for source in SEED_SOURCES:
        seeds = meta["seeds"].get(source)
        if not isinstance(seeds, list) or len(seeds) != K:
            raise _bad(
                where,
                f"meta.json seeds {source!r} must list one seed per member ({K}), "
                f"got {_short(seeds)}",
            )
    return len(steps), K, int(x.shape[0])


# ---- the parameters are those of the model in model_spec --------------------------------------
def _build(meta: dict[str, Any], where: str, K: int) -> Any:
    import torch

    from ..models import build

    spec = meta["model_spec"]
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated, whatever the sizes
            return build(spec, members=K)
    except (TypeError, ValueError, RuntimeError, OverflowError) as err:  # UnitscopeError too
        reason = (str(err).splitlines() or [type(err).__name__])[0]  # torch's run many lines
        raise _bad(
            where, f"model_spec {_short(spec)} does not describe a model ({_short(reason)})"
        ) from None


def _names(names: list[str], limit: int = 4) -> str:
    """``['a', 'b', ... and 7 more]``: a list of names that stays short."""
    more = f", ... and {len(names) - limit} more" if len(names) > limit else ""
    return "[" + ", ".join(repr(n) for n in names[:limit]) + more + "]"


def _short(value: Any, limit: int = 160) -> str:
    """``value`` (its repr unless a string) cut to ``limit`` characters."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_model(
    flat: dict[str, np.ndarray], meta: dict[str, Any], where: str, T: int, K: int
) -> None:
    if meta["model_spec"].get("kind") == "torch":
        _check_torch(flat, meta, where, T, K)
        return
    model = _build(meta, where, K)
    expected = {n: (T, *map(int, p.shape)) for n, p in model.named_parameters()}
    found = {k.split("/", 1)[1]: v for k, v in flat.items() if k.startswith("params/")}
    missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or extra:
        raise _bad(
            where,
            f"the parameters do not fit model_spec (missing {_names(missing)}, "
            f"unexpected {_names(extra)})",
        )
    dtypes = {str(v.dtype) for v in found.values()}
    for name, shape in expected.items():
        if _shape(found[name]) != shape:
            raise _bad(
                where,
                f"parameter {name!r} has shape {_shape(found[name])} but model_spec and "
                f"{T} checkpoints x {K} members need {shape}",
            )
    train = meta["config"].get("train")
    dtype = train.get("dtype") if isinstance(train, dict) else None
    if dtypes != {dtype}:
        raise _bad(
            where, f"the parameters are {sorted(dtypes)} but config train.dtype is {dtype!r}"
        )
    axes = {
        name: {
            "n_units": a.n_units,
            "incoming": [[p.param, p.axis, p.block] for p in a.incoming],
            "outgoing": [[p.param, p.axis, p.block] for p in a.outgoing],
        }
        for name, a in model.unit_axes().items()
    }
    if meta["layers"] != list(axes):
        raise _bad(
            where,
            f"meta.json layers {_short(meta['layers'])} are not model_spec's {_short(list(axes))}",
        )
    if meta["unit_axes"] != axes:
        raise _bad(where, "meta.json unit_axes do not match model_spec")
    kinds = model.layer_kinds()
    if meta["layer_kind"] != kinds:
        raise _bad(
            where, f"meta.json layer_kind {_short(meta['layer_kind'])} is not {_short(kinds)}"
        )
    outputs = meta["dataset"].get("n_outputs")
    if outputs != model.spec["out_features"]:
        raise _bad(
            where,
            f"the dataset has {outputs!r} outputs but model_spec has {model.spec['out_features']}",
        )


_FACTORY = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _check_torch(
    flat: dict[str, np.ndarray], meta: dict[str, Any], where: str, T: int, K: int
) -> None:
    """A torch recording: its metadata agrees with itself and with the tensors."""
    spec = meta["model_spec"]
    factory = spec.get("factory")
    if not isinstance(spec.get("class"), str) or not (
        factory is None or (isinstance(factory, str) and _FACTORY.match(factory))
    ):
        raise _bad(
            where,
            f"model_spec {_short(spec)} needs a 'class' name and a factory that is null or "
            "'pkg.module:factory'",
        )
    for name, value in flat.items():
        if name.startswith("params/") and _shape(value)[:2] != (T, K):
            raise _bad(
                where,
                f"parameter {name[7:]!r} has shape {_shape(value)}, the recording needs "
                f"({T}, {K}, ...) (checkpoints, members)",
            )
    layers, layouts = meta["layers"], meta.get("layouts")
    if not isinstance(layouts, dict) or sorted(layouts) != sorted(layers):
        raise _bad(where, "meta.json 'layouts' must name the layout of every layer")
    for layer in layers:
        axes, kind = meta["unit_axes"].get(layer), meta["layer_kind"].get(layer)
        units = axes.get("n_units") if isinstance(axes, dict) else None
        if type(units) is not int or units < 1 or axes.get("incoming") or axes.get("outgoing"):
            raise _bad(where, f"meta.json unit_axes of {layer!r} must be n_units >= 1 and no axes")
        want = "dense" if layouts[layer] == "ND" else "conv"
        if kind != want:
            raise _bad(
                where, f"meta.json layer_kind of {layer!r} is {kind!r}, its layout says {want!r}"
            )
    if sorted(meta["unit_axes"]) != sorted(layers) or sorted(meta["layer_kind"]) != sorted(layers):
        raise _bad(where, "meta.json unit_axes and layer_kind must name exactly the layers")
    train = meta["config"].get("train")
    dtype = train.get("dtype") if isinstance(train, dict) else None
    if dtype not in ("float32", "float64", "float16", "bfloat16"):
        raise _bad(where, f"config train.dtype must name a float dtype, got {dtype!r}")
    outputs = meta["dataset"].get("n_outputs")
    if outputs is not None and (type(outputs) is not int or outputs < 1):
        raise _bad(where, f"the dataset's n_outputs must be null or >= 1, got {outputs!r}")


# ---- activations, feature maps and curves have the recorded units, steps and members ---------
def _check_units(
    flat: dict[str, np.ndarray], meta: dict[str, Any], where: str, T: int, K: int, n_probe: int
) -> None:
    def group(prefix: str) -> dict[str, np.ndarray]:
        return {k.split("/", 1)[1]: v for k, v in flat.items() if k.startswith(prefix + "/")}

    acts, maps, curves = group("acts"), group("maps"), group("curves")
    layers = meta["layers"]
    for layer in layers:
        if layer not in acts:
            raise _bad(where, f"the tensor file has no activations of layer {layer!r}")
    for layer in sorted(set(acts) | set(maps)):
        if layer not in layers:
            raise _bad(where, f"the tensor file holds activations of unknown layer {layer!r}")
    for layer in layers:
        units = meta["unit_axes"][layer]["n_units"]
        need = (T, K, n_probe, units)
        if _shape(acts[layer]) != need:
            raise _bad(
                where,
                f"activations of {layer!r} have shape {_shape(acts[layer])}, the recording "
                f"needs {need} (checkpoints, members, probe samples, units)",
            )
        if layer in maps:
            m = maps[layer]
            if m.ndim != 6 or _shape(m)[:4] != need:
                raise _bad(
                    where,
                    f"feature maps of {layer!r} have shape {_shape(m)}, the recording needs "
                    f"{need} + (height, width)",
                )
    E = len(flat["curve_steps"])
    for name, curve in curves.items():
        if _shape(curve) != (K, E):
            raise _bad(
                where,
                f"curve {name!r} has shape {_shape(curve)}, the recording needs ({K}, {E}) "
                "(members, evaluations)",
            )
