"""The user's own tabular data: ``.npz`` archives and ``.csv`` files.

Targets go through one rule (:func:`make_targets`): with ``task=None`` a target that is text,
or integer-valued with at most ``MAX_INFERRED_CLASSES`` distinct values, is a classification
target; anything else is a regression target. Class labels are renumbered 0..C-1 in sorted
order; their original values are kept in ``extras["classes"]`` (numbers) or in the origin
line (text).
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import Path
from typing import Any, cast

import numpy as np

from .._errors import UnitscopeError, did_you_mean
from ._checks import check_choice
from ._dataset import Dataset, Task

MAX_INFERRED_CLASSES = 20
TASKS = ("classification", "regression")


def existing_path(path: str | os.PathLike[str], *, folder: bool = False) -> Path:
    """``path`` as a Path, or raise naming it (with a did-you-mean over its siblings)."""
    path = Path(path)
    if folder and path.is_dir() or not folder and path.is_file():
        return path
    kind = "folder" if folder else "file"
    siblings = [p.name for p in path.parent.iterdir()] if path.parent.is_dir() else []
    raise UnitscopeError(f"{kind} not found: {str(path)!r}.{did_you_mean(path.name, siblings)}")


def _is_text(y: np.ndarray) -> bool:
    return y.dtype.kind in "USO"


def _infer_task(y: np.ndarray) -> str:
    if _is_text(y):
        return "classification"
    if y.ndim == 2 and y.shape[1] > 1 or not np.isfinite(y).all():
        return "regression"
    integral = bool(np.all(y == np.round(y)))
    few = len(np.unique(y)) <= MAX_INFERRED_CLASSES
    return "classification" if integral and few else "regression"


def _class_targets(y: np.ndarray, name: str) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise UnitscopeError(
            f"dataset {name!r}: class labels must have shape (n_samples,), got {y.shape}."
        )
    if _is_text(y):
        values = np.array([str(v) for v in y])
        classes, labels = np.unique(values, return_inverse=True)
        note = "classes: " + ", ".join(f"{c}={i}" for i, c in enumerate(classes))
        return labels.astype(np.int64), {}, note
    y = y.astype(np.float64)
    bad = ~np.isfinite(y) | (y != np.round(np.nan_to_num(y)))
    if bad.any():
        row = int(np.argmax(bad))
        raise UnitscopeError(
            f"dataset {name!r}: class labels must be integers, found {float(y[row])!r} in row "
            f"{row}; pass task='regression' for a continuous target."
        )
    classes, labels = np.unique(y, return_inverse=True)
    return labels.astype(np.int64), {"classes": classes}, ""


def make_targets(
    y: np.ndarray, task: str | None, name: str
) -> tuple[np.ndarray, Task, dict[str, np.ndarray], str]:
    """Turn raw targets into Dataset targets.

    Args:
        y: raw targets, shape (n_samples,) or (n_samples, n_outputs); numbers or text.
        task: ``"classification"``, ``"regression"`` or None to infer it.
        name: dataset name for messages.

    Returns:
        ``(y, task, extras, note)``: int64 labels (n_samples,) or float64 targets
        (n_samples, n_outputs); the task; ``{"classes": ...}`` for numeric labels; a note on
        text labels for the origin line.
    """
    if task is not None:
        check_choice("task", task, TASKS)
    task = cast(Task, task or _infer_task(y))
    if task == "classification":
        labels, extras, note = _class_targets(y, name)
        return labels, task, extras, note
    if _is_text(y):
        raise UnitscopeError(
            f"dataset {name!r}: regression targets must be numbers, found {str(y.ravel()[0])!r}."
        )
    if y.ndim not in (1, 2):
        raise UnitscopeError(
            f"dataset {name!r}: regression targets must have shape (n_samples,) or "
            f"(n_samples, n_outputs), got {y.shape}."
        )
    return y.astype(np.float64).reshape(len(y), -1), task, {}, ""


def _inputs(x: np.ndarray, name: str) -> np.ndarray:
    """Inputs as float64: (n,) -> (n, 1) and grayscale images (n, H, W) -> (n, 1, H, W)."""
    if x.dtype.kind not in "biuf":
        raise UnitscopeError(f"dataset {name!r}: x must be numeric, got dtype {x.dtype}.")
    x = x.astype(np.float64)
    if x.ndim == 1:
        return x[:, None]
    return x[:, None] if x.ndim == 3 else x


def load_npz(path: str | os.PathLike[str], *, task: str | None = None) -> Dataset:
    """Load arrays ``X`` (or ``x``) and ``y`` (or ``Y``) from a ``.npz`` archive.

    ``X`` may be (n,), (n, features), (n, H, W) (taken as one channel) or (n, C, H, W).
    """
    path = existing_path(path)
    name = path.name
    if path.stat().st_size == 0:
        raise UnitscopeError(f"file {str(path)!r} is empty; expected a .npz archive.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise UnitscopeError(
            f"cannot read {str(path)!r} as a .npz archive of numeric arrays ({err})."
        ) from None
    x, y = _pick_array(arrays, ("X", "x"), path), _pick_array(arrays, ("y", "Y"), path)
    y, task, extras, note = make_targets(y, task, name)
    how = f"load_npz({str(path)!r}, task={task!r})" + (f"; {note}" if note else "")
    return Dataset(_inputs(x, name), y, task, name, how, extras)


def _pick_array(arrays: dict[str, np.ndarray], keys: tuple[str, ...], path: Path) -> np.ndarray:
    for key in keys:
        if key in arrays:
            return arrays[key]
    found = ", ".join(repr(k) for k in arrays) or "nothing"
    raise UnitscopeError(f"{str(path)!r} has no array {keys[0]!r} (or {keys[1]!r}); found {found}.")


def _utf8_text(path: Path) -> str:
    """The file's text; a file that is not UTF-8 is named with the line of its first bad byte."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise UnitscopeError(
            f"{str(path)!r} is not UTF-8 text (byte {raw[err.start]:#04x} on line {line}); "
            "save it as UTF-8 (for Latin-1: `iconv -f latin1 -t utf-8 IN.csv > OUT.csv`)."
        ) from None


