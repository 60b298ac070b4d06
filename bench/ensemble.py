"""Benchmark: K=64 MLPs 64->64->10 on digits, batch 128, 200 steps, three ways.

(a) a plain per-model PyTorch loop (each model its own optimizer),
(b) the torch.func recipe (stack_module_state + vmap(grad)),
(c) unitscope's trainer (one batched step for all members), on the same minibatch sequence
    as (a) and (b) (one shared data seed); (c') gives every member its own data order.

Prints member-steps per second, the ratios c/a and c/b, and achieved GFLOP/s as a fraction
of a large sgemm measured in the same run. Never part of the test suite.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, stack_module_state, vmap

from unitscope.data import load, train_test_split
from unitscope.train import Config, fit

K, WIDTH, BATCH, STEPS, LR = 64, 64, 128, 200, 1e-3
FLOP_PER_MEMBER_STEP = 6 * BATCH * (64 * WIDTH + WIDTH * 10)  # fwd 2 + bwd 4 per MAC


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    train, _ = train_test_split(load("digits", flatten=True), test_fraction=0.25, seed=0)
    return torch.tensor(train.x, dtype=torch.float32), torch.tensor(train.y)


def batches(n: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    order = torch.cat([torch.randperm(n, generator=gen) for _ in range(STEPS * BATCH // n + 1)])
    return [order[i * BATCH : (i + 1) * BATCH] for i in range(STEPS)]


def make_models() -> list[nn.Module]:
    torch.manual_seed(0)
    return [nn.Sequential(nn.Linear(64, WIDTH), nn.ReLU(), nn.Linear(WIDTH, 10)) for _ in range(K)]


def plain_loop(x, y, idx) -> float:
    models = make_models()
    opts = [torch.optim.Adam(m.parameters(), lr=LR) for m in models]
    start = time.perf_counter()
    for b in idx:
        xb, yb = x[b], y[b]
        for m, opt in zip(models, opts):
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(m(xb), yb).backward()
            opt.step()
    return time.perf_counter() - start


def vmap_recipe(x, y, idx) -> float:
    models = make_models()
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    leaves = [p.detach().requires_grad_() for p in params.values()]
    names = list(params)
    opt = torch.optim.Adam(leaves, lr=LR, foreach=True)

    def loss(p, b, xb, yb):
        return nn.functional.cross_entropy(functional_call(base, (p, b), (xb,)), yb)

    grads = vmap(grad(loss), in_dims=(0, 0, None, None))
    start = time.perf_counter()
    for b in idx:
        g = grads(dict(zip(names, leaves)), buffers, x[b], y[b])
        for leaf, n in zip(leaves, names):
            leaf.grad = g[n]
        opt.step()
    return time.perf_counter() - start


def unitscope_trainer(data_seeds: list[int]) -> float:
    cfg = Config.from_dict(
        {
            "data": {"name": "digits", "options": {"flatten": True}, "n_probe": 16},
            "model": {"hidden": [WIDTH]},
            "optim": {"name": "adam", "lr": LR},
            "train": {"steps": STEPS, "batch_size": BATCH, "n_checkpoints": 2, "eval_every": STEPS},
            "seeds": {"init": list(range(K)), "data": data_seeds},
        }
    )
    return float(fit(cfg).meta.elapsed_s or 0.0)


def sgemm_gflops(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e9


def best_of(fn, *args, reps: int = 3) -> float:
    return min(fn(*args) for _ in range(reps))


def main() -> None:
    x, y = digits()
    idx = batches(len(x))
    rows = []
    for threads in sorted({1, torch.get_num_threads()}):
        torch.set_num_threads(threads)
        peak = sgemm_gflops()
        times = {
            "(a) per-model loop": best_of(plain_loop, x, y, idx, reps=1),
            "(b) torch.func vmap": best_of(vmap_recipe, x, y, idx),
            "(c) unitscope": best_of(unitscope_trainer, [0]),
            "(c') own data orders": best_of(unitscope_trainer, list(range(K))),
        }
        rows.append((threads, peak, times))
    print(f"K={K} MLPs 64->{WIDTH}->10 on digits, batch {BATCH}, {STEPS} steps, Adam\n")
    print(f"{'threads':>7} {'method':<22} {'member-steps/s':>15} {'GFLOP/s':>9} {'of sgemm':>9}")
    for threads, peak, times in rows:
        for name, t in times.items():
            rate = K * STEPS / t
            gflops = rate * FLOP_PER_MEMBER_STEP / 1e9
            print(f"{threads:>7} {name:<22} {rate:>15,.0f} {gflops:>9.1f} {gflops / peak:>9.1%}")
        a, b, c, _ = times.values()
        print(f"{threads:>7} sgemm {peak:.1f} GFLOP/s;  c/a = {a / c:.1f}x   c/b = {b / c:.2f}x\n")
    best = max(rows, key=lambda r: r[2]["(c) unitscope"] ** -1)
    print(f"best unitscope setting: {best[0]} thread(s)")
    _ = np  # numpy imported for parity with the other benchmarks


if __name__ == "__main__":
    main()
