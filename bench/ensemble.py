"""Benchmark: K networks trained side by side, three ways, against the machine's sgemm.

MLP: K=64 MLPs 64->64->10 on digits, batch 128, 200 Adam steps, at 1 and 2 threads.
CNN: K=8 SmallCNNs [16, 32] (3x3, max-pool) on digits x2 (16x16), batch 128, 30 Adam steps.

(a) a plain per-model PyTorch loop (each model its own optimizer),
(b) the torch.func recipe (stack_module_state + vmap(grad) + one foreach Adam),
(c) unitscope's trainer (one batched step for all members), on the same minibatch sequence
    as (a) and (b) (one shared data seed); (c') gives every member its own data order.

Prints member-steps per second and achieved GFLOP/s (the nominal 6 FLOP per multiply-add of
every layer, forward and backward) as a share of a large sgemm measured in the same run, each
twice: per second of wall time, and per second of CPU time (the process's, all threads), which
a loaded machine inflates far less. Each time is the best of a few runs; unitscope's is its
training steps (``unitscope._timing``'s "train" section: batches, forward, backward,
optimizer), as the loops of (a) and (b). Never part of the test suite.

    python bench/ensemble.py            # MLP at 1 and 2 threads, then the CNN
    python bench/ensemble.py --mlp      # only the MLP (--cnn: only the CNN)
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, grad, stack_module_state, vmap

from unitscope import _timing
from unitscope.data import load, train_test_split
from unitscope.train import Config, fit

LR = 1e-3
Times = tuple[float, float]  # (wall, cpu) seconds


class Setting:
    """One benchmark: the models, the data, the steps, the nominal FLOP of a member-step."""

    def __init__(self, kind: str):
        self.kind = kind
        if kind == "mlp":
            self.K, self.batch, self.steps, self.width = 64, 128, 200, 64
            self.macs = 64 * self.width + self.width * 10
            data = load("digits", flatten=True)
        else:
            self.K, self.batch, self.steps, self.channels = 8, 128, 30, [16, 32]
            c0, c1 = self.channels
            self.macs = 16 * 16 * c0 * 9 + 8 * 8 * c1 * c0 * 9 + c1 * 4 * 4 * 10
            data = load("digits", upsample=2)
        train, _ = train_test_split(data, test_fraction=0.25, seed=0)
        self.x = torch.tensor(train.x, dtype=torch.float32)
        self.y = torch.tensor(train.y)
        gen = torch.Generator().manual_seed(0)
        n = len(self.x)
        rounds = self.steps * self.batch // n + 1
        order = torch.cat([torch.randperm(n, generator=gen) for _ in range(rounds)])
        self.idx = [order[i * self.batch : (i + 1) * self.batch] for i in range(self.steps)]
        self.flop = 6 * self.batch * self.macs  # per member-step

    def model(self) -> nn.Module:
        if self.kind == "mlp":
            return nn.Sequential(nn.Linear(64, self.width), nn.ReLU(), nn.Linear(self.width, 10))
        c0, c1 = self.channels
        return nn.Sequential(
            nn.Conv2d(1, c0, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c0, c1, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(c1 * 4 * 4, 10),
        )

    def models(self) -> list[nn.Module]:
        torch.manual_seed(0)
        return [self.model() for _ in range(self.K)]

    def config(self, data_seeds: list[int]) -> Config:
        model = {"hidden": [self.width]} if self.kind == "mlp" else {"kind": "cnn"}
        if self.kind == "cnn":
            model["channels"] = self.channels
        options = {"flatten": True} if self.kind == "mlp" else {"upsample": 2}
        return Config.from_dict(
            {
                "data": {"name": "digits", "options": options, "n_probe": 16},
                "model": model,
                "optim": {"name": "adam", "lr": LR},
                "train": {
                    "steps": self.steps,
                    "batch_size": self.batch,
                    "n_checkpoints": 2,
                    "eval_every": self.steps,
                    "threads": torch.get_num_threads(),
                },
                "seeds": {"init": list(range(self.K)), "data": data_seeds},
            }
        )


def clocked(fn: Callable[[], None]) -> Times:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def plain_loop(s: Setting) -> Times:
    models = s.models()
    opts = [torch.optim.Adam(m.parameters(), lr=LR) for m in models]

    def run() -> None:
        for b in s.idx:
            xb, yb = s.x[b], s.y[b]
            for m, opt in zip(models, opts):
                opt.zero_grad(set_to_none=True)
                nn.functional.cross_entropy(m(xb), yb).backward()
                opt.step()

    return clocked(run)


def vmap_recipe(s: Setting) -> Times:
    models = s.models()
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    leaves = [p.detach().requires_grad_() for p in params.values()]
    names = list(params)
    opt = torch.optim.Adam(leaves, lr=LR, foreach=True)

    def loss(p, b, xb, yb):
        return nn.functional.cross_entropy(functional_call(base, (p, b), (xb,)), yb)

    grads = vmap(grad(loss), in_dims=(0, 0, None, None))

    def run() -> None:
        for b in s.idx:
            g = grads(dict(zip(names, leaves)), buffers, s.x[b], s.y[b])
            for leaf, n in zip(leaves, names):
                leaf.grad = g[n]
            opt.step()

    return clocked(run)


def unitscope_trainer(s: Setting, own_orders: bool = False) -> Times:
    _timing.enable()
    fit(s.config(list(range(s.K)) if own_orders else [0]))
    wall, cpu = _timing.totals()["train"]
    _timing.enable(False)
    return wall, cpu


def sgemm(n: int = 2048, reps: int = 10) -> Times:
    """GFLOP/s of an n x n float32 product, per second of wall and of CPU time."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    wall, cpu = clocked(lambda: [torch.mm(a, b) for _ in range(reps)])
    flop = 2 * n**3 * reps / 1e9
    return flop / wall, flop / cpu


