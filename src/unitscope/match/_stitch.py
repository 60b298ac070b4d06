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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._errors import UnitscopeError, unknown_name
from ..record import Recording
from ..record._load import resolve_factory
from ..train._fit import SMALL_STEP, cpu_threads
from ._compare import recording_data
from ._compare_torch import check_torch_pair
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
    nets = {"a": (model_a, "model_a"), "b": (model_b, "model_b")}
    [result] = _stitch_pairs(
        nets,
        {"a": (untrained, "untrained")},
        [("a", "b")],
        data,
        layers_a=layers_a,
        layers_b=layers_b,
        fits=fits,
        controls=controls,
        loss=loss,
        task_steps=task_steps,
        task_lr=task_lr,
        margin=margin,
        layout=layout,
    )
    return result


def _stitch_pairs(
    nets: Mapping[str, tuple[Any, str]],
    untrained: Mapping[str, tuple[Any, str]],
    pairs: Sequence[tuple[str, str]],
    data: Any,
    *,
    layers_a: Sequence[str] | None = None,
    layers_b: Sequence[str] | None = None,
    fits: Sequence[str] = DEFAULT_FITS,
    controls: Sequence[str] = CONTROLS,
    loss: str = "auto",
    task_steps: int = 100,
    task_lr: float = 0.1,
    margin: float = 2.0,
    layout: Any = None,
    shared_input: bool = False,
) -> list[Stitching]:
    """:func:`stitch` for every pair ``(a, b)`` of keys of ``nets`` (key -> (network, its name
    in messages)), each network built and run once for all its pairs; ``untrained[a]`` is A's
    step-0 network. ``shared_input``: every network reads the same raw input (members of one
    recording), so the raw-input control is fitted once per B. The networks share one dtype
    and device (the first B's). ``seconds``: each pair's own work plus its share of the rest.
    """
    start = time.perf_counter()
    bodies = {key: _body(net, name, layout) for key, (net, name) in nets.items()}
    grids = [
        (a, b, bodies[a].check_layers(layers_a, "A"), bodies[b].check_layers(layers_b, "B"))
        for a, b in pairs
    ]
    specs = _check_fits(fits)
    chosen = _check_controls(controls)
    sources = list(dict.fromkeys(a for a, _ in pairs))
    if "untrained" in chosen and any(untrained.get(a, (None, ""))[0] is None for a in sources):
        raise UnitscopeError(
            "the 'untrained' control needs A before training: pass `untrained=` (e.g. "
            "recording.model(0, members=[k])) or leave 'untrained' out of `controls`."
        )
    first = bodies[pairs[0][1]]
    splits = as_splits(data, first.dtype, first.device)
    for a, b, _, _ in grids:
        _check_io(bodies[a], bodies[b], splits)
    fit_split = "train" if "train" in splits else next(iter(splits))
    eval_split = "test" if "test" in splits else list(splits)[-1]
    if "untrained" in chosen:
        for a, _, rows, _ in grids:
            if f"{a}@0" not in bodies:
                net, name = untrained[a]
                bodies[f"{a}@0"] = _body(net, name, layout)
            bodies[f"{a}@0"].check_layers(rows, "A")
    acts = {
        k: {s: body.activations(x) for s, (x, _) in splits.items()} for k, body in bodies.items()
    }
    run = Runner(
        bodies, acts, splits, fit_split, eval_split, loss, task_steps, task_lr, shared_input
    )
    shared = (time.perf_counter() - start) / len(grids)
    out: list[Stitching] = []
    prefitted: set[str] = set()
    for a, b, rows, cols in grids:
        begin = time.perf_counter()
        jobs = _jobs(chosen, rows, cols, a, b, f"{a}@0")
        _check_ranks(specs, jobs, acts, fit_split)
        width = max(t.shape[1] for layers in acts[a].values() for t in layers.values())
        small = splits[fit_split][0].shape[0] * width * width < SMALL_STEP
        with cpu_threads(1 if small else torch.get_num_threads()):  # small: threads cost more
            if a not in prefitted:  # A's permutations into all its Bs at once
                prefitted.add(a)
                _prefit(run, chosen, specs, [g for g in grids if g[0] == a], f"{a}@0")
            entries = [
                run.entry(source, src, tgt, spec, la, lb)
                for source, src, tgt, grid in jobs
                for spec in specs
                for la, lb in grid
            ]
        out.append(
            Stitching(
                layers_a=rows,
                layers_b=cols,
                fits=[s for s, _, _ in specs],
                sources=["trained", *chosen],
                fit_split=fit_split,
                eval_split=eval_split,
                target=run.own(b),
                self_target=run.own(a),
                entries=entries,
                margin=float(margin),
                seconds=shared + time.perf_counter() - begin,
            )
        )
    return out


