"""``fit``: from a Config to a Recording."""

from __future__ import annotations

import math
import platform
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from .._errors import UnitscopeError
from .._version import __version__
from ..data import Dataset, load, train_test_split
from ..init import initialize
from ..models import MLP, SmallCNN, UnitModel
from ..record import DatasetInfo, Recording, RecordingMeta
from ._budget import check_data_range, check_training_memory
from ._config import Config
from ._loop import Snapshot, train_loop


def resolve_device(name: str) -> torch.device:
    """``auto`` takes CUDA when it is available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UnitscopeError(
            "`train.device` = 'cuda' but no CUDA device is available; use 'auto' or 'cpu'."
        )
    return torch.device(name)


def build_model(cfg: Config, data: Dataset, members: int) -> UnitModel:
    """The configured architecture sized for ``data``."""
    m = cfg.model
    if m.kind == "cnn":
        if len(data.input_shape) != 3:
            raise UnitscopeError(
                f"model.kind = 'cnn' needs image data (n, C, H, W); dataset "
                f"{data.name!r} has samples of shape {data.input_shape}."
            )
        c, h, w = data.input_shape
        return SmallCNN(
            c,
            (h, w),
            m.channels,
            data.n_outputs,
            kernel_size=m.kernel_size,
            pool=m.pool,
            activation=m.activation,
            bias=m.bias,
            members=members,
        )
    return MLP(
        math.prod(data.input_shape),
        m.hidden,
        data.n_outputs,
        activation=m.activation,
        bias=m.bias,
        members=members,
    )


def prepare_data(cfg: Config, dataset: Dataset | None = None) -> tuple[Dataset, Dataset, Dataset]:
    """(train, test, probe): the probe set is the first ``n_probe`` test samples."""
    data = (
        dataset
        if dataset is not None
        else load(cfg.data.name, seed=cfg.data.seed, **cfg.data.options)
    )
    check_data_range(data, cfg.train.dtype)
    train, test = train_test_split(
        data, test_fraction=cfg.data.test_fraction, seed=cfg.data.split_seed
    )
    probe = test.subset(np.arange(min(cfg.data.n_probe, test.n_samples)), name=f"{data.name}:probe")
    return train, test, probe


# Below this many multiply-adds per step, extra threads cost more than they bring on the CPU.
SMALL_STEP = 2e7


@contextmanager
def cpu_threads(n: int) -> Iterator[None]:
    """Use ``n`` torch CPU threads inside the block, then restore the previous setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def step_macs(model: UnitModel, batch: int) -> int:
    """Multiply-adds of one forward pass over a batch, all members: each weight once per
    sample, a conv layer's once per output position."""
    if not isinstance(model, SmallCNN):
        return sum(p.numel() for p in model.parameters()) * batch
    h, w = model.spec["image_size"]
    total = 0
    for layer in model.conv:
        weight: torch.Tensor = layer.weight  # type: ignore[assignment]
        total += weight.numel() * h * w  # padding k // 2: the size is kept
        if model.pool != "none":
            h, w = h // 2, w // 2
    return (total + model.out.weight.numel()) * batch


def auto_threads(config: Config, model: UnitModel, n_train: int) -> int:
    """``train.threads``, or 1 when a step is small (a few million multiply-adds)."""
    if config.train.threads:
        return config.train.threads
    batch = config.train.batch_size or n_train
    return 1 if step_macs(model, batch) < SMALL_STEP else torch.get_num_threads()


