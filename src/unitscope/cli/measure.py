"""``unitscope measure NAME X Y``, ``unitscope measure --list`` and ``unitscope compare A B``."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any

import click
import numpy as np

from .._errors import UnitscopeError, unknown_name
from ..measures import MEASURES, DegenerateInputWarning, apply_measure, get_measure, list_measures
from ._agreement import agreement_fields, echo_agreement
from ._io import echo_json
from ._own import factory_option

# CLI option -> measure keyword
_OPTIONS = {
    "keep": "keep",
    "n_components": "n_components",
    "sigma": "sigma",
    "sigma_factor": "sigma_factor",
    "k": "k",
    "alpha": "alpha",
}


def _measure_options(f: Any) -> Any:
    for opt in reversed(
        [
            click.option("--keep", type=float, help="SVCCA: fraction of variance to keep (0, 1]."),
            click.option("--n-components", type=int, help="SVCCA: fixed number of directions."),
            click.option("--sigma", type=float, help="rbf_cka: absolute bandwidth σ."),
            click.option("--sigma-factor", type=float, help="rbf_cka: σ = f·sqrt(median d²)."),
            click.option(
                "--k", "k", type=int, help="mutual_knn_similarity: neighbours per sample."
            ),
            click.option("--alpha", type=float, help="Procrustes: partial whitening α in [0, 1]."),
        ]
    ):
        f = opt(f)
    return f


@click.command()
@click.argument("name", required=False)
@click.argument("x", required=False)
@click.argument("y", required=False)
@click.option("--list", "list_", is_flag=True, help="List every measure with its convention.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@_measure_options
def measure(
    name: str | None, x: str | None, y: str | None, list_: bool, as_json: bool, **cli_opts: Any
) -> None:
    """Compute measure NAME between activations X and Y (.npy, .npz or file.npz:key), (n, d).

    Rows of X and Y are the same samples. `unitscope measure --list` names every measure.
    """
    if list_:
        _print_list(as_json)
        return
    if name is None or x is None or y is None:
        raise click.UsageError("give a measure NAME and two files X Y, or --list.")
    spec = get_measure(name)
    options = _options_for(spec.name, cli_opts)
    xa, ya = load_matrix(x, "X"), load_matrix(y, "Y")
    if xa.shape[0] != ya.shape[0]:
        raise UnitscopeError(
            f"X and Y must have the same number of rows (paired samples), got {xa.shape[0]} "
            f"({x}) and {ya.shape[0]} ({y})."
        )
    value = _quietly(lambda: spec.fn(xa, ya, **options))
    result = {
        "measure": spec.name,
        "value": value,
        "convention": spec.convention,
        "description": spec.description,
        "n_samples": int(xa.shape[0]),
        "x": {"path": x, "shape": list(xa.shape)},
        "y": {"path": y, "shape": list(ya.shape)},
        "options": options,
    }
    if as_json:
        echo_json(result)
        return
    better = "larger" if spec.convention == "similarity" else "smaller"
    click.echo(
        f"{spec.name} = {value:.6g}  ({spec.convention}: {better} is more similar; "
        f"n={xa.shape[0]}, X {xa.shape[1]} units, Y {ya.shape[1]} units)"
    )


@click.command()
@click.argument("dir_a", type=click.Path(path_type=Path))
@click.argument("dir_b", type=click.Path(path_type=Path))
@click.option("--measure", "name", default="linear_cka", show_default=True, help="Layer measure.")
@click.option("--layer", "layers", multiple=True, help="Layer to compare (default: all shared).")
@click.option(
    "--step", type=int, default=-1, show_default=True, help="Checkpoint step (-1: final)."
)
@factory_option("for torch recordings: their prediction agreement")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@_measure_options
def compare(
    dir_a: Path,
    dir_b: Path,
    name: str,
    layers: tuple[str, ...],
    step: int,
    factory: str | None,
    as_json: bool,
    **cli_opts: Any,
) -> None:
    """Compare two recordings layer by layer, member k of DIR_A with member k of DIR_B.

    Both must be recorded on the same probe set. Recordings of your own torch networks get
    the prediction agreement (on their probe set) when --model names their factory.
    """
    from ..record import load
    from ._own import recording_factory

    spec = get_measure(name)
    options = _options_for(spec.name, cli_opts)
    rec_a, rec_b = load(str(dir_a)), load(str(dir_b))
    rec_a.check_same_probe(rec_b)
    build = recording_factory(rec_a, factory, dir_a)
    chosen = _shared_layers(rec_a, rec_b, layers)
    ta, tb = rec_a.step_index(step), rec_b.step_index(step)
    k = min(rec_a.members, rec_b.members)
    per_layer = {}
    for layer in chosen:
        acts_a = rec_a.activations(layer)[ta, :k]  # (K, n_probe, n_units)
        acts_b = rec_b.activations(layer)[tb, :k]  # (K, n_probe, n_units)
        values = _quietly(lambda a=acts_a, b=acts_b: apply_measure(spec.name, a, b, **options))
        per_layer[layer] = {"per_member": values.tolist(), "mean": float(np.mean(values))}
    result = {
        "measure": spec.name,
        "convention": spec.convention,
        "steps": [int(rec_a.steps[ta]), int(rec_b.steps[tb])],
        "members": k,
        "layers": per_layer,
        "options": options,
        "agreement": agreement_fields(rec_a, rec_b, k, int(rec_a.steps[ta]), build),
    }
    if as_json:
        echo_json(result)
        return
    click.echo(f"{spec.name} ({spec.convention}), member k of A vs member k of B, k < {k}:")
    for layer, r in per_layer.items():
        members = " ".join(f"{v:.4f}" for v in r["per_member"])
        click.echo(f"  {layer:<16} mean {r['mean']:.4f}   [{members}]")
    echo_agreement(result["agreement"])


def load_matrix(spec: str, label: str) -> np.ndarray:
    """Read a (n, d) array from ``file.npy``, ``file.npz`` (one array) or ``file.npz:key``."""
    path, _, key = spec.partition(".npz:")
    path = path + ".npz" if key else path
    if not path.endswith((".npy", ".npz")):
        raise UnitscopeError(f"{label} must be a .npy or .npz file, got {spec!r}.")
    if not Path(path).is_file():
        raise UnitscopeError(f"cannot read {label} {path!r}: no such file.")
    if Path(path).stat().st_size == 0:
        raise UnitscopeError(f"cannot read {label} {path!r}: the file is empty (0 bytes).")
    arr = _read_array(path, key, label)
    if arr.ndim != 2:
        raise UnitscopeError(
            f"{label} ({spec}) must be 2-D (n_samples, n_units), got shape {tuple(arr.shape)}."
        )
    if arr.dtype.kind not in "biuf":
        raise UnitscopeError(f"{label} ({spec}) must hold real numbers, got dtype {arr.dtype}.")
    if arr.size == 0:
        raise UnitscopeError(
            f"{label} ({spec}) is empty, shape {tuple(arr.shape)}; it needs samples (rows) and "
            "units (columns)."
        )
    bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise UnitscopeError(
            f"{label} ({spec}) contains {bad} NaN or infinite value(s); drop or impute them first."
        )
    return arr


def _read_array(path: str, key: str, label: str) -> np.ndarray:
    """The array in ``path`` (never unpickling); every way a file can be unreadable is one line."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            if not path.endswith(".npz"):
                loaded.close()
                raise UnitscopeError(f"{label} {path!r} is a .npz archive; rename it to .npz.")
            return _pick_array(loaded, key, path, label)
        if key:
            raise UnitscopeError(
                f"{label} {path!r} holds one array, not an archive; drop ':{key}'."
            )
        return np.asarray(loaded)
    except UnitscopeError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        text = str(err).rstrip(".")
        if "Object arrays cannot be loaded" in text:
            text = (
                "it holds Python objects (dtype object), which are never unpickled; save numbers, "
                "e.g. np.save(path, arr.astype(np.float64))"
            )
        elif "pickled" in text:
            text = "it is not a numpy .npy/.npz file (no numpy header; pickles are never loaded)"
        raise UnitscopeError(f"cannot read {label} {path!r}: {text}.") from None


