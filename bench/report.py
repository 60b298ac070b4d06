"""Benchmark: report build time and page size at the issue's scale. Never part of the tests.

Two recordings are trained first (not timed): an MLP with 64 hidden units on moons with 40
checkpoints, drawn on a 64x64 grid, and a SmallCNN with 32 maps in its last conv layer on
16x16 digits with full maps recorded. Then, for each and for one page holding both, the
time to compute the figure data (``views.recording_views`` and
``report.recording_document``), to render and write the page
(``write_report``), the process CPU time and the page size, best of two runs.
Targets: <= 5 s and <= 10 MB.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from unitscope.report import Document, recording_document, write_report
from unitscope.train import Config, fit
from unitscope.views import recording_views

TARGET_S, TARGET_MB = 5.0, 10.0


def checkpoints(steps: int, n: int) -> list[int]:
    """``n`` distinct log-spaced steps from 0 to ``steps``."""
    k = n
    while len(found := {0, *np.geomspace(1, steps, k).round().astype(int).tolist()}) < n:
        k += 1
    return sorted(found)[: n - 1] + [steps]


def recordings():
    mlp = fit(
        Config.from_dict(
            {
                "data": {"name": "moons", "options": {"n_samples": 512}},
                "model": {"hidden": [64]},
                "optim": {"lr": 0.2},
                "train": {"steps": 400, "checkpoints": checkpoints(400, 40)},
                "seeds": {"init": [0, 1]},
            }
        )
    )
    cnn = fit(
        Config.from_dict(
            {
                "data": {"name": "digits", "options": {"upsample": 2}},
                "model": {"kind": "cnn", "channels": [16, 32]},
                "optim": {"lr": 0.1},
                "train": {
                    "steps": 150,
                    "n_checkpoints": 12,
                    "record_maps": True,
                    "batch_size": 128,
                },
                "seeds": {"init": [0, 1]},
            }
        )
    )
    return mlp, cnn


def timed(label: str, build, folder: Path, repeats: int = 2) -> dict:
    """Best of ``repeats`` runs (wall and CPU seconds) of building and writing one page."""
    best: dict = {}
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        doc = build()
        built = time.perf_counter()
        name = label.split()[0]
        out = write_report(doc, folder / f"{name}.html", results_path=folder / f"{name}.json")
        row = {
            "case": label,
            "figures": out["figures"],
            "build_s": built - wall,
            "write_s": time.perf_counter() - built,
            "total_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() - cpu,
            "mb": out["bytes"] / 1e6,
        }
        if not best or row["total_s"] < best["total_s"]:
            best = row
    return best


def main() -> None:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    t0 = time.perf_counter()
    mlp, cnn = recordings()
    print(f"(training the two recordings, not timed: {time.perf_counter() - t0:.1f} s)")
    U, T = mlp.activations("hidden.0").shape[-1], len(mlp.steps)
    C = cnn.activations("conv.1").shape[-1]

    def both() -> Document:
        a = recording_document(recording_views(mlp))
        b = recording_document(recording_views(cnn))
        rename = [
            s.__class__(
                f"CNN: {s.title}",
                [f.__class__(f"cnn-{f.id}", f.kind, f.caption, f.data, f.title) for f in s.figures],
                s.intro,
            )
            for s in b.sections
        ]
        return Document("MLP and CNN", (), list(a.sections) + rename, a.meta)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = [
            timed(
                f"mlp {U} units x {T} ckpts x 64x64 grid",
                lambda: recording_document(recording_views(mlp)),
                folder,
            ),
            timed(
                f"cnn SmallCNN {C} maps, {len(cnn.steps)} ckpts",
                lambda: recording_document(recording_views(cnn)),
                folder,
            ),
            timed("both on one page", both, folder),
        ]
    head = (
        f"| {'case':<36} | figures | build s | write s | total s | cpu s | size MB "
        "| within target |"
    )
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for r in rows:
        ok = r["total_s"] <= TARGET_S and r["mb"] <= TARGET_MB
        print(
            f"| {r['case']:<36} | {r['figures']:>7} | {r['build_s']:>7.2f} | {r['write_s']:>7.2f} "
            f"| {r['total_s']:>7.2f} | {r['cpu_s']:>5.2f} | {r['mb']:>7.2f} "
            f"| {'yes' if ok else 'NO':<13} |"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"targets: <= {TARGET_S} s and <= {TARGET_MB} MB per page; best of 2 runs; torch "
        f"threads {torch.get_num_threads()}; {os.cpu_count()} CPUs, load average {load:.1f}"
    )


if __name__ == "__main__":
    main()
