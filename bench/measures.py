"""Benchmark: exact linear CKA, streaming memory, and a 10×10 layer matrix over a DataLoader.

Compares ``unitscope.measures`` with two anchors run in the same process:

- ckatorch's ``cka_base`` (installed on first use into ``bench/.anchors`` with
  ``pip install --target bench/.anchors --no-deps ckatorch``; never a project dependency. Only
  its ``core``/``hsic``/``utils`` modules are loaded, so its plotting extras are not needed);
- a plain numpy Gram-matrix implementation (``K = XXᵀ``, double-centred, ``⟨K, L⟩/‖K‖‖L‖``).

and with the floor for exact linear CKA: the three float64 products XᵀX, YᵀY, XᵀY of the same
shapes. By default everything runs on one BLAS thread and is timed in CPU seconds of the calling
thread (best of several runs), which stays meaningful on a shared, loaded machine;
``--threads N`` times wall-clock seconds with N threads instead. Never part of the test suite;
it prints numbers and asserts nothing.

    python bench/measures.py            # full run (n = 4000 and 50,000)
    python bench/measures.py --quick    # smaller shapes, a few seconds
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import time
import tracemalloc
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from unitscope.measures import StreamingMeasure, linear_cka, model_similarity_matrix
from unitscope.record._hooks import record_activations

ANCHORS = Path(__file__).resolve().parent / ".anchors"


# -- anchors -----------------------------------------------------------------------------------


def load_ckatorch() -> tuple[Callable[..., Any], str]:
    """ckatorch's ``cka_base``; installs the wheel into bench/.anchors on first use."""
    pkg = ANCHORS / "ckatorch"
    if not pkg.is_dir():
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(ANCHORS),
            "ckatorch",
        ]
        if subprocess.run(cmd, check=False).returncode != 0 or not pkg.is_dir():
            return _ckatorch_formula, "ckatorch formula (re-implemented; install failed)"
    stub = types.ModuleType("ckatorch")  # skip ckatorch/__init__.py (plotting imports)
    stub.__path__ = [str(pkg)]
    sys.modules.setdefault("ckatorch", stub)
    core = importlib.import_module("ckatorch.core")
    info = next(ANCHORS.glob("ckatorch-*.dist-info"), Path("ckatorch-?.dist-info")).name
    return core.cka_base, f"ckatorch {info.removeprefix('ckatorch-').removesuffix('.dist-info')}"


def _ckatorch_formula(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The linear path of ckatorch's cka_base, re-implemented: float64 Grams, centred, cosine."""
    grams = []
    for a in (x.double(), y.double()):
        g = a @ a.T
        means = g.mean(dim=0)
        means -= means.mean() / 2
        grams.append(g - means[:, None] - means[None, :])
    return grams[0].ravel().dot(grams[1].ravel()) / (grams[0].norm() * grams[1].norm())


def numpy_gram_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Plain numpy linear CKA in Gram form (Kornblith et al. 2019), float64."""
    k, l = x @ x.T, y @ y.T
    k = k - k.mean(0)[None, :] - k.mean(1)[:, None] + k.mean()
    l = l - l.mean(0)[None, :] - l.mean(1)[:, None] + l.mean()
    return float(np.sum(k * l) / (np.linalg.norm(k) * np.linalg.norm(l)))


# -- timing ------------------------------------------------------------------------------------


class Clock:
    """Best-of-``repeats`` time: CPU seconds of this thread, or wall seconds when threaded."""

    def __init__(self, threads: int) -> None:
        self.now = time.thread_time if threads == 1 else time.perf_counter

    def best(self, fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
        out, times = None, []
        for _ in range(repeats):
            t0 = self.now()
            out = fn()
            times.append(self.now() - t0)
        return min(times), out


def peak_mb(fn: Callable[[], Any]) -> float:
    """Peak memory traced by tracemalloc (numpy and Python allocations) while ``fn`` runs."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def _pair(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = np.tanh(x[:, : d // 2] @ rng.standard_normal((d // 2, d))) + 0.5 * rng.standard_normal(
        (n, d)
    )
    return x, y


# -- the three experiments ---------------------------------------------------------------------


