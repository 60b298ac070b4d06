"""A whole report from one recording: training curves, every layer's units, CNN figures.

:class:`RecordingReport` lists its stages first (so a progress bar knows the total), then
builds them; every number comes from :mod:`unitscope.views` and, when present,
:mod:`unitscope.measures`.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import views
from .._errors import UnitscopeError
from ..record import Recording
from ..views._plane import check_plane_size
from . import _rec_across as across
from . import _rec_cnn as cnn
from . import _rec_units as units
from ._document import Document, Figure, Section
from ._figures import lines

Stage = tuple[str, Callable[[], Section | None]]


class RecordingReport:
    """Plan and build the report of one recording.

    Args:
        rec: the recording.
        member: the member whose units are drawn (curves and histograms show all members).
        resolution: grid points per axis of the unit views (2-D data).
        n_images: probe images shown in the CNN figures.
        title: page title; a default names the dataset and model.
        findings: findings to put at the top.

    Example:
        >>> from unitscope.train import Config, fit
        >>> rec = fit(Config.from_dict({"train": {"steps": 5, "n_checkpoints": 3}}))
        >>> plan = RecordingReport(rec, resolution=8)
        >>> plan.stages[:2]
        ['training curves', 'units of hidden.0']
    """

    def __init__(
        self,
        rec: Recording,
        *,
        member: int = 0,
        resolution: int = 64,
        n_images: int = 4,
        title: str | None = None,
        findings: Sequence[Any] = (),
    ):
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
        self.rec, self.member, self.resolution = rec, member, resolution
        self.n_images, self.findings = n_images, list(findings)
        self.title = title or f"unitscope: {rec.meta.model_name} on {rec.meta.dataset.name}"
        self._plan: list[Stage] = self._stages()

    @property
    def stages(self) -> list[str]:
        """Names of the build stages, in order."""
        return [name for name, _ in self._plan]

    def build(self, progress: Callable[[int], None] | None = None) -> Document:
        """Run every stage; ``progress(done)`` is called after each."""
        sections = []
        for done, (_, stage) in enumerate(self._plan, start=1):
            with warnings.catch_warnings():  # degenerate measures (dead units) give NaN
                warnings.simplefilter("ignore")
                section = stage()
            if section is not None and section.figures:
                sections.append(section)
            if progress is not None:
                progress(done)
        return Document(self.title, self.findings, sections, self._meta())

    # ---- planning ---------------------------------------------------------------------------
    def _stages(self) -> list[Stage]:
        rec = self.rec
        plan: list[Stage] = [("training curves", self._curves)]
        two_d = rec.meta.dataset.is_2d
        for i, layer in enumerate(rec.layers):
            plan.append((f"units of {layer}", functools.partial(self._layer, i, layer, two_d)))
        plan.append(("measures over training", self._measures))
        if rec.members >= 2:
            plan.append(("across members", self._across))
        if rec.meta.model_kind == "cnn":
            plan.append(("feature maps", self._cnn))
        return plan

    def _meta(self) -> dict[str, Any]:
        rec, ds = self.rec, self.rec.meta.dataset
        return {
            "dataset": f"{ds.name} ({ds.task}, {ds.n_train} train / {ds.n_test} test)",
            "origin": ds.origin,
            "model": rec.meta.model_spec,
            "members": rec.members,
            "seeds": rec.meta.seeds,
            "checkpoints": len(rec.steps),
            "probe": f"{len(rec.probe_x)} samples, hash {rec.probe_hash[:12]}",
            "unit panels show member": self.member,
        }

    # ---- stages -----------------------------------------------------------------------------
    def _curves(self) -> Section:
        rec, figs = self.rec, []
        x = rec.curve_steps
        for metric, name in (("loss", "Loss"), ("acc", "Accuracy")):
            series = {k.replace("_", " "): v for k, v in rec.curves.items() if k.endswith(metric)}
            if not series:
                continue
            values = np.concatenate([np.ravel(v) for v in series.values()])
            log = metric == "loss" and bool(np.all(values[np.isfinite(values)] > 0))
            figs.append(
                lines(
                    f"curve-{metric}",
                    x,
                    series,
                    x_scale="log1p",
                    y_scale="log" if log else "linear",
                    cursor=True,
                    x_label="step",
                    y_label=name.lower(),
                    title=f"{name} during training",
                    caption=(
                        f"{name} of every member (thin lines), their mean (bold) and min–max "
                        "band, on the training and test sets. The red line is the timeline's "
                        "step, so the unit panels below can be read against the curve."
                    ),
                )
            )
        return Section("Training", figs)

    def _layer(self, i: int, layer: str, two_d: bool) -> Section:
        rec, m, figs = self.rec, self.member, []
        dense = rec.meta.layer_kind[layer] == "dense"
        if two_d and dense and not rec.is_torch:  # the panels rebuild unitscope's own model
            figs.append(units.plane_figure(rec, layer, m, self.resolution, f"units-{i}"))
        if rec.activations(layer).shape[-1] >= 2:
            figs.append(units.correlation_figure(rec, layer, m, f"corr-{i}"))
            figs.append(units.sibling_figure(rec, layer, f"siblings-{i}"))
        return Section(f"Units of {layer}", figs)

    def _measures(self) -> Section:
        figs: list[Figure] = []
        for key, func, label, caption in _MEASURES:
            fn = across.optional("unitscope.measures", func)
            if fn is None or (key == "weights" and self.rec.is_torch):  # no unit axes known
                continue
            series = {layer: self._over_training(fn, layer, key) for layer in self.rec.layers}
            figs.append(
                lines(
                    f"measure-{func}",
                    self.rec.steps,
                    series,
                    x_scale="log1p",
                    cursor=True,
                    x_label="step",
                    y_label=label,
                    title=f"{label} over training",
                    caption=caption + " Thin lines: members; bold: mean; band: min–max.",
                )
            )
        return Section("Measures over training", figs)

    def _over_training(self, fn: Callable[..., Any], layer: str, key: str) -> np.ndarray:
        rec = self.rec
        source = rec.weights(layer) if key == "weights" else rec.activations(layer)
        T, K = source.shape[:2]
        out = np.full((K, T), np.nan)
        for t in range(T):
            for k in range(K):
                value = fn(np.asarray(source[t, k], dtype=np.float64))
                out[k, t] = getattr(value, "max_distance", value)
        return out

    def _across(self) -> Section:
        figs = across.matched_figures(self.rec)
        cka = across.cka_figure(self.rec)
        stitched = across.stitch_figure(self.rec)
        extra = [f for f in (cka, stitched) if f is not None]
        return Section("Across members", figs + extra)

    def _cnn(self) -> Section:
        rec, m = self.rec, self.member
        net = rec.model(-1, [m])
        images = rec.probe_x
        chosen, labels = images[: self.n_images], np.asarray(rec.probe_y)[: self.n_images]
        conv = rec.meta.layers_of_kind("conv")
        figs = [cnn.filters_figure(net, "filters")]
        for i, layer in enumerate(conv):
            figs.append(cnn.maps_figure(net, layer, chosen, labels, f"maps-{i}"))
            maps = views.feature_maps(net, layer, images)  # shared by the next two figures
            figs.append(cnn.top_figure(net, layer, images, maps, f"top-{i}"))
            figs.append(cnn.deconv_figure(net, layer, images, maps, f"deconv-{i}"))
            figs.append(cnn.evolution_figure(rec, layer, m, f"evolution-{i}"))
        if rec.meta.dataset.task == "classification":
            figs.append(cnn.occlusion_figure(net, chosen, labels, "occlusion"))
        figs.append(cnn.projection_evolution_figure(rec, conv[-1], m, "deconv-evolution"))
        return Section(
            "Feature maps (Zeiler & Fergus)",
            figs,
            intro="Feature maps of one member, computed on the probe images.",
        )


_MEASURES = (
    (
        "weights",
        "symmetry_spread",
        "symmetry spread",
        "Largest distance of a unit's incoming weights from the layer's mean unit: 0 while the "
        "units are identical, growing as training makes them differ.",
    ),
    (
        "acts",
        "effective_rank",
        "effective rank",
        "Effective rank of the layer's activations on the probe set (Roy & Vetterli 2007): how "
        "many independent directions the units span; equals the width when all units differ.",
    ),
    (
        "acts",
        "distinct_units",
        "distinct units",
        "Number of groups of units whose activations correlate below 0.99: how many different "
        "functions the layer computes.",
    ),
)


def recording_document(rec: Recording, **options: Any) -> Document:
    """Shortcut: ``RecordingReport(rec, **options).build()``."""
    return RecordingReport(rec, **options).build()
