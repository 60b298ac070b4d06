"""``unitscope sweep run GRID --out DIR``, ``sweep status DIR``, ``sweep table DIR --out FILE``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..sweep import BACKENDS, Grid, SweepEvent, run_sweep, sweep_status, sweep_table, write_table
from ._io import echo_json


@click.group()
def sweep() -> None:
    """Run a grid of training jobs (seeds x widths x ...) and collect the results.

    A GRID file is a base config, [axes] to vary and [seeds] per randomness source; see
    `python -c "import unitscope.sweep; help(unitscope.sweep)"` for the syntax. Jobs that
    differ only in seeds train together as one batched fit. Results go to an SQLite store
    and one recording per job in the sweep folder; rerunning the same command resumes.
    """


@sweep.command("run")
@click.argument("grid", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Sweep folder: created, or resumed when it already holds this sweep.",
)
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default="local",
    show_default=True,
    help="local: this process; processes: N worker processes; ray: Ray tasks.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes or Ray tasks at a time (default: every CPU).",
)
@click.option(
    "--address",
    default=None,
    metavar="auto|HOST:PORT",
    help="Ray cluster to join; without it --backend ray starts a local instance.",
)
@click.option(
    "--no-group",
    is_flag=True,
    help="Train every job alone (slower; equal to grouped results up to float rounding).",
)
@click.option(
    "--group-size",
    type=click.IntRange(min=1),
    default=None,
    help="At most this many jobs per batched fit (default: the grid's, else 64). Keep it "
    "fixed across runs of one sweep: it decides which jobs share a fit.",
)
@click.option("--retry-failed", is_flag=True, help="Run failed jobs again.")
@click.option("--dry-run", is_flag=True, help="Check and expand the grid; run nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
def run(
    grid: Path,
    out: Path,
    backend: str,
    workers: int | None,
    address: str | None,
    no_group: bool,
    group_size: int | None,
    retry_failed: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Run (or resume) the jobs of GRID into the sweep folder --out.

    Finished jobs are skipped; failed ones run again only with --retry-failed. Exit code 0
    when every job of the grid finished, 1 when some failed, 2 for a bad grid or option,
    130 after Ctrl-C (the folder stays resumable).
    """
    parsed = Grid.from_toml(grid)  # every check happens here, before anything runs
    group = False if no_group else None
    if dry_run:
        plan = parsed.describe(group=group)
        echo_json(plan) if as_json else click.echo(_plan_line(plan))
        return
    with _progress(enabled=not as_json) as on_event:
        try:
            summary = run_sweep(
                parsed,
                out,
                backend=backend,
                workers=workers,
                address=address,
                group=group,
                group_size=group_size,
                retry_failed=retry_failed,
                on_event=on_event,
                grid_text=grid.read_text(encoding="utf-8"),
            )
        except KeyboardInterrupt:
            click.echo(
                f"unitscope: interrupted; finished jobs are saved in {str(out)!r}. Run "
                "the same command again to resume.",
                err=True,
            )
            sys.exit(130)
    if as_json:
        echo_json(asdict(summary))
    else:
        _print_summary(summary)
    if summary.failed:
        sys.exit(1)


@sweep.command("status")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status(folder: Path, as_json: bool) -> None:
    """Counts of pending, running, finished and failed jobs in the sweep FOLDER."""
    info = sweep_status(folder)
    if as_json:
        echo_json(info)
        return
    c = info["counts"]
    state = "running now" if info["active"] else "not running"
    click.echo(f"sweep {info['out']}: {c['total']} jobs in {info['groups']} groups, {state}")
    click.echo(
        f"  finished {c['finished']}  failed {c['failed']}  pending {c['pending']}"
        f"  running {0 if not info['active'] else c['running']}"
        f"  compute {info['compute_s']:.1f} s"
    )
    if info["interrupted"]:
        click.echo(f"  {info['interrupted']} jobs were interrupted; rerun the sweep to resume.")
    for failure in info["failed"][:10]:
        click.echo(f"  failed {failure['id']}: {failure['error']}")
    if len(info["failed"]) > 10:
        click.echo(f"  ... and {len(info['failed']) - 10} more (see --json)")


@sweep.command("table")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="results.csv, or results.parquet (needs pyarrow).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary of what was written.")
def table(folder: Path, out: Path, as_json: bool) -> None:
    """Write one row per job of FOLDER (its varied keys, seeds and metrics) to --out."""
    rows = sweep_table(folder)
    write_table(rows, out)
    if as_json:
        echo_json({"out": str(out), "rows": len(rows), "columns": list(rows[0]) if rows else []})
    else:
        click.echo(f"wrote {len(rows)} rows to {out}")


# ---- output -----------------------------------------------------------------------------------


def _plan_line(plan: dict) -> str:
    axes = " x ".join(f"{k} ({n})" for k, n in plan["axes"].items()) or "no axes"
    seeds = " x ".join(f"{s} ({n})" for s, n in plan["seeds"].items() if n > 1) or "one seed"
    return (
        f"{plan['jobs']} jobs: {axes}; seeds {seeds}, {plan['seed_mode']} -> "
        f"{plan['groups']} groups in {plan['batches']} batched fits"
    )


def _print_summary(s) -> None:
    click.echo(
        f"sweep {s.out}: {s.jobs} jobs in {s.groups} groups ({s.batches} batched fits) "
        f"on {s.backend}, {s.elapsed_s:.1f} s"
    )
    click.echo(
        f"  ran {s.ran}, skipped {s.skipped} already finished; finished {s.finished}, "
        f"failed {s.failed}"
    )
    if s.other_jobs:
        click.echo(f"  note: the folder also holds {s.other_jobs} jobs that are not in this grid")
    for job_id, error in list(s.errors.items())[:10]:
        click.echo(f"  failed {job_id}: {error}")


@contextmanager
def _progress(*, enabled: bool) -> Iterator[Callable[[SweepEvent], None] | None]:
    """A rich bar on stderr: finished / total, running and failed counts, elapsed and ETA."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[green]{task.fields[running]} running[/] [red]{task.fields[failed]} failed[/]"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("sweep", total=None, running=0, failed=0)

        def update(event: SweepEvent) -> None:
            c = event.counts
            bar.update(
                task,
                total=c["total"],
                completed=c["finished"] + c["failed"],
                running=c["running"],
                failed=c["failed"],
            )

        yield update
