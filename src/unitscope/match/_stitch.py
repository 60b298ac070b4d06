"""Model stitching: can network B use the units of network A?

Layer i of A is connected into layer j of B through a fitted map (see
:mod:`~unitscope.match._stitch_maps`): the stitched network is A up to layer i, the map, then
B after layer j (Lenc & Vedaldi, 2015; Bansal et al., 2021, "Revisiting model stitching";
Csiszárik et al., 2021). Its **stitching penalty** is how much worse it does than B itself:
B's accuracy minus the stitched accuracy (in percentage points), and the stitched loss minus
B's loss, on every split. The maps are fitted on the training split.

Controls are built in, because a low penalty alone says little:

* ``self``: A into A (every layer pair of A); the diagonal must cost ≈ 0;
* ``input``: the raw input x as the source "layer"; when it stitches within ``margin`` points
  of A's trained layer, stitching cannot tell A's units from no units at all;
* ``untrained``: A before training (step 0) as the source.

A stitched network can reach a low loss with activations unlike anything B produces
(Balogh & Jelasity, 2025), so every cell also reports an out-of-distribution score: the mean
Mahalanobis distance of the stitched activations (on the evaluation split) from B's own
activations at layer j (mean and covariance on the training split), next to the same distance
for B's own held-out activations; their ratio is ≈ 1 for activations B could have produced.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._errors import UnitscopeError, unknown_name
from ..record import Recording
from ..train._fit import SMALL_STEP, cpu_threads
from ._compare import recording_data
from ._interpolate import as_splits
from ._stitch_body import INPUT, MLPBody
from ._stitch_maps import FITS, check_rank, parse_fit
from ._stitch_module import ModuleBody
from ._stitch_run import Runner, StitchEntry

CONTROLS = ("self", "input", "untrained")
SOURCES = ("trained", *CONTROLS)
DEFAULT_FITS = ("direct", "task", "permutation")


@dataclass(frozen=True)
class Stitching:
    """Every stitched network of one pair of runs, with its controls.

    Attributes:
        layers_a, layers_b: A's source layers (rows) and B's target layers (columns).
        fits: the fit specs, in the order given.
        sources: ``trained`` plus the controls that were run.
        fit_split, eval_split: the split the maps are fitted on, and the one the OOD score
            and the discrimination flag use.
        target: B's own ``{split}_loss`` / ``{split}_acc``; ``self_target``: A's own.
        entries: one :class:`StitchEntry` per source, fit and layer pair.
        margin: accuracy points within which the raw input "stitches as well" as A.
        notes: what was left out and why (e.g. no step-0 checkpoint for ``untrained``).
        seconds: wall time.
        members, step: for recordings, member i of A into member j of B, at this checkpoint.
    """

    layers_a: list[str]
    layers_b: list[str]
    fits: list[str]
    sources: list[str]
    fit_split: str
    eval_split: str
    target: dict[str, float]
    self_target: dict[str, float]
    entries: list[StitchEntry]
    margin: float = 2.0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    members: tuple[int, int] | None = None
    step: int | None = None

    def rows(self, source: str) -> list[str]:
        """Source layers of ``source``'s matrix."""
        return [INPUT] if source == "input" else list(self.layers_a)

    def cols(self, source: str) -> list[str]:
        """Target layers of ``source``'s matrix (A's own layers for ``self``)."""
        return list(self.layers_a) if source == "self" else list(self.layers_b)

    def entry(self, source: str, fit: str, layer_a: str, layer_b: str) -> StitchEntry:
        for e in self.entries:
            if (e.source, e.fit, e.layer_a, e.layer_b) == (source, fit, layer_a, layer_b):
                return e
        raise UnitscopeError(
            f"no stitched network {source}/{fit} {layer_a} -> {layer_b}; sources "
            f"{self.sources}, fits {self.fits}."
        )

    def matrix(
        self, fit: str = "direct", source: str = "trained", metric: str = "acc", split: str = ""
    ) -> np.ndarray:
        """(rows, cols) penalties of ``source`` with ``fit`` on ``split`` (default: eval)."""
        if source not in self.sources:
            raise unknown_name("stitching source", source, self.sources)
        if fit not in self.fits:
            raise unknown_name("stitching fit", fit, self.fits)
        key = f"{split or self.eval_split}_{metric}"
        return np.array(
            [
                [
                    self.entry(source, fit, r, c).penalty.get(key, math.nan)
                    for c in self.cols(source)
                ]
                for r in self.rows(source)
            ]
        )

    def cannot_discriminate(self, fit: str) -> np.ndarray | None:
        """(La, Lb) bool: the raw input stitches into layer j within ``margin`` accuracy points
        of A's layer i (or better). None without accuracy or without the input control."""
        if "input" not in self.sources or f"{self.eval_split}_acc" not in self.target:
            return None
        trained, raw = self.matrix(fit, "trained"), self.matrix(fit, "input")  # (La, Lb), (1, Lb)
        return (raw - trained) <= self.margin

    def flags(self) -> list[str]:
        """One line per fit where stitching cannot tell A's units from the raw input."""
        out = []
        for fit in self.fits:
            bad = self.cannot_discriminate(fit)
            if bad is None or not bad.any():
                continue
            cells = ", ".join(
                f"{self.layers_a[i]}->{self.layers_b[j]}" for i, j in zip(*np.nonzero(bad))
            )
            out.append(
                f"{fit}: stitching cannot discriminate here ({cells}): the raw input stitches "
                f"within {self.margin:g} points of A's trained layer."
            )
        return out

    def summary(self) -> dict[str, Any]:
        """Everything as plain Python values (what ``unitscope stitch --json`` prints)."""
        matrices: dict[str, Any] = {}
        for source in self.sources:
            matrices[source] = {
                fit: {
                    "rows": self.rows(source),
                    "cols": self.cols(source),
                    "acc_points": self.matrix(fit, source, "acc").tolist(),
                    "loss": self.matrix(fit, source, "loss").tolist(),
                }
                for fit in self.fits
            }
        flags = {}
        for fit in self.fits:
            bad = self.cannot_discriminate(fit)
            flags[fit] = None if bad is None else bad.tolist()
        return {
            "members": None if self.members is None else list(self.members),
            "step": self.step,
            "layers_a": self.layers_a,
            "layers_b": self.layers_b,
            "fits": self.fits,
            "sources": self.sources,
            "fit_split": self.fit_split,
            "eval_split": self.eval_split,
            "target": self.target,
            "self_target": self.self_target,
            "penalty": matrices,
            "cannot_discriminate": flags,
            "flags": self.flags(),
            "notes": self.notes,
            "seconds": self.seconds,
            "entries": [e.summary() for e in self.entries],
        }


