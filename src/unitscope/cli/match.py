"""``unitscope match DIR_A [DIR_B]``: which unit is which across runs, and the barrier between.

``unitscope match a.pt b.pt --model pkg.module:factory --data probe.npz --layer NAME ...``
matches two checkpoints of the user's own network the same way: both are loaded into models
the factory builds (``torch.load(weights_only=True)`` or safetensors, never other pickles),
recorded on the probe set (``Recording.from_models``) and matched, with the same JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .._errors import UnitscopeError
from ..match import METHODS, compare
from ..record import Recording
from ._io import echo_json
from ._own import (
    WEIGHT_FILES,
    factory_option,
    importable_here,
    parse_layouts,
    read_probe,
    recording_factory,
)


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
    default=None,
    help="How B is aligned to A: weight matching or probe-set activation matching. "
    "Default: weights; activations for your own torch networks.",
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
@factory_option("for checkpoint files or a torch recording")
@click.option(
    "--data",
    "data",
    type=click.Path(path_type=Path),
    help="For checkpoint files: a .npz with probe inputs `x` and targets `y`.",
)
@click.option(
    "--layout",
    "layouts",
    multiple=True,
    metavar="LAYOUT|NAME=LAYOUT",
    help="For checkpoint files: layout of layers with positions, e.g. NCHW (every 4-D "
    "layer) or layer1=NHWC (repeatable). Never guessed.",
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
    factory: str | None,
    data: Path | None,
    layouts: tuple[str, ...],
    as_json: bool,
) -> None:
    """Match the hidden units of two runs and measure the loss barrier before and after.

    With one recording DIR_A, its members are compared with each other; with two, member k
    of DIR_A with member k of DIR_B. Prints the permutation, the matched correlations (with
    baselines: identity order, best sibling, shuffled null) and the barrier. DIR_A and DIR_B
    may also be checkpoint files of your own network (.pt, .safetensors) with --model, --data
    and --layer: weight matching through the network's traced permutation spec, and the
    barrier on the --data probe set with BatchNorm statistics reset. A recording of torch
    networks (Recording.from_models) is matched by its activations, or like checkpoint files
    when --model names its factory.
    """
    files = _is_weights(dir_a) or (dir_b is not None and _is_weights(dir_b))
    if files:
        rec_a = _record_files(dir_a, dir_b, factory, data, layers, layouts)
        rec_b, members = None, members or "0,1"
    else:
        for flag, value in (("--data", data), ("--layout", layouts)):
            if value:
                raise UnitscopeError(
                    f"{flag} is for checkpoint files (.pt, .safetensors); {str(dir_a)!r} is a "
                    "recording folder, which holds its probe set and layers."
                )
        rec_a = Recording.load(dir_a)
        rec_b = Recording.load(dir_b) if dir_b is not None else None
        recording_factory(rec_a, factory, dir_a)  # refused for unitscope's own recordings
    for name in layers:
        rec_a.check_layer(name)
    options: dict[str, Any] = dict(
        members=parse_members(members), step=step, n_points=points, repair=repair, seed=seed,
        null=null,
    )  # fmt: skip
    if rec_a.is_torch and factory is not None:  # the networks are at hand: weights, barrier
        from ..match._compare_torch import compare_torch

        result = compare_torch(
            rec_a, rec_b, method=method or "weights", barrier=not no_barrier,
            factory=recording_factory(rec_a, factory, dir_a), **options,
        )  # fmt: skip
    else:  # unitscope's recordings; torch recordings by their activations only
        torch_rec = rec_a.is_torch
        result = compare(
            rec_a, rec_b, method=method or ("activations" if torch_rec else "weights"),
            barrier=not no_barrier and not torch_rec, **options,
        )  # fmt: skip
    summary = {"a": str(dir_a), "b": str(dir_b or dir_a), **result.summary(list(layers) or None)}
    if as_json:
        echo_json(summary)
    else:
        _print(summary)


def _is_weights(path: Path) -> bool:
    return path.suffix in WEIGHT_FILES and not path.is_dir()


def _record_files(
    file_a: Path,
    file_b: Path | None,
    factory: str | None,
    data: Path | None,
    layers: tuple[str, ...],
    layouts: tuple[str, ...],
) -> Recording:
    """A two-member torch recording of checkpoints A and B on the probe set in ``data``."""
    if file_b is None or not (_is_weights(file_a) and _is_weights(file_b)):
        raise UnitscopeError(
            "checkpoint files are matched in pairs: give two files, e.g. `unitscope match "
            "a.pt b.pt --model pkg.module:factory --data probe.npz --layer fc1`."
        )
    if factory is None or data is None:
        flag = "--model PKG.MODULE:FACTORY" if factory is None else "--data FILE.npz"
        raise UnitscopeError(f"matching checkpoint files needs {flag}.")
    if not layers:
        raise UnitscopeError(
            "name the layers to match with --layer (module names of your network, e.g. "
            "--layer layer1 --layer fc; 'relu#1' for a reused module's second call)."
        )
    from ..record._load import build, load_into, load_state

    importable_here()
    nets = [
        load_into(build(factory), load_state(path), f"{str(path)!r}") for path in (file_a, file_b)
    ]
    return Recording.from_models(
        nets,
        read_probe(data),
        list(layers),
        layout=parse_layouts(layouts),
        factory=factory,
        name=data.name,
    )


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
            perm = m["alignment_perm"]
            shown = (
                "none (the layer's units mix permutation groups)" if perm is None else _short(perm)
            )
            click.echo(f"    permutation: {shown}")
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
