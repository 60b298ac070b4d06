"""``unitscope match DIR_A [DIR_B]``: which unit is which across runs, and the barrier between."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .._errors import UnitscopeError
from ..match import METHODS, compare
from ..record import Recording
from ._io import echo_json


def parse_members(text: str | None) -> tuple[int, int] | None:
    """``"0,1"`` -> ``(0, 1)``."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        i, j = (int(p) for p in parts)
    except ValueError:
        raise UnitscopeError(
            f"`--members` must be two member indices like 0,1, got {text!r}."
        ) from None
    return i, j


@click.command()
@click.argument("dir_a", type=click.Path(path_type=Path))
@click.argument("dir_b", type=click.Path(path_type=Path), required=False)
@click.option(
    "--members",
    metavar="I,J",
    help="Compare member I of DIR_A with member J of DIR_B (or of DIR_A alone). "
    "Default: all pairs of one recording; member k with member k of two.",
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="weights",
    show_default=True,
    help="How B is aligned to A: weight matching or probe-set activation matching.",
)
@click.option(
    "--layer",
    "layers",
    multiple=True,
    metavar="NAME",
    help="Show only this layer (repeatable). Alignment always covers every layer.",
)
@click.option(
    "--step",
    type=int,
    default=-1,
    show_default=True,
    help="Checkpoint step to compare (negative counts from the end).",
)
@click.option(
    "--points",
    type=int,
    default=25,
    show_default=True,
    help="Points on the line between the two networks.",
)
@click.option("--repair", is_flag=True, help="Also report the aligned barrier with REPAIR.")
@click.option("--no-barrier", is_flag=True, help="Skip the interpolation (matching only).")
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the weight-matching layer order and of the null's shuffle.",
)
@click.option(
    "--null",
    type=click.Choice(["shuffle", "untrained"]),
    default="shuffle",
    show_default=True,
    help="Correlation null: B's probe rows shuffled, or B before training (step 0).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def match(
    dir_a: Path,
    dir_b: Path | None,
    members: str | None,
    method: str,
    layers: tuple[str, ...],
    step: int,
    points: int,
    repair: bool,
    no_barrier: bool,
    seed: int,
    null: str,
    as_json: bool,
) -> None:
    """Match the hidden units of two runs and measure the loss barrier before and after.

    With one recording DIR_A, its members are compared with each other; with two, member k
    of DIR_A with member k of DIR_B. Prints the permutation, the matched correlations (with
    baselines: identity order, best sibling, shuffled null) and the barrier.
    """
    rec_a = Recording.load(dir_a)
    rec_b = Recording.load(dir_b) if dir_b is not None else None
    for name in layers:
        rec_a.check_layer(name)
    result = compare(
        rec_a,
        rec_b,
        members=parse_members(members),
        step=step,
        method=method,
        barrier=not no_barrier,
        n_points=points,
        repair=repair,
        seed=seed,
        null=null,
    )
    summary = {"a": str(dir_a), "b": str(dir_b or dir_a), **result.summary(list(layers) or None)}
    if as_json:
        echo_json(summary)
    else:
        _print(summary)


def _print(s: dict[str, Any]) -> None:
    click.echo(
        f"match {s['a']} vs {s['b']}: step {s['step']}, method {s['method']}, "
        f"{len(s['pairs'])} pair(s), alignment {s['seconds']:.2f} s"
    )
    for pair in s["pairs"]:
        i, j = pair["members"]
        click.echo(f"pair {i}-{j}")
        for name, m in pair["layers"].items():
            click.echo(
                f"  {name}: matched corr {m['mean_matched']:.3f} (semi {m['mean_semi']:.3f}, "
                f"identity order {m['mean_unaligned']:.3f}, best sibling {m['mean_sibling']:.3f}"
                f", null {m['mean_null']:.3f}); > 0.9: {m['fraction_above_0.9']:.0%}, "
                f"< 0.3: {m['fraction_below_0.3']:.0%}; "
                f"under alignment {m['mean_aligned_corr']:.3f}"
            )
            click.echo(f"    permutation: {_short(m['alignment_perm'])}")
        b = pair["barrier"]
        if b is not None:
            split = (
                "test"
                if "test" in b["naive"]
                else next(k for k in b["naive"] if isinstance(b["naive"][k], dict))
            )
            line = (
                f"  barrier ({split} loss): naive {b['naive'][split]['barrier']:.4f} -> "
                f"aligned {b['aligned'][split]['barrier']:.4f} "
                f"({_pct(b['reduction_aligned'])} lower)"
            )
            if "repaired" in b:
                line += (
                    f", with REPAIR {b['repaired'][split]['barrier']:.4f} "
                    f"({_pct(b['reduction_repaired'])} lower)"
                )
            click.echo(line)


def _short(perm: list[int], n: int = 16) -> str:
    head = ", ".join(str(p) for p in perm[:n])
    return f"[{head}{', ...' if len(perm) > n else ''}]"


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{x:.0%}"
