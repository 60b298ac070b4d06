"""Benchmark: the loss barrier between two trained MLPs before and after matching their units.

Reproduces the Git Re-Basin (Ainsworth et al., 2023) and REPAIR (Jordan et al., 2022) claim on
scikit-learn's digits: two-hidden-layer ReLU MLPs (64 -> w -> w -> 10), Adam, trained to train
loss < 0.2; three seed pairs per width, all seeds of one width trained as ONE batched ``fit``
with K members. For each width it prints the test-loss barrier (max L(λ) − ½(L(0) + L(1)),
25 points) before matching, after weight matching (WM; "WM-id" starts the descent from the
identity, as in the paper), after activation matching on the training inputs (AM), and with
REPAIR on top of WM; the fraction of the barrier removed; the mean matched correlation of each
hidden layer; and the time per matching. Then, at width 64, the randomness-source split: same
init + different data order versus different init + same data order.

Expected: at width 64 the barrier falls by >= 85% after matching, and the matched barrier
shrinks as the width grows. Run by hand (``python bench/rebasin_digits.py``); never a test.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from unitscope import match
from unitscope.record import Recording
from unitscope.train import Config, fit, prepare_data

WIDTHS = (8, 32, 64, 128, 512)
N_PAIRS = 3
RECIPE = {
    "data": {"name": "digits"},
    "optim": {"name": "adam", "lr": 3e-3},
    "train": {"steps": 1500, "batch_size": 64, "n_checkpoints": 2, "eval_every": 1500},
}


# ---- training: every seed of one width in one batched fit --------------------------------
def train(width: int, init: list[int], data: list[int]) -> Recording:
    """One fit of len(init) members: member k has init seed init[k], data-order seed data[k]."""
    cfg = Config.from_dict(
        {**RECIPE, "model": {"hidden": [width, width]}, "seeds": {"init": init, "data": data}}
    )
    return fit(cfg)


# ---- one group of pairs: (member 2p, member 2p + 1) for p in pairs -------------------------
def measure(rec: Recording, first: int, splits: dict, n_pairs: int) -> dict[str, Any]:
    """Barriers, correlations and timings of the pairs (first + 2p, first + 2p + 1)."""
    left = [first + 2 * p for p in range(n_pairs)]
    a, b = rec.model(members=left), rec.model(members=[i + 1 for i in left])
    x_train = splits["train"].x

    def barrier(model_b, repair: bool = False) -> np.ndarray:
        curve = match.interpolate(a, model_b, splits, n_points=25, repair=repair)
        return np.stack([curve.barrier("test"), curve.barrier("train")])  # (2, P)

    t0 = time.perf_counter()
    wm = match.weights(a, b, seed=0)
    t1 = time.perf_counter()
    units = match.match_layers(a, b, x_train, null=None)
    t2 = time.perf_counter()
    wm_id = match.weights(a, b, seed=0, start="identity")
    am_perms = {layer: m.perm for layer, m in units.items()}
    wm_b, am_b = match.permute(b, wm.perms), match.permute(b, am_perms)
    train_loss = rec.curves["train_loss"][:, -1]
    return {
        "loss": float(train_loss[left + [i + 1 for i in left]].max()),
        "acc": float(rec.curves["test_acc"][:, -1].mean()),
        "naive": barrier(b),
        "wm": barrier(wm_b),
        "wm_id": barrier(match.permute(b, wm_id.perms)),
        "am": barrier(am_b),
        "wm_repair": barrier(wm_b, repair=True),
        "am_repair": barrier(am_b, repair=True),
        "corr0": units["hidden.0"].mean,
        "corr1": units["hidden.1"].mean,
        "t_wm": (t1 - t0) / n_pairs,
        "t_am": (t2 - t1) / n_pairs,
    }


# ---- printing --------------------------------------------------------------------------
def _ms(values: np.ndarray) -> str:
    return f"{np.mean(values):.3f}±{np.std(values):.3f}"


def _red(before: np.ndarray, after: np.ndarray) -> str:
    return f"{1 - np.mean(after) / np.mean(before):5.0%}"


def print_width_table(rows: dict[int, dict]) -> None:
    print(
        "\nTest-loss barrier B = max L(λ) − ½(L(0)+L(1)), mean±sd over the pairs; "
        "reduction = 1 − mean(after)/mean(naive)"
    )
    head = (
        f"{'width':>5} {'trainL':>6} {'acc':>5} {'naive':>11} {'WM':>11} {'WM-id':>11} "
        f"{'AM':>11} {'WM+REPAIR':>11} {'AM+REPAIR':>11} {'red WM':>6} {'red AM':>6} "
        f"{'red WM+R':>8} {'corr h0':>7} {'corr h1':>7} {'ms WM':>7} {'ms AM':>6}"
    )
    print(head)
    print("-" * len(head))
    for w, r in rows.items():
        t = {k: r[k][0] for k in ("naive", "wm", "wm_id", "am", "wm_repair", "am_repair")}
        print(
            f"{w:>5} {r['loss']:>6.3f} {r['acc']:>5.3f} {_ms(t['naive']):>11} "
            f"{_ms(t['wm']):>11} {_ms(t['wm_id']):>11} {_ms(t['am']):>11} "
            f"{_ms(t['wm_repair']):>11} {_ms(t['am_repair']):>11} "
            f"{_red(t['naive'], t['wm']):>6} {_red(t['naive'], t['am']):>6} "
            f"{_red(t['naive'], t['wm_repair']):>8} {np.mean(r['corr0']):>7.3f} "
            f"{np.mean(r['corr1']):>7.3f} {1e3 * r['t_wm']:>7.1f} {1e3 * r['t_am']:>6.1f}"
        )
    print("\nTrain-loss barrier (same pairs)")
    print(f"{'width':>5} {'naive':>11} {'WM':>11} {'AM':>11} {'WM+REPAIR':>11}")
    for w, r in rows.items():
        print(
            f"{w:>5} {_ms(r['naive'][1]):>11} {_ms(r['wm'][1]):>11} {_ms(r['am'][1]):>11} "
            f"{_ms(r['wm_repair'][1]):>11}"
        )


def print_split(rows: dict[str, dict]) -> None:
    print(
        "\nRandomness-source split at width 64 (test-loss barrier; corr = mean matched "
        "correlation, training inputs)"
    )
    head = (
        f"{'pairs differ in':<28} {'corr h0':>7} {'corr h1':>7} {'naive':>11} {'WM':>11} "
        f"{'AM':>11} {'WM+REPAIR':>11}"
    )
    print(head)
    print("-" * len(head))
    for name, r in rows.items():
        print(
            f"{name:<28} {np.mean(r['corr0']):>7.3f} {np.mean(r['corr1']):>7.3f} "
            f"{_ms(r['naive'][0]):>11} {_ms(r['wm'][0]):>11} {_ms(r['am'][0]):>11} "
            f"{_ms(r['wm_repair'][0]):>11}"
        )


def main(threads: int = 1, n_pairs: int = N_PAIRS) -> None:
    torch.set_num_threads(threads)
    start = time.perf_counter()
    K = 2 * n_pairs
    print(
        f"digits, MLP 64-w-w-10 (relu), Adam lr {RECIPE['optim']['lr']}, batch "
        f"{RECIPE['train']['batch_size']}, {RECIPE['train']['steps']} steps; {n_pairs} seed "
        f"pairs per width = one fit of K={K} members; barriers on 25 points"
    )
    train_set, test_set, _ = prepare_data(Config.from_dict(RECIPE))
    splits = {"train": train_set, "test": test_set}
    rows: dict[int, dict] = {}
    for width in WIDTHS:
        t = time.perf_counter()
        rec = train(width, list(range(K)), list(range(100, 100 + K)))
        rows[width] = measure(rec, 0, splits, n_pairs)
        if rows[width]["loss"] >= 0.2:
            print(f"warning: width {width} reached train loss {rows[width]['loss']:.3f} >= 0.2")
        print(
            f"width {width:>3}: trained {K} members in one fit and matched "
            f"({time.perf_counter() - t:.1f} s)",
            flush=True,
        )
    print_width_table(rows)

    # Same init + different data order (first K members), different init + same order (rest).
    twice = [s for p in range(n_pairs) for s in (p, p)]  # 0, 0, 1, 1, ...
    init = [200 + s for s in twice] + [210 + k for k in range(K)]
    order = [400 + k for k in range(K)] + [300 + s for s in twice]
    rec = train(64, init, order)
    print_split(
        {
            "init and data order": rows[64],
            "data order only (same init)": measure(rec, 0, splits, n_pairs),
            "init only (same data order)": measure(rec, K, splits, n_pairs),
        }
    )
    print(f"\ntotal {time.perf_counter() - start:.0f} s, {threads} thread(s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--pairs", type=int, default=N_PAIRS, help="seed pairs per width (3)")
    args = parser.parse_args()
    main(args.threads, args.pairs)