def _prefit(run: Runner, chosen: list[str], specs, grids, u: str) -> None:
    """The permutation maps of one A (body ``a``, ``u`` before training) into every B it is
    paired with, fitted together (the raw input's are fitted once per B anyway)."""
    if len(grids) < 2:
        return
    a, rows, cols = grids[0][0], grids[0][2], grids[0][3]
    tgts = [b for _, b, _, c in grids if c == cols]
    for source, src, _, grid in _jobs(chosen, rows, cols, a, "", u):
        if source in ("trained", "untrained"):
            for spec in (s for s in specs if s[1] == "permutation"):
                for la, lb in grid:
                    run.prefit_permutations(src, tgts, spec, la, lb)


Job = tuple[str, str, str, list[tuple[str, str]]]  # source, source body, target body, pairs


def _jobs(
    controls: list[str], rows: list[str], cols: list[str], a: str, b: str, u: str
) -> list[Job]:
    """The stitches of A (body ``a``, ``u`` before training) into B (body ``b``)."""
    grid = [(i, j) for i in rows for j in cols]
    jobs: list[Job] = [("trained", a, b, grid)]
    if "self" in controls:
        jobs.append(("self", a, a, [(i, j) for i in rows for j in rows]))
    if "input" in controls:
        jobs.append(("input", a, b, [(INPUT, j) for j in cols]))
    if "untrained" in controls:
        jobs.append(("untrained", u, b, grid))
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
    factory: Any = None,
    **kwargs: Any,
) -> Stitching:
    """:func:`stitch` member i of recording A into member j of B at checkpoint ``step``.

    Args:
        rec_a, rec_b: recordings on the same data (same probe set); without ``rec_b``, B is
            another member of ``rec_a``. Two recordings of torch networks must hold the same
            class and layers (as for :func:`~unitscope.match.compare`).
        members: ``(i, j)``; default ``(0, 1)`` for one recording, ``(0, 0)`` for two.
        step: the checkpoint of both (negative counts from the end).
        controls: as in :func:`stitch`; ``untrained`` uses A's member i at step 0 and is
            left out (with a note) when step 0 was not recorded.
        data: splits to use instead of the recording's train and test data. A recording of
            your own torch networks has none: its probe set (or an ``(x, y)`` pair given
            here) is split in two halves, even rows to fit the maps and odd rows to score
            them, with a note saying so (a dict of splits is used as it is).
        factory: for a recording of your own torch networks (``Recording.from_models``),
            the function that builds one (or ``"pkg.module:factory"``); its members are
            rebuilt with ``rec.modules(factory, step, members=[i])``. Required there, refused
            for unitscope's own recordings. The layers default to the recorded ones, each
            stitched with the layout the recording holds for it (never guessed); the raw
            input control reads the inputs flattened (a recording holds no layout for them).
        **kwargs: the other arguments of :func:`stitch` (``fits``, ``layers_a``, ...).

    Example:
        >>> import torch
        >>> from unitscope.record import Recording
        >>> def make():
        ...     torch.manual_seed(0)
        ...     return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(),
        ...                                torch.nn.Linear(6, 3)).double()
        >>> x = torch.randn(40, 4, dtype=torch.float64)
        >>> rec = Recording.from_models([make()], (x, x[:, :3].argmax(1)), ["1"])
        >>> s = stitch_recordings(rec, members=(0, 0), factory=make, fits=["permutation"],
        ...                       controls=[])
        >>> s.matrix("permutation").tolist(), s.fit_split, s.eval_split  # A into A
        ([[0.0]], 'fit', 'eval')
    """
    i, j, step_value, chosen, notes = _check_recordings(
        rec_a, rec_b, members, step, controls, factory, kwargs
    )
    other = rec_a if rec_b is None else rec_b
    kwargs.setdefault("loss", rec_a.config["train"]["loss"])
    if rec_a.is_torch:
        build = resolve_factory(factory)
        for key, rec in (("layers_a", rec_a), ("layers_b", other)):
            kwargs[key] = kwargs.get(key) or rec.layers
        kwargs["layout"] = _recorded_layouts(rec_a, other, kwargs["layers_a"], kwargs["layers_b"])
        model_a = rec_a.modules(build, step_value, members=[i])[0]
        model_b = other.modules(build, step_value, members=[j])[0]
        untrained = rec_a.modules(build, 0, members=[i])[0] if "untrained" in chosen else None
        data, note = _torch_data(rec_a, data)
        notes += [note] if note else []
    else:
        model_a = rec_a.model(step_value, members=[i])
        model_b = other.model(step_value, members=[j])
        untrained = rec_a.model(0, members=[i]) if "untrained" in chosen else None
        data = recording_data(rec_a) if data is None else data
    result = stitch(model_a, model_b, data, controls=chosen, untrained=untrained, **kwargs)
    return replace(result, notes=notes, members=(i, j), step=step_value)