def fit(
    config: Config,
    *,
    dataset: Dataset | None = None,
    start: dict[str, torch.Tensor] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Recording:
    """Train the K members of ``config`` together and record them.

    Member k is the network that a run of member k alone (its own seeds) trains: to rounding
    (~1e-15) in float64; in float32 up to a drift that training can grow to ~1e-3 (see
    docs/architecture.md, "Randomness").

    Args:
        config: the run; K is the length of the seed lists.
        dataset: use these arrays instead of ``config.data`` (``config.data`` still sets the
            split and the probe size).
        start: parameters to start from (name -> (K, ...) or (1, ...)), instead of
            ``config.init``; a hand-built starting point such as a duplicated unit.
        progress: called with the number of finished steps after every step.

    Returns:
        The Recording of all members.

    Example:
        >>> cfg = Config.from_dict({"train": {"steps": 20}, "seeds": {"init": [0, 1, 2]}})
        >>> rec = fit(cfg)
        >>> rec.members, rec.activations("hidden.0").shape[1:]
        (3, (3, 50, 16))
    """
    torch_dtype = torch.float64 if config.train.dtype == "float64" else torch.float32
    device = resolve_device(config.train.device)
    train, test, probe = prepare_data(config, dataset)
    if config.model.kind == "mlp" and len(train.input_shape) > 1:  # images -> vectors
        train, test, probe = (_flatten(d) for d in (train, test, probe))
    seeds = config.seeds.per_member()
    K = len(seeds["init"])

    # ---- model and initialization -------------------------------------------------------
    check_training_memory(config, lambda: build_model(config, train, K), train, test)
    model = build_model(config, train, K).to(device=device, dtype=torch_dtype)
    i = config.init
    if start is not None:
        model.load_params({n: v.expand(K, *v.shape[1:]) for n, v in start.items()})
    else:
        initialize(
            model,
            i.scheme,
            seeds=seeds["init"],
            base=i.base,
            scale=i.scale,
            eps=i.eps,
            gain=i.gain,
            layers=list(i.layers) or None,
            path=i.path or None,
        )

    # ---- train ----------------------------------------------------------------------------
    probe_x = torch.as_tensor(probe.x, dtype=torch_dtype, device=device)
    with cpu_threads(auto_threads(config, model, train.n_samples)):
        snaps, history, diverged, elapsed = train_loop(
            model, train, test, probe_x, config, seeds, device, torch_dtype, progress
        )
    return _assemble(config, model, train, test, probe, snaps, history, diverged, elapsed, seeds)


def _flatten(d: Dataset) -> Dataset:
    return d.with_arrays(d.x.reshape(d.n_samples, -1), d.y)


def _assemble(
    cfg, model, train, test, probe, snaps: list[Snapshot], history, diverged, elapsed, seeds
) -> Recording:
    def stack(items: list[torch.Tensor]) -> np.ndarray:
        return torch.stack(items).cpu().numpy()

    acts = {k: stack([s.activations[k] for s in snaps]) for k in snaps[0].activations}
    maps = {k.split("#")[0]: v for k, v in acts.items() if k.endswith("#maps")}
    acts = {k: v for k, v in acts.items() if not k.endswith("#maps")}
    meta = RecordingMeta(
        config=cfg.to_dict(),
        seeds=seeds,
        layers=tuple(model.layers),
        layer_kind=model.layer_kinds(),
        unit_axes=model.unit_axes(),
        model_spec=model.spec,
        dataset=DatasetInfo(
            name=train.name,
            task=train.task,
            origin=train.origin,
            n_train=train.n_samples,
            n_test=test.n_samples,
            input_shape=tuple(train.input_shape),
            n_outputs=train.n_outputs,
        ),
        probe_hash=probe.fingerprint(),
        extras=tuple(sorted(train.extras)),
        versions={
            "unitscope": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        elapsed_s=round(elapsed, 3),
    )
    return Recording(
        steps=np.array([s.step for s in snaps], dtype=np.int64),
        params={k: stack([s.params[k] for s in snaps]) for k in snaps[0].params},
        acts=acts,
        maps=maps,
        curves={k: torch.stack(v, dim=1).numpy() for k, v in history.values.items()},
        curve_steps=np.array(history.steps, dtype=np.int64),
        probe_x=probe.x,
        probe_y=probe.y,
        diverged=diverged,
        meta=meta,
    )
