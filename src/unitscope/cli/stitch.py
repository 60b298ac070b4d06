"""``unitscope stitch DIR_A [DIR_B]``: can network B use network A's units?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .._errors import UnitscopeError
from ..match import stitch_recordings
from ..match._stitch import CONTROLS, DEFAULT_FITS
from ..record import Recording
from ._io import echo_json
from ._own import factory_option, read_probe, recording_factory
from .match import parse_members


@click.command()
@click.argument("dir_a", type=click.Path(path_type=Path))
@click.argument("dir_b", type=click.Path(path_type=Path), required=False)
@click.option(
    "--members",
    metavar="I,J",
    help="Stitch member I of DIR_A into member J of DIR_B (or of DIR_A alone). "
    "Default: 0 into 1 of one recording, 0 into 0 of two.",
)
@click.option(
    "--fit",
    "fits",
    multiple=True,
    metavar="FIT",
    help="direct, task, permutation, orthogonal or lowrank:K (repeatable). "
    f"Default: {', '.join(DEFAULT_FITS)}.",
)
@click.option(
    "--control",
    "controls",
    multiple=True,
    metavar="NAME",
    help=f"Controls to run: {', '.join(CONTROLS)} (repeatable; default: all; 'none' for none).",
)
@click.option("--layer-a", "layers_a", multiple=True, metavar="NAME", help="A's source layer.")
@click.option("--layer-b", "layers_b", multiple=True, metavar="NAME", help="B's target layer.")
@click.option(
    "--step", type=int, default=-1, show_default=True, help="Checkpoint (negative: from the end)."
)
@click.option(
    "--task-steps", type=int, default=100, show_default=True, help="Steps of the task fit."
)
@click.option(
    "--margin",
    type=float,
    default=2.0,
    show_default=True,
    help="Accuracy points within which the raw input 'stitches as well' as A.",
)
@factory_option("for a torch recording (needed there)")
@click.option(
    "--data",
    "data",
    type=click.Path(path_type=Path),
    help="For a torch recording: a .npz with inputs `x` and targets `y` to stitch on instead "
    "of its probe set (split in halves: even rows fit the maps, odd rows score them).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def stitch(
    dir_a: Path,
    dir_b: Path | None,
    members: str | None,
    fits: tuple[str, ...],
    controls: tuple[str, ...],
    layers_a: tuple[str, ...],
    layers_b: tuple[str, ...],
    step: int,
    task_steps: int,
    margin: float,
    factory: str | None,
    data: Path | None,
    as_json: bool,
) -> None:
    """Stitch every layer of A into every layer of B through fitted maps.

    Prints the stitching penalty (B's accuracy minus the stitched network's, in points, and
    the loss increase) on the train and test data, for A's trained layers and for the controls:
    A into A (self), the raw input, and A before training (untrained); plus the distance of the
    stitched activations from B's own, and a flag where the raw input stitches as well as A.
    A recording of your own torch networks (Recording.from_models) needs --model, its
    factory, to rebuild them; it is stitched on its probe set, split in halves.
    """
    rec_a = Recording.load(dir_a)
    rec_b = Recording.load(dir_b) if dir_b is not None else None
    if rec_a.is_torch and factory is None:
        raise UnitscopeError(
            f"{str(dir_a)!r} is a recording of your own torch networks: name their factory with "
            "--model pkg.module:factory to rebuild them."
        )
    if data is not None and not rec_a.is_torch:
        raise UnitscopeError(
            f"--data is for a torch recording; {str(dir_a)!r} is a recording of unitscope's own "
            "model, stitched on its train and test data."
        )
    chosen = [] if list(controls) == ["none"] else list(controls or CONTROLS)
    result = stitch_recordings(
        rec_a,
        rec_b,
        members=parse_members(members),
        step=step,
        controls=chosen,
        fits=list(fits or DEFAULT_FITS),
        layers_a=list(layers_a) or None,
        layers_b=list(layers_b) or None,
        task_steps=task_steps,
        margin=margin,
        factory=recording_factory(rec_a, factory, dir_a),
        data=None if data is None else read_probe(data),
    )
    summary = {"a": str(dir_a), "b": str(dir_b or dir_a), **result.summary()}
    if as_json:
        echo_json(summary)
    else:
        _print(summary)


def _print(s: dict[str, Any]) -> None:
    i, j = s["members"]
    split = s["eval_split"]
    acc = f"{split}_acc" in s["target"]
    unit = "accuracy points" if acc else "loss increase"
    click.echo(
        f"stitch {s['a']} member {i} -> {s['b']} member {j}, step {s['step']}: penalty in "
        f"{unit} on {split} (B alone: {_own(s['target'], split)}), {s['seconds']:.1f} s"
    )
    for source, by_fit in s["penalty"].items():
        for fit, m in by_fit.items():
            values = m["acc_points"] if acc else m["loss"]
            cells = "; ".join(
                f"{r}->{c} {_num(v)}"
                for r, row in zip(m["rows"], values)
                for c, v in zip(m["cols"], row)
            )
            click.echo(f"  {source:<9} {fit:<12} {cells}")
    for line in s["flags"] + s["notes"]:
        click.echo(f"  note: {line}")


def _own(target: dict[str, float], split: str) -> str:
    if f"{split}_acc" in target:
        return f"accuracy {target[f'{split}_acc']:.4f}"
    return f"loss {target[f'{split}_loss']:.4g}"


def _num(v: float | None) -> str:
    return "n/a" if v is None or v != v else f"{v:.2f}"
