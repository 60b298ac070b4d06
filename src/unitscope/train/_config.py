"""The training config: frozen dataclasses, read from TOML, overridden by dotted keys.

A config has six sections. Every key can be set from TOML (``[optim] lr = 0.1``), from the
command line (``--set optim.lr=0.1``) or from a sweep axis, with the same names::

    data    which dataset and how much of it
    model   the architecture (mlp or cnn)
    init    the initialization scheme
    optim   optimizer, learning rate and penalties
    train   steps, batch size, loss, dtype, device, checkpoints
    seeds   init / data / dropout seeds: one value, or one per member
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from .._errors import UnitscopeError, did_you_mean, unknown_name
from .._files import read_toml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class DataConfig:
    """Which dataset (a built-in name or a path) and its options."""

    name: str = "moons"
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)  # e.g. {n_samples = 512, noise = 0.1}
    test_fraction: float = 0.25
    split_seed: int = 0
    n_probe: int = 256  # probe set: the first n_probe test samples (all if fewer)


@dataclass(frozen=True)
class ModelConfig:
    """The architecture. ``hidden`` is used by the MLP, ``channels`` by the CNN."""

    kind: str = "mlp"
    hidden: tuple[int, ...] = (16,)
    activation: str = "relu"
    bias: bool = True
    dropout: float = 0.0
    channels: tuple[int, ...] = (8, 16)
    kernel_size: int = 3
    pool: str = "max"


@dataclass(frozen=True)
class InitConfig:
    """Initialization scheme (see :mod:`unitscope.init`)."""

    scheme: str = "kaiming"
    base: str = "kaiming"
    scale: float = 0.1
    eps: float = 1e-3
    gain: float = 1.0  # multiplier on every randomly drawn weight (small: condensed regime)
    layers: tuple[str, ...] = ()  # empty: every studied layer
    path: str = ""


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer and penalties. ``l1``/``l2`` penalize the weights (not biases);
    ``weight_decay`` is the optimizer's (coupled for sgd/adam, decoupled for adamw).

    ``l1_mode`` says how the L1 penalty acts: ``"subgradient"`` adds ``l1 * sign(w)`` to the
    gradient (weights oscillate around 0 but are never exactly 0); ``"proximal"`` leaves it
    out of the gradient and soft-thresholds every weight after each step,
    ``w <- sign(w) * max(|w| - lr * l1, 0)`` (exact zeros; the proximal gradient step for
    plain SGD, a common approximation with momentum or Adam).
    """

    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    l1_mode: str = "subgradient"  # or "proximal": soft-threshold after each step


@dataclass(frozen=True)
class RunConfig:
    """How long and how: steps, batch size (0 = full batch), loss, precision, checkpoints."""

    steps: int = 500
    batch_size: int = 0
    loss: str = "auto"  # auto: cross_entropy for classification, mse for regression
    dtype: str = "float32"
    device: str = "auto"
    checkpoints: tuple[int, ...] = ()  # empty: n_checkpoints log-spaced steps, 0 included
    n_checkpoints: int = 20
    eval_every: int = 0  # 0: about 25 evaluations over the run, plus every checkpoint
    record_maps: bool = False  # conv layers: keep full feature maps, not only channel means
    threads: int = 0  # torch CPU threads while training; 0: 1 for small models, else default


@dataclass(frozen=True)
class SeedConfig:
    """One seed per source; a list gives one per member and sets K (lists must agree)."""

    init: tuple[int, ...] = (0,)
    data: tuple[int, ...] = (0,)
    dropout: tuple[int, ...] = (0,)

    @property
    def members(self) -> int:
        return max(len(self.init), len(self.data), len(self.dropout))

    def per_member(self) -> dict[str, list[int]]:
        """Each source's seeds broadcast to K members."""
        K = self.members
        return {
            s: list(getattr(self, s)) * (K if len(getattr(self, s)) == 1 else 1)
            for s in ("init", "data", "dropout")
        }


