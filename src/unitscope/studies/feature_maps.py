"""Study ``feature_maps``: the CNN case of the question — feature maps of one layer.

The asker: "in convolution networks different feature maps produce very different outputs,
although they are connected to exactly the same input nodes". A SmallCNN is trained with K
seeds on digits (upsampled x2) and on patches of the sample photos. For each map: its filter,
its top-9 input patches, the deconvnet projection of its strongest activation and occlusion
sensitivity (Zeiler & Fergus 2014, via :mod:`unitscope.views`). Within a layer, the maps are
correlated over every (image, position) observation; across seeds they are matched one-to-one
by the Hungarian method on the same per-position correlations (Li et al. 2015). Finally a run
from a symmetric init (every map of a layer identical) in float64 tests whether identical maps
stay identical.
"""

from __future__ import annotations

import itertools
import time
import warnings
from typing import Any

import numpy as np

from .. import match, views
from ..measures import DegenerateInputWarning, symmetry_spread, unit_correlation
from ..record import Recording
from ..train import Config, fit
from ._common import (
    ProgressFn,
    Scale,
    config,
    fmt,
    no_progress,
    part,
    pick,
    rounding_tolerance,
    share_verdict,
)
from ._finding import FigureSpec, Finding, StudyResult
from .diversity import DUPLICATE_CORR, diversity_measures
from .symmetry import SEPARATED, unit_rows

NAME = "feature_maps"
TITLE = "Feature maps: different within a layer, the same across seeds?"
QUESTION = (
    "Feature maps of a CNN layer see exactly the same input, yet look very different "
    "(Zeiler & Fergus). Do they really compute different things, do two seeds learn the "
    "same maps in another order, and do maps that start identical stay identical?"
)

DIFFERENT_BELOW = 0.5  # maps compute different things: mean |corr| between them below this
SAME_ABOVE = 0.9  # two seeds learn the same maps: mean matched correlation at least this
NOT_SAME_BELOW = 0.5  # ... and different maps: mean matched correlation below this
N_TOP = 9
N_OCCLUDED = 4


# ---- verdicts ------------------------------------------------------------------------------
def verdict_maps_differ(
    mean_abs_corr: dict[str, float], distinct_fraction: dict[str, float]
) -> str:
    """Maps of one layer compute different things: in every case (dataset, layer; worst seed)
    mean |corr| between maps < :data:`DIFFERENT_BELOW` and every map distinct (distinct maps
    = C at |corr| < ``DUPLICATE_CORR``). Supported when every case passes, refuted when none
    does, mixed otherwise."""
    return share_verdict(
        [mean_abs_corr[k] < DIFFERENT_BELOW and distinct_fraction[k] >= 1.0 for k in mean_abs_corr]
    )


def verdict_same_maps(matched: dict[str, float]) -> str:
    """Two seeds learn the same maps in another order: supported when the mean matched
    correlation is >= :data:`SAME_ABOVE` in every case, refuted when it is below
    :data:`NOT_SAME_BELOW` in every case, mixed otherwise."""
    values = [v for v in matched.values() if np.isfinite(v)]
    if not values:
        return "inconclusive"
    if all(v >= SAME_ABOVE for v in values):
        return "supported"
    if all(v < NOT_SAME_BELOW for v in values):
        return "refuted"
    return "mixed"


def verdict_symmetric(
    spreads: dict[str, float], tolerances: dict[str, float], separated: dict[str, float]
) -> str:
    """Symmetric init keeps maps identical: supported when every layer's spread is at rounding
    level (<= its tolerance), refuted when one has separated (> ``separated``), else mixed."""
    if not spreads:
        return "inconclusive"
    if all(spreads[k] <= tolerances[k] for k in spreads):
        return "supported"
    if any(spreads[k] > separated[k] for k in spreads):
        return "refuted"
    return "mixed"


# ---- runs ----------------------------------------------------------------------------------
def datasets(scale: Scale) -> dict[str, dict[str, Any]]:
    """Dataset label -> config overrides."""
    n = pick(scale, 200, 600, 1797)
    size = pick(scale, 8, 16, 16)
    return {
        "digits x2": {"data.name": "digits", "data.options": {"n_samples": n, "upsample": 2}},
        "photo patches": {
            "data.name": "patches",
            "data.options": {"n_samples": pick(scale, 200, 600, 2000), "size": size},
        },
    }