def bench_linear_cka(sizes, clock: Clock, cka_base, cka_label: str, gram_limit: int) -> list[dict]:
    return [
        row for n, d in sizes for row in _cka_case(n, d, clock, cka_base, cka_label, gram_limit)
    ]


def _cka_case(
    n: int, d: int, clock: Clock, cka_base, cka_label: str, gram_limit: int
) -> list[dict]:
    x, y = _pair(n, d)
    floor_t, ours_t, value = [], [], None
    for _ in range(9 if n * d <= 2_000_000 else 3):  # interleaved: drifting load hits both alike
        floor_t.append(clock.best(lambda: (x.T @ x, y.T @ y, x.T @ y), 1)[0])
        t, value = clock.best(lambda: linear_cka(x, y), 1)
        ours_t.append(t)
    floor, ours = min(floor_t), min(ours_t)
    case = [
        dict(case=f"n={n} d={d}", method="floor: XᵀX, YᵀY, XᵀY (numpy)", t=floor),
        dict(
            case="",
            method="unitscope linear_cka",
            t=ours,
            value=value,
            mem=peak_mb(lambda: linear_cka(x, y)),
        ),
    ]
    if n <= gram_limit:
        t, v = clock.best(lambda: numpy_gram_cka(x, y), 2)
        case.append(dict(case="", method="numpy Gram (plain)", t=t, value=v))
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        t, v = clock.best(lambda: float(cka_base(tx, ty)), 2)
        case.append(dict(case="", method=f"{cka_label} cka_base", t=t, value=v))
    else:
        gb = n * n * 8 * 3 / 2**30
        case.append(dict(case="", method=f"Gram anchors skipped: n×n Grams need ~{gb:.0f} GB"))
    return [{**r, "floor": floor, "ours": ours} for r in case]