def stitch(
    model_a: Any,
    model_b: Any,
    data: Any,
    *,
    layers_a: Sequence[str] | None = None,
    layers_b: Sequence[str] | None = None,
    fits: Sequence[str] = DEFAULT_FITS,
    controls: Sequence[str] = CONTROLS,
    untrained: Any = None,
    loss: str = "auto",
    task_steps: int = 100,
    task_lr: float = 0.1,
    margin: float = 2.0,
    layout: Any = None,
) -> Stitching:
    """Stitch every layer of A into every layer of B with every fit, plus the controls.

    Args:
        model_a, model_b: one-member unitscope MLPs (``model.select([k])``, or
            ``recording.model(step, members=[k])``), or any torch ``nn.Module`` returning
            (n, n_outputs), with the same inputs and outputs.
        data: ``{"train": (x, y), "test": (x, y)}`` or Datasets; maps are fitted on
            ``train`` (else the first split), OOD scores and flags use ``test`` (else the last).
        layers_a, layers_b: layer names (default for an MLP: every studied layer; a torch
            module needs them: module names such as ``"layer2"``, ``"relu#1"`` for a reused
            module's second call). Stitching into a layer replaces that module's output; the
            rest of B runs as usual (a residual branch that skips it keeps B's own values).
        layout: for torch modules whose layers output maps or tokens: ``"NCHW"``, ``"NHWC"``,
            ``"NTD"``, ... (a string for every such layer with that many axes, or a dict
            layer → layout; key ``"input"`` stitches the raw input position by position).
            Such layers are stitched at every position (a 1×1 convolution); never guessed.
        fits: any of ``direct``, ``task``, ``permutation``, ``orthogonal``, ``lowrank:k``.
        controls: any of ``self``, ``input``, ``untrained``.
        untrained: A before training, needed by the ``untrained`` control.
        loss: ``auto`` (cross-entropy for labels, MSE for targets), ``cross_entropy``, ``mse``.
        task_steps, task_lr: full-batch gradient steps of the ``task`` fit and their learning
            rate (in standardized units).
        margin: accuracy points of the "cannot discriminate" flag.

    Returns:
        A :class:`Stitching`.

    Example:
        >>> import torch
        >>> from unitscope.models import MLP
        >>> net = MLP(4, [6, 6], 3)
        >>> _ = [torch.nn.init.normal_(p) for p in net.parameters()]
        >>> x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
        >>> s = stitch(net, net, {"train": (x, y), "test": (x, y)}, fits=["permutation"],
        ...            controls=["self"])
        >>> s.entry("trained", "permutation", "hidden.1", "hidden.1").map.perm.tolist()
        [0, 1, 2, 3, 4, 5]
        >>> s.matrix("permutation", "self").diagonal().tolist()  # A into A costs nothing
        [0.0, 0.0]
    """
    start = time.perf_counter()
    a, b = _body(model_a, "model_a", layout), _body(model_b, "model_b", layout)
    rows, cols = a.check_layers(layers_a, "A"), b.check_layers(layers_b, "B")
    specs = _check_fits(fits)
    chosen = _check_controls(controls)
    if "untrained" in chosen and untrained is None:
        raise UnitscopeError(
            "the 'untrained' control needs A before training: pass `untrained=` (e.g. "
            "recording.model(0, members=[k])) or leave 'untrained' out of `controls`."
        )
    splits = as_splits(data, b.dtype, b.device)
    _check_io(a, b, splits)
    fit_split = "train" if "train" in splits else next(iter(splits))
    eval_split = "test" if "test" in splits else list(splits)[-1]
    bodies: dict[str, Any] = {"a": a, "b": b}
    if "untrained" in chosen:
        bodies["u"] = _body(untrained, "untrained", layout)
        bodies["u"].check_layers(rows, "A")
    acts = {
        k: {s: body.activations(x) for s, (x, _) in splits.items()} for k, body in bodies.items()
    }
    jobs = _jobs(chosen, rows, cols)
    _check_ranks(specs, jobs, acts, fit_split)
    run = Runner(bodies, acts, splits, fit_split, eval_split, loss, task_steps, task_lr)
    width = max(t.shape[1] for layers in acts["a"].values() for t in layers.values())
    small = splits[fit_split][0].shape[0] * width * width < SMALL_STEP
    with cpu_threads(1 if small else torch.get_num_threads()):  # small: threads cost more
        entries = [
            run.entry(source, src, tgt, spec, la, lb)
            for source, src, tgt, pairs in jobs
            for spec in specs
            for la, lb in pairs
        ]
    return Stitching(
        layers_a=rows,
        layers_b=cols,
        fits=[s for s, _, _ in specs],
        sources=["trained", *chosen],
        fit_split=fit_split,
        eval_split=eval_split,
        target=run.own("b"),
        self_target=run.own("a"),
        entries=entries,
        margin=float(margin),
        seconds=time.perf_counter() - start,
    )


