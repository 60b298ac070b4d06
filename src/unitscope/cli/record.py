"""``unitscope record MEMBER... --model PKG.MODULE:FACTORY --data PROBE.npz --layer NAME --out
DIR``: a recording of your own networks, from their checkpoint files.

Each MEMBER is one network: a checkpoint file, or its checkpoints over training joined by
commas (``a0.pt,a1.pt,a2.pt``; every member the same number, numbered by ``--steps``). The
files are loaded into networks the factory builds (``torch.load(weights_only=True)`` or
safetensors, never other pickles) and recorded on the probe set (``Recording.from_models``);
the folder then works with ``report``, ``info``, ``consensus``, ``compare``, and with
``match`` / ``stitch`` given ``--model``.
"""

from __future__ import annotations

from pathlib import Path

import click

from .._errors import UnitscopeError
from ..record import Recording
from ._io import echo_json
from ._own import WEIGHT_FILES, factory_option, importable_here, parse_layouts, read_probe


@click.command()
@click.argument("members", nargs=-1, required=True, metavar="MEMBER...")
@factory_option("to build each network its checkpoints are loaded into (needed)")
@click.option(
    "--data",
    "data",
    type=click.Path(path_type=Path),
    required=True,
    help="A .npz with the probe inputs `x` and targets `y` the layers are recorded on.",
)
@click.option(
    "--layer",
    "layers",
    multiple=True,
    required=True,
    metavar="NAME",
    help="A module of your network to record (repeatable; 'relu#1' for a reused module's "
    "second call).",
)
@click.option(
    "--layout",
    "layouts",
    multiple=True,
    metavar="LAYOUT|NAME=LAYOUT",
    help="Layout of layers with positions, e.g. NCHW (every 4-D layer) or layer1=NHWC "
    "(repeatable). Never guessed.",
)
@click.option(
    "--steps",
    default=None,
    metavar="S0,S1,...",
    help="Training steps of each member's checkpoints, increasing (default 1..T: none is "
    "taken for the network before training; number that one 0).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder to write the recording to (must not exist unless --force).",
)
@click.option("--force", is_flag=True, help="Replace an existing recording folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
def record(
    members: tuple[str, ...],
    factory: str | None,
    data: Path,
    layers: tuple[str, ...],
    layouts: tuple[str, ...],
    steps: str | None,
    out: Path,
    force: bool,
    as_json: bool,
) -> None:
    """Record the layers of your own networks on a probe set, from their checkpoint files.

    Each MEMBER is one network: a checkpoint file (.pt, .pth, .bin, .ckpt, .safetensors), or
    its checkpoints over training joined by commas, the same number for every member.
    """
    if factory is None:
        raise UnitscopeError(
            "recording checkpoint files needs --model PKG.MODULE:FACTORY, the function that "
            "builds your network."
        )
    files = [_member_files(text) for text in members]
    if len({len(f) for f in files}) != 1:
        counts = ", ".join(f"{len(f)}" for f in files)
        raise UnitscopeError(
            f"every member needs the same number of checkpoints, got {counts}; join each "
            "member's checkpoints with commas, in the same order of training."
        )
    numbered = _steps(steps, len(files[0]))
    Recording.check_destination(out, overwrite=force)  # before any work
    probe = read_probe(data)
    importable_here()
    from ..record._load import build

    rec = Recording.from_models(
        [build(factory) for _ in files],
        probe,
        list(layers),
        checkpoints=[[str(path) for path in member] for member in files],
        steps=numbered,
        layout=parse_layouts(layouts),
        factory=factory,
        name=data.name,
    )
    rec.save(out, overwrite=force)
    summary = {
        "out": str(out),
        "members": rec.members,
        "steps": rec.steps.tolist(),
        "layers": {name: rec.meta.n_units(name) for name in rec.layers},
        "layouts": dict(rec.meta.layouts or {}),
        "probe": int(rec.probe_x.shape[0]),
    }
    if as_json:
        echo_json(summary)
        return
    units = ", ".join(f"{name} ({n} units)" for name, n in summary["layers"].items())
    click.echo(
        f"recorded {rec.members} member(s) at steps {summary['steps']} on {summary['probe']} "
        f"probe samples: {units} -> {out}"
    )


def _member_files(text: str) -> list[Path]:
    """One member's checkpoint files, in training order."""
    paths = [Path(part) for part in text.split(",")]
    for path in paths:
        if path.suffix not in WEIGHT_FILES or not path.is_file():
            raise UnitscopeError(
                f"{str(path)!r} is not a checkpoint file ({', '.join(WEIGHT_FILES)}); give one "
                "file per member, or a member's checkpoints joined by commas."
            )
    return paths


def _steps(text: str | None, T: int) -> list[int] | None:
    """``"0,100,1000"`` -> [0, 100, 1000] (checked by ``from_models``); None for the default."""
    if text is None:
        return None
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise UnitscopeError(
            f"--steps must be integers joined by commas, e.g. 0,500,1000; got {text!r}."
        ) from None
    if len(values) != T:
        raise UnitscopeError(
            f"--steps gives {len(values)} step(s) for {T} checkpoint(s) per member; give one "
            "step per checkpoint."
        )
    return values