def bench_streaming_memory(ns: list[int], d: int, batch: int, clock: Clock) -> list[dict]:
    rows = []
    for n in ns:
        t, value = clock.best(lambda n=n: _stream(n, d, batch), 1)
        mem = peak_mb(lambda n=n: _stream(n, d, batch))
        rows.append(dict(n=n, batches=n // batch, t=t, mem=mem, value=value))
    return rows


def _stream(n: int, d: int, batch: int) -> float:
    """Exact linear CKA over n rows that are generated batch by batch and never stored."""
    acc = StreamingMeasure("linear_cka")
    rng = np.random.default_rng(0)
    for _ in range(n // batch):
        xb = rng.standard_normal((batch, d))
        acc.update(xb, np.tanh(xb) + rng.standard_normal((batch, d)))
    return acc.compute()


class DeepMLP(nn.Module):
    """Ten hidden ReLU layers of equal width; the studied layers are ``act.0`` … ``act.9``."""

    def __init__(self, width: int, depth: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.fc = nn.ModuleList([nn.Linear(64 if i == 0 else width, width) for i in range(depth)])
        self.act = nn.ModuleList([nn.ReLU() for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for fc, act in zip(self.fc, self.act):
            x = act(fc(x))
        return x


def bench_layer_matrix(n: int, width: int, clock: Clock, cka_base, cka_label: str) -> list[dict]:
    depth, batch = 10, 256
    a, b = DeepMLP(width, depth, 0), DeepMLP(width, depth, 1)
    data = torch.randn(n, 64, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(TensorDataset(data, torch.zeros(n)), batch_size=batch)
    layers = [f"act.{i}" for i in range(depth)]

    def ours() -> np.ndarray:
        return model_similarity_matrix(a, b, loader, layers_a=layers, layers_b=layers).values

    def record() -> tuple[dict, dict]:
        return record_activations(a, loader, layers), record_activations(b, loader, layers)

    def numpy_gram() -> np.ndarray:
        ra, rb = record()
        grams = {}
        for side, acts in (("a", ra), ("b", rb)):
            for k, v in acts.items():
                g = v.astype(np.float64) @ v.astype(np.float64).T
                g = g - g.mean(0)[None, :] - g.mean(1)[:, None] + g.mean()
                grams[side, k] = g / np.linalg.norm(g)
        return np.array([[np.sum(grams["a", p] * grams["b", q]) for q in layers] for p in layers])

    def ckatorch_matrix() -> np.ndarray:
        ra, rb = record()
        ta = {k: torch.from_numpy(v) for k, v in ra.items()}
        tb = {k: torch.from_numpy(v) for k, v in rb.items()}
        return np.array([[float(cka_base(ta[p], tb[q])) for q in layers] for p in layers])

    t_ours, m_ours = clock.best(ours, 2)
    rows = [
        dict(
            method="unitscope model_similarity_matrix (one pass, streaming)",
            t=t_ours,
            mem=peak_mb(ours),
            diff=0.0,
        )
    ]
    t, m = clock.best(numpy_gram, 2)
    rows.append(
        dict(
            method="numpy Gram (record, then Grams)",
            t=t,
            mem=peak_mb(numpy_gram),
            diff=float(np.abs(m - m_ours).max()),
        )
    )
    t, m = clock.best(ckatorch_matrix, 1)  # torch allocations are invisible to tracemalloc
    rows.append(
        dict(
            method=f"{cka_label} cka_base per pair (record first)",
            t=t,
            diff=float(np.abs(m - m_ours).max()),
        )
    )
    for r in rows:
        r["ours"] = t_ours
    return rows


# -- printing ----------------------------------------------------------------------------------


def print_cka(rows: list[dict], unit: str) -> None:
    print(f"\nlinear CKA, float64 ({unit}, best of runs; peak MB traced by tracemalloc)")
    print(
        f"{'case':<16} {'method':<40} {'time':>9} {'÷ floor':>8} {'÷ unitscope':>12} "
        f"{'peak MB':>8}  value"
    )
    for r in rows:
        if "t" not in r:
            print(f"{r['case']:<16} {r['method']}")
            continue
        mem = f"{r['mem']:8.1f}" if "mem" in r else " " * 8
        val = f"{r['value']:.12f}" if "value" in r else ""
        print(
            f"{r['case']:<16} {r['method']:<40} {r['t']:9.4f} {r['t'] / r['floor']:7.2f}x "
            f"{r['t'] / r['ours']:11.2f}x {mem}  {val}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes (seconds)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/torch threads (default 1)")
    args = parser.parse_args(argv)
    sizes = [(1000, 128), (8000, 256)] if args.quick else [(4000, 256), (50_000, 1024)]
    cka_base, cka_label = load_ckatorch()
    clock = Clock(args.threads)
    unit = "CPU s, 1 thread" if args.threads == 1 else f"wall s, {args.threads} threads"
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        print(
            f"unitscope measures bench — numpy {np.__version__}, torch {torch.__version__}, "
            f"anchor: {cka_label}"
        )
        print_cka(bench_linear_cka(sizes, clock, cka_base, cka_label, gram_limit=8000), unit)
        ns = [8_192, 32_768] if args.quick else [16_384, 65_536, 262_144]
        print(f"\nstreaming linear CKA, d=256 per side, batches of 2048 rows ({unit})")
        print(f"{'n':>8} {'batches':>8} {'time':>9} {'peak MB':>8}  value")
        for r in bench_streaming_memory(ns, 256, 2048, clock):
            print(f"{r['n']:8d} {r['batches']:8d} {r['t']:9.3f} {r['mem']:8.1f}  {r['value']:.12f}")
        n_lm = 1024 if args.quick else 2048
        print(
            f"\n10×10 layer matrix, two 10-layer ReLU MLPs (width 256), n={n_lm}, "
            f"DataLoader batches of 256 ({unit})"
        )
        print(f"{'method':<56} {'time':>9} {'÷ unitscope':>12} {'peak MB':>8} {'max |Δ|':>9}")
        for r in bench_layer_matrix(n_lm, 256, clock, cka_base, cka_label):
            mem = f"{r['mem']:8.1f}" if "mem" in r else f"{'n/a':>8}"
            print(
                f"{r['method']:<56} {r['t']:9.3f} {r['t'] / r['ours']:11.2f}x {mem} "
                f"{r['diff']:9.1e}"
            )


if __name__ == "__main__":
    main()