Job = tuple[str, str, str, list[tuple[str, str]]]  # source, source body, target body, pairs


def _jobs(controls: list[str], rows: list[str], cols: list[str]) -> list[Job]:
    grid = [(i, j) for i in rows for j in cols]
    jobs: list[Job] = [("trained", "a", "b", grid)]
    if "self" in controls:
        jobs.append(("self", "a", "a", [(i, j) for i in rows for j in rows]))
    if "input" in controls:
        jobs.append(("input", "a", "b", [(INPUT, j) for j in cols]))
    if "untrained" in controls:
        jobs.append(("untrained", "u", "b", grid))
    return jobs


def _check_fits(fits: Sequence[str]) -> list[tuple[str, str, int | None]]:
    names = [fits] if isinstance(fits, str) else list(fits)
    if not names:
        raise UnitscopeError(f"`fits` is empty; choose from {', '.join(FITS)}.")
    if len(set(names)) != len(names):
        raise UnitscopeError(f"`fits` names a fit twice: {names}.")
    return [(spec, *parse_fit(spec)) for spec in names]


def _check_controls(controls: Sequence[str]) -> list[str]:
    names = [controls] if isinstance(controls, str) else list(controls)
    for name in names:
        if name not in CONTROLS:
            raise unknown_name("stitching control", name, CONTROLS)
    return [c for c in CONTROLS if c in names]


def _body(net: Any, name: str, layout: Any) -> MLPBody | ModuleBody:
    """unitscope's MLP runs directly; any other torch module through hooks."""
    from ..models import MLP, UnitModel

    if isinstance(net, MLP) or not isinstance(net, torch.nn.Module):
        return MLPBody(net, name)
    if isinstance(net, UnitModel):
        raise UnitscopeError(
            f"`{name}` must be a unitscope MLP or a plain torch module for stitching, got "
            f"unitscope's {net.spec['kind']!r} model, which stitching does not take yet."
        )
    return ModuleBody(net, name, layout)


