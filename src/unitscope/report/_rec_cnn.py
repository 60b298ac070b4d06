"""Zeiler–Fergus figures of a convolutional recording, drawn from
the views of a recording (``FeatureMapViews``)."""

from __future__ import annotations

import numpy as np

from ..views._recording_views import ConvLayerMaps, FeatureMapViews
from ._document import Figure
from ._pictures import image_grid


def figures(fm: FeatureMapViews, steps: np.ndarray) -> list[Figure]:
    """Every figure of the section, in page order."""
    figs = [filters_figure(fm.filters, "filters")]
    for i, layer in enumerate(fm.layers):
        figs.append(maps_figure(layer, fm.labels, f"maps-{i}"))
        figs.append(top_figure(layer, f"top-{i}"))
        figs.append(deconv_figure(layer, f"deconv-{i}"))
        figs.append(evolution_figure(layer, steps, f"evolution-{i}"))
    if fm.occlusion is not None:  # a classification task
        figs.append(occlusion_figure(fm.images, fm.labels, fm.occlusion, fm.occluder, "occlusion"))
    figs.append(projection_evolution_figure(fm, fm.layers[-1].layer, "deconv-evolution"))
    return figs


def _pixels(x: np.ndarray) -> tuple[np.ndarray, str]:
    """Images (..., C, H, W) as gray (..., H, W) or RGB (..., 3, H, W), and their cmap."""
    if x.shape[-3] == 3:
        return x, "rgb"
    return x.mean(axis=-3), "gray"


def filters_figure(w: np.ndarray, fid: str) -> Figure:
    """Every conv.0 filter ``w`` (C, C_in, k, k) of the member, magnified."""
    images, cmap = (w, "rgb") if w.shape[1] == 3 else (w.reshape(-1, *w.shape[2:]), "diverging")
    C = len(w)
    labels = [
        f"map {c}" if w.shape[1] in (1, 3) else f"map {c}/in {i}"
        for c in range(C)
        for i in range(1 if w.shape[1] == 3 else w.shape[1])
    ]
    return image_grid(
        fid,
        images,
        cmap=cmap,
        cols=min(16, len(images)),
        labels=labels,
        title="First-layer filters",
        caption=(
            "Every filter of conv.0, magnified (each with its own color scale; blue "
            "positive, orange negative for one input channel). All maps see exactly the "
            "same pixels; these weights are what makes them detect different patterns."
        ),
    )


def maps_figure(lm: ConvLayerMaps, labels: np.ndarray, fid: str) -> Figure:
    """The maps of the layer for a few chosen inputs, one row per input."""
    maps, layer = lm.maps, lm.layer  # (n, C, H, W)
    n, C = maps.shape[:2]
    return image_grid(
        fid,
        maps.reshape(n * C, *maps.shape[2:]),
        cmap="gray",
        cols=C,
        labels=[f"map {c}" for _ in range(n) for c in range(C)],
        row_labels=[f"input {i} (class {labels[i]})" for i in range(n)],
        title=f"Feature maps of {layer} for chosen inputs",
        caption=(
            f"Each row is one probe input, each column one feature map of {layer} after "
            "the ReLU (white = strong activation, each map on its own scale). The same "
            "input lights up different maps in different places: the maps are not copies."
        ),
    )


def top_figure(lm: ConvLayerMaps, fid: str) -> Figure:
    """The top-9 receptive-field patches of every map of the layer over the probe set."""
    top, layer = lm.top, lm.layer
    patches = top.patches[0]  # (C, 9, C_in, r, r)
    C, n_top = patches.shape[:2]
    pixels, cmap = _pixels(patches.reshape(C * n_top, *patches.shape[2:]))
    return image_grid(
        fid,
        pixels,
        cmap=cmap,
        cols=n_top,
        row_labels=[f"map {c}" for c in range(C)],
        labels=[f"{v:.2g}" for v in top.value[0].ravel()],
        title=f"Top-{n_top} input patches of each {layer} map",
        caption=(
            f"For each map of {layer} (a row), the {n_top} probe images that excite it "
            f"most, cropped to the map's {top.field.size}x{top.field.size}-pixel receptive "
            "field around the strongest position; the label is the activation. Rows that "
            "look alike are maps that respond to the same pattern."
        ),
    )


