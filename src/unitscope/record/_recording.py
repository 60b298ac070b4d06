"""The Recording: everything a training run leaves behind, in one object and one folder.

A recording of K members with T checkpoints holds, as numpy arrays:

=========================== ==================================================================
``steps``                   (T,) the checkpoint steps
``params[name]``            (T, K, ...) every parameter at every checkpoint
``acts[layer]``             (T, K, n_probe, n_units) studied layers' activations on the probe
                            set (conv layers: per-channel spatial mean), float32
``maps[layer]``             (T, K, n_probe, C, H, W) full conv feature maps, when recorded
``curves[metric]``          (K, E) train/test loss and accuracy at ``curve_steps`` (E,)
``probe_x``, ``probe_y``    the fixed probe set
``diverged``                (K,) step at which a member's loss became NaN/Inf, -1 if never
=========================== ==================================================================

plus ``meta``, a :class:`~unitscope.record.RecordingMeta`: config, seeds, dataset, model
kind and spec, layer kinds, unit axes, versions and the probe set's hash.

:meth:`Recording.from_models` records the user's own torch networks (model kind ``"torch"``):
activations, probe curves and state_dicts, but no unit axes (which parameters hold a layer's
units is not known), so weights per unit and :meth:`Recording.model` belong to unitscope's
own models; :meth:`Recording.modules` rebuilds torch members with a factory the caller names.

On disk a recording is a folder with ``recording.safetensors`` (tensors) and ``meta.json``
(format version, metadata and the sha256 of the tensor file). Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import UnitscopeError, unknown_name
from .._files import file_mode, folder_mode, write_error
from .._paths import clean_stale_temps, refuse_link, temp_prefix
from ._meta import RecordingMeta, check_same_probe
from ._validate import CorruptRecording, check_header, check_loaded

FORMAT = "unitscope.recording"
FORMAT_VERSION = 1
TENSORS = "recording.safetensors"
META = "meta.json"


@dataclass
class Recording:
    """Snapshots of K members over training; see the module docstring for the fields."""

    steps: np.ndarray
    params: dict[str, np.ndarray]
    acts: dict[str, np.ndarray]
    curves: dict[str, np.ndarray]
    curve_steps: np.ndarray
    probe_x: np.ndarray
    probe_y: np.ndarray
    diverged: np.ndarray
    meta: RecordingMeta
    maps: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.meta, Mapping):  # the JSON object of meta.json
            self.meta = RecordingMeta.from_json(dict(self.meta))
        if not isinstance(self.meta, RecordingMeta):
            raise UnitscopeError(
                f"`meta` must be a RecordingMeta (or its JSON object), got "
                f"{type(self.meta).__name__}."
            )

    # ---- what it holds -------------------------------------------------------------------
    @property
    def members(self) -> int:
        """Number of members K."""
        return int(self.diverged.shape[0])

    @property
    def layers(self) -> list[str]:
        """Studied layers, input to output."""
        return list(self.meta.layers)

    @property
    def probe_hash(self) -> str:
        return self.meta.probe_hash

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.meta.config)

    @property
    def is_torch(self) -> bool:
        """Whether this records the user's own torch networks (:meth:`from_models`)."""
        return self.meta.is_torch

    def check_same_probe(self, other: Recording) -> None:
        """Raise unless ``other`` was recorded on the same probe set: units of two
        recordings are compared only on the same inputs."""
        check_same_probe(self, other)

    def check_layer(self, layer: str) -> str:
        if layer not in self.acts:
            raise unknown_name("layer", layer, self.layers)
        return layer

    def _unit_weights(self, layer: str) -> str:
        layer = self.check_layer(layer)
        if self.is_torch:
            raise UnitscopeError(
                f"this recording of a torch model does not know which parameters hold the units "
                f"of {layer!r}; read its state_dicts in `params` (or rebuild the members with "
                "rec.modules(factory))."
            )
        return layer

    def activations(self, layer: str) -> np.ndarray:
        """(T, K, n_probe, n_units) activations of ``layer`` on the probe set."""
        return self.acts[self.check_layer(layer)]

    def weights(self, layer: str) -> np.ndarray:
        """(T, K, n_units, fan_in) incoming weights of ``layer`` (conv: flattened filters)."""
        w = self.params[f"{self._unit_weights(layer)}.weight"]
        return w.reshape(*w.shape[:3], -1)

    def bias(self, layer: str) -> np.ndarray | None:
        """(T, K, n_units) biases of ``layer``, or None when the model has no biases."""
        return self.params.get(f"{self._unit_weights(layer)}.bias")

    def outgoing(self, layer: str) -> np.ndarray:
        """(T, K, n_units, fan_out) weights that read each unit (conv->dense: blocks flattened)."""
        place = self.meta.unit_axes[self._unit_weights(layer)].outgoing[0]
        name, axis, block = place.param, place.axis, place.block
        w = self.params[name]  # (T, K, out, in, ...)
        w = np.moveaxis(w, axis + 1, 2)  # (T, K, in, out, ...)
        T, K = w.shape[:2]
        return w.reshape(T, K, -1, block, *w.shape[3:]).reshape(T, K, w.shape[2] // block, -1)

    def step_index(self, step: int) -> int:
        """Index t of checkpoint ``step``; negative steps count checkpoints from the end.

        As in Python, -1 is the last checkpoint and -T the first; anything else that is not
        a recorded step is refused (never wrapped).

        Raises:
            UnitscopeError: ``step`` is not a recorded step nor in -T..-1.
        """
        T, recorded = len(self.steps), self.steps.tolist()
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise UnitscopeError(f"a step must be an integer, got {step!r}.")
        if step < 0:
            if step < -T:
                raise UnitscopeError(
                    f"step {step} is out of range: this recording has {T} checkpoints, so a "
                    f"negative step must be in -{T}..-1 (-1 is the last); or give a recorded "
                    f"step: {recorded}."
                )
            return T + int(step)
        hits = np.flatnonzero(self.steps == step)
        if not len(hits):
            raise UnitscopeError(f"step {step} is not a checkpoint; checkpoints: {recorded}.")
        return int(hits[0])

    def model(self, step: int = -1, members: list[int] | None = None):
        """Rebuild the model (all members, or the chosen ones) at checkpoint ``step``."""
        import torch

        from ..models import build

        if self.is_torch:
            raise UnitscopeError(
                "this recording holds a torch model, which unitscope cannot build by itself; "
                "rebuild its members with rec.modules('pkg.module:factory', step)."
            )
        t = self.step_index(step)
        index = list(range(self.members)) if members is None else list(members)
        net = build(self.meta.model_spec, members=len(index))
        net.to(torch.float64 if self.meta.dtype == "float64" else torch.float32)
        return net.load_params(
            {n: torch.from_numpy(np.ascontiguousarray(v[t][index])) for n, v in self.params.items()}
        )

    def modules(self, factory: Any, step: int = -1, members: list[int] | None = None) -> list:
        """The torch members at checkpoint ``step``, each built by ``factory`` and loaded with
        its recorded state_dict.

        Args:
            factory: a callable returning a new ``nn.Module``, or ``"pkg.module:factory"``
                (imported now: name only your own code; a recording's stored factory name is
                never imported on its own).
            step: the checkpoint (negative counts from the end).
            members: which members (default all).
        """
        from ._load import build, load_into

        if not self.is_torch:
            raise UnitscopeError("rec.modules is for torch recordings; use rec.model(step).")
        if not self.params:
            raise UnitscopeError(
                "this recording kept no weights (from_models(..., keep_weights=False)); record "
                "again with them to rebuild its members."
            )
        import torch

        t = self.step_index(step)
        index = list(range(self.members)) if members is None else [int(k) for k in members]
        if not index or any(k < 0 or k >= self.members for k in index):
            raise UnitscopeError(f"`members` must be indices in [0, {self.members}), got {index}.")
        nets = []
        for k in index:
            # np.array keeps a 0-d buffer 0-d (ascontiguousarray would make it 1-d)
            state = {n: torch.from_numpy(np.array(v[t, k])) for n, v in self.params.items()}
            nets.append(load_into(build(factory), state, f"member {k} at step {self.steps[t]}"))
        return nets

    @classmethod
    def from_models(
        cls,
        models: Any,
        probe: Any,
        layers: str | list[str],
        *,
        checkpoints: Any = None,
        steps: Any = None,
        layout: Any = None,
        factory: Any = None,
        name: str = "probe set",
        keep_weights: bool = True,
    ) -> Recording:
        """A recording of your own torch networks: K members, T checkpoints each.

        Args:
            models: one ``nn.Module`` per member (same architecture), or one module (K=1).
            probe: ``(inputs, targets)`` (arrays or tensors): integer labels (n,) for
                classification, floats for regression. Activations are recorded on them.
            layers: module names, e.g. ``["layer1", "layer2.0.relu#1", "fc"]`` (``#k``: one
                call of a module that runs several times per forward pass).
            checkpoints: per member, the list of its T checkpoints: state_dicts, or files
                read with ``torch.load(..., weights_only=True)`` / safetensors (pickles of
                other objects are refused). Default: the models as they are (T=1).
            steps: the T checkpoint steps (increasing). Default 1..T: no checkpoint is taken
                for the network before training, which the untrained baselines and controls
                read from step 0 — number that checkpoint 0 yourself (``steps=[0, 500, ...]``).
            layout: layout of layers with positions (``"NCHW"``, ``"NTD"``, ...; a string or a
                dict layer → layout); such layers are stored as the per-unit mean over their
                positions. Never guessed.
            factory: how the members are rebuilt, ``"pkg.module:factory"`` (recorded in
                ``model_spec``; :meth:`modules` builds with it when the caller names it).
            name: a name for the probe set (the dataset name in reports).
            keep_weights: store each checkpoint's state_dict (needed to rebuild members).

        Returns:
            A :class:`Recording` of model kind ``"torch"``: ``save``/``load``, ``unitscope
            report``, ``compare`` and ``match`` work on it.

        Example:
            >>> import torch
            >>> nets = [torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(),
            ...                             torch.nn.Linear(6, 3)) for _ in range(2)]
            >>> probe = (torch.randn(32, 4), torch.randint(0, 3, (32,)))
            >>> rec = Recording.from_models(nets, probe, ["1"])
            >>> rec.activations("1").shape, rec.members, sorted(rec.curves)
            ((1, 2, 32, 6), 2, ['probe_acc', 'probe_loss'])
        """
        from ._from_models import from_models

        return from_models(
            models,
            probe,
            layers,
            checkpoints=checkpoints,
            steps=steps,
            layout=layout,
            factory=factory,
            name=name,
            keep_weights=keep_weights,
        )

    def summary(self) -> dict[str, Any]:
        """A short JSON-able description (what ``unitscope info`` prints)."""
        final = {k: v[:, -1].tolist() for k, v in self.curves.items()}
        return {
            "format": f"{FORMAT}/{FORMAT_VERSION}",
            "members": self.members,
            "dataset": self.meta.dataset.to_json(),
            "model": self.meta.model_spec,
            "layers": {n: int(self.acts[n].shape[-1]) for n in self.layers},
            "checkpoints": self.steps.tolist(),
            "n_probe": int(self.probe_x.shape[0]),
            "probe_hash": self.probe_hash,
            "seeds": self.meta.seeds,
            "final": final,
            "diverged": self.diverged.tolist(),
            "elapsed_s": self.meta.elapsed_s,
        }

    def select(self, members: list[int]) -> Recording:
        """A recording of only the chosen members, in the given order.

        Every array with a member axis is indexed along it; the probe set and steps are
        shared. The seeds in the metadata and in the config are cut the same way, so the
        result is what ``fit`` records for those members alone.

        Example:
            >>> from unitscope.train import Config, fit
            >>> rec = fit(Config.from_dict({"train": {"steps": 5}, "seeds": {"init": [7, 8, 9]}}))
            >>> one = rec.select([1])
            >>> one.members, one.meta.seeds["init"], one.config["seeds"]["init"]
            (1, [8], [8])
        """
        index = [int(k) for k in members]
        if not index or any(k < 0 or k >= self.members for k in index):
            raise UnitscopeError(f"`members` must be indices in [0, {self.members}), got {index}.")

        def take(arrays: dict[str, np.ndarray], axis: int) -> dict[str, np.ndarray]:
            return {k: np.take(v, index, axis=axis) for k, v in arrays.items()}

        return Recording(
            steps=self.steps.copy(),
            params=take(self.params, 1),
            acts=take(self.acts, 1),
            curves=take(self.curves, 0),
            curve_steps=self.curve_steps.copy(),
            probe_x=self.probe_x.copy(),
            probe_y=self.probe_y.copy(),
            diverged=np.take(self.diverged, index, axis=0),
            meta=self.meta.select(index),
            maps=take(self.maps, 1),
        )

    # ---- equality (for determinism checks) ------------------------------------------------
    def identical(self, other: Recording) -> bool:
        """Same tensors bit for bit and same metadata (timings aside)."""
        mine, theirs = self._flat(), other._flat()
        if mine.keys() != theirs.keys():
            return False
        if any(not np.array_equal(mine[k], theirs[k], equal_nan=True) for k in mine):
            return False
        return replace(self.meta, elapsed_s=None) == replace(other.meta, elapsed_s=None)

    def _flat(self) -> dict[str, np.ndarray]:
        out = {
            "steps": self.steps,
            "curve_steps": self.curve_steps,
            "probe/x": self.probe_x,
            "probe/y": self.probe_y,
            "diverged": self.diverged,
        }
        for prefix, group in (
            ("params", self.params),
            ("acts", self.acts),
            ("maps", self.maps),
            ("curves", self.curves),
        ):
            out.update({f"{prefix}/{k}": v for k, v in group.items()})
        return out

    # ---- files --------------------------------------------------------------------------
    @staticmethod
    def check_destination(folder: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Refuse, before any work, a place :meth:`save` must not write.

        ``folder`` must not exist, or (with ``overwrite``) be an empty folder or a recording
        folder; it must never be a symbolic link (the link's target would be replaced).

        Raises:
            UnitscopeError: ``folder`` is a link, a file, a folder that holds something other
                than a recording, or exists while ``overwrite`` is False.
        """
        folder = refuse_link(folder, "remove the link or choose another folder")
        if not folder.exists():
            return folder
        if not overwrite:
            raise UnitscopeError(
                f"{str(folder)!r} already exists; choose another folder or pass "
                "overwrite=True (--force in the CLI)."
            )
        if not folder.is_dir():
            raise UnitscopeError(
                f"{str(folder)!r} is a file, and a recording is a folder; remove the file or "
                "choose another folder."
            )
        if any(folder.iterdir()) and not (folder / META).is_file():
            raise UnitscopeError(
                f"{str(folder)!r} holds files but no recording ({META}); unitscope replaces "
                "only recordings: choose another folder."
            )
        return folder

    def save(self, folder: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the folder atomically: a temporary sibling is filled, then renamed.

        An existing recording (``overwrite=True``) is moved aside, the new one renamed in, and
        only then is the old one deleted. Temporaries that a killed save left beside
        ``folder`` are removed first.
        """
        from safetensors import SafetensorError
        from safetensors.numpy import save_file

        folder = self.check_destination(folder, overwrite=overwrite)
        tensors = {k: np.ascontiguousarray(v) for k, v in self._flat().items()}
        recorded = self.meta.to_json()
        self._check_consistent(tensors, recorded, folder)
        parent = folder.parent if str(folder.parent) else Path(".")
        try:
            parent.mkdir(parents=True, exist_ok=True)
            clean_stale_temps(parent, folder.name)
            tmp = Path(tempfile.mkdtemp(dir=parent, prefix=temp_prefix(folder.name), suffix=".tmp"))
            os.chmod(tmp, folder_mode())
        except OSError as err:
            raise UnitscopeError(f"cannot write to {str(parent)!r}: {err.strerror}.") from None
        try:
            save_file(tensors, str(tmp / TENSORS))
            os.chmod(tmp / TENSORS, file_mode())  # safetensors writes 0600
            meta = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "tensors_sha256": _sha256(tmp / TENSORS),
                **recorded,
            }
            (tmp / META).write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
            _swap_in(tmp, self.check_destination(folder, overwrite=overwrite))
        except (OSError, SafetensorError) as err:  # a full disk, a read-only file system
            shutil.rmtree(tmp, ignore_errors=True)
            raise write_error(folder, err) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder

    @staticmethod
    def _check_consistent(
        tensors: dict[str, np.ndarray], recorded: dict[str, Any], folder: Path
    ) -> None:
        """Refuse to save what :meth:`load` would refuse (a tensor replaced or reshaped after
        recording), before anything is written."""
        try:
            check_loaded(tensors, json.loads(json.dumps(recorded)), "the recording")  # as read
        except CorruptRecording as err:
            raise UnitscopeError(
                f"not saved to {str(folder)!r}: the recording is corrupt: {err.what} (was a "
                "tensor of the recording replaced or reshaped?); nothing was written."
            ) from None

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> Recording:
        """Read a recording folder; refuse unknown formats and tampered or truncated files."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        folder = Path(folder)
        meta_file, tensor_file = folder / META, folder / TENSORS
        if not folder.is_dir() or not meta_file.is_file() or not tensor_file.is_file():
            raise UnitscopeError(
                f"{str(folder)!r} is not a recording folder (it needs {META} and "
                f"{TENSORS}); create one with `unitscope train`."
            )
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise UnitscopeError(
                f"{str(meta_file)!r} is not valid JSON ({err}); the recording is corrupt."
            ) from None
        check_header(meta, repr(str(meta_file)), fmt=FORMAT, version=FORMAT_VERSION)
        if _sha256(tensor_file) != meta["tensors_sha256"]:
            raise UnitscopeError(
                f"{str(tensor_file)!r} does not match the checksum in {META}: "
                "the file was truncated or modified; re-record it."
            )
        try:
            flat = load_file(str(tensor_file))
        except (SafetensorError, OSError) as err:
            raise UnitscopeError(f"{str(tensor_file)!r} cannot be read: {err}.") from None
        for key in ("format", "format_version", "tensors_sha256"):
            meta.pop(key)
        check_loaded(flat, meta, f"recording {str(folder)!r}")

        def group(prefix: str) -> dict[str, np.ndarray]:
            return {k[len(prefix) + 1 :]: v for k, v in flat.items() if k.startswith(prefix + "/")}

        return cls(
            steps=flat["steps"],
            params=group("params"),
            acts=group("acts"),
            curves=group("curves"),
            curve_steps=flat["curve_steps"],
            probe_x=flat["probe/x"],
            probe_y=flat["probe/y"],
            diverged=flat["diverged"],
            meta=RecordingMeta.from_json(meta),
            maps=group("maps"),
        )


def _swap_in(new: Path, folder: Path) -> None:
    """Rename ``new`` to ``folder``; an old ``folder`` is set aside first, deleted last."""
    if not folder.exists():
        os.replace(new, folder)
        return
    aside = folder.with_name(f"{temp_prefix(folder.name)}{os.urandom(4).hex()}.tmp")
    os.rename(folder, aside)
    try:
        os.replace(new, folder)
    except BaseException:
        os.rename(aside, folder)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
