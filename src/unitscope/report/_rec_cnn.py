"""Zeiler–Fergus figures of a convolutional recording (computed by :mod:`unitscope.views`)."""

from __future__ import annotations

import numpy as np

from .. import views
from ..models import UnitModel
from ..record import Recording
from ._document import Figure
from ._pictures import image_grid


def _pixels(x: np.ndarray) -> tuple[np.ndarray, str]:
    """Images (..., C, H, W) as gray (..., H, W) or RGB (..., 3, H, W), and their cmap."""
    if x.shape[-3] == 3:
        return x, "rgb"
    return x.mean(axis=-3), "gray"


def filters_figure(net: UnitModel, fid: str) -> Figure:
    """Every conv.0 filter of member 0 of ``net``, magnified."""
    w = views.first_layer_filters(net)[0]  # (C, C_in, k, k)
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


def maps_figure(
    net: UnitModel, layer: str, images: np.ndarray, labels: np.ndarray, fid: str
) -> Figure:
    """The maps of ``layer`` for a few chosen inputs, one row per input."""
    maps = views.feature_maps(net, layer, images)[0]  # (n, C, H, W)
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


def top_figure(
    net: UnitModel, layer: str, images: np.ndarray, maps: np.ndarray, fid: str
) -> Figure:
    """The top-9 receptive-field patches of every map of ``layer`` over the probe set."""
    top = views.top_patches(net, layer, images, n_top=min(9, len(images)), maps=maps)
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


def deconv_figure(
    net: UnitModel, layer: str, images: np.ndarray, maps: np.ndarray, fid: str
) -> Figure:
    """Each map's strongest activation projected to pixels, next to its input patch."""
    proj = views.deconv_projection(net, layer, images, maps=maps)
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


def occlusion_figure(net: UnitModel, images: np.ndarray, labels: np.ndarray, fid: str) -> Figure:
    """True-class probability under a sliding occluder, next to each input."""
    size = max(2, images.shape[-1] // 4)
    occ = views.occlusion(net, images, labels, size=size)[0]  # (n, H, W)
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


def evolution_figure(rec: Recording, layer: str, member: int, fid: str) -> Figure:
    """The maps of ``layer`` for probe input 0, following the page's timeline."""
    maps = views.map_evolution(rec, layer, 0, members=[member])[:, 0]  # (T, C, H, W)
    C = maps.shape[1]
    return image_grid(
        fid,
        maps,
        steps=rec.steps,
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


def projection_evolution_figure(rec: Recording, layer: str, member: int, fid: str) -> Figure:
    """Deconvnet projections of ``layer`` at up to five checkpoints."""
    T = len(rec.steps)
    picks = sorted(
        {int(rec.steps[t]) for t in np.linspace(0, T - 1, min(T, 5)).round().astype(int)}
    )
    steps, proj = views.projection_evolution(rec, layer, picks, member=member)
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
