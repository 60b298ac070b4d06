"""Benchmark: many seeds at once and universal units (the targets of issue 13, items 2 and 3).

(a) ``match.consensus`` on K = 8 members of width 64 (n = 256 probe rows): planted
    permutations of one network, and a trained digits ensemble (hidden [64], 600 steps, with
    its step-0 baseline); target < 10 s.
(b) ``match.universal`` on the same: planted permuted copies + 1% noise (target ≥ 95%
    universal), orthogonally rotated copies (target ≤ 5%), and the trained ensemble.

Each timing is the best of ``REPEAT`` runs. Prints two tables; never asserts a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch

from unitscope import match
from unitscope.match._universal import random_rotation
from unitscope.train import Config, fit

REPEAT = 3
K, U, N = 8, 64, 256
T = TypeVar("T")


def best_of(fn: Callable[[], T], repeat: int = REPEAT) -> tuple[float, T]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def planted(how: str, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """(K, N, U) copies of one network's units: reordered (+ noise) or rotated."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(N, U))
    if how == "rotated":
        return np.stack([base @ random_rotation(U, rng) for _ in range(K)])
    return np.stack(
        [base[:, rng.permutation(U)] + noise * rng.normal(size=(N, U)) for _ in range(K)]
    )


def trained() -> object:
    steps = 600
    return fit(
        Config.from_dict(
            {
                "data": {"name": "digits", "options": {"flatten": True}, "n_probe": N},
                "model": {"hidden": [U]},
                "optim": {"name": "adam", "lr": 3e-3},
                "train": {"steps": steps, "batch_size": 64, "checkpoints": [0, steps]},
                "seeds": {"init": list(range(K))},
            }
        )
    )


def main() -> None:
    torch.set_num_threads(1)
    rec = trained()
    cases = {
        "planted permutations": planted("permuted"),
        "permuted + 1% noise": planted("permuted", noise=0.01),
        "rotated copies": planted("rotated"),
        "digits MLP, trained": rec,
    }

    print(f"K = {K} members, width {U}, {N} probe rows\n")
    head = (
        f"{'case':<22} {'seconds':>8} {'cycle':>7} {'untrained':>9} {'chance':>7} "
        f"{'consensus':>9} {'all K':>6} {'sweeps':>6}"
    )
    print("match.consensus (target < 10 s; planted: cycle 1, every unit in all K seeds)")
    print(head)
    for name, source in cases.items():
        sec, c = best_of(lambda s=source: match.consensus(s))
        print(
            f"{name:<22} {sec:>8.3f} {c.cycle_mean:>7.3f} {c.untrained_mean:>9.3f} "
            f"{c.chance:>7.4f} {int(c.is_consensus.sum()):>9} {int((c.support == K).sum()):>6} "
            f"{c.sweeps:>6}"
        )

    print("\nmatch.universal (permuted + 1% noise: >= 95% universal; rotated copies: <= 5%)")
    print(
        f"{'case':<22} {'seconds':>8} {'universal':>9} {'Gurnee':>7} {'threshold':>9} "
        f"{'rot null':>8} {'shuffled':>8} {'CKA':>6} {'SVCCA':>6}"
    )
    for name, source in cases.items():
        sec, u = best_of(lambda s=source: match.universal(s))
        off = ~np.eye(K, dtype=bool)
        nulls = u.null_fractions()
        print(
            f"{name:<22} {sec:>8.3f} {u.fraction().mean():>9.3f} "
            f"{u.fraction('fixed').mean():>7.3f} {u.threshold:>9.3f} {nulls['rotated']:>8.3f} "
            f"{nulls['shuffled']:>8.3f} {u.cka[off].mean():>6.3f} {np.nanmean(u.svcca[off]):>6.3f}"
        )


if __name__ == "__main__":
    main()
