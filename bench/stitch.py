"""Benchmark: model stitching and prediction agreement on digits (the targets of issue 13).

(a) ``match.stitch``: one pair of members of a 64-64 digits MLP, 2 x 2 layer pairs x 3 fits
    (direct, task, permutation) x 3 controls (self, raw input, untrained); target < 10 s.
(b) ``match.agreement``: K = 8 members (28 pairs) x every checkpoint of a standard digits run
    (hidden [64], 500 steps, 19 checkpoints); target < 2 s.

The data are loaded once before timing (the first load imports scikit-learn); each timing is
the best of ``REPEAT`` runs. Prints two tables; never asserts a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch

from unitscope.match import agreement, stitch_recordings
from unitscope.match._compare import recording_data
from unitscope.train import Config, fit

REPEAT = 3
FITS = ["direct", "task", "permutation"]
CONTROLS = ["self", "input", "untrained"]
T = TypeVar("T")


def digits_run(hidden: list[int], K: int) -> Config:
    return Config.from_dict(
        {
            "data": {"name": "digits"},
            "model": {"hidden": hidden},
            "optim": {"name": "adam", "lr": 0.01},
            "train": {"steps": 500, "batch_size": 64},
            "seeds": {"init": list(range(K))},
        }
    )


def best_of(fn: Callable[[], T], repeat: int = REPEAT) -> tuple[float, T]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    torch.set_num_threads(1)
    pair = fit(digits_run([64, 64], 2))
    ensemble = fit(digits_run([64], 8))
    data = recording_data(pair)
    test = recording_data(ensemble)["test"]

    rows: list[tuple[str, str, float, float | None]] = []
    seconds, s = best_of(lambda: stitch_recordings(pair, fits=FITS, controls=CONTROLS, data=data))
    n_maps = len(s.entries)
    rows.append(("stitch 64-64, 2x2 pairs x 3 fits x 3 controls", f"{n_maps} maps", seconds, 10))
    for fit_name in FITS:
        t, _ = best_of(lambda f=fit_name: stitch_recordings(pair, fits=[f], data=data), 1)
        rows.append((f"  of which fit {fit_name} alone", "14 maps", t, None))
    seconds, a = best_of(lambda: agreement(ensemble, data=(test.x, test.y)))
    shape = a.values["kappa"].shape
    work = f"{shape[1]} pairs x {shape[0]} ckpts"
    rows.append(("agreement K=8, every checkpoint", work, seconds, 2.0))

    print(f"{'benchmark':<48} {'work':>20} {'seconds':>8} {'target':>7} {'within':>7}")
    for name, work, sec, target in rows:
        tgt = "" if target is None else f"< {target:g}"
        ok = "" if target is None else ("yes" if sec < target else "NO")
        print(f"{name:<48} {work:>20} {sec:>8.2f} {tgt:>7} {ok:>7}")

    print(f"\nstitching penalty, test accuracy points (B alone: {s.target['test_acc']:.4f})")
    head = " ".join(f"{c:>7}" for c in ("0->0", "0->1", "1->0", "1->1"))
    print(f"{'fit':<12} {'source':<10} {head}   OOD ratio (mean)")
    for f in FITS:
        for source in ["trained", *CONTROLS]:
            m = s.matrix(f, source)
            cells = " ".join(f"{v:>7.2f}" for v in m.ravel())
            ratios = [e.ood_ratio for e in s.entries if e.fit == f and e.source == source]
            print(f"{f:<12} {source:<10} {cells:<31}   {np.nanmean(ratios):>8.2f}")
    for line in s.flags():
        print("flag:", line)
    final = a.values
    print(
        f"\nagreement at the last checkpoint (mean over 28 pairs): disagreement "
        f"{final['disagreement'][-1].mean():.4f}, kappa {final['kappa'][-1].mean():.4f}, "
        f"JSD {final['jsd'][-1].mean():.4f} bits, "
        f"|delta acc| {final['delta_accuracy'][-1].mean():.4f}"
    )


if __name__ == "__main__":
    main()