@dataclass(frozen=True)
class Config:
    """A whole training run of K members."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    init: InitConfig = field(default_factory=InitConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: RunConfig = field(default_factory=RunConfig)
    seeds: SeedConfig = field(default_factory=SeedConfig)

    def __post_init__(self) -> None:
        validate(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Config:
        """Build from nested dicts (as TOML gives), checking every key and type."""
        if not isinstance(raw, dict):
            raise UnitscopeError(f"a config must be a table of sections, got {type(raw).__name__}.")
        sections = {f.name: f for f in fields(cls)}
        kwargs = {}
        for name, value in raw.items():
            if name not in sections:
                raise unknown_name("config section", name, sections)
            if not isinstance(value, dict):
                raise UnitscopeError(f"config section [{name}] must be a table, got {value!r}.")
            kwargs[name] = _section(_section_type(name), name, value)
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, path: str | Path) -> Config:
        return cls.from_dict(read_toml(path, "config file"))

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dicts and lists (JSON- and TOML-friendly)."""
        return _plain(dataclasses.asdict(self))

    def override(self, updates: dict[str, Any]) -> Config:
        """A copy with dotted keys replaced: ``cfg.override({"optim.lr": 0.01})``."""
        raw = self.to_dict()
        for key, value in updates.items():
            section, _, leaf = key.partition(".")
            if section not in raw:
                raise unknown_name("config section", section, raw)
            known = raw[section]
            leaf, _, option = leaf.partition(".")
            if option and isinstance(known.get(leaf), dict):  # data.options.noise
                known[leaf] = {**known[leaf], option: value}
                continue
            if leaf not in known:
                choices = [f"{section}.{k}" for k in known]
                raise UnitscopeError(
                    f"unknown config key {key!r}.{did_you_mean(key, choices)} "
                    f"Keys of [{section}]: {', '.join(known)}."
                )
            known[leaf] = value
        return Config.from_dict(raw)


def _section_type(name: str) -> type:
    return get_type_hints(Config)[name]


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _section(cls: type, section: str, values: dict[str, Any]) -> Any:
    hints = get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            choices = [f"{section}.{k}" for k in hints]
            raise UnitscopeError(
                f"unknown config key '{section}.{key}'."
                f"{did_you_mean(f'{section}.{key}', choices)} "
                f"Keys of [{section}]: {', '.join(hints)}."
            )
        kwargs[key] = _coerce(value, hints[key], f"{section}.{key}")
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``hint``; tuples accept lists and scalars."""
    origin = get_origin(hint)
    if origin is tuple:
        args = get_args(hint)
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        inner = args[0]
        if len(args) == 2 and args[1] is not Ellipsis:
            if len(items) != 2:
                raise UnitscopeError(f"`{key}` must be a pair, got {value!r}.")
            inner = args[0]
        return tuple(_coerce(v, inner, key) for v in items)
    if origin is dict:
        if not isinstance(value, dict):
            raise UnitscopeError(f"`{key}` must be a table, got {value!r}.")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise UnitscopeError(f"`{key}` must be true or false, got {value!r}.")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UnitscopeError(f"`{key}` must be an integer, got {value!r}.")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UnitscopeError(f"`{key}` must be a number, got {value!r}.")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise UnitscopeError(f"`{key}` must be a string, got {value!r}.")
        return value
    return value


def parse_override(text: str) -> tuple[str, Any]:
    """``"optim.lr=0.1"`` -> ``("optim.lr", 0.1)``; the value is read as a TOML value."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UnitscopeError(
            f"an override must look like KEY=VALUE (e.g. optim.lr=0.1), got {text!r}."
        )
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word is a string: model.activation=tanh
    return key.strip(), value


_CHOICES = {
    "model.kind": ("mlp", "cnn"),
    "model.pool": ("max", "avg", "none"),
    "optim.name": ("sgd", "adam", "adamw"),
    "optim.l1_mode": ("subgradient", "proximal"),
    "train.loss": ("auto", "mse", "cross_entropy"),
    "train.dtype": ("float32", "float64"),
    "train.device": ("auto", "cpu", "cuda"),
}


