"""``unitscope study NAME`` and ``unitscope demo``: run studies, write the report."""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import click

from .._errors import UnitscopeError
from .._files import check_target
from ..report import Section
from ..studies import NAMES, SCALES, StudyResult, get
from ._io import atomic_write_text, echo_json, to_jsonable

VERDICT_MARK = {"supported": "✔", "refuted": "✘", "mixed": "◐", "inconclusive": "?"}


def _run_one(name: str, scale: str) -> StudyResult:
    """One study, in a worker process of :func:`_run_all`."""
    return get(name).run(scale)


_LIMITS: list[object] = []  # keeps the worker's BLAS thread limit alive


def _worker_init(threads: int) -> None:
    """Give each worker its share of the CPUs: torch's and the BLAS libraries' thread pools
    sized to it, so that side-by-side studies do not oversubscribe the cores (OpenBLAS threads
    spin: one batched SVD took 47 s instead of 0.6 s on a loaded 2-core machine)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    _LIMITS.append(threadpool_limits(limits=threads))


def _cpus() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_jobs() -> int:
    """Worker processes for the demo: the CPUs this process may use, at most 4."""
    return max(1, min(_cpus(), 4))


def _run_all(names: list[str], scale: str, quiet: bool, jobs: int = 1) -> list[StudyResult]:
    """Run ``names`` in order (``jobs`` = 1) or side by side in ``jobs`` worker processes.

    Every study seeds all its randomness and each fit picks its own thread count, so the
    numbers do not depend on ``jobs``; the results come back in the order of ``names``.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    show = not quiet and console.is_terminal
    columns = (
        TextColumn("{task.description:<40}"),
        BarColumn(),
        TextColumn("{task.fields[n]}"),
        TimeElapsedColumn(),
    )
    done: dict[str, StudyResult] = {}
    with Progress(*columns, console=console, disable=not show) as bar:
        task = bar.add_task("studies", total=len(names), n="")

        def say(what: str) -> None:
            bar.update(task, description=what[:40])

        if jobs <= 1 or len(names) <= 1:
            for i, name in enumerate(names):
                bar.update(task, description=f"study {name}", n=f"{i}/{len(names)}")
                done[name] = get(name).run(scale, progress=say)
                bar.update(task, advance=1, n=f"{i + 1}/{len(names)}")
        else:
            # spawn, not fork: the parent may already hold torch's thread pools
            context = multiprocessing.get_context("spawn")
            bar.update(task, description=f"{len(names)} studies in {jobs} processes")
            threads = max(1, _cpus() // jobs)
            with ProcessPoolExecutor(
                max_workers=jobs,
                mp_context=context,
                initializer=_worker_init,
                initargs=(threads,),
            ) as pool:
                futures = {pool.submit(_run_one, name, scale): name for name in names}
                for future in as_completed(futures):
                    done[futures[future]] = future.result()
                    bar.update(task, advance=1, n=f"{len(done)}/{len(names)}")
    return [done[name] for name in names]


def _prepare(out: Path) -> Path:
    """Create the output folder and make sure it can be written, before any study runs."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".unitscope-"):
            pass
    except OSError as err:
        raise UnitscopeError(
            f"cannot write to {str(out)!r} ({err.strerror}); choose another --out."
        ) from None
    for name in ("report.html", "results.json", "findings.json"):  # not folders
        check_target(out / name)
    return out


def _write(results: list[StudyResult], out: Path, extra_sections: list | None = None) -> dict:
    from ..report import study_document, write_report

    doc = study_document(results, extra=extra_sections or [])
    written = write_report(doc, out / "report.html")
    findings = {
        "studies": [r.to_dict() for r in results],
        "findings": [f.to_dict() for r in results for f in r.findings],
    }
    atomic_write_text(
        out / "findings.json", json.dumps(to_jsonable(findings), indent=1, allow_nan=False) + "\n"
    )
    return {**written, "findings_json": str(out / "findings.json")}


def _print(results: list[StudyResult], written: dict, elapsed: float) -> None:
    for r in results:
        click.echo(f"\n{r.title}  [{r.name}, {r.elapsed_s:.1f} s]")
        for f in r.findings:
            click.echo(f"  {VERDICT_MARK[f.verdict]} {f.verdict:<12} {f.claim}")
            click.echo(f"  {'':<14} {f.summary}")
            if f.reason:
                click.echo(f"  {'':<14} ({f.measured} as measured; {f.reason})")
        for failure in r.failures:
            click.echo(f"  ! failed: {failure}")
    click.echo(
        f"\nreport: {written['html']}  ({written['bytes'] / 1e6:.1f} MB)   "
        f"numbers: {written['results']}, {written['findings_json']}   "
        f"total {elapsed:.1f} s"
    )


def _summary(results: list[StudyResult], written: dict, elapsed: float) -> dict:
    return {
        "report": written,
        "elapsed_s": round(elapsed, 2),
        "studies": [
            {
                "name": r.name,
                "elapsed_s": round(r.elapsed_s, 2),
                "failures": r.failures,
                "findings": [f.to_dict() for f in r.findings],
            }
            for r in results
        ],
    }


@click.command()
@click.argument("name", type=str)
@click.option(
    "--scale",
    type=click.Choice(SCALES),
    default="small",
    show_default=True,
    help="tiny: seconds; small: the demo's size; full: more seeds, widths, steps.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for report.html, results.json and findings.json (default: study-NAME).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def study(name: str, scale: str, out: Path | None, as_json: bool) -> None:
    """Run study NAME and write report.html, results.json and findings.json."""
    get(name)  # a mistyped name fails before anything runs
    folder = _prepare(out or Path(f"study-{name}"))
    start = time.perf_counter()
    results = _run_all([name], scale, as_json)
    written = _write(results, folder)
    elapsed = time.perf_counter() - start
    if as_json:
        echo_json(_summary(results, written, elapsed))
    else:
        _print(results, written, elapsed)


study.help = (
    "Run study NAME and write report.html, results.json and findings.json. "
    "Studies: " + ", ".join(NAMES) + "."
)


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("unitscope-demo"),
    show_default=True,
    help="Folder for report.html, results.json, findings.json.",
)
@click.option(
    "--scale",
    type=click.Choice(SCALES),
    default="small",
    show_default=True,
    help="tiny is for tests; small answers the question in about 3 minutes.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Studies run side by side in this many processes (default: the CPUs here, at most "
    "4). The numbers do not depend on it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def demo(out: Path, scale: str, jobs: int | None, as_json: bool) -> None:
    """Run every study on built-in data and write one report: the whole answer."""
    from ..report import recording_document
    from ..studies._showcase import showcase
    from ..views import recording_views

    _prepare(out)
    start = time.perf_counter()
    results = _run_all(list(NAMES), scale, as_json, jobs or default_jobs())
    look = recording_document(recording_views(showcase(scale), resolution=48))  # type: ignore[arg-type]
    extra = [Section(f"Look at the units: {s.title}", s.figures, s.intro) for s in look.sections]
    written = _write(results, out, extra)
    elapsed = time.perf_counter() - start
    if as_json:
        echo_json(_summary(results, written, elapsed))
    else:
        _print(results, written, elapsed)