def deconv_figure(lm: ConvLayerMaps, fid: str) -> Figure:
    """Each map's strongest activation projected to pixels, next to its input patch."""
    proj, layer = lm.projection, lm.layer
    C = proj.crops.shape[1]
    crops, _ = _pixels(proj.crops[0])  # (C, [3,] r, r)
    patches, patch_cmap = _pixels(proj.patches[0])
    pairs = np.stack([crops, patches], axis=1).reshape(2 * C, *crops.shape[1:])
    cmaps = ["diverging" if crops.ndim == 3 else "rgb", patch_cmap] * C
    return image_grid(
        fid,
        pairs,
        cmap=cmaps,
        cols=min(16, 2 * C),
        labels=[s for c in range(C) for s in (f"map {c}", "input")],
        title=f"Deconvnet projections of the strongest {layer} activations",
        caption=(
            f"For each map of {layer}, its single strongest activation over the probe set "
            "projected back to pixel space with a deconvnet (unpooling with the forward "
            "switches, rectified backward signal, transposed filters; Zeiler & Fergus "
            "2014), next to the input patch it came from. The projection shows which "
            "pixels drive that map."
        ),
    )


def occlusion_figure(
    images: np.ndarray, labels: np.ndarray, occ: np.ndarray, size: int, fid: str
) -> Figure:
    """True-class probability ``occ`` (n, H, W) under a sliding occluder of ``size`` pixels,
    next to each input."""
    pixels, cmap = _pixels(images)
    if cmap == "rgb":
        pixels = pixels.mean(axis=1)
    n = len(images)
    both = np.stack([pixels, occ], axis=1).reshape(2 * n, *occ.shape[1:])
    return image_grid(
        fid,
        both,
        cmap=["gray", "sequential"] * n,
        cols=min(8, 2 * n),
        ranges=[None, (0.0, 1.0)] * n,
        labels=[s for i in range(n) for s in (f"input {i}: {labels[i]}", f"p(class {labels[i]})")],
        title="Occlusion sensitivity",
        caption=(
            f"Next to each input, the probability of its true class when a gray "
            f"{size}x{size} square hides the pixels around each position (yellow = still "
            "confident, dark = the evidence the network relies on)."
        ),
    )


def evolution_figure(lm: ConvLayerMaps, steps: np.ndarray, fid: str) -> Figure:
    """The maps of the layer for probe input 0, following the page's timeline."""
    maps, layer = lm.evolution, lm.layer  # (T, C, H, W)
    C = maps.shape[1]
    return image_grid(
        fid,
        maps,
        steps=steps,
        cmap="gray",
        cols=min(16, C),
        labels=[f"map {c}" for c in range(C)],
        title=f"Feature maps of {layer} during training",
        caption=(
            f"The maps of {layer} for probe input 0 at the timeline's checkpoint (each map "
            "on its own scale). Move the timeline: the maps start alike and diverge as "
            "training goes on."
        ),
    )


def projection_evolution_figure(fm: FeatureMapViews, layer: str, fid: str) -> Figure:
    """Deconvnet projections of the last conv ``layer`` at up to five checkpoints."""
    steps, proj = fm.projection_steps, fm.projection_evolution
    crops, _ = _pixels(proj.crops)  # (T', C, [3,] r, r)
    Tn, C = crops.shape[:2]
    return image_grid(
        fid,
        crops.reshape(Tn * C, *crops.shape[2:]),
        cols=C,
        cmap="diverging" if crops.ndim == 4 else "rgb",
        row_labels=[f"step {s}" for s in steps],
        labels=[f"map {c}" for c in range(C)] * Tn,
        title=f"Deconvnet projections of {layer} across training",
        caption=(
            f"Each row is one checkpoint; each column the projection of a {layer} map's "
            "strongest activation (as in Zeiler & Fergus, Fig. 4). Early rows look alike "
            "or noisy; later rows show each map settling on its own pattern."
        ),
    )
