"""``unitscope train CONFIG --out DIR`` and ``unitscope info DIR``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from .._errors import UnitscopeError
from .._files import writing
from ..record import Recording
from ..train import Config, fit
from ..train._config import parse_override
from ._io import echo_json
from ._progress import step_progress


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder to write the recording to (must not exist unless --force).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key, e.g. --set optim.lr=0.05 --set seeds.init=[0,1,2].",
)
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
def train(
    config: Path | None, out: Path, overrides: tuple[str, ...], force: bool, as_json: bool
) -> None:
    """Train the K members of a TOML CONFIG and save their recording in --out.

    Without CONFIG the defaults are used (a 16-unit MLP on moons); --set changes any key.
    """
    cfg = Config.from_toml(config) if config else Config()
    if overrides:
        cfg = cfg.override(dict(parse_override(o) for o in overrides))
    if out.exists() and not force and not out.is_symlink():
        raise click.UsageError(f"{str(out)!r} already exists; choose another --out or add --force.")
    Recording.check_destination(out, overwrite=force)  # a link, a file, not a recording
    _check_writable(out.parent if str(out.parent) else Path("."))
    with step_progress(cfg.train.steps, "training", enabled=not as_json) as advance:
        rec = fit(cfg, progress=advance)
    rec.save(out, overwrite=force)
    summary = {"out": str(out), **rec.summary()}
    if as_json:
        echo_json(summary)
    else:
        _print_summary(summary)


@click.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def info(folder: Path, as_json: bool) -> None:
    """Summarize the recording in FOLDER."""
    summary = Recording.load(folder).summary()
    if as_json:
        echo_json(summary)
    else:
        _print_summary(summary)


def _check_writable(folder: Path) -> None:
    """Fail before training when the recording could not be saved: try to write there (a
    permission check alone misses read-only file systems and says nothing of the reason)."""
    if folder.exists() and not folder.is_dir():
        raise UnitscopeError(f"cannot write into {str(folder)!r}: it is a file, not a folder.")
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".unitscope-"):
            pass


def _print_summary(s: dict) -> None:
    ds = s["dataset"]
    click.echo(
        f"recording: {s['members']} members, {ds['name']} ({ds['task']}, "
        f"{ds['n_train']} train / {ds['n_test']} test), probe {s['n_probe']} samples"
    )
    layers = ", ".join(f"{n} ({u} units)" for n, u in s["layers"].items())
    click.echo(f"layers:    {layers}")
    steps = s["checkpoints"]
    where = f"step {steps[0]}" if len(steps) == 1 else f"steps {steps[0]}..{steps[-1]}"
    click.echo(f"checkpoints: {len(steps)}, at {where}")
    for key, values in s["final"].items():
        vals = [v for v in values if v == v]
        if vals:
            click.echo(
                f"final {key:<11} mean {sum(vals) / len(vals):.4f}  "
                f"min {min(vals):.4f}  max {max(vals):.4f}"
            )
    bad = [i for i, d in enumerate(s["diverged"]) if d >= 0]
    if bad:
        click.echo(f"diverged members: {bad}")
