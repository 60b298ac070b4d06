"""Reading a sweep folder: its status, and one table row per job with its metrics."""

from __future__ import annotations

import contextlib
import csv
import json
import os
from pathlib import Path
from typing import Any

from .._errors import UnitscopeError
from .._files import check_target, writing
from .._paths import clean_stale_temps, refuse_link, temp_prefix
from ._store import LOCK, Store

_SOURCES = ("init", "data", "dropout")
_TAIL = ("elapsed_s", "batch_size", "attempts", "worker", "recording", "error")


def sweep_status(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Counts per status, whether a process is running the sweep, and the failures.

    Returns:
        ``{"out", "active", "counts", "groups", "compute_s", "failed": [{"id", "error"}],
        "interrupted"}``; ``interrupted`` counts rows left ``running`` by a process that is
        gone (the next run resumes them).
    """
    with Store.open(folder) as store:
        rows = store.rows()
        counts = store.counts()
    active = _is_active(Path(folder))
    return {
        "out": str(folder),
        "active": active,
        "counts": counts,
        "groups": len({r["grp"] for r in rows}),
        "compute_s": round(sum(r["elapsed_s"] or 0.0 for r in rows), 3),
        "failed": [{"id": r["id"], "error": r["error"]} for r in rows if r["status"] == "failed"],
        "interrupted": 0 if active else counts["running"],
    }


def _is_active(folder: Path) -> bool:
    """True when some process holds the folder's lock (a run is in progress)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        return False
    path = folder / LOCK
    if not path.is_file():
        return False
    with open(path, encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def sweep_table(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """One row per job: id, status, the config keys that vary, seeds, metrics, timings, error.

    The varying keys are found across all jobs of the folder (dotted names, e.g.
    ``model.hidden``); the seeds of the three sources are always columns.
    """
    with Store.open(folder) as store:
        jobs = store.rows()
    flat = [_flatten(j["config"]) for j in jobs]
    keys = list(dict.fromkeys(k for f in flat for k in f))  # union, in first-seen order
    varied = [
        k
        for k in keys
        if not k.startswith("seeds.")
        and len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1
    ]
    metric_names: list[str] = []
    for j in jobs:
        metric_names += [m for m in (j["metrics"] or {}) if m not in metric_names]
    rows = []
    for job, config in zip(jobs, flat):
        row: dict[str, Any] = {"id": job["id"], "status": job["status"]}
        row.update({k: config.get(k) for k in varied})
        row.update({f"seeds.{s}": job["seeds"][s] for s in _SOURCES})
        row.update({m: (job["metrics"] or {}).get(m) for m in metric_names})
        row.update({k: job[k] for k in _TAIL})
        rows.append(row)
    return rows


def write_table(rows: list[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write ``rows`` as ``.csv`` or ``.parquet`` (which needs pyarrow); lists become JSON."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UnitscopeError(f"the table must end in .csv or .parquet, got {str(path)!r}.")
    check_target(path)  # its folder exists and it is not a folder
    refuse_link(path)
    plain = [{k: _cell(v) for k, v in r.items()} for r in rows]
    columns = list(plain[0]) if plain else ["id", "status"]
    clean_stale_temps(path.parent, path.name)
    tmp = path.with_name(f"{temp_prefix(path.name)}{os.urandom(4).hex()}.tmp")  # usual mode
    try:
        with writing(path):  # a full disk or a read-only folder: one line, the old table kept
            if suffix == ".csv":
                _write_csv(plain, columns, tmp)
            else:
                _write_parquet(plain, columns, tmp)
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # a read-only folder refuses even this
            tmp.unlink(missing_ok=True)
    return path


def _write_csv(rows: list[dict[str, Any]], columns: list[str], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _write_parquet(rows: list[dict[str, Any]], columns: list[str], path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UnitscopeError(
            "writing .parquet needs pyarrow (pip install pyarrow); or write a .csv table."
        ) from None
    table = pa.table({c: [r.get(c) for r in rows] for c in columns})
    pq.write_table(table, str(path))


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and (value or not prefix):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value
