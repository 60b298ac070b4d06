"""Figures of whether the members of one recording learned the same units, drawn from its views
(``SeedViews``): universal units against their nulls and cycle consistency over triples.

Captions state what is plotted and the measured numbers; a view that could not be made is
left out and its reason goes to the section's introduction (:func:`reasons`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..views._seed_views import CycleView, SeedViews, UniversalView
from ._document import Figure
from ._figures import histogram


def figures(seeds: Sequence[SeedViews]) -> list[Figure]:
    """The universal-units and cycle-consistency histograms of every layer, in page order."""
    figs = []
    for index, s in enumerate(seeds):
        if s.universal is not None:
            figs.append(universal_figure(s, s.universal, index))
        if s.cycle is not None:
            figs.append(cycle_figure(s, s.cycle, index))
    return figs


def reasons(seeds: Sequence[SeedViews]) -> str:
    """One sentence per view and reason that left it out, naming its layers, for the
    section's introduction ("" when every view is shown)."""
    missing: dict[tuple[str, str], list[str]] = {}  # (view, reason) -> layers, in order
    for s in seeds:
        if s.universal is None:
            missing.setdefault(("Universal units", s.universal_reason), []).append(s.layer)
        if s.cycle is None and s.cycle_reason != s.universal_reason:
            missing.setdefault(("Cycle consistency", s.cycle_reason), []).append(s.layer)
    return " ".join(
        f"{view} of {', '.join(layers)}: not shown, {why}."
        for (view, why), layers in missing.items()
    )


def universal_figure(s: SeedViews, u: UniversalView, index: int) -> Figure:
    """Best-partner correlations of the live units against the rotated, shuffled and
    untrained nulls, with the calibrated threshold as a marker."""
    if u.untrained_reason:
        nulls, untrained = (
            "and the partners' probe rows shuffled",
            (f" There is no untrained null: {u.untrained_reason}."),
        )
    else:
        nulls = "the partners' probe rows shuffled, and the untrained networks (step 0)"
        untrained = (
            f" Untrained networks: {_pct(u.null_shares['untrained'])} of their units lie above "
            "the threshold."
        )
    return histogram(
        f"universal-{index}", u.samples, bins=30,
        markers={f"threshold ({_q(u.quantile)} pct. of rotated)": u.threshold},
        x_label="best-partner correlation", y_label="share of each sample", density=True,
        title=f"Best-partner correlation of the units of {s.layer} across {s.members} members",
        caption=(f"For each live unit of {s.layer} ({u.live} of {u.units} units over the "
                 f"{s.members} members{_maps(s)}) at step {s.step} on the probe set: the mean "
                 "over the other members of its best correlation with any of their units "
                 "(Gurnee et al. 2024). Nulls: the partners' layers randomly rotated (the same "
                 f"subspace without a privileged basis; {u.draws} draws per unit), {nulls}. "
                 f"The threshold {u.threshold:.3f} is the rotated null's {_q(u.quantile)} "
                 f"percentile; {_pct(u.share)} of live units lie above it (averaged over "
                 f"members), {_pct(u.rotated_share)} under the rotated null and "
                 f"{_pct(u.null_shares['shuffled'])} under the shuffled one.{untrained} "
                 f"The span, averaged over pairs of members: linear CKA {_num(u.cka)}, "
                 f"SVCCA {_num(u.svcca)}."),
    )  # fmt: skip


def cycle_figure(s: SeedViews, c: CycleView, index: int) -> Figure:
    """Cycle consistency of every triple of members, trained and at step 0, with chance."""
    samples = {"trained": c.trained}
    if c.untrained is not None:
        samples["untrained (step 0)"] = c.untrained
        baseline = f" The same members at step 0: mean {c.untrained_mean:.3f}."
    else:
        baseline = f" There is no untrained baseline: {c.untrained_reason}."
    return histogram(
        f"cycle-{index}", samples, bins=20, value_range=(0.0, 1.0),
        markers={"chance (1/width)": c.chance},
        x_label="cycle consistency", y_label="triples of members",
        title=f"Cycle consistency of the matches of {s.layer} over triples of members",
        caption=(f"For each triple of the {s.members} members ({len(c.trained)} in all): the "
                 f"share of units of {s.layer} for which the Hungarian match A→B "
                 "followed by B→C lands on the unit that A→C gives, at step "
                 f"{s.step} on the probe set. Mean {c.mean:.3f}; chance 1/{c.width} = "
                 f"{c.chance:.3f}.{baseline} {c.consensus_units} of {c.width} positions of a "
                 f"joint alignment of all members hold one unit in at least {c.fraction:.0%} "
                 f"of the members (correlation ≥ {c.threshold:.3f} with the position's core "
                 "unit, the universal-units threshold)."),
    )  # fmt: skip


def _maps(s: SeedViews) -> str:
    if s.kind != "conv":
        return ""
    if s.full_maps:
        return "; a unit is a feature map, every image position an observation"
    return "; a unit is a feature map, observed through its mean over positions"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if x == x else "undefined"  # NaN: no live unit


def _num(x: float) -> str:
    return f"{x:.3f}" if x == x else "undefined (a constant layer)"


def _q(quantile: float) -> str:
    return f"{100 * quantile:g}th"