def stitch_pairs(
    rec: Recording,
    pairs: Sequence[tuple[int, int]],
    *,
    step: int = -1,
    controls: Sequence[str] = CONTROLS,
    data: Any = None,
    factory: Any = None,
    **kwargs: Any,
) -> list[Stitching]:
    """:func:`stitch_recordings` of member i into member j for every ``(i, j)`` in ``pairs``.

    The same numbers as ``[stitch_recordings(rec, members=p, ...) for p in pairs]``, with
    each member built and run on the data once for all its pairs, and the raw-input control
    fitted once per B. A recording of torch networks is stitched pair by pair.

    Example:
        >>> from unitscope.train import Config, fit
        >>> rec = fit(Config.from_dict({"data": {"name": "moons"}, "model": {"hidden": [6]},
        ...     "train": {"steps": 5, "checkpoints": [0, 5]}, "seeds": {"init": [0, 1, 2]}}))
        >>> shared = stitch_pairs(rec, [(0, 1), (0, 2)], fits=["direct"])
        >>> alone = stitch_recordings(rec, members=(0, 2), fits=["direct"])
        >>> shared[1].summary()["penalty"] == alone.summary()["penalty"]
        True
    """
    if rec.is_torch or not pairs:
        kwargs |= {"step": step, "controls": controls, "data": data, "factory": factory}
        return [stitch_recordings(rec, members=p, **kwargs) for p in pairs]
    checked = [_check_recordings(rec, None, p, step, controls, factory, kwargs) for p in pairs]
    step_value, chosen, notes = checked[0][2:]
    kwargs.setdefault("loss", rec.config["train"]["loss"])
    keys = sorted({k for i, j, *_ in checked for k in (i, j)})
    nets = {f"m{k}": (rec.model(step_value, members=[k]), f"member {k}") for k in keys}
    untrained = {}
    if "untrained" in chosen:
        for i in sorted({i for i, *_ in checked}):
            untrained[f"m{i}"] = (rec.model(0, members=[i]), "untrained")
    data = recording_data(rec) if data is None else data
    results = _stitch_pairs(
        nets,
        untrained,
        [(f"m{i}", f"m{j}") for i, j, *_ in checked],
        data,
        controls=chosen,
        shared_input=True,
        **kwargs,
    )
    return [
        replace(r, notes=list(notes), members=(i, j), step=step_value)
        for r, (i, j, *_) in zip(results, checked)
    ]