def _pick_array(npz: Any, key: str, path: str, label: str) -> np.ndarray:
    with npz:
        names = list(npz.files)
        if key:
            if key not in names:
                raise unknown_name(f"array in {label} {path!r}:", key, names)
            return np.asarray(npz[key])
        if not names:
            raise UnitscopeError(f"{label} {path!r} holds no arrays; save one with np.savez.")
        if len(names) != 1:
            raise UnitscopeError(
                f"{label} {path!r} holds {len(names)} arrays {names}; choose one with "
                f"{path}:{names[0] if names else 'KEY'}."
            )
        return np.asarray(npz[names[0]])


def _options_for(name: str, cli_opts: dict[str, Any]) -> dict[str, Any]:
    given = {_OPTIONS[k]: v for k, v in cli_opts.items() if v is not None}
    accepted = MEASURES[name].options
    for key in given:
        if key not in accepted:
            users = [m.name for m in list_measures() if key in m.options]
            flag = "--" + key.replace("_", "-")
            raise UnitscopeError(
                f"{flag} does not apply to {name!r}; it applies to: {', '.join(users)}."
            )
    return given


def _quietly(fn: Any) -> Any:
    """Run ``fn``; print each degenerate-input warning as one line on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DegenerateInputWarning)
        out = fn()
    for w in caught:
        if issubclass(w.category, DegenerateInputWarning):
            click.echo(f"unitscope: warning: {w.message}", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


def _shared_layers(rec_a: Any, rec_b: Any, layers: tuple[str, ...]) -> list[str]:
    if layers:
        for layer in layers:
            rec_a.check_layer(layer)
            rec_b.check_layer(layer)
        return list(layers)
    shared = [layer for layer in rec_a.layers if layer in rec_b.layers]
    if not shared:
        raise UnitscopeError(
            f"the recordings share no layer ({rec_a.layers} vs {rec_b.layers}); pass --layer."
        )
    return shared


def _print_list(as_json: bool) -> None:
    rows: list[dict[str, Any]] = [
        {
            "name": m.name,
            "convention": m.convention,
            "description": m.description,
            "options": list(m.options),
            "symmetric": m.symmetric,
            "streaming": m.streaming,
        }
        for m in list_measures()
    ]
    if as_json:
        echo_json(rows)
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['convention']:<10}  {r['description']}")
