"""Figures of one layer's units, drawn from the views of a recording: Playground panels
(``UnitPanels``), correlations and siblings (``UnitCorrelations``)."""

from __future__ import annotations

import numpy as np

from ..views._recording_views import UnitCorrelations, UnitPanels
from ._document import Figure
from ._figures import heatmap, histogram
from ._pictures import unit_grid


def unit_labels(n: int) -> list[str]:
    """``u0``, ``u1``, ...: the short names of a layer's units."""
    return [f"u{i}" for i in range(n)]


def plane_figure(name: str, p: UnitPanels, member: int, fid: str) -> Figure:
    """The Playground view of layer ``name`` for one member over every checkpoint."""
    pv = p.plane
    caption = (
        f"Each small panel is one unit of {name} (member {member}): its output over the 2-D "
        "input plane, blue where positive, orange where negative, white at 0; each panel has its "
        "own color scale (hover for its range). The large panel is the network's output with the "
        "probe points. Move the timeline to watch units differentiate during training; sort by "
        "similarity to put alike units side by side (colored tops mark groups of near-duplicates, "
        "correlation > 0.9); click a unit for its weights, its most similar sibling and the loss "
        "increase when it is silenced."
    )
    return unit_grid(
        fid,
        pv.steps,
        pv.units[:, 0],
        extent=pv.extent,
        caption=caption,
        title=f"Units of {name} over the input plane",
        layer=name,
        unit_labels=unit_labels(p.sibling.shape[-1]),
        orders={
            "similarity (last step)": p.similarity_order,
            "importance (last step)": p.importance_order,
        },
        groups=p.groups,
        measures={
            "correlation with most similar sibling": p.sibling,
            "loss increase when silenced": p.importance,
            "mean output on probe set": p.mean_output,
        },
        sibling=p.sibling_index,
        incoming=(p.incoming, p.incoming_labels),
        outgoing=(p.outgoing, p.outgoing_labels),
        decision=(pv.decision.mode, pv.decision.score[:, 0], pv.decision.label[:, 0]),
        points=(p.points, p.point_labels),
    )


def correlation_figure(
    name: str, c: UnitCorrelations, steps: np.ndarray, member: int, fid: str
) -> Figure:
    """Unit correlations at the first, middle and last checkpoint, in the final cluster order."""
    labels = [unit_labels(len(c.order))[i] for i in c.order]
    return heatmap(
        fid,
        c.matrices,
        vmin=-1.0,
        vmax=1.0,
        row_labels=labels,
        col_labels=labels,
        panel_titles=[f"step {int(steps[t])}" for t in c.picks],
        title=f"Unit correlations in {name}, reordered by clustering",
        caption=(
            f"Pearson correlation between the units of {name} (member {member}) on the probe "
            "set, at the first, middle and last checkpoint. Units are ordered by hierarchical "
            "clustering of the last matrix, so blocks of blue along the diagonal are groups of "
            "units computing nearly the same function; a pale matrix means the units differ."
        ),
    )


def sibling_figure(name: str, c: UnitCorrelations, steps: np.ndarray, fid: str) -> Figure:
    """Histogram of every unit's best sibling correlation, first vs last checkpoint."""
    sib = c.siblings  # (T, K, U)
    first, last = int(steps[0]), int(steps[-1])
    if len(steps) == 1:
        when = f"at step {last}, the one checkpoint recorded"
    elif first == 0:
        when = f"before training (step 0) and at step {last}"
    else:
        when = f"at the first and last checkpoints (steps {first} and {last})"
    return histogram(
        fid,
        {f"step {first}": sib[0], f"step {last}": sib[-1]},
        bins=24,
        value_range=(-1.0, 1.0),
        markers={"identical": 1.0},
        x_label="correlation with the most similar sibling",
        y_label="units",
        title=f"How alike are the units of {name}?",
        caption=(
            f"For every unit of {name} in every member, its largest correlation with another "
            f"unit of the same layer, {when}. Mass near 1 means units that "
            "duplicate a sibling (a symmetric start that training did not break); mass far "
            "from 1 means every unit found a function of its own."
        ),
    )
