"""Every number the page of one recording shows, computed here so that the report only draws.

:class:`RecordingViewPlan` checks the options and lists its stages first (so a progress bar
knows the total); :meth:`RecordingViewPlan.compute` runs them into one frozen
:class:`RecordingViews`: the training curves, each layer's unit panels, unit-level measures
over training, the comparisons across members (:mod:`._member_views`), whether the members
learned the same units (:mod:`._seed_views`) and, for a CNN, the Zeiler–Fergus arrays. A
measure that is undefined on its input (a dead layer: zero variance) is NaN, and the reason it
gives (a :class:`~unitscope.measures.DegenerateInputWarning`) is kept beside the numbers
instead of being printed; any other warning passes through. A view that cannot be made at all
(one member; no step-0 checkpoint) is None with a reason beside it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import UnitscopeError
from ..measures import unit_summary
from ..record import Recording, RecordingMeta
from ._checkpoints import with_reasons
from ._cnn import TopPatches, first_layer_filters, map_evolution, occlusion, projection_evolution
from ._cnn import top_patches as _top_patches
from ._deconv import Projection, deconv_projection
from ._maps import feature_maps
from ._member_views import AcrossMembers, across_members
from ._plane import PlaneViews, check_plane_size, plane_views
from ._seed_views import SeedViews, seed_views
from ._unit_panels import (
    ablation_over_training,
    cluster_groups,
    cluster_order,
    correlation_matrix,
    sibling_correlation,
)


# ---- what flows to the report -----------------------------------------------------------------
@dataclass(frozen=True)
class UnitPanels:
    """Playground-style panels of one dense layer of one member, over the input plane.

    Attributes:
        plane: unit outputs and the decision on the grid (one member: ``members`` has one).
        sibling, sibling_index: (T, U) each unit's best correlation with another unit, and
            which unit that is.
        importance: (T, U) loss increase on the probe set when the unit is silenced.
        mean_output: (T, U) the unit's mean output on the probe set.
        similarity_order, importance_order: (U,) unit orders at the last checkpoint.
        groups: (U,) groups of near-duplicate units (correlation > 0.9) at the last checkpoint.
        incoming: (T, U, fan_in [+ 1]) the unit's weights (and bias); ``incoming_labels``.
        outgoing: (T, U, fan_out) the weights that read it; ``outgoing_labels``.
        points, point_labels: the probe inputs (n, 2) and their classes (zeros for regression).
    """

    plane: PlaneViews
    sibling: np.ndarray
    sibling_index: np.ndarray
    importance: np.ndarray
    mean_output: np.ndarray
    similarity_order: np.ndarray
    importance_order: np.ndarray
    groups: np.ndarray
    incoming: np.ndarray
    incoming_labels: list[str]
    outgoing: np.ndarray
    outgoing_labels: list[str]
    points: np.ndarray
    point_labels: np.ndarray


@dataclass(frozen=True)
class UnitCorrelations:
    """How alike the units of one layer are.

    Attributes:
        picks: the checkpoint indices of ``matrices`` (first, middle, last).
        matrices: (P, U, U) unit correlations of the member at those checkpoints, rows and
            columns in ``order`` (hierarchical clustering of the last one).
        order: (U,) that order.
        siblings: (T, K, U) every member's best correlation of each unit with another unit.
    """

    picks: tuple[int, ...]
    matrices: np.ndarray
    order: np.ndarray
    siblings: np.ndarray


@dataclass(frozen=True)
class LayerViews:
    """The unit-level arrays of one studied layer.

    Attributes:
        layer, kind: its name and ``"dense"`` / ``"conv"``.
        panels: the plane panels (dense layers of unitscope's own models on 2-D data), or None.
        correlations: unit correlations and siblings; None for a layer of one unit.
    """

    layer: str
    kind: str
    panels: UnitPanels | None
    correlations: UnitCorrelations | None


@dataclass(frozen=True)
class TrainingMeasure:
    """One unit-level measure of every layer and member at every checkpoint.

    Attributes:
        name: ``symmetry_spread`` (largest distance of a unit's incoming weights from the
            layer's mean unit), ``effective_rank`` or ``distinct_units`` (of the activations).
        values: layer -> (K, T).
        undefined: why some values are NaN (empty when all are defined).
    """

    name: str
    values: dict[str, np.ndarray]
    undefined: tuple[str, ...]


@dataclass(frozen=True)
class ConvLayerMaps:
    """Zeiler–Fergus arrays of one conv layer of the member.

    Attributes:
        layer: its name.
        maps: (n_images, C, H, W) its maps for the chosen probe images.
        top: the strongest probe patches of each map (member axis of length 1).
        projection: each map's strongest activation projected to pixels (member axis 1).
        evolution: (T, C, H, W) its maps for probe image 0 at every checkpoint.
    """

    layer: str
    maps: np.ndarray
    top: TopPatches
    projection: Projection
    evolution: np.ndarray


@dataclass(frozen=True)
class FeatureMapViews:
    """The feature-map arrays of a CNN recording, for one member at its last checkpoint.

    Attributes:
        filters: (C, C_in, k, k) every first-layer filter.
        images, labels: the chosen probe images (n_images, C_in, H, W) and their labels.
        layers: one :class:`ConvLayerMaps` per conv layer.
        occlusion: (n_images, H, W) true-class probability under a sliding gray square of
            ``occluder`` pixels; None for regression.
        projection_steps, projection_evolution: the last conv layer's deconvnet projections
            at up to five checkpoints (leading axis over those steps).
    """

    filters: np.ndarray
    images: np.ndarray
    labels: np.ndarray
    layers: tuple[ConvLayerMaps, ...]
    occlusion: np.ndarray | None
    occluder: int
    projection_steps: np.ndarray
    projection_evolution: Projection


@dataclass(frozen=True)
class RecordingViews:
    """Everything the page of one recording draws, as finished numbers.

    Attributes:
        meta: the recording's metadata.
        member: the member whose units the panels show.
        members, steps, n_probe: K, the checkpoint steps (T,), the probe-set size.
        curve_steps, curves: the loss and accuracy curves (metric -> (K, E)).
        layers: one :class:`LayerViews` per studied layer.
        measures: unit-level measures over training.
        across: comparisons of the members (None for one member).
        seeds: one :class:`SeedViews` per layer: universal units and cycle consistency across
            the members, or the reason one cannot be made (e.g. one member).
        feature_maps: the Zeiler–Fergus arrays (None unless a CNN).
    """

    meta: RecordingMeta
    member: int
    members: int
    steps: np.ndarray
    n_probe: int
    curve_steps: np.ndarray
    curves: dict[str, np.ndarray]
    layers: tuple[LayerViews, ...]
    measures: tuple[TrainingMeasure, ...]
    across: AcrossMembers | None
    seeds: tuple[SeedViews, ...]
    feature_maps: FeatureMapViews | None


# ---- the plan ---------------------------------------------------------------------------------
class RecordingViewPlan:
    """Check the options, list the stages, then compute the :class:`RecordingViews`.

    Args:
        rec: the recording.
        member: the member whose units are drawn (curves and histograms show all members).
        resolution: grid points per axis of the unit panels (2-D data).
        n_images: probe images of the feature-map arrays (CNNs).

    Example:
        >>> from unitscope.train import Config, fit
        >>> rec = fit(Config.from_dict({"train": {"steps": 5, "n_checkpoints": 3}}))
        >>> plan = RecordingViewPlan(rec, resolution=8)
        >>> plan.stages[:2]
        ['training curves', 'units of hidden.0']
        >>> views = plan.compute()
        >>> views.layers[0].panels.plane.units.shape  # (T, members, U, resolution, resolution)
        (3, 1, 16, 8, 8)
    """

    def __init__(self, rec: Recording, *, member: int = 0, resolution: int = 64, n_images: int = 4):
        if not 0 <= member < rec.members:
            raise UnitscopeError(
                f"member {member} is out of range: the recording has "
                f"{rec.members} members (0..{rec.members - 1})."
            )
        if n_images < 1:
            raise UnitscopeError(f"`n_images` must be >= 1, got {n_images}.")
        if not rec.layers:
            raise UnitscopeError(
                "the recording has no hidden layer (it was trained with model.hidden = []): "
                "there are no units to report; train with one, e.g. --set model.hidden=[16]."
            )
        if rec.meta.dataset.is_2d:  # before any stage runs
            check_plane_size(rec, resolution)
        self.rec, self.member, self.resolution, self.n_images = rec, member, resolution, n_images
        self._plan: list[tuple[str, Callable[[], Any]]] = [("training curves", lambda: None)]
        for layer in rec.layers:
            self._plan.append((f"units of {layer}", functools.partial(self._layer, layer)))
        self._plan.append(("measures over training", self._measures))
        if rec.members >= 2:
            self._plan.append(("across members", lambda: across_members(rec)))
            self._plan.append(("units across seeds", lambda: seed_views(rec)))
        if rec.meta.model_kind == "cnn":
            self._plan.append(("feature maps", self._feature_maps))

    @property
    def stages(self) -> list[str]:
        """Names of the stages, in order."""
        return [name for name, _ in self._plan]

    def compute(self, progress: Callable[[int], None] | None = None) -> RecordingViews:
        """Run every stage; ``progress(done)`` is called after each."""
        done: dict[str, Any] = {}
        for count, (name, stage) in enumerate(self._plan, start=1):
            done[name] = stage()
            if progress is not None:
                progress(count)
        rec = self.rec
        return RecordingViews(
            meta=rec.meta,
            member=self.member,
            members=rec.members,
            steps=rec.steps.copy(),
            n_probe=len(rec.probe_x),
            curve_steps=rec.curve_steps.copy(),
            curves=dict(rec.curves),
            layers=tuple(done[f"units of {layer}"] for layer in rec.layers),
            measures=done["measures over training"],
            across=done.get("across members"),
            seeds=done["units across seeds"] if "units across seeds" in done else seed_views(rec),
            feature_maps=done.get("feature maps"),
        )

    # ---- stages -------------------------------------------------------------------------
    def _layer(self, layer: str) -> LayerViews:
        rec, m = self.rec, self.member
        kind = rec.meta.layer_kind[layer]
        panels = None
        if rec.meta.dataset.is_2d and kind == "dense" and not rec.is_torch:
            panels = self._panels(layer)  # the panels rebuild unitscope's own model
        acts = rec.activations(layer)  # (T, K, n_probe, U)
        if acts.shape[-1] < 2:
            return LayerViews(layer, kind, panels, None)
        mine = acts[:, m].astype(np.float64)  # (T, n_probe, U)
        T = len(rec.steps)
        picks = tuple(sorted({0, T // 2, T - 1}))
        order = cluster_order(correlation_matrix(mine[-1]))
        mats = np.stack([correlation_matrix(mine[t])[np.ix_(order, order)] for t in picks])
        siblings, _ = sibling_correlation(acts.astype(np.float64))  # (T, K, U)
        return LayerViews(layer, kind, panels, UnitCorrelations(picks, mats, order, siblings))

    def _panels(self, layer: str) -> UnitPanels:
        rec, m = self.rec, self.member
        pv = plane_views(rec, layer, resolution=self.resolution, members=[m])
        acts = rec.activations(layer)[:, m].astype(np.float64)  # (T, n_probe, U)
        sib, sib_index = sibling_correlation(acts)  # (T, U) each
        importance = ablation_over_training(rec, layer, members=[m])[:, 0]  # (T, U)
        final = correlation_matrix(acts[-1])
        w = rec.weights(layer)[:, m]  # (T, U, fan_in)
        bias = rec.bias(layer)
        if bias is not None:
            w = np.concatenate([w, bias[:, m, :, None]], axis=-1)
        out = rec.outgoing(layer)[:, m]  # (T, U, fan_out)
        classes = rec.meta.dataset.task == "classification"
        return UnitPanels(
            plane=pv,
            sibling=sib,
            sibling_index=sib_index,
            importance=importance,
            mean_output=acts.mean(axis=1),
            similarity_order=cluster_order(final),
            importance_order=np.argsort(-importance[-1], kind="stable"),
            groups=cluster_groups(final, 0.9),
            incoming=w,
            incoming_labels=_input_labels(rec, layer, bias is not None),
            outgoing=out,
            outgoing_labels=_output_labels(rec, layer, out.shape[-1]),
            points=rec.probe_x,
            point_labels=rec.probe_y if classes else np.zeros(len(rec.probe_y)),
        )

    def _measures(self) -> tuple[TrainingMeasure, ...]:
        rec = self.rec
        values: dict[str, dict[str, np.ndarray]] = {name: {} for name in _MEASURES}
        undefined: dict[str, list[str]] = {name: [] for name in _MEASURES}
        for layer in rec.layers:
            acts = rec.activations(layer).astype(np.float64)  # (T, K, n_probe, U)
            weights = None if rec.is_torch else rec.weights(layer)  # no unit axes known
            summary, reasons = with_reasons(functools.partial(unit_summary, acts, weights))
            for name, key in _MEASURES.items():
                if key in summary:
                    values[name][layer] = summary[key].T  # (K, T)
                    if np.isnan(summary[key]).any():
                        undefined[name] += [f"{layer}: {r}" for r in reasons]
        return tuple(
            TrainingMeasure(name, values[name], tuple(undefined[name]))
            for name in _MEASURES
            if values[name]
        )

    def _feature_maps(self) -> FeatureMapViews:
        rec, m = self.rec, self.member
        net = rec.model(-1, [m])
        images = rec.probe_x
        chosen, labels = images[: self.n_images], np.asarray(rec.probe_y)[: self.n_images]
        conv = rec.meta.layers_of_kind("conv")
        layers = []
        for layer in conv:
            maps = feature_maps(net, layer, images)  # shared by the top patches and deconvnet
            layers.append(
                ConvLayerMaps(
                    layer=layer,
                    maps=feature_maps(net, layer, chosen)[0],
                    top=_top_patches(net, layer, images, n_top=min(9, len(images)), maps=maps),
                    projection=deconv_projection(net, layer, images, maps=maps),
                    evolution=map_evolution(rec, layer, 0, members=[m])[:, 0],
                )
            )
        occluder = max(2, images.shape[-1] // 4)
        occluded = None
        if rec.meta.dataset.task == "classification":
            occluded = occlusion(net, chosen, labels, size=occluder)[0]
        T = len(rec.steps)
        picks = sorted(
            {int(rec.steps[t]) for t in np.linspace(0, T - 1, min(T, 5)).round().astype(int)}
        )
        steps, proj = projection_evolution(rec, conv[-1], picks, member=m)
        return FeatureMapViews(
            filters=first_layer_filters(net)[0],
            images=chosen,
            labels=labels,
            layers=tuple(layers),
            occlusion=occluded,
            occluder=occluder,
            projection_steps=steps,
            projection_evolution=proj,
        )


# measure -> its key in measures.unit_summary
_MEASURES = {
    "symmetry_spread": "spread_max",
    "effective_rank": "effective_rank",
    "distinct_units": "distinct_units",
}


def _input_labels(rec: Recording, layer: str, has_bias: bool) -> list[str]:
    index = rec.layers.index(layer)
    fan_in = rec.weights(layer).shape[-1]
    if index == 0:
        names = [f"x{i + 1}" for i in range(fan_in)]
    else:
        names = [f"{rec.layers[index - 1]} u{i}" for i in range(fan_in)]
    return names + (["bias"] if has_bias else [])


def _output_labels(rec: Recording, layer: str, fan_out: int) -> list[str]:
    target = rec.meta.unit_axes[layer].outgoing[0].param.rsplit(".", 1)[0]
    return [f"{'output' if target == 'out' else target} {j}" for j in range(fan_out)]


def recording_views(
    rec: Recording, *, member: int = 0, resolution: int = 64, n_images: int = 4
) -> RecordingViews:
    """Every number the report of ``rec`` shows: ``RecordingViewPlan(rec, ...).compute()``."""
    return RecordingViewPlan(rec, member=member, resolution=resolution, n_images=n_images).compute()