def validate(cfg: Config) -> None:
    """Check values and the agreement between sections; raise one clear UnitscopeError."""
    from ..data._checks import check_seed
    from ..init import SCHEMES
    from ..models import ACTIVATIONS

    choices = dict(_CHOICES, **{"init.scheme": SCHEMES, "model.activation": tuple(ACTIVATIONS)})
    for key, allowed in choices.items():
        section, leaf = key.split(".")
        value = getattr(getattr(cfg, section), leaf)
        if value not in allowed:
            raise unknown_name(f"value for `{key}`", value, allowed)
    _check_finite(cfg)  # inf passes `> 0`; NaN would pass `!= 0`
    check_seed("data.seed", cfg.data.seed)
    check_seed("data.split_seed", cfg.data.split_seed)
    checks = [
        ("optim.lr", cfg.optim.lr > 0, "> 0"),
        ("optim.momentum", 0 <= cfg.optim.momentum < 1, "in [0, 1)"),
        ("optim.weight_decay", cfg.optim.weight_decay >= 0, ">= 0"),
        ("optim.l1", cfg.optim.l1 >= 0, ">= 0"),
        ("optim.l2", cfg.optim.l2 >= 0, ">= 0"),
        ("model.dropout", 0 <= cfg.model.dropout < 1, "in [0, 1)"),
        ("train.steps", cfg.train.steps >= 1, ">= 1"),
        ("train.batch_size", cfg.train.batch_size >= 0, ">= 0 (0 = full batch)"),
        ("train.n_checkpoints", cfg.train.n_checkpoints >= 2, ">= 2"),
        ("data.n_probe", cfg.data.n_probe >= 1, ">= 1"),
        ("train.threads", cfg.train.threads >= 0, ">= 0 (0 = automatic)"),
        ("data.test_fraction", 0 < cfg.data.test_fraction < 1, "in (0, 1)"),
    ]
    for key, ok, rule in checks:
        if not ok:
            section, leaf = key.split(".")
            value = getattr(getattr(cfg, section), leaf)
            raise UnitscopeError(f"`{key}` must be {rule}, got {value!r}.")
    if not all(0 <= b < 1 for b in cfg.optim.betas):
        raise UnitscopeError(f"`optim.betas` must both be in [0, 1), got {cfg.optim.betas!r}.")
    if cfg.optim.nesterov and (cfg.optim.name != "sgd" or cfg.optim.momentum == 0):
        raise UnitscopeError("`optim.nesterov` needs optim.name = 'sgd' and optim.momentum > 0.")
    for source in ("init", "data", "dropout"):
        for seed in getattr(cfg.seeds, source):
            check_seed(f"seeds.{source}", seed)
    lengths = {s: len(getattr(cfg.seeds, s)) for s in ("init", "data", "dropout")}
    if min(lengths.values()) < 1 or len({n for n in lengths.values() if n != 1}) > 1:
        raise UnitscopeError(
            f"seed lists must have length 1 or one common length K, got {lengths}."
        )
    if any(c < 0 or c > cfg.train.steps for c in cfg.train.checkpoints):
        raise UnitscopeError(
            f"`train.checkpoints` must lie in [0, train.steps={cfg.train.steps}], got "
            f"{list(cfg.train.checkpoints)}."
        )


def _check_finite(cfg: Config) -> None:
    """Every float key (and pair of floats) must be a finite number."""
    for section, keys in _float_keys().items():
        part = getattr(cfg, section)
        for key in keys:
            value = getattr(part, key)
            if not all(math.isfinite(v) for v in (value if isinstance(value, tuple) else [value])):
                raise UnitscopeError(f"`{section}.{key}` must be a finite number, got {value!r}.")


@functools.cache
def _float_keys() -> dict[str, tuple[str, ...]]:
    """Section -> its keys annotated ``float`` or ``tuple[float, ...]`` (read once)."""
    out = {}
    for section in fields(Config):
        hints = get_type_hints(_section_type(section.name))
        out[section.name] = tuple(
            key
            for key, hint in hints.items()
            if hint is float or (get_origin(hint) is tuple and get_args(hint)[0] is float)
        )
    return out