def base_config(scale: Scale) -> Config:
    steps = pick(scale, 30, 150, 1500)
    return config(
        data={"n_probe": pick(scale, 32, 128, 256)},
        model={"kind": "cnn", "channels": pick(scale, [4, 6], [8, 16], [16, 32])},
        optim={"lr": 0.02, "momentum": 0.9},  # 0.05 kills most maps on the photo patches
        train={
            "steps": steps,
            "batch_size": 64,
            "n_checkpoints": 3,
            "eval_every": max(1, steps // 5),
        },
        seeds={"init": list(range(pick(scale, 2, 3, 6)))},
    )


def run(scale: Scale = "small", progress: ProgressFn | None = None) -> StudyResult:
    start = time.perf_counter()
    say = progress or no_progress
    result = StudyResult(NAME, TITLE, QUESTION)
    base = base_config(scale)
    cases: dict[str, dict[str, Any]] = {}
    for label, change_cfg in datasets(scale).items():
        say(f"{NAME}: {label}")
        with part(result, label):
            rec = fit(base.override(change_cfg))
            cases.update(layer_cases(rec, label))
            with part(result, f"{label} views"):
                result.figures += map_views(rec, label, cases)
    symmetric: dict[str, Any] = {}
    say(f"{NAME}: symmetric init")
    with part(result, "symmetric init"):
        first = next(iter(datasets(scale).values()))
        sym_cfg = base.override(
            {
                **first,
                "init.scheme": "symmetric",
                "train.dtype": "float64",
                "seeds.init": list(range(pick(scale, 2, 4, 8))),
            }
        )
        symmetric = symmetric_run(fit(sym_cfg))
    result.numbers = {
        "cases": {
            k: {n: v for n, v in c.items() if not n.startswith("_")} for k, c in cases.items()
        },
        "symmetric": {k: v for k, v in symmetric.items() if not k.startswith("_")},
        "steps": base.train.steps,
        "seeds": base.seeds.members,
    }
    findings(result, cases, symmetric)
    result.elapsed_s = time.perf_counter() - start
    return result


def positions(maps: np.ndarray) -> np.ndarray:
    """(K, n, C, H, W) maps -> (K, n*H*W, C): every (image, position) is an observation."""
    return np.moveaxis(maps, 2, -1).reshape(maps.shape[0], -1, maps.shape[2])


def layer_cases(rec: Recording, label: str) -> dict[str, dict[str, Any]]:
    """Per layer: within-layer map measures per seed, and the cross-seed matching."""
    net = rec.model(-1)
    images = rec.probe_x
    out = {}
    for layer in rec.layers:
        maps = views.feature_maps(net, layer, images)  # (K, n, C, H, W)
        K, C = maps.shape[0], maps.shape[2]
        m = {k: v[0] for k, v in diversity_measures(positions(maps)[None]).items()}  # (K,)
        pairs = list(itertools.combinations(range(K), 2))
        case: dict[str, Any] = {
            "maps": C,
            "mean_abs_corr": m["mean_abs_corr"].tolist(),
            "distinct_maps": m["distinct_units"].tolist(),
            "dead_maps": m["dead_units"].tolist(),
            "test_accuracy": rec.curves["test_acc"][:, -1].tolist(),
        }
        if pairs:
            a, b = (maps[[p[i] for p in pairs]] for i in (0, 1))  # (P, n, C, H, W)
            mt = match.activations(a, b)
            case.update(
                {
                    "pairs": [list(p) for p in pairs],
                    "matched_mean": mt.mean.tolist(),  # (P,)
                    "unaligned_mean": mt.unaligned.mean(axis=1).tolist(),
                    "null_mean": mt.null.mean(axis=1).tolist(),
                    "matched": mt.matched.tolist(),  # (P, C)
                    "perm_first_pair": mt.perm[0].tolist(),
                    "_cross": mt.corr[0],  # (C, C) seeds 0 x 1
                }
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateInputWarning)
            case["_within"] = unit_correlation(positions(maps[:1])[0])  # (C, C) seed 0
        out[f"{label} {layer}"] = case
    return out


def map_views(rec: Recording, label: str, cases: dict[str, dict[str, Any]]) -> list[FigureSpec]:
    """Zeiler–Fergus pictures of seed 0 (filters also of seed 1, in seed 0's order)."""
    slug = label.replace(" ", "-")
    net = rec.model(-1)
    first = net.select([0])
    deep = rec.layers[-1]
    return [
        filters_figure(net, slug, label, cases[f"{label} {rec.layers[0]}"].get("perm_first_pair")),
        *patch_figures(first, deep, rec.probe_x, slug, label),
        occlusion_figure(first, rec.probe_x, rec.probe_y, slug, label),
        correlation_figure(cases[f"{label} {deep}"], deep, slug, label),
    ]


def filters_figure(net: Any, slug: str, label: str, perm: list[int] | None) -> FigureSpec:
    filters = views.first_layer_filters(net)[:, :, 0]  # (K, C, k, k), first input channel
    rows = [filters[0]] + ([filters[1][perm]] if perm is not None else [])
    return FigureSpec(
        f"feature-maps-{slug}-filters",
        "image_grid",
        f"First-layer filters ({label}). Top: seed 0. Bottom: seed 1, reordered by the "
        "Hungarian matching of its maps to seed 0's, so that matched maps share a column.",
        {
            "images": np.concatenate(rows),
            "cmap": "diverging",
            "scale": "each",
            "cols": filters.shape[1],
            "row_labels": ["seed 0", "seed 1 matched"][: len(rows)],
        },
        f"Filters, {label}",
    )


def patch_figures(
    net: Any, layer: str, images: np.ndarray, slug: str, label: str
) -> list[FigureSpec]:
    """Top-9 patches and deconvnet projections of every map of ``layer`` (one member)."""
    top = views.top_patches(net, layer, images, min(N_TOP, len(images)))
    _, C, n_top = top.patches.shape[:3]
    proj = views.deconv_projection(net, layer, images)
    return [
        FigureSpec(
            f"feature-maps-{slug}-top-patches",
            "image_grid",
            f"For each map of {layer} (rows), the {n_top} probe images whose strongest activation "
            "is largest, cropped to the map's receptive field (Zeiler & Fergus).",
            {
                "images": top.patches[0, :, :, 0].reshape(C * n_top, *top.patches.shape[-2:]),
                "cmap": "gray",
                "scale": "each",
                "cols": n_top,
                "row_labels": [f"map {c}" for c in range(C)],
            },
            f"Top-{n_top} patches of {layer}, {label}",
        ),
        FigureSpec(
            f"feature-maps-{slug}-deconv",
            "image_grid",
            f"Each map of {layer} (columns): the input patch that excites it most (top) and the "
            "deconvnet projection of that activation back to pixels (bottom).",
            {
                "images": np.concatenate([proj.patches[0, :, 0], proj.crops[0, :, 0]]),
                "cmap": ["gray"] * C + ["diverging"] * C,
                "scale": "each",
                "cols": C,
                "row_labels": ["input patch", "deconv projection"],
            },
            f"Deconvnet projections of {layer}, {label}",
        ),
    ]


def occlusion_figure(
    net: Any, images: np.ndarray, labels: np.ndarray, slug: str, label: str
) -> FigureSpec:
    n = min(N_OCCLUDED, len(images))
    y = np.asarray(labels[:n])
    occ = views.occlusion(net, images[:n], y, size=3)  # (1, n, H, W)
    return FigureSpec(
        f"feature-maps-{slug}-occlusion",
        "image_grid",
        f"Occlusion sensitivity ({label}, seed 0): probability of the true class when a 3x3 "
        "square around each pixel is hidden (bottom, 0 to 1); dark = evidence the net uses.",
        {
            "images": np.concatenate([images[:n, 0], occ[0]]),
            "cmap": ["gray"] * n + ["sequential"] * n,
            "scale": "each",
            "cols": n,
            "ranges": [None] * n + [(0.0, 1.0)] * n,
            "labels": [f"class {int(c)}" for c in y] + ["p(true class)"] * n,
        },
        f"Occlusion, {label}",
    )


def correlation_figure(case: dict[str, Any], layer: str, slug: str, label: str) -> FigureSpec:
    panels = [np.nan_to_num(case["_within"])]
    titles = ["seed 0 × seed 0"]
    if "_cross" in case:
        panels.append(np.nan_to_num(case["_cross"][:, case["perm_first_pair"]]))
        titles.append("seed 0 × seed 1, matched order")
    return FigureSpec(
        f"feature-maps-{slug}-corr",
        "heatmap",
        f"Correlation between the maps of {layer} ({label}) over every image position: within "
        "seed 0 (off-diagonal = how alike two maps are) and between seeds 0 and 1 with seed "
        "1's maps in matched order (a bright diagonal = the same maps).",
        {
            "values": np.stack(panels),
            "cmap": "diverging",
            "vmin": -1.0,
            "vmax": 1.0,
            "panel_titles": titles,
        },
        f"Map correlations, {label}",
    )


def symmetric_run(rec: Recording) -> dict[str, Any]:
    """Spread of every conv layer at the end of a float64 run from identical maps.

    Only members whose maps are alive at the end count: a member whose maps all died stays
    symmetric trivially (no gradient reaches it).
    """
    net = rec.model(-1)
    maps = {layer: views.feature_maps(net, layer, rec.probe_x) for layer in rec.layers}
    live = [k for k in range(rec.members) if all(m[k].max() > 0 for m in maps.values())]
    spreads, tol, sep, map_spread = {}, {}, {}, {}
    for layer in rec.layers if live else []:
        rows = unit_rows(rec, layer)[-1, live]  # (live, C, fan_in + 1)
        spreads[layer] = max(symmetry_spread(r).max_distance for r in rows)
        scale = float(np.abs(rows).max())
        tol[layer] = rounding_tolerance("float64", scale)
        sep[layer] = SEPARATED * max(scale, 1.0)
        m = maps[layer][live]  # (live, n, C, H, W)
        map_spread[layer] = float(np.abs(m - m.mean(axis=2, keepdims=True)).max())
    shown = live[0] if live else 0
    return {
        "spread": spreads,
        "tolerance": tol,
        "separated": sep,
        "map_spread": map_spread,
        "live_members": live,
        "members": rec.members,
        "train_loss": rec.curves["train_loss"][:, -1].tolist(),
        "test_accuracy": rec.curves["test_acc"][:, -1].tolist(),
        "_maps": maps["conv.0"][shown, 0],
    }  # (C, H, W) of one probe image


# ---- findings ------------------------------------------------------------------------------
def worst(values: list[float]) -> float:
    """The largest finite value (NaN when none: every map of every seed was constant)."""
    finite = [v for v in values if np.isfinite(v)]
    return max(finite) if finite else float("nan")


def findings(
    result: StudyResult, cases: dict[str, dict[str, Any]], symmetric: dict[str, Any]
) -> None:
    if cases:
        corr = {k: worst(c["mean_abs_corr"]) for k, c in cases.items()}
        distinct = {k: float(np.min(c["distinct_maps"])) / c["maps"] for k, c in cases.items()}
        matched = {
            k: float(np.mean(c["matched_mean"])) for k, c in cases.items() if "matched_mean" in c
        }
        result.figures.append(cases_table(cases, corr, distinct, matched))
        result.findings.append(
            Finding(
                NAME,
                "The feature maps of one layer compute different things.",
                verdict_maps_differ(corr, distinct),  # type: ignore[arg-type]
                "; ".join(
                    f"{k}: mean |corr| {fmt(corr[k])}, {distinct[k]:.0%} of maps distinct"
                    for k in corr
                )
                + " (worst seed).",
                {"mean_abs_corr": corr, "distinct_fraction": distinct},
                {
                    "different_below": DIFFERENT_BELOW,
                    "distinct_fraction": 1.0,
                    "duplicate_corr": DUPLICATE_CORR,
                },
                ("feature-maps-table",),
            )
        )
        if matched:
            result.figures.append(
                FigureSpec(
                    "feature-maps-matched",
                    "histogram",
                    "Correlation of each map with its matched map in another seed, over all seed "
                    "pairs (Li et al. 2015). Near 1: the same map, learned in another position.",
                    {
                        "samples": {k: np.ravel(cases[k]["matched"]) for k in matched},
                        "markers": {"same": SAME_ABOVE, "different": NOT_SAME_BELOW},
                        "x_label": "matched correlation",
                    },
                    "Matched maps across seeds",
                )
            )
            result.findings.append(
                Finding(
                    NAME,
                    "Two seeds learn the same feature maps, in another order.",
                    verdict_same_maps(matched),  # type: ignore[arg-type]
                    "mean matched correlation: "
                    + ", ".join(
                        f"{k} {fmt(v)} (unmatched order "
                        f"{fmt(float(np.mean(cases[k]['unaligned_mean'])))}, shuffled-images null "
                        f"{fmt(float(np.mean(cases[k]['null_mean'])))})"
                        for k, v in matched.items()
                    )
                    + ".",
                    {"matched": matched},
                    {"same_above": SAME_ABOVE, "not_same_below": NOT_SAME_BELOW},
                    ("feature-maps-matched", "feature-maps-table"),
                )
            )
    if symmetric:
        result.figures += symmetric_figures(symmetric)
        result.findings.append(symmetric_finding(symmetric))


def cases_table(
    cases: dict[str, dict[str, Any]],
    corr: dict[str, float],
    distinct: dict[str, float],
    matched: dict[str, float],
) -> FigureSpec:
    def mean(c: dict[str, Any], key: str) -> str:
        return fmt(float(np.mean(c[key]))) if key in c else "nan"

    return FigureSpec(
        "feature-maps-table",
        "table",
        "Per dataset and layer: mean |corr| between the maps of one seed (worst seed), "
        f"distinct maps at |corr| < {DUPLICATE_CORR} (fewest over seeds), and the mean "
        "correlation of matched maps across seeds (Hungarian matching), against the unmatched "
        "order and a shuffled-images null.",
        {
            "columns": [
                "case",
                "maps",
                "mean |corr| within",
                "distinct maps",
                "dead maps",
                "matched corr",
                "unaligned corr",
                "null corr",
                "test accuracy",
            ],
            "rows": [
                [
                    k,
                    c["maps"],
                    fmt(corr[k]),
                    f"{distinct[k] * c['maps']:.0f}",
                    f"{np.max(c['dead_maps']):.0f}",
                    fmt(matched.get(k, float("nan"))),
                    mean(c, "unaligned_mean"),
                    mean(c, "null_mean"),
                    mean(c, "test_accuracy"),
                ]
                for k, c in cases.items()
            ],
        },
        "Maps within a layer and across seeds",
    )


def symmetric_figures(s: dict[str, Any]) -> list[FigureSpec]:
    return [
        FigureSpec(
            "feature-maps-symmetric",
            "table",
            "A float64 run where every map of each layer starts identical: spread of the maps' "
            "weights (max distance from the mean map) and of their outputs at the end, over the "
            "seeds whose maps stayed alive.",
            {
                "columns": ["layer", "weight spread", "rounding tolerance", "map output spread"],
                "rows": [
                    [k, fmt(v), fmt(s["tolerance"][k]), fmt(s["map_spread"][k])]
                    for k, v in s["spread"].items()
                ],
            },
            "Identical maps from a symmetric init",
        ),
        FigureSpec(
            "feature-maps-symmetric-maps",
            "image_grid",
            "The conv.0 maps of one probe image after training from a symmetric init: every map "
            "is the same picture.",
            {"images": s["_maps"], "cmap": "gray", "scale": "all", "cols": len(s["_maps"])},
            "Maps from a symmetric init",
        ),
    ]


def symmetric_finding(s: dict[str, Any]) -> Finding:
    acc = [s["test_accuracy"][k] for k in s["live_members"]]
    live_acc = float(np.mean(acc)) if acc else float("nan")
    return Finding(
        NAME,
        "Feature maps that start identical stay identical (float64).",
        verdict_symmetric(s["spread"], s["tolerance"], s["separated"]),  # type: ignore[arg-type]
        f"{len(s['live_members'])} of {s['members']} seeds kept live maps; final spread: "
        + ", ".join(
            f"{k} {fmt(v)} (tolerance {fmt(s['tolerance'][k])})" for k, v in s["spread"].items()
        )
        + f"; test accuracy of the live seeds {fmt(live_acc)} (the net acts like one map "
        "per layer).",
        {"spreads": s["spread"], "live_members": len(s["live_members"])},
        {"tolerances": s["tolerance"], "separated": s["separated"]},
        ("feature-maps-symmetric", "feature-maps-symmetric-maps"),
    )