def _check_io(a: Any, b: Any, splits: dict[str, tuple[Tensor, ...]]) -> None:
    if not (isinstance(a, MLPBody) and isinstance(b, MLPBody)):
        x = next(iter(splits.values()))[0][:2]
        shape_a, shape_b = tuple(a.outputs(x).shape), tuple(b.outputs(x).shape)
        if shape_a != shape_b:
            raise UnitscopeError(
                f"A and B must give outputs of the same shape to be stitched, got {shape_a} "
                f"and {shape_b} on two samples."
            )
        return
    sa, sb = a.net.spec, b.net.spec
    if (sa["in_features"], sa["out_features"]) != (sb["in_features"], sb["out_features"]):
        raise UnitscopeError(
            f"A and B must read the same inputs and give the same outputs to be stitched, got "
            f"{sa['in_features']}->{sa['out_features']} and {sb['in_features']}->"
            f"{sb['out_features']}."
        )
    for name, (x, _) in splits.items():
        if x[0].numel() != sa["in_features"]:
            raise UnitscopeError(
                f"data split {name!r} has inputs of {x[0].numel()} values; the models read "
                f"{sa['in_features']}."
            )


def _check_ranks(specs, jobs: list[Job], acts, split: str) -> None:
    _, src, tgt, pairs = jobs[0]  # A's trained layers into B's
    limit = max(min(acts[src][split][a].shape[1], acts[tgt][split][b].shape[1]) for a, b in pairs)
    for spec, name, rank in specs:
        if name == "lowrank":
            check_rank(spec, int(rank or 0), limit)


def stitch_recordings(
    rec_a: Recording,
    rec_b: Recording | None = None,
    *,
    members: tuple[int, int] | None = None,
    step: int = -1,
    controls: Sequence[str] = CONTROLS,
    data: Any = None,
    **kwargs: Any,
) -> Stitching:
    """:func:`stitch` member i of recording A into member j of B at checkpoint ``step``.

    Args:
        rec_a, rec_b: recordings on the same data (same probe set); without ``rec_b``, B is
            another member of ``rec_a``.
        members: ``(i, j)``; default ``(0, 1)`` for one recording, ``(0, 0)`` for two.
        step: the checkpoint of both (negative counts from the end).
        controls: as in :func:`stitch`; ``untrained`` uses A's member i at step 0 and is
            left out (with a note) when step 0 was not recorded.
        data: splits to use instead of the recording's train and test data.
        **kwargs: the other arguments of :func:`stitch` (``fits``, ``layers_a``, ...).
    """
    other = rec_a if rec_b is None else rec_b
    if rec_b is not None:
        rec_a.check_same_probe(rec_b)
    i, j = (0, 1 if rec_b is None else 0) if members is None else members
    for index, rec, side in ((i, rec_a, "A"), (j, other, "B")):
        if not 0 <= int(index) < rec.members:
            raise UnitscopeError(
                f"member {index} of {side} does not exist: it has {rec.members} member(s), "
                "indexed from 0."
            )
    if rec_b is None and rec_a.members < 2 and members is None:
        raise UnitscopeError(
            "the recording holds 1 member; stitching needs two networks (train with a seed "
            "list such as seeds.init=[0,1]), a second recording, or members=(0, 0) for A into A."
        )
    step_value = int(rec_a.steps[rec_a.step_index(step)])
    _check_fits(kwargs.get("fits", DEFAULT_FITS))  # fail before the data are loaded
    for key, rec, side in (("layers_a", rec_a, "A"), ("layers_b", other, "B")):
        for layer in kwargs.get(key) or []:
            if layer not in rec.layers:
                raise unknown_name(f"layer of {side}", layer, rec.layers)
    chosen, notes = _check_controls(controls), []
    untrained = None
    if "untrained" in chosen:
        if int(rec_a.steps[0]) == 0:
            untrained = rec_a.model(0, members=[int(i)])
        else:
            chosen.remove("untrained")
            notes.append(
                f"the untrained control was left out: the first checkpoint is step "
                f"{int(rec_a.steps[0])}, not 0."
            )
    if data is None:
        data = recording_data(rec_a)
    kwargs.setdefault("loss", rec_a.config["train"]["loss"])
    result = stitch(
        rec_a.model(step_value, members=[int(i)]),
        other.model(step_value, members=[int(j)]),
        data,
        controls=chosen,
        untrained=untrained,
        **kwargs,
    )
    return replace(result, notes=notes, members=(int(i), int(j)), step=step_value)
