"""What a recording says about itself: :class:`RecordingMeta`, the typed form of ``meta.json``.

Training (``train.fit``) and :meth:`Recording.from_models` write it; every later stage reads
its fields (``rec.meta.dataset.task``, ``rec.meta.layer_kind``, ``rec.meta.model_kind``) instead
of dict keys. On disk it stays the JSON object it always was (:meth:`RecordingMeta.to_json`
gives exactly the keys of ``meta.json``; :meth:`RecordingMeta.from_json` reads them back).

Two recordings can be compared unit by unit only when their units saw the same inputs:
:func:`check_same_probe` is the one check of that, used by measures, match and the CLI.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any, Protocol

from .._errors import UnitscopeError
from ..models import ParamAxis, UnitAxes
from ._validate import OPTIONAL_META, REQUIRED_META, SEED_SOURCES

LAYER_KINDS = ("dense", "conv")
# The fields of RecordingMeta that hold dicts and lists: read-only once made.
_NESTED = (
    "config",
    "seeds",
    "layer_kind",
    "unit_axes",
    "model_spec",
    "versions",
    "layouts",
    "sweep",
)
MODEL_KINDS = ("mlp", "cnn", "torch")


class HasProbe(Protocol):
    """Anything that names its probe set by hash (a Recording, its RecordingMeta)."""

    @property
    def probe_hash(self) -> str: ...


def check_same_probe(a: HasProbe, b: HasProbe) -> None:
    """Raise unless ``a`` and ``b`` were recorded on the same probe set (the same hash).

    Example:
        >>> class P:
        ...     def __init__(self, h): self.probe_hash = h
        >>> check_same_probe(P("ab12"), P("ab12"))  # nothing to say
        >>> try:
        ...     check_same_probe(P("ab12"), P("cd34"))
        ... except UnitscopeError as err:
        ...     print(str(err)[:68])  # ... to compare their units, record both ...
        the recordings were made on different probe sets (probe hash ab12 vs
    """
    if a.probe_hash != b.probe_hash:
        raise UnitscopeError(
            f"the recordings were made on different probe sets (probe hash "
            f"{a.probe_hash[:12]} vs {b.probe_hash[:12]}); to compare their units, record both "
            "on the same probe set (Recording.from_models) or, for training runs, record both "
            "with the same data.* settings so their units see the same inputs."
        )


READ_ONLY = (
    "a recording's metadata is read-only (it says how the recording was made): copy it "
    "first (copy.deepcopy gives plain dicts and lists) or make a new one with "
    "dataclasses.replace(rec.meta, ...)."
)


def _refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise UnitscopeError(READ_ONLY)


class FrozenDict(dict):
    """A dict that refuses every change; equal to, and read like, the plain dict. A deep copy
    is a plain, editable dict."""

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> Any:
        return (FrozenDict, (dict(self),))

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        return {copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()}


class FrozenList(list):
    """A list that refuses every change; equal to, and read like, the plain list. A deep copy
    is a plain, editable list."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse

    def __reduce__(self) -> Any:
        return (FrozenList, (list(self),))

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]


