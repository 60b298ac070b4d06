"""Figures of one layer's units from a recording: Playground panels, correlations, siblings."""

from __future__ import annotations

import numpy as np

from .. import views
from ..record import Recording
from ._document import Figure
from ._figures import heatmap, histogram
from ._pictures import unit_grid


def unit_labels(n: int) -> list[str]:
    """``u0``, ``u1``, ...: the short names of a layer's units."""
    return [f"u{i}" for i in range(n)]


def _input_labels(rec: Recording, layer: str, fan_in: int, has_bias: bool) -> list[str]:
    index = rec.layers.index(layer)
    if index == 0:
        names = [f"x{i + 1}" for i in range(fan_in)]
    else:
        names = [f"{rec.layers[index - 1]} u{i}" for i in range(fan_in)]
    return names + (["bias"] if has_bias else [])


def _output_labels(rec: Recording, layer: str, fan_out: int) -> list[str]:
    target = rec.meta.unit_axes[layer].outgoing[0].param.rsplit(".", 1)[0]
    return [f"{'output' if target == 'out' else target} {j}" for j in range(fan_out)]


def plane_figure(rec: Recording, layer: str, member: int, resolution: int, fid: str) -> Figure:
    """The Playground view of ``layer`` for one member over every checkpoint."""
    pv = views.plane_views(rec, layer, resolution=resolution, members=[member])
    acts = rec.activations(layer)[:, member].astype(np.float64)  # (T, n_probe, U)
    sib, sib_index = views.sibling_correlation(acts)  # (T, U) each
    importance = views.ablation_over_training(rec, layer, members=[member])[:, 0]  # (T, U)
    final = views.correlation_matrix(acts[-1])
    w = rec.weights(layer)[:, member]  # (T, U, fan_in)
    bias = rec.bias(layer)
    if bias is not None:
        w = np.concatenate([w, bias[:, member, :, None]], axis=-1)
    out = rec.outgoing(layer)[:, member]  # (T, U, fan_out)
    U = acts.shape[-1]
    task = rec.meta.dataset.task
    point_labels = rec.probe_y if task == "classification" else np.zeros(len(rec.probe_y))
    caption = (
        f"Each small panel is one unit of {layer} (member {member}): its output over the 2-D "
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
        title=f"Units of {layer} over the input plane",
        layer=layer,
        unit_labels=unit_labels(U),
        orders={
            "similarity (last step)": views.cluster_order(final),
            "importance (last step)": np.argsort(-importance[-1], kind="stable"),
        },
        groups=views.cluster_groups(final, 0.9),
        measures={
            "correlation with most similar sibling": sib,
            "loss increase when silenced": importance,
            "mean output on probe set": acts.mean(axis=1),
        },
        sibling=sib_index,
        incoming=(w, _input_labels(rec, layer, rec.weights(layer).shape[-1], bias is not None)),
        outgoing=(out, _output_labels(rec, layer, out.shape[-1])),
        decision=(pv.decision.mode, pv.decision.score[:, 0], pv.decision.label[:, 0]),
        points=(rec.probe_x, point_labels),
    )


def correlation_figure(rec: Recording, layer: str, member: int, fid: str) -> Figure:
    """Unit correlations at the first, middle and last checkpoint, in the final cluster order."""
    acts = rec.activations(layer)[:, member].astype(np.float64)
    T = len(rec.steps)
    picks = sorted({0, T // 2, T - 1})
    order = views.cluster_order(views.correlation_matrix(acts[-1]))
    mats = np.stack([views.correlation_matrix(acts[t])[np.ix_(order, order)] for t in picks])
    labels = [unit_labels(acts.shape[-1])[i] for i in order]
    return heatmap(
        fid,
        mats,
        vmin=-1.0,
        vmax=1.0,
        row_labels=labels,
        col_labels=labels,
        panel_titles=[f"step {int(rec.steps[t])}" for t in picks],
        title=f"Unit correlations in {layer}, reordered by clustering",
        caption=(
            f"Pearson correlation between the units of {layer} (member {member}) on the probe "
            "set, at the first, middle and last checkpoint. Units are ordered by hierarchical "
            "clustering of the last matrix, so blocks of blue along the diagonal are groups of "
            "units computing nearly the same function; a pale matrix means the units differ."
        ),
    )


def sibling_figure(rec: Recording, layer: str, fid: str) -> Figure:
    """Histogram of every unit's best sibling correlation, first vs last checkpoint."""
    acts = rec.activations(layer).astype(np.float64)  # (T, K, n, U)
    sib, _ = views.sibling_correlation(acts)  # (T, K, U)
    return histogram(
        fid,
        {f"step {int(rec.steps[0])}": sib[0], f"step {int(rec.steps[-1])}": sib[-1]},
        bins=24,
        value_range=(-1.0, 1.0),
        markers={"identical": 1.0},
        x_label="correlation with the most similar sibling",
        y_label="units",
        title=f"How alike are the units of {layer}?",
        caption=(
            f"For every unit of {layer} in every member, its largest correlation with another "
            "unit of the same layer, before and after training. Mass near 1 means units that "
            "duplicate a sibling (a symmetric start that training did not break); mass far "
            "from 1 means every unit found a function of its own."
        ),
    )
