"""``unitscope consensus RUN``: K ≥ 3 seeds matched at once — cycle consistency, a joint order,
consensus units and universal units against their nulls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..match import consensus as find_consensus
from ..match import universal
from ..record import Recording
from ._io import echo_json


@click.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@click.option("--layer", default=None, metavar="NAME", help="Layer to match (default: the first).")
@click.option(
    "--step", type=int, default=-1, show_default=True, help="Checkpoint (negative: from the end)."
)
@click.option(
    "--fraction",
    type=float,
    default=0.5,
    show_default=True,
    help="A consensus unit is present in at least this share of the seeds, in (0, 1].",
)
@click.option(
    "--threshold",
    default="calibrated",
    show_default=True,
    metavar="R|calibrated",
    help="Correlation with a group's core unit that makes a seed's unit present; 'calibrated': "
    "the 99th percentile of best partners in randomly rotated layers (shared span only).",
)
@click.option(
    "--quantile",
    type=float,
    default=0.99,
    show_default=True,
    help="Quantile of the rotated null that calibrates the universal-unit threshold.",
)
@click.option("--no-universal", is_flag=True, help="Skip the universal units and their nulls.")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the nulls' rotations."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def consensus(
    run_dir: Path,
    layer: str | None,
    step: int,
    fraction: float,
    threshold: str,
    quantile: float,
    no_universal: bool,
    seed: int,
    as_json: bool,
) -> None:
    """Match the K >= 3 members of a recording jointly.

    Prints the cycle consistency of the pairwise matches (how often A->B->C lands where A->C
    does; chance is 1/width, and the same for the untrained networks), a joint alignment of
    all members, the consensus units present in at least --fraction of the seeds, and each
    unit's best-partner correlation against a randomly rotated, a shuffled and an untrained
    null (universal units).
    """
    rec = Recording.load(run_dir)
    found = find_consensus(rec, layer=layer, step=step, fraction=fraction, threshold=threshold)
    summary: dict[str, Any] = {"run": str(run_dir), "consensus": found.summary(), "universal": None}
    if not no_universal:
        u = universal(rec, layer=found.layer, step=step, quantile=quantile, seed=seed)
        summary["universal"] = u.summary()
    if as_json:
        echo_json(summary)
    else:
        _print(summary)


def _print(s: dict[str, Any]) -> None:
    c = s["consensus"]
    joint, units = c["joint_alignment"], c["consensus_units"]
    click.echo(
        f"consensus {s['run']} layer {c['layer']} step {c['step']}: {c['members']} members, "
        f"{c['units']} units, {c['seconds']:.2f} s"
    )
    click.echo(
        f"  cycle consistency {_num(c['cycle_consistency'])} (untrained "
        f"{_num(c['untrained_cycle_consistency'])}, chance {_num(c['chance'])})"
    )
    state = "converged" if joint["converged"] else "not converged"
    click.echo(
        f"  joint alignment: {joint['sweeps']} sweeps, {state}; mean aligned correlation "
        f"{_num(joint['mean_aligned_corr'])}"
    )
    click.echo(
        f"  consensus units (in >= {units['fraction']:g} of the seeds at r >= "
        f"{_num(units['threshold'])}): {units['count']} of {c['units']}; units by number of seeds "
        f"present: {units['support_histogram']}"
    )
    u = s["universal"]
    if u is not None:
        shares = ", ".join(_num(v) for v in u["fraction_universal"])
        fixed = ", ".join(_num(v) for v in u["fraction_universal_fixed"])
        nulls = ", ".join(f"{k} {_num(v)}" for k, v in u["null_fractions"].items())
        click.echo(
            f"  universal units (best partner above {_num(u['threshold'])}, the rotated null's "
            f"{u['quantile']:g} quantile): share per seed {shares}; nulls: {nulls}"
        )
        click.echo(f"  excess correlation > {u['fixed_excess']:g} (Gurnee et al.): {fixed}")
        click.echo(
            f"  span: linear CKA {_num(u['mean_cka'])}, SVCCA {_num(u['mean_svcca'])} "
            "(mean over pairs of seeds)"
        )


def _num(v: float | None) -> str:
    return "n/a" if v is None or v != v else f"{v:.3f}"