def _check_recordings(
    rec_a: Recording,
    rec_b: Recording | None,
    members: tuple[int, int] | None,
    step: int,
    controls: Sequence[str],
    factory: Any,
    kwargs: dict[str, Any],
) -> tuple[int, int, int, list[str], list[str]]:
    """:func:`stitch_recordings`' checks: (i, j, the step, the controls run, notes)."""
    other = rec_a if rec_b is None else rec_b
    _check_kinds(rec_a, rec_b, factory, kwargs)
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
    other.step_index(step_value)  # B recorded this checkpoint too
    _check_fits(kwargs.get("fits", DEFAULT_FITS))  # fail before the data are loaded
    for key, rec, side in (("layers_a", rec_a, "A"), ("layers_b", other, "B")):
        for layer in kwargs.get(key) or []:
            if layer not in rec.layers:
                raise unknown_name(f"layer of {side}", layer, rec.layers)
    chosen, notes = _check_controls(controls), []
    first = int(rec_a.steps[0])
    if "untrained" in chosen and first != 0:
        chosen.remove("untrained")
        notes.append(
            f"the untrained control was left out: the first checkpoint is step {first}, not 0."
        )
    return int(i), int(j), step_value, chosen, notes


def _check_kinds(
    rec_a: Recording, rec_b: Recording | None, factory: Any, kwargs: dict[str, Any]
) -> None:
    """Both recordings of one kind; a factory exactly for torch recordings; no layout."""
    if rec_b is not None:
        if rec_a.is_torch:
            check_torch_pair(rec_a, rec_b)
        elif rec_b.is_torch:
            raise UnitscopeError(
                "recording B holds a torch model and A one of unitscope's; only runs of one "
                "architecture can be stitched."
            )
        else:
            rec_a.check_same_probe(rec_b)
    if not rec_a.is_torch:
        if factory is not None:
            raise UnitscopeError(
                "`factory` is for recordings of your own torch networks; unitscope rebuilds its "
                "own models from the recording."
            )
        return
    if factory is None:
        raise UnitscopeError(
            "stitching a torch recording needs its networks: pass factory= (your "
            "'pkg.module:factory'; --model pkg.module:factory in the CLI) to rebuild them."
        )
    if kwargs.get("layout") is not None:
        raise UnitscopeError(
            "`layout` is not taken for a recording: each layer is stitched with the layout "
            "recorded for it (rec.meta.layouts)."
        )


def _recorded_layouts(
    rec_a: Recording, rec_b: Recording, layers_a: Sequence[str], layers_b: Sequence[str]
) -> dict[str, str]:
    """Layer -> the layout both recordings hold for it (one dict serves A and B)."""
    out: dict[str, str] = {}
    for rec, layers in ((rec_a, layers_a), (rec_b, layers_b)):
        known = rec.meta.layouts or {}
        for layer in [layers] if isinstance(layers, str) else layers:
            if layer not in known:
                raise UnitscopeError(
                    f"the recording holds no layout for layer {layer!r}; record it again with "
                    "Recording.from_models(..., layout=...)."
                )
            if out.setdefault(layer, known[layer]) != known[layer]:
                raise UnitscopeError(
                    f"layer {layer!r} is recorded as {out[layer]} in A and {known[layer]} in "
                    "B; stitch recordings of one architecture."
                )
    return out


def _torch_data(rec: Recording, data: Any) -> tuple[Any, str | None]:
    """A torch recording's data: a dict of splits as given; the probe set or an (x, y) pair
    split in two halves (even rows fit the maps, odd rows score them), with a note."""
    if isinstance(data, Mapping):
        return data, None
    given = data is not None
    if given and hasattr(data, "x") and hasattr(data, "y"):
        data = (data.x, data.y)
    if given and (not isinstance(data, (tuple, list)) or len(data) != 2):
        raise UnitscopeError(
            f"`data` must be an (x, y) pair or a dict of splits, got {type(data).__name__}."
        )
    x, y = data if given else (rec.probe_x, rec.probe_y)
    if len(x) < 2 or len(x) != len(y):
        raise UnitscopeError(
            f"stitching needs at least 2 inputs with one target each, to fit on half and score "
            f"on the other; got {len(x)} inputs and {len(y)} targets."
        )
    what = "the given data" if given else "the probe set"
    n_fit, n_eval = (len(x) + 1) // 2, len(x) // 2
    note = (
        f"no train/test data in a torch recording: the maps were fitted on {what}'s even rows "
        f"({n_fit}, split 'fit') and scored on its odd rows ({n_eval}, split 'eval')."
    )
    return {"fit": (x[0::2], y[0::2]), "eval": (x[1::2], y[1::2])}, note
