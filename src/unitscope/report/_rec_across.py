"""Figures across the members of one recording: matched units, interpolation, layer CKA.

They use :mod:`unitscope.match` and :mod:`unitscope.measures` when those provide the needed
functions; a missing function leaves its figures out instead of failing the report.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ..record import Recording
from ._document import Figure
from ._figures import heatmap, histogram, lines


def optional(module: str, name: str) -> Callable[..., Any] | None:
    """``module.name`` when that module and function exist, else None."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def cka_figure(rec: Recording) -> Figure | None:
    """Layer x layer linear CKA between member 0 and member 1 at the last checkpoint."""
    cka = optional("unitscope.measures", "linear_cka")
    if cka is None or rec.members < 2:
        return None
    acts = [rec.activations(layer)[-1].astype(np.float64) for layer in rec.layers]
    L = len(acts)
    values = np.array([[cka(acts[a][0], acts[b][1]) for b in range(L)] for a in range(L)])
    return heatmap(
        "cka-members", values, cmap="sequential", vmin=0.0, vmax=1.0,
        row_labels=[f"member 0: {n}" for n in rec.layers],
        col_labels=[f"member 1: {n}" for n in rec.layers], title="Layer × layer linear CKA",
        caption=("Linear CKA between every layer of member 0 and every layer of member 1 on the "
                 "probe set at the last checkpoint (1 = same representation up to rotation and "
                 "scale). A bright diagonal means the two runs learned the same layers even if "
                 "their units are in another order."),
    )  # fmt: skip


def stitch_figure(rec: Recording) -> Figure | None:
    """Stitching-penalty matrix: each layer of member 0 (and the raw input) into each layer of
    member 1 through a least-squares map, trained and (with step 0 recorded) untrained."""
    fn = optional("unitscope.match", "stitch_recordings")
    if fn is None or rec.members < 2 or rec.meta.model_kind != "mlp" or not rec.layers:
        return None
    untrained = int(rec.steps[0]) == 0
    data, where = _stitch_data(rec)
    controls = ["input", "untrained"][: 1 + untrained]
    s = fn(rec, members=(0, 1), fits=["direct"], controls=controls, data=data)
    acc = f"{s.eval_split}_acc" in s.target
    metric, unit, name = (
        ("acc", "accuracy points", "accuracy") if acc else ("loss", "loss increase", "loss")
    )
    panels = [("trained", "A trained")]
    if untrained:
        panels.append(("untrained", "A at step 0"))
    raw = s.matrix("direct", "input", metric)  # (1, L_b)
    values = np.stack([np.vstack([raw, s.matrix("direct", src, metric)]) for src, _ in panels])
    own = s.target[f"{s.eval_split}_{metric}"]
    verdict = s.cannot_discriminate("direct")
    flags = (
        " ".join(s.flags())
        if verdict is None or verdict.any()
        else (
            f"The raw input stitches more than {s.margin:g} points worse than every trained layer."
        )
    )
    right = ", the right panel A before training (step 0)" if untrained else ""
    return heatmap(
        "stitching", values, panel_titles=[title for _, title in panels],
        row_labels=["raw input", *s.layers_a], col_labels=s.layers_b,
        y_label="from A (member 0)", x_label="into B",
        title="Stitching penalty: can member 1 use member 0's units?",
        caption=(f"Each cell connects a layer of A (member 0) into a layer of B (member 1) "
                 f"through a least-squares map fitted on {where}, and shows the "
                 f"{s.eval_split} {unit} lost against B alone ({name} {own:.4g}); 0 means B "
                 f"uses A's layer as well as its own. The first row feeds the raw input "
                 f"instead{right}: a trained layer that costs no less than these controls "
                 f"says little about shared units. {flags}"),
    )  # fmt: skip


def _stitch_data(rec: Recording) -> tuple[Any, str]:
    """The recording's train and test data; the probe set halved (fit on the first half) when
    the data can no longer be rebuilt (e.g. a user's file that moved)."""
    rebuild = optional("unitscope.match._compare", "recording_data")
    try:
        if rebuild is not None:
            return rebuild(rec), "the training data"
    except (ValueError, OSError):  # UnitscopeError is a ValueError
        pass
    half = len(rec.probe_x) // 2
    x, y = rec.probe_x, rec.probe_y
    data = {"train": (x[:half], y[:half]), "test": (x[half:], y[half:])}
    return data, "the first half of the probe set (the training data could not be rebuilt)"


def _comparison(rec: Recording) -> Any:
    """Every pair of members matched at the last checkpoint; the line between them is
    evaluated on the probe set (9 points), which keeps the report fast."""
    pairs = optional("unitscope.match", "pairs")
    if pairs is None or rec.members < 2:
        return None
    if rec.is_torch:  # the recorded activations only: no model to interpolate
        return pairs(rec, method="activations", barrier=False)
    return pairs(rec, barrier=True, n_points=9, data={"probe": (rec.probe_x, rec.probe_y)})


def matched_figures(rec: Recording) -> list[Figure]:
    """Li et al. (2015) matched correlations per layer, and the interpolation curves."""
    comp = _comparison(rec)
    if comp is None:
        return []
    names = [f"{i}~{j}" for i, j in comp.pairs]
    figs = []
    for index, (layer, m) in enumerate(comp.units.items()):
        U = m.matched.shape[1]
        series = {
            "matched (Hungarian)": m.sorted,
            "same index (no matching)": -np.sort(-m.unaligned, axis=1),
        }
        if np.isfinite(m.null).all():
            series["null: B with shuffled inputs"] = -np.sort(-m.null, axis=1)
        figs.append(lines(
            f"matched-{index}", np.arange(U), series, x_label="unit, best matched first",
            y_label="correlation with partner", title=f"Matched units of {layer} across runs",
            caption=(f"Li et al. (2015): each unit of {layer} in one member is paired with one "
                     "unit of another member by the Hungarian algorithm on activation "
                     "correlation; curves show the paired correlations sorted from best to "
                     f"worst (pairs {', '.join(names)}). Far above the 'same index' and null "
                     "baselines means the runs learned the same units in another order; "
                     "close to the null means they learned different units."),
        ))  # fmt: skip
        figs.append(histogram(
            f"matched-hist-{index}", {"matched": m.matched, "same index": m.unaligned},
            bins=24, value_range=(-1.0, 1.0),
            markers={"mean sibling": float(np.nanmean(m.sibling))},
            x_label="correlation with partner unit", y_label="units",
            title=f"Distribution of matched correlations in {layer}",
            caption=("Histogram of the matched correlations above, over all pairs of members, "
                     "against units paired by index. The marker is the mean correlation of a "
                     "unit with its most similar sibling in its own run."),
        ))  # fmt: skip
    if comp.naive is not None and comp.aligned is not None:
        figs.append(lines(
            "interpolation", comp.naive.lambdas,
            {"before alignment": comp.naive.loss("probe"),
             "after alignment": comp.aligned.loss("probe")},
            x_label="λ (0 = member A, 1 = member B)", y_label="probe-set loss",
            title="Loss along the line between two runs",
            caption=("Loss on the probe set of the network whose weights are (1 − λ)·A + λ·B, "
                     "for every pair of members, before and after permuting B's units to match "
                     "A's (weight matching). A bump is a loss barrier; if it "
                     "shrinks after alignment, the runs differ mostly by a permutation of "
                     "their units."),
        ))  # fmt: skip
    return figs