def _duplicates(header: list[str]) -> str:
    """``'a' (columns 1 and 3)`` for every name that heads more than one column, or ''."""
    places: dict[str, list[int]] = {}
    for i, name in enumerate(header, start=1):
        places.setdefault(name, []).append(i)
    return "; ".join(
        f"{name!r} (columns {', '.join(map(str, cols[:-1]))} and {cols[-1]})"
        for name, cols in places.items()
        if len(cols) > 1
    )


def _read_rows(path: Path, delimiter: str) -> tuple[list[str], list[list[str]]]:
    reader = csv.reader(io.StringIO(_utf8_text(path), newline=""), delimiter=delimiter)
    try:
        rows = [row for row in reader if row]
    except csv.Error as err:
        raise UnitscopeError(
            f"cannot read {str(path)!r} as CSV (line {reader.line_num}): {err}."
        ) from None
    if not rows:
        raise UnitscopeError(f"file {str(path)!r} is empty; expected a header row and data rows.")
    header, body = [c.strip() for c in rows[0]], rows[1:]
    duplicated = _duplicates(header)
    if duplicated:
        raise UnitscopeError(
            f"{str(path)!r} has duplicate column names: {duplicated}; rename them so that every "
            "column has its own name."
        )
    if not body:
        raise UnitscopeError(f"file {str(path)!r} has a header but no data rows.")
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise UnitscopeError(
                f"{str(path)!r} line {line} has {len(row)} fields, the header has {len(header)}."
            )
    return header, body


def _numeric_column(values: list[str], column: str, path: Path) -> np.ndarray:
    out = np.empty(len(values))
    for line, value in enumerate(values, start=2):
        if not value:
            raise UnitscopeError(f"{str(path)!r} column {column!r} line {line}: missing value.")
        try:
            out[line - 2] = float(value)
        except ValueError:
            raise UnitscopeError(
                f"{str(path)!r} column {column!r} line {line}: expected a number, got {value!r}."
            ) from None
    return out


def _target_column(values: list[str], column: str, path: Path) -> np.ndarray:
    for line, value in enumerate(values, start=2):
        if not value.strip():
            raise UnitscopeError(f"{str(path)!r} column {column!r} line {line}: missing target.")
    try:
        return np.array([float(v) for v in values])
    except ValueError:
        return np.array([v.strip() for v in values])


def load_csv(
    path: str | os.PathLike[str],
    *,
    target: str | None = None,
    task: str | None = None,
    delimiter: str = ",",
) -> Dataset:
    """Load a ``.csv`` with a header row: every column but ``target`` is a numeric feature.

    Args:
        path: the file.
        target: name of the target column (required).
        task: ``"classification"``, ``"regression"`` or None to infer (see module docs).
        delimiter: field separator.

    Returns:
        x of shape (n_rows, n_columns - 1); y as described in :func:`make_targets`.
    """
    path = existing_path(path)
    header, body = _read_rows(path, delimiter)
    listed = ", ".join(repr(c) for c in header)
    if target is None:
        raise UnitscopeError(f"loading a .csv needs `target=` naming a column; columns: {listed}.")
    if target not in header:
        raise UnitscopeError(
            f"target column {target!r} not found in {path.name!r}."
            f"{did_you_mean(target, header)} Columns: {listed}."
        )
    if len(header) < 2:
        raise UnitscopeError(f"{str(path)!r} has no feature columns besides {target!r}.")
    columns: dict[str, Any] = {c: [row[i].strip() for row in body] for i, c in enumerate(header)}
    features = [c for c in header if c != target]
    x = np.stack([_numeric_column(columns[c], c, path) for c in features], axis=1)
    y, task, extras, note = make_targets(
        _target_column(columns[target], target, path), task, path.name
    )
    how = f"load_csv({str(path)!r}, target={target!r}, task={task!r}); features: {features}"
    how += f"; {note}" if note else ""
    return Dataset(x, y, task, path.name, how, extras)