def frozen(value: Any) -> Any:
    """``value`` with every nested dict and list made read-only (:class:`FrozenDict`,
    :class:`FrozenList`); other values as they are."""
    if isinstance(value, dict):
        return FrozenDict({k: frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList(frozen(v) for v in value)
    return value


@dataclass(frozen=True)
class DatasetInfo:
    """The data a run was trained on (for a torch recording: its probe set).

    Attributes:
        name: the dataset's name (a built-in one, a file, or the probe set's name).
        task: ``"classification"`` or ``"regression"``.
        origin: where the data came from, in words.
        n_train, n_test: sizes of the training and test splits (0 for a torch recording).
        input_shape: the shape of one input, e.g. ``(2,)`` or ``(1, 8, 8)``.
        n_outputs: classes or regression targets; None when not known.
    """

    name: str
    task: str
    origin: str
    n_train: int
    n_test: int
    input_shape: tuple[int, ...]
    n_outputs: int | None

    @property
    def is_2d(self) -> bool:
        """Whether inputs are points of the plane (the Playground-style unit views)."""
        return self.input_shape == (2,)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "origin": self.origin,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "input_shape": list(self.input_shape),
            "n_outputs": self.n_outputs,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DatasetInfo:
        return cls(
            name=str(d["name"]),
            task=str(d["task"]),
            origin=str(d.get("origin", "")),
            n_train=int(d.get("n_train", 0)),
            n_test=int(d.get("n_test", 0)),
            input_shape=tuple(int(n) for n in d["input_shape"]),
            n_outputs=None if d.get("n_outputs") is None else int(d["n_outputs"]),
        )


@dataclass(frozen=True)
class RecordingMeta:
    """Provenance and structure of a recording: the fields of ``meta.json``, typed.

    Attributes:
        config: the training config as a dict (``Config.to_dict()``; for a torch recording
            ``{"source": ..., "train": {"dtype", "loss"}}``).
        seeds: ``{"init", "data", "dropout"}``: one seed per member (None for a torch
            recording, whose seeds unitscope never saw).
        layers: the studied layers, input to output.
        layer_kind: layer -> ``"dense"`` or ``"conv"`` (as the model says, never guessed
            from a name).
        unit_axes: layer -> where its units live in the parameters (a torch recording knows
            only ``n_units``: its axes are empty).
        model_spec: what rebuilds the model (``models.build``); kind ``"torch"`` names the
            user's class and factory instead.
        dataset: the data (:class:`DatasetInfo`).
        probe_hash: sha256 of the probe inputs and targets.
        versions: unitscope, torch, numpy and python versions that recorded it.
        extras: names of the dataset's ground-truth extras.
        elapsed_s: wall time of the recording, seconds.
        layouts: a torch recording's layer -> layout (``"NCHW"``, ``"ND"``, ...); None for
            unitscope's own models.
        sweep: ``{"job_id": ...}`` for a recording made by a sweep; None otherwise.
    """

    config: dict[str, Any]
    seeds: dict[str, list[Any]]
    layers: tuple[str, ...]
    layer_kind: dict[str, str]
    unit_axes: dict[str, UnitAxes]
    model_spec: dict[str, Any]
    dataset: DatasetInfo
    probe_hash: str
    versions: dict[str, str]
    extras: tuple[str, ...] = ()
    elapsed_s: float | None = None
    layouts: dict[str, str] | None = None
    sweep: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "extras", tuple(self.extras))
        for name in _NESTED:  # what was recorded cannot be edited in place
            object.__setattr__(self, name, frozen(getattr(self, name)))
        bad = {n: k for n, k in self.layer_kind.items() if k not in LAYER_KINDS}
        if sorted(self.layer_kind) != sorted(self.layers) or bad:
            raise UnitscopeError(
                f"layer_kind must give every layer {list(self.layers)} one of {LAYER_KINDS}, "
                f"got {self.layer_kind}."
            )
        if self.model_kind not in MODEL_KINDS:
            raise UnitscopeError(
                f"model_spec kind must be one of {MODEL_KINDS}, got {self.model_kind!r}."
            )

    # ---- what readers ask ---------------------------------------------------------------
    @property
    def model_kind(self) -> str:
        """``"mlp"``, ``"cnn"`` (unitscope's own models) or ``"torch"`` (your networks)."""
        return str(self.model_spec.get("kind"))

    @property
    def is_torch(self) -> bool:
        return self.model_kind == "torch"

    @property
    def model_name(self) -> str:
        """``MLP``, ``CNN``, or the class name of a torch recording's networks."""
        if self.is_torch:
            return str(self.model_spec["class"]).rsplit(".", 1)[-1]
        return self.model_kind.upper()

    @property
    def dtype(self) -> str:
        """The floating dtype the members were trained (or recorded) in."""
        return str(self.config["train"]["dtype"])

    @property
    def loss(self) -> str:
        """The loss the members were trained with: ``"cross_entropy"`` or ``"mse"``."""
        name = str(self.config["train"].get("loss", "auto"))
        if name == "auto":
            return "cross_entropy" if self.dataset.task == "classification" else "mse"
        return name

    def layers_of_kind(self, kind: str) -> list[str]:
        """The studied layers of one kind (``"dense"`` or ``"conv"``), input to output."""
        return [n for n in self.layers if self.layer_kind[n] == kind]

    def n_units(self, layer: str) -> int:
        return self.unit_axes[layer].n_units

    def check_same_probe(self, other: HasProbe) -> None:
        """Raise unless ``other`` was recorded on the same probe set (see
        :func:`check_same_probe`)."""
        check_same_probe(self, other)

    def select(self, index: list[int]) -> RecordingMeta:
        """The metadata of the chosen members only: the seeds (in the metadata and in the
        config) are cut the same way, as ``fit`` records them for those members alone."""
        seeds = {s: list(v) for s, v in self.seeds.items()}
        config = copy.deepcopy(self.config)
        config_seeds = dict(config.get("seeds", {}))
        for source in SEED_SOURCES:
            if source in seeds:
                seeds[source] = [seeds[source][k] for k in index]
                if source in config_seeds:  # one seed when all share it, as a config broadcasts
                    picked = seeds[source]
                    config_seeds[source] = picked[:1] if len(set(picked)) == 1 else picked
        if "seeds" in config:
            config["seeds"] = config_seeds
        return replace(self, seeds=seeds, config=config)

    # ---- meta.json ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``meta.json`` (without the file's format header)."""
        out: dict[str, Any] = {
            "config": self.config,
            "seeds": self.seeds,
            "layers": list(self.layers),
            "layer_kind": self.layer_kind,
            "unit_axes": {n: _axes_to_json(a) for n, a in self.unit_axes.items()},
            "model_spec": self.model_spec,
            "dataset": self.dataset.to_json(),
            "probe_hash": self.probe_hash,
            "extras": list(self.extras),
            "versions": self.versions,
            "elapsed_s": self.elapsed_s,
        }
        if self.layouts is not None:
            out["layouts"] = self.layouts
        if self.sweep is not None:
            out["sweep"] = self.sweep
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RecordingMeta:
        """Read the object :meth:`to_json` writes (checked first by ``record._validate``)."""
        unknown = sorted(set(d) - _KEYS)
        if unknown:
            raise UnitscopeError(
                f"meta.json holds unknown keys {unknown}; this unitscope reads {sorted(_KEYS)}."
            )
        return cls(
            config=d["config"],
            seeds=d["seeds"],
            layers=tuple(d["layers"]),
            layer_kind=d["layer_kind"],
            unit_axes={n: _axes_from_json(n, a) for n, a in d["unit_axes"].items()},
            model_spec=d["model_spec"],
            dataset=DatasetInfo.from_json(d["dataset"]),
            probe_hash=d["probe_hash"],
            versions=d.get("versions", {}),
            extras=tuple(d.get("extras", ())),
            elapsed_s=d.get("elapsed_s"),
            layouts=d.get("layouts"),
            sweep=d.get("sweep"),
        )


_KEYS = set(REQUIRED_META) | set(OPTIONAL_META)


def _axes_to_json(a: UnitAxes) -> dict[str, Any]:
    return {
        "n_units": a.n_units,
        "incoming": [[p.param, p.axis, p.block] for p in a.incoming],
        "outgoing": [[p.param, p.axis, p.block] for p in a.outgoing],
    }


def _axes_from_json(layer: str, a: dict[str, Any]) -> UnitAxes:
    def axes(rows: list[list[Any]]) -> tuple[ParamAxis, ...]:
        return tuple(ParamAxis(str(p), int(axis), int(block)) for p, axis, block in rows)

    return UnitAxes(layer, int(a["n_units"]), axes(a["incoming"]), axes(a["outgoing"]))
