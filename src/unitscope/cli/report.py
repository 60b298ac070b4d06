"""``unitscope report DIR``: one self-contained HTML page (and results.json) from a recording."""

from __future__ import annotations

from pathlib import Path

import click

from .._files import check_target
from ..record import Recording
from ..report import recording_document, write_report
from ..views import RecordingViewPlan
from ._io import echo_json
from ._progress import step_progress


@click.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="HTML file to write (default: FOLDER/report.html); results.json goes beside it.",
)
@click.option(
    "--member",
    default=0,
    show_default=True,
    help="Member whose units are drawn (curves show every member).",
)
@click.option(
    "--resolution",
    default=64,
    show_default=True,
    help="Grid points per axis of the unit views (2-D data).",
)
@click.option(
    "--images",
    "n_images",
    default=4,
    show_default=True,
    help="Probe images shown in the feature-map figures (CNN recordings).",
)
@click.option("--title", default=None, help="Page title.")
@click.option("--json", "as_json", is_flag=True, help="Print a summary as one JSON document.")
def report(
    folder: Path,
    out: Path | None,
    member: int,
    resolution: int,
    n_images: int,
    title: str | None,
    as_json: bool,
) -> None:
    """Write an offline HTML report of the recording in FOLDER.

    The page shows training curves, every hidden unit over time (Playground-style panels for
    2-D data), unit correlations and, for CNNs, Zeiler-Fergus feature-map figures. It needs
    no network and works from file://.
    """
    rec = Recording.load(folder)
    out = out if out is not None else folder / "report.html"
    for target in (out, out.with_name("results.json")):  # before the report is built
        check_target(target)
    plan = RecordingViewPlan(rec, member=member, resolution=resolution, n_images=n_images)
    with step_progress(len(plan.stages), "building report", enabled=not as_json) as advance:
        doc = recording_document(plan.compute(progress=advance), title=title)
    summary = write_report(doc, out)
    if as_json:
        echo_json({**summary, "stages": plan.stages})
    else:
        click.echo(
            f"report: {summary['html']} ({summary['bytes'] / 1e6:.2f} MB, "
            f"{summary['figures']} figures); numbers: {summary['results']}"
        )
