"""Figures across the members of one recording, drawn from its views (``AcrossMembers``):
matched units, the loss between members, layer CKA, stitching."""

from __future__ import annotations

import numpy as np

from ..views._member_views import AcrossMembers, LineLoss, MatchedUnits, StitchView
from ._document import Figure
from ._figures import heatmap, histogram, lines


def figures(across: AcrossMembers) -> list[Figure]:
    """Every figure of the section, in page order."""
    names = ", ".join(f"{i}~{j}" for i, j in across.pairs)
    figs = []
    for index, m in enumerate(across.matched):
        figs += matched_figures(m, names, index)
    if across.line is not None:
        figs.append(line_figure(across.line))
    figs.append(cka_figure(across))
    if across.stitching is not None:
        figs.append(stitch_figure(across.stitching))
    return figs


def cka_figure(across: AcrossMembers) -> Figure:
    """Layer x layer linear CKA between member 0 and member 1 at the last checkpoint."""
    layers = across.layers
    undefined = (
        " Empty cells are undefined (NaN): " + "; ".join(across.cka_undefined) + "."
        if across.cka_undefined
        else ""
    )
    return heatmap(
        "cka-members", across.cka, cmap="sequential", vmin=0.0, vmax=1.0,
        row_labels=[f"member 0: {n}" for n in layers],
        col_labels=[f"member 1: {n}" for n in layers], title="Layer × layer linear CKA",
        caption=("Linear CKA between every layer of member 0 and every layer of member 1 on the "
                 "probe set at the last checkpoint (1 = same representation up to rotation and "
                 "scale). A bright diagonal means the two runs learned the same layers even if "
                 f"their units are in another order.{undefined}"),
    )  # fmt: skip


def stitch_figure(s: StitchView) -> Figure:
    """Stitching-penalty matrix: each layer of member 0 (and the raw input) into each layer of
    member 1 through a least-squares map, trained and (with step 0 recorded) untrained."""
    unit, name = ("accuracy points", "accuracy") if s.metric == "acc" else ("loss increase", "loss")
    titles = {"trained": "A trained", "untrained": "A at step 0"}
    flags = (
        f"The raw input stitches more than {s.margin:g} points worse than every trained layer."
        if s.discriminates
        else " ".join(s.flags)
    )
    right = ", the right panel A before training (step 0)" if "untrained" in s.panels else ""
    return heatmap(
        "stitching", s.values, panel_titles=[titles[p] for p in s.panels],
        row_labels=["raw input", *s.layers_a], col_labels=list(s.layers_b),
        y_label="from A (member 0)", x_label="into B",
        title="Stitching penalty: can member 1 use member 0's units?",
        caption=(f"Each cell connects a layer of A (member 0) into a layer of B (member 1) "
                 f"through a least-squares map fitted on {s.fitted_on}, and shows the "
                 f"{s.eval_split} {unit} lost against B alone ({name} {s.own:.4g}); 0 means B "
                 f"uses A's layer as well as its own. The first row feeds the raw input "
                 f"instead{right}: a trained layer that costs no less than these controls "
                 f"says little about shared units. {flags}"),
    )  # fmt: skip


def matched_figures(m: MatchedUnits, names: str, index: int) -> list[Figure]:
    """Li et al. (2015) matched correlations of one layer: sorted curves and a histogram."""
    layer, U = m.layer, m.matched.shape[1]
    series = {
        "matched (Hungarian)": m.matched_sorted,
        "same index (no matching)": m.unaligned_sorted,
    }
    if m.null_sorted is not None:
        series["null: B with shuffled inputs"] = m.null_sorted
    curves = lines(
        f"matched-{index}", np.arange(U), series, x_label="unit, best matched first",
        y_label="correlation with partner", title=f"Matched units of {layer} across runs",
        caption=(f"Li et al. (2015): each unit of {layer} in one member is paired with one "
                 "unit of another member by the Hungarian algorithm on activation "
                 "correlation; curves show the paired correlations sorted from best to "
                 f"worst (pairs {names}). Far above the 'same index' and null "
                 "baselines means the runs learned the same units in another order; "
                 "close to the null means they learned different units."),
    )  # fmt: skip
    hist = histogram(
        f"matched-hist-{index}", {"matched": m.matched, "same index": m.unaligned},
        bins=24, value_range=(-1.0, 1.0),
        markers={"mean sibling": m.mean_sibling},
        x_label="correlation with partner unit", y_label="units",
        title=f"Distribution of matched correlations in {layer}",
        caption=("Histogram of the matched correlations above, over all pairs of members, "
                 "against units paired by index. The marker is the mean correlation of a "
                 "unit with its most similar sibling in its own run."),
    )  # fmt: skip
    return [curves, hist]


def line_figure(line: LineLoss) -> Figure:
    """Probe-set loss between two members, before and after weight matching."""
    return lines(
        "interpolation", line.lambdas,
        {"before alignment": line.naive, "after alignment": line.aligned},
        x_label="λ (0 = member A, 1 = member B)", y_label="probe-set loss",
        title="Loss along the line between two runs",
        caption=("Loss on the probe set of the network whose weights are (1 − λ)·A + λ·B, "
                 "for every pair of members, before and after permuting B's units to match "
                 "A's (weight matching). A bump is a loss barrier; if it "
                 "shrinks after alignment, the runs differ mostly by a permutation of "
                 "their units."),
    )  # fmt: skip