def best(fn: Callable[..., Times], *args, reps: int = 3) -> Times:
    runs = [fn(*args) for _ in range(reps)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def measure(s: Setting, threads: int, reps: int) -> tuple[Times, dict[str, Times]]:
    torch.set_num_threads(threads)
    peak = best(sgemm)
    times = {
        "(a) per-model loop": best(plain_loop, s, reps=1),
        "(b) torch.func vmap": best(vmap_recipe, s, reps=reps),
        "(c) unitscope": best(unitscope_trainer, s, reps=reps),
        "(c') own data orders": best(unitscope_trainer, s, True, reps=reps),
    }
    peak = max(peak, best(sgemm))  # sgemm before and after: the better of the two
    return peak, times


def report(s: Setting, rows: list[tuple[int, Times, dict[str, Times]]]) -> None:
    print(
        f"{'threads':>7} {'method':<21} {'member-steps/s':>14} {'GFLOP/s':>8} {'of sgemm':>8}"
        f" {'per CPU-s':>10} {'GFLOP/CPU-s':>11} {'of sgemm':>8}"
    )
    for threads, peak, times in rows:
        for name, (wall, cpu) in times.items():
            rate, rate_cpu = s.K * s.steps / wall, s.K * s.steps / cpu
            gf, gf_cpu = rate * s.flop / 1e9, rate_cpu * s.flop / 1e9
            print(
                f"{threads:>7} {name:<21} {rate:>14,.0f} {gf:>8.1f} {gf / peak[0]:>8.0%}"
                f" {rate_cpu:>10,.0f} {gf_cpu:>11.1f} {gf_cpu / peak[1]:>8.0%}"
            )
        a, b, c, _ = (t[0] for t in times.values())
        a_cpu, b_cpu, c_cpu, _ = (t[1] for t in times.values())
        print(
            f"{threads:>7} sgemm {peak[0]:.1f} GFLOP/s ({peak[1]:.1f} per CPU-s);  "
            f"c/a = {a / c:.1f}x ({a_cpu / c_cpu:.1f}x CPU)   "
            f"c/b = {b / c:.2f}x ({b_cpu / c_cpu:.2f}x CPU)\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlp", action="store_true", help="only the MLP benchmark")
    parser.add_argument("--cnn", action="store_true", help="only the CNN benchmark")
    args = parser.parse_args()
    before = torch.get_num_threads()
    if not args.cnn:
        s = Setting("mlp")
        rows = [(t, *measure(s, t, reps=3)) for t in sorted({1, 2})]
        print(f"K={s.K} MLPs 64->{s.width}->10 on digits, batch {s.batch}, {s.steps} steps, Adam\n")
        report(s, rows)
    if not args.mlp:
        s = Setting("cnn")
        rows = [(t, *measure(s, t, reps=2)) for t in sorted({1, 2})]
        print(
            f"K={s.K} SmallCNNs {s.channels} (3x3, max-pool) on digits x2 (16x16), "
            f"batch {s.batch}, {s.steps} steps, Adam\n"
        )
        report(s, rows)
    torch.set_num_threads(before)


if __name__ == "__main__":
    main()
