"""The members of one recording compared: matched units, the line between them, layer CKA,
stitching. Computed by :mod:`unitscope.match` and :mod:`unitscope.measures`; the report draws
what :func:`across_members` returns."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..match import Comparison, pairs, stitch_recordings
from ..match import _compare as compare_module
from ..measures import linear_cka
from ..record import Recording
from ._checkpoints import with_reasons


@dataclass(frozen=True)
class StitchView:
    """The stitching-penalty matrix of member 0 (A) into member 1 (B).

    Attributes:
        values: (panels, 1 + L_a, L_b): row 0 feeds the raw input, the others A's layers,
            each into B's layers through a least-squares map; for accuracy, the points lost
            against B alone, for loss its increase.
        panels: ``"trained"`` (A at the step) and, with step 0 recorded, ``"untrained"``.
        layers_a, layers_b: A's layers (rows after the raw input) and B's (columns).
        metric: ``"acc"`` or ``"loss"``; ``eval_split``: where it is measured.
        own: B's own ``metric`` on ``eval_split``.
        flags: match's warnings about controls that stitch as well as trained layers.
        discriminates: the raw input stitches more than ``margin`` points worse than every
            trained layer (None when that cannot be judged).
        margin: accuracy points of that judgement.
        fitted_on: the data the maps were fitted on, in words.
    """

    values: np.ndarray
    panels: tuple[str, ...]
    layers_a: tuple[str, ...]
    layers_b: tuple[str, ...]
    metric: str
    eval_split: str
    own: float
    flags: tuple[str, ...]
    discriminates: bool | None
    margin: float
    fitted_on: str


@dataclass(frozen=True)
class MatchedUnits:
    """One layer's units matched across every pair of members (Li et al. 2015).

    Attributes:
        layer: its name.
        matched: (P, U) each unit's correlation with its Hungarian partner in the other
            member, in the first member's unit order; ``matched_sorted``: best first.
        unaligned: (P, U) its correlation with the unit of the same index;
            ``unaligned_sorted``: best first.
        null_sorted: (P, U) the null comparison's matched correlations (B on shuffled
            inputs), best first; None when no null was run.
        mean_sibling: each unit's best correlation with another unit of its own run,
            averaged over units and pairs (NaN for a layer of one unit).
    """

    layer: str
    matched: np.ndarray
    matched_sorted: np.ndarray
    unaligned: np.ndarray
    unaligned_sorted: np.ndarray
    null_sorted: np.ndarray | None
    mean_sibling: float


@dataclass(frozen=True)
class LineLoss:
    """Probe-set loss on the straight line between two members, for every pair.

    Attributes:
        lambdas: (n,) positions, 0 = member A, 1 = member B.
        naive: (P, n) the loss before alignment; ``aligned``: after permuting B's units to
            match A's (weight matching).
    """

    lambdas: np.ndarray
    naive: np.ndarray
    aligned: np.ndarray


@dataclass(frozen=True)
class AcrossMembers:
    """Members compared at the last checkpoint.

    Attributes:
        comparison: every pair matched (:func:`unitscope.match.pairs`), the whole result.
        pairs: the (i, j) member pairs.
        matched: one :class:`MatchedUnits` per layer.
        line: the loss between the members (unitscope's own models), or None.
        layers: the studied layers.
        cka: (L, L) linear CKA of layer a of member 0 against layer b of member 1.
        cka_undefined: why some CKA values are NaN (a constant layer).
        stitching: the stitching matrix (unitscope's MLPs only), or None.
    """

    comparison: Comparison
    pairs: tuple[tuple[int, int], ...]
    matched: tuple[MatchedUnits, ...]
    line: LineLoss | None
    layers: tuple[str, ...]
    cka: np.ndarray
    cka_undefined: tuple[str, ...]
    stitching: StitchView | None


def across_members(rec: Recording) -> AcrossMembers:
    """Compare the members of ``rec`` (K >= 2): see :class:`AcrossMembers`."""
    if rec.is_torch:  # the recorded activations only: no model to interpolate
        comparison = pairs(rec, method="activations", barrier=False)
    else:  # the line between members on the probe set (9 points) keeps the report fast
        comparison = pairs(
            rec, barrier=True, n_points=9, data={"probe": (rec.probe_x, rec.probe_y)}
        )
    cka, reasons = _layer_cka(rec)
    mlp = rec.meta.model_kind == "mlp"
    line = None
    if comparison.naive is not None and comparison.aligned is not None:
        line = LineLoss(
            comparison.naive.lambdas,
            comparison.naive.loss("probe"),
            comparison.aligned.loss("probe"),
        )
    return AcrossMembers(
        comparison=comparison,
        pairs=tuple((int(i), int(j)) for i, j in comparison.pairs),
        matched=tuple(_matched(layer, m) for layer, m in comparison.units.items()),
        line=line,
        layers=tuple(rec.layers),
        cka=cka,
        cka_undefined=tuple(reasons),
        stitching=stitch_view(rec) if mlp else None,
    )


def _matched(layer: str, m: Any) -> MatchedUnits:
    """The arrays the matched-units figures show, from one layer's activation matching."""
    sibling = m.sibling[np.isfinite(m.sibling)]  # a layer of one unit has no sibling
    return MatchedUnits(
        layer=layer,
        matched=m.matched,
        matched_sorted=m.sorted,
        unaligned=m.unaligned,
        unaligned_sorted=-np.sort(-m.unaligned, axis=1),
        null_sorted=-np.sort(-m.null, axis=1) if np.isfinite(m.null).all() else None,
        mean_sibling=float(sibling.mean()) if sibling.size else float("nan"),
    )


def _layer_cka(rec: Recording) -> tuple[np.ndarray, list[str]]:
    """(L, L) linear CKA of member 0's layers against member 1's at the last checkpoint;
    a pair with a constant layer is NaN, with the reason the measure gives."""
    acts = [rec.activations(layer)[-1].astype(np.float64) for layer in rec.layers]
    L = len(acts)
    values = np.full((L, L), np.nan)
    pairs_of: dict[str, list[str]] = {}  # reason -> the layer pairs it holds for
    for a in range(L):
        for b in range(L):
            values[a, b], why = with_reasons(functools.partial(linear_cka, acts[a][0], acts[b][1]))
            for reason in why:
                pairs_of.setdefault(reason, []).append(f"{rec.layers[a]} x {rec.layers[b]}")
    return values, [f"{r} ({', '.join(p)})" for r, p in sorted(pairs_of.items())]


def stitch_view(rec: Recording) -> StitchView | None:
    """Each layer of member 0 (and the raw input) stitched into each layer of member 1 with a
    least-squares map, trained and (with step 0 recorded) untrained; None unless the
    recording holds two or more members of unitscope's MLP."""
    if rec.members < 2 or rec.meta.model_kind != "mlp" or not rec.layers:
        return None
    untrained = int(rec.steps[0]) == 0
    data, fitted_on = _stitch_data(rec)
    controls = ["input", "untrained"][: 1 + untrained]
    s = stitch_recordings(rec, members=(0, 1), fits=["direct"], controls=controls, data=data)
    metric = "acc" if f"{s.eval_split}_acc" in s.target else "loss"
    panels = ("trained", "untrained") if untrained else ("trained",)
    raw = s.matrix("direct", "input", metric)  # (1, L_b)
    values = np.stack([np.vstack([raw, s.matrix("direct", src, metric)]) for src in panels])
    verdict = s.cannot_discriminate("direct")
    return StitchView(
        values=values,
        panels=panels,
        layers_a=tuple(s.layers_a),
        layers_b=tuple(s.layers_b),
        metric=metric,
        eval_split=s.eval_split,
        own=float(s.target[f"{s.eval_split}_{metric}"]),
        flags=tuple(s.flags()),
        discriminates=None if verdict is None else not bool(verdict.any()),
        margin=float(s.margin),
        fitted_on=fitted_on,
    )


def _stitch_data(rec: Recording) -> tuple[Any, str]:
    """The recording's train and test data; the probe set halved (fit on the first half) when
    the data can no longer be rebuilt (e.g. a user's file that moved)."""
    try:
        return compare_module.recording_data(rec), "the training data"
    except (ValueError, OSError):  # UnitscopeError is a ValueError
        pass
    half = len(rec.probe_x) // 2
    x, y = rec.probe_x, rec.probe_y
    data = {"train": (x[:half], y[:half]), "test": (x[half:], y[half:])}
    return data, "the first half of the probe set (the training data could not be rebuilt)"
