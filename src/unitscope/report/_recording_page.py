"""The page of one recording, drawn from :class:`unitscope.views.RecordingViews`.

Every number comes finished from :func:`unitscope.views.recording_views` (training curves,
unit panels, measures over training, comparisons across members and whether they learned the
same units, feature maps); this module only lays them out as figures with captions.
``unitscope report DIR`` is ``recording_document(views.recording_views(Recording.load(DIR)))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import UnitscopeError
from ..views._recording_views import LayerViews, RecordingViews, TrainingMeasure
from . import _rec_across as across
from . import _rec_cnn as cnn
from . import _rec_seeds as seeds
from . import _rec_units as units
from ._document import Document, Section
from ._figures import lines, table


def recording_document(
    views: RecordingViews, *, title: str | None = None, findings: Sequence[Any] = ()
) -> Document:
    """The page of one recording: its curves, every layer's units, measures over training,
    the members compared and, for a CNN, the feature maps.

    Args:
        views: the finished numbers, :func:`unitscope.views.recording_views` of the recording.
        title: page title; a default names the model and the dataset.
        findings: findings to put at the top.

    Example:
        >>> from unitscope.train import Config, fit
        >>> from unitscope.views import recording_views
        >>> rec = fit(Config.from_dict({"train": {"steps": 5, "n_checkpoints": 3}}))
        >>> doc = recording_document(recording_views(rec, resolution=8))
        >>> doc.title, [s.title for s in doc.sections][:2]
        ('unitscope: MLP on moons', ['Training', 'Units of hidden.0'])
    """
    if not isinstance(views, RecordingViews):
        raise UnitscopeError(
            "recording_document draws finished numbers: pass "
            f"unitscope.views.recording_views(rec), got a {type(views).__name__}."
        )
    sections = [_curves(views)]
    sections += [_layer(views, i, layer) for i, layer in enumerate(views.layers)]
    sections.append(_measures(views))
    sections.append(_across(views))
    if views.feature_maps is not None:
        sections.append(
            Section(
                "Feature maps (Zeiler & Fergus)",
                cnn.figures(views.feature_maps, views.steps),
                intro="Feature maps of one member, computed on the probe images.",
            )
        )
    meta = views.meta
    title = title or f"unitscope: {meta.model_name} on {meta.dataset.name}"
    kept = [s for s in sections if s.figures or s.intro]
    return Document(title, list(findings), kept, _meta(views))


def _across(views: RecordingViews) -> Section:
    """The members compared, then whether they learned the same units; the introduction says
    which of those views could not be made, and why."""
    figs = across.figures(views.across) if views.across is not None else []
    return Section(
        "Across members", [*figs, *seeds.figures(views.seeds)], intro=seeds.reasons(views.seeds)
    )


def _meta(views: RecordingViews) -> dict[str, Any]:
    meta, ds = views.meta, views.meta.dataset
    return {
        "dataset": f"{ds.name} ({ds.task}, {ds.n_train} train / {ds.n_test} test)",
        "origin": ds.origin,
        "model": meta.model_spec,
        "members": views.members,
        "seeds": "not known (your own networks)" if meta.is_torch else meta.seeds,
        "checkpoints": len(views.steps),
        "probe": f"{views.n_probe} samples, hash {meta.probe_hash[:12]}",
        "unit panels show member": views.member,
    }


def _curves(views: RecordingViews) -> Section:
    if len(views.curve_steps) < 2:  # one point draws no line: the numbers, in a table
        return Section("Training", [_one_point(views)] if views.curves else [])
    figs = []
    for metric, name in (("loss", "Loss"), ("acc", "Accuracy")):
        series = {k.replace("_", " "): v for k, v in views.curves.items() if k.endswith(metric)}
        if not series:
            continue
        sets = _sets([k for k in views.curves if k.endswith(metric)])
        values = np.concatenate([np.ravel(v) for v in series.values()])
        log = metric == "loss" and bool(np.all(values[np.isfinite(values)] > 0))
        figs.append(
            lines(
                f"curve-{metric}",
                views.curve_steps,
                series,
                x_scale="log1p",
                y_scale="log" if log else "linear",
                cursor=True,
                x_label="step",
                y_label=name.lower(),
                title=f"{name} during training",
                caption=(
                    f"{name} of every member (thin lines), their mean (bold) and min–max "
                    f"band, on the {sets}. The red line is the timeline's step, so the unit "
                    "panels below can be read against the curve."
                ),
            )
        )
    return Section("Training", figs)


def _sets(keys: Sequence[str]) -> str:
    """``["train_loss", "test_loss"]`` -> ``"train and test sets"``."""
    names = list(dict.fromkeys(k.rsplit("_", 1)[0] for k in keys))
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{joined} set{'s' if len(names) > 1 else ''}"


def _one_point(views: RecordingViews) -> Any:
    """The loss and accuracy at the only recorded point, over the members."""
    rows = []
    for key, values in views.curves.items():
        v = np.asarray(values, dtype=np.float64)[:, -1]
        rows.append(
            [key.replace("_", " "), f"{np.mean(v):.4g}", f"{np.min(v):.4g}", f"{np.max(v):.4g}"]
        )
    step = int(views.curve_steps[-1])
    return table(
        "curve-point",
        ["", "mean", "min", "max"],
        rows,
        title=f"Loss and accuracy at step {step}",
        caption=(
            f"One point was recorded (step {step}), so there is no curve: the loss and "
            f"accuracy of the {views.members} members on the {_sets(list(views.curves))}, mean, "
            "min and max over members."
        ),
    )


def _layer(views: RecordingViews, i: int, layer: LayerViews) -> Section:
    name, figs = layer.layer, []
    if layer.panels is not None:
        figs.append(units.plane_figure(name, layer.panels, views.member, f"units-{i}"))
    if layer.correlations is not None:
        c = layer.correlations
        figs.append(units.correlation_figure(name, c, views.steps, views.member, f"corr-{i}"))
        figs.append(units.sibling_figure(name, c, views.steps, f"siblings-{i}"))
    return Section(f"Units of {name}", figs)


def _measures(views: RecordingViews) -> Section:
    figs = []
    for measure in views.measures:
        label, caption = _WORDS[measure.name]
        figs.append(
            lines(
                f"measure-{measure.name}",
                views.steps,
                measure.values,
                x_scale="log1p",
                cursor=True,
                x_label="step",
                y_label=label,
                title=f"{label} over training",
                caption=f"{caption} Thin lines: members; bold: mean; band: min–max."
                + _undefined(measure),
            )
        )
    return Section("Measures over training", figs)


def _undefined(measure: TrainingMeasure) -> str:
    if not measure.undefined:
        return ""
    return " Missing points are undefined (NaN): " + "; ".join(measure.undefined) + "."


_WORDS = {
    "symmetry_spread": (
        "symmetry spread",
        "Largest distance of a unit's incoming weights from the layer's mean unit: 0 while the "
        "units are identical, growing as training makes them differ.",
    ),
    "effective_rank": (
        "effective rank",
        "Effective rank of the layer's activations on the probe set (Roy & Vetterli 2007): how "
        "many independent directions the units span; equals the width when all units differ.",
    ),
    "distinct_units": (
        "distinct units",
        "Number of groups of units whose activations correlate below 0.99: how many different "
        "functions the layer computes.",
    ),
}
