"""Benchmark: re-basin of a user's own ResNet-style network on digits (issue 14).

Two seeds of a small ResNet (stem conv + BN, an identity block, a stride-2 block with a 1x1
conv + BN downsample, one ReLU module used twice per block, global average pooling, a Linear
head) are trained on scikit-learn's digits (8x8, one channel) in a plain PyTorch loop, the way
a user trains theirs. Then, for each width, the midpoint test-loss barrier
``L(½) − ½ (L(0) + L(1))`` of the straight line between them:

* naive: no matching, the interpolated BatchNorm statistics as they are;
* naive + BN reset: the BatchNorm statistics of every point recomputed on the training set;
* WM: weight matching on the traced spec (``match.permutation_spec``), without reset;
* WM + BN reset; WM + REPAIR without the reset; WM + BN reset + REPAIR (REPAIR hooks the
  spec's repair points, the BatchNorm after each conv, with 512 training images);
* WM (BN stats in J) + BN reset: the running statistics put into the matching objective (the
  mistake of issue 14: they are only permuted, never matched);
* hand spec: WM on the spec written by hand below (the baseline a user writes today) + reset.

Columns: seconds to trace the spec (0 for the hand-written one), to match, and to evaluate the
curve (3 points); the barrier and accuracy at the midpoint; the share of the naive barrier
removed, and of the naive + BN reset barrier (what matching itself removes). Means over seed
pairs. Run by hand: ``python bench/rebasin_resnet.py``; never a test,
never asserts a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unitscope import match
from unitscope.data import load, train_test_split

STEPS, BATCH, LR = 200, 64, 5e-3


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.down: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.down = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    def __init__(self, width: int, classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.b1 = Block(width, width, 1)
        self.b2 = Block(width, 2 * width, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn(self.conv(x)))
        return self.fc(torch.flatten(self.pool(self.b2(self.b1(x))), 1))


# ---- the spec written by hand (what a user writes without the tracer) --------------------
def hand_spec(width: int) -> match.PermutationSpec:
    bn = ("weight", "bias", "running_mean", "running_var")

    def norm(name: str) -> list[match.Axis]:
        return [match.Axis(f"{name}.{p}", 0, matched=p in ("weight", "bias")) for p in bn]

    stream1 = [match.Axis("conv.weight", 0), *norm("bn")]
    stream2 = [match.Axis("b2.down.0.weight", 0), *norm("b2.down.1"), match.Axis("fc.weight", 1)]
    stream1 += [match.Axis("b2.down.0.weight", 1)]
    inner = {}
    for block, s_in, s_out in (("b1", stream1, stream1), ("b2", stream1, stream2)):
        s_in.append(match.Axis(f"{block}.conv1.weight", 1))
        s_out += [match.Axis(f"{block}.conv2.weight", 0), *norm(f"{block}.bn2")]
        inner[block] = [
            match.Axis(f"{block}.conv1.weight", 0),
            *norm(f"{block}.bn1"),
            match.Axis(f"{block}.conv2.weight", 1),
        ]
    groups = {
        "stream1": match.Group("stream1", width, tuple(stream1)),
        "b1.inner": match.Group("b1.inner", width, tuple(inner["b1"])),
        "b2.inner": match.Group("b2.inner", 2 * width, tuple(inner["b2"])),
        "stream2": match.Group("stream2", 2 * width, tuple(stream2)),
    }
    return match.PermutationSpec(groups)


def stats_in_objective(spec: match.PermutationSpec, net: nn.Module) -> match.PermutationSpec:
    """The mistake: BatchNorm running statistics treated as parameters of the objective."""
    groups = {
        name: dataclasses.replace(
            g, axes=tuple(dataclasses.replace(a, matched=True) for a in g.axes)
        )
        for name, g in spec.groups.items()
    }
    floats = tuple(k for k, v in net.state_dict().items() if v.is_floating_point())
    return dataclasses.replace(spec, groups=groups, params=floats)


# ---- training: a plain PyTorch loop -------------------------------------------------------
def train(width: int, seed: int, x: Tensor, y: Tensor, steps: int) -> ResNet:
    torch.manual_seed(seed)
    net = ResNet(width)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (BATCH,), generator=gen)
        loss = F.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def rows_for_pair(a: ResNet, b: ResNet, x: Tensor, data: dict, width: int) -> dict[str, list]:
    loader = [x[i : i + 256] for i in range(0, len(x), 256)]
    t_spec, spec = timed(lambda: match.permutation_spec(a, x[:8]))
    t_wm, wm = timed(lambda: match.weights(a, b, spec=spec))
    aligned = match.permute(b, wm.perms, spec=spec)
    wrong = stats_in_objective(spec, a)
    t_wrong, wm_wrong = timed(lambda: match.weights(a, b, spec=wrong))
    hand = hand_spec(width)
    t_hand, wm_hand = timed(lambda: match.weights(a, b, spec=hand))
    cases = {
        "naive": (0.0, 0.0, b, {}),
        "naive + BN reset": (0.0, 0.0, b, {"reset_bn": loader}),
        "WM": (t_spec, t_wm, aligned, {}),
        "WM + BN reset": (t_spec, t_wm, aligned, {"reset_bn": loader}),
        "WM + REPAIR (no BN reset)": (
            t_spec,
            t_wm,
            aligned,
            {"repair": True, "repair_x": x[:512], "spec": spec},
        ),
        "WM + BN reset + REPAIR": (
            t_spec,
            t_wm,
            aligned,
            {"reset_bn": loader, "repair": True, "repair_x": x[:512], "spec": spec},
        ),
        "WM (BN stats in J) + BN reset": (
            t_spec,
            t_wrong,
            match.permute(b, wm_wrong.perms, spec=spec),
            {"reset_bn": loader},
        ),
        "hand spec: WM + BN reset": (
            0.0,
            t_hand,
            match.permute(b, wm_hand.perms, spec=hand),
            {"reset_bn": loader},
        ),
    }
    out: dict[str, list] = {}
    for name, (ts, tm, model_b, kw) in cases.items():
        tc, curve = timed(
            lambda mb=model_b, kw=kw: match.interpolate(a, mb, data, n_points=3, **kw)
        )
        acc = float(curve.accuracy("test")[0, 1])
        out[name] = [ts, tm, tc, float(curve.barrier("test")[0]), acc]
    same = all(
        np.array_equal(wm.perms[t], wm_hand.perms[h])
        for t, h in zip(spec.groups, ("stream1", "b1.inner", "b2.inner", "stream2"))
    )
    out["_agree"] = [same]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 48])
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train_ds, test_ds = train_test_split(load("digits"), 0.25, seed=0)
    x, y = torch.as_tensor(train_ds.x, dtype=torch.float32), torch.as_tensor(train_ds.y)
    xt, yt = torch.as_tensor(test_ds.x, dtype=torch.float32), torch.as_tensor(test_ds.y)
    data = {"test": (xt, yt)}
    for width in args.widths:
        results: dict[str, list] = {}
        t_train = 0.0
        for p in range(args.pairs):
            t, (a, b) = timed(
                lambda p=p, w=width: [train(w, s, x, y, args.steps) for s in (2 * p, 2 * p + 1)]
            )
            t_train += t
            for name, row in rows_for_pair(a, b, x, data, width).items():
                results.setdefault(name, []).append(row)
        agree = all(r[0] for r in results.pop("_agree"))
        naive = np.mean([r[3] for r in results["naive"]])
        reset = np.mean([r[3] for r in results["naive + BN reset"]])
        print(
            f"\nwidth {width} ({2 * width} after the downsample), {args.pairs} seed pairs, "
            f"{args.steps} Adam steps each ({t_train / (2 * args.pairs):.1f} s per network)"
        )
        print(f"{'method':32s} {'spec s':>7s} {'match s':>8s} {'curve s':>8s} "
              f"{'barrier':>8s} {'mid acc':>8s} {'removed':>8s} {'vs reset':>8s}")  # fmt: skip
        for name, rows in results.items():
            ts, tm, tc, bar, acc = np.mean(np.asarray(rows, dtype=np.float64), axis=0)
            removed = 1 - bar / naive if naive > 0 else float("nan")
            vs_reset = 1 - bar / reset if reset > 0 else float("nan")
            print(
                f"{name:32s} {ts:7.3f} {tm:8.3f} {tc:8.2f} {bar:8.3f} {acc:8.3f} {removed:8.1%} "
                f"{vs_reset:8.1%}"
            )
        print(f"hand-written and traced specs give the same permutations: {agree}")


if __name__ == "__main__":
    main()
