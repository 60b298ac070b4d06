"""Fitting and evaluating stitched networks: the work behind :func:`~unitscope.match.stitch`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._interpolate import _loss
from ._stitch_body import INPUT
from ._stitch_maps import Gaussian, LinearMap, closed_form, permutation_maps


@dataclass(frozen=True)
class StitchEntry:
    """One stitched network: layer ``layer_a`` of a source into ``layer_b`` of a target.

    Attributes:
        source: ``trained`` (A into B), ``self`` (A into A), ``input`` (x into B) or
            ``untrained`` (A at step 0 into B).
        fit: the fit spec, e.g. ``"direct"`` or ``"lowrank:8"``.
        layer_a, layer_b: source and target layer (``"input"`` for the raw input).
        stitched: ``{split}_loss`` and ``{split}_acc`` of the stitched network.
        penalty: ``{split}_loss`` = stitched − target loss; ``{split}_acc`` = target −
            stitched accuracy, in percentage points. NaN when the cell could not be fitted.
        ood: mean Mahalanobis distance of the stitched activations from the target layer's.
        ood_reference: the same for the target's own held-out activations.
        map: the fitted :class:`~unitscope.match._stitch_maps.LinearMap` (None if unfitted).
        note: why the cell is empty, e.g. a permutation between layers of unequal width.
    """

    source: str
    fit: str
    layer_a: str
    layer_b: str
    stitched: dict[str, float]
    penalty: dict[str, float]
    ood: float
    ood_reference: float
    map: LinearMap | None = None
    note: str = ""

    @property
    def ood_ratio(self) -> float:
        """``ood / ood_reference``: ≈ 1 in distribution, ≫ 1 for invented activations."""
        return self.ood / self.ood_reference if self.ood_reference > 0 else math.nan

    def summary(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("source", "fit", "layer_a", "layer_b")}
        out |= {"stitched": dict(self.stitched), "penalty": dict(self.penalty)}
        out |= {"ood": self.ood, "ood_reference": self.ood_reference, "ood_ratio": self.ood_ratio}
        if self.map is not None and self.map.perm is not None:
            out["perm"] = self.map.perm.tolist()
        return out | ({"note": self.note} if self.note else {})


class Runner:
    """Fits and evaluates the stitched networks; caches float64 copies, reference stats and
    the networks' own scores, per body, so that many pairs of bodies share them.

    With ``shared_input`` every body reads the same raw input, so a stitch from the raw
    input depends on its target alone and is fitted once per target (and reused)."""

    def __init__(self, bodies, acts, splits, fit_split, eval_split, loss, steps, lr, shared_input):
        self.bodies, self.acts, self.splits = bodies, acts, splits
        self.fit_split, self.eval_split = fit_split, eval_split
        self.loss, self.steps, self.lr = loss, int(steps), float(lr)
        self.shared_input = bool(shared_input)
        self._f64: dict[tuple[str, str, str], np.ndarray] = {}
        self._ref: dict[tuple[str, str], tuple[Gaussian, float]] = {}
        self._own: dict[tuple[str, int], dict[str, float]] = {}
        self._input: dict[tuple[str, str, str], StitchEntry] = {}
        self._maps: dict[tuple[str, str, str, str, str], LinearMap] = {}

    def prefit_permutations(self, src: str, tgts: list[str], spec, la: str, lb: str) -> None:
        """Fit the permutation maps of ``src`` into every body of ``tgts`` at once (see
        :func:`permutation_maps`); :meth:`entry` uses them. Pairs a permutation cannot join
        (unequal widths or rows) are left to :meth:`entry`."""
        xa = self.f64(src, self.fit_split, la)
        fit = [t for t in tgts if self.f64(t, self.fit_split, lb).shape == xa.shape]
        maps = permutation_maps(xa, [self.f64(t, self.fit_split, lb) for t in fit])
        for tgt, m in zip(fit, maps):
            self._maps[(src, tgt, spec[0], la, lb)] = m

    def kind(self, y: Tensor) -> str:
        return (
            self.loss
            if self.loss != "auto"
            else ("mse" if y.is_floating_point() else "cross_entropy")
        )

    def f64(self, body: str, split: str, layer: str) -> np.ndarray:
        key = (body, split, layer)
        if key not in self._f64:
            self._f64[key] = self.acts[body][split][layer].detach().cpu().double().numpy()
        return self._f64[key]

    def scores(self, out: Tensor, y: Tensor, split: str) -> dict[str, float]:
        with torch.no_grad():
            scores = {f"{split}_loss": float(_loss(out.unsqueeze(0), y, self.kind(y))[0])}
            if not y.is_floating_point():
                scores[f"{split}_acc"] = float((out.argmax(-1) == y).double().mean())
        return scores

    def own(self, body: str) -> dict[str, float]:
        """The network's own loss and accuracy on every split (kept per thread count: the
        same as a fresh run's under the thread setting it is asked under)."""
        key = (body, torch.get_num_threads())
        if key not in self._own:
            net = self.bodies[body]
            self._own[key] = {
                k: v
                for s, (x, y) in self.splits.items()
                for k, v in self.scores(net.outputs(x), y, s).items()
            }
        return self._own[key]

    def reference(self, body: str, layer: str) -> tuple[Gaussian, float]:
        if (body, layer) not in self._ref:
            gauss = Gaussian.fit(self.f64(body, self.fit_split, layer))
            self._ref[(body, layer)] = (
                gauss,
                gauss.distance(self.f64(body, self.eval_split, layer)),
            )
        return self._ref[(body, layer)]

    def entry(self, source: str, src: str, tgt: str, spec, la: str, lb: str) -> StitchEntry:
        if not (self.shared_input and la == INPUT):
            return self._entry(source, src, tgt, spec, la, lb)
        key = (tgt, spec[0], lb)
        if key not in self._input:
            self._input[key] = self._entry(source, src, tgt, spec, la, lb)
        return self._input[key]

    def _entry(self, source: str, src: str, tgt: str, spec, la: str, lb: str) -> StitchEntry:
        text, name, rank = spec
        xa, yb = self.f64(src, self.fit_split, la), self.f64(tgt, self.fit_split, lb)
        note = ""
        if xa.shape[0] != yb.shape[0]:  # positions per sample differ (a 1x1 stitch cannot)
            n = self.splits[self.fit_split][0].shape[0]
            note = (
                f"{la} has {xa.shape[0] // n} position(s) per sample and {lb} "
                f"{yb.shape[0] // n}; a stitch maps units at matching positions"
            )
        elif name == "permutation" and xa.shape[1] != yb.shape[1]:
            note = f"permutation needs equal widths, got {xa.shape[1]} and {yb.shape[1]} units"
        if note:
            nan = dict.fromkeys(self.own(tgt), math.nan)
            return StitchEntry(source, text, la, lb, nan, dict(nan), math.nan, math.nan, None, note)
        fitted = self._maps.pop((src, tgt, text, la, lb), None)  # fitted with others?
        if fitted is None:
            fitted = closed_form(name, rank, xa, yb)
        head = self.bodies[tgt].head
        if name == "task":
            (x_in, y_fit), x_fit = (
                self.splits[self.fit_split][:2],
                self.acts[src][self.fit_split][la],
            )
            fitted = _train_task(
                fitted,
                x_fit,
                y_fit,
                lambda h: head(lb, h, x_in),
                self.kind(y_fit),
                self.steps,
                self.lr,
            )
        stitched: dict[str, float] = {}
        moved = np.empty((0, yb.shape[1]))
        for split, (x, y) in self.splits.items():
            h = fitted.apply(self.acts[src][split][la])  # (rows, U_b)
            with torch.no_grad():
                stitched |= self.scores(head(lb, h, x), y, split)
            if split == self.eval_split:
                moved = h.detach().cpu().double().numpy()
        gauss, reference = self.reference(tgt, lb)
        own = self.own(tgt)
        penalty = {
            k: (v - own[k] if k.endswith("_loss") else 100.0 * (own[k] - v))
            for k, v in stitched.items()
        }
        return StitchEntry(
            source, text, la, lb, stitched, penalty, gauss.distance(moved), reference, fitted
        )


def _train_task(
    start: LinearMap, h: Tensor, y: Tensor, head, kind: str, steps: int, lr: float
) -> LinearMap:
    """The ``task`` stitcher: ``start`` trained on the task loss through the frozen head.

    Full-batch gradient descent with momentum 0.9 on the map written in standardized units
    (each input unit scaled to unit variance, each output unit in units of its spread under
    ``start``), so one learning rate suits any activation scale. A step that raises the loss
    is undone and the learning rate halved, so the training loss never ends above the
    ``direct`` map's, and a map at a stationary point (A into A) stays where it is."""
    sd_in = h.std(0).clamp_min(1e-6)  # (U_a,)
    w0 = torch.as_tensor(start.weight, dtype=h.dtype, device=h.device)
    c0 = torch.as_tensor(start.bias, dtype=h.dtype, device=h.device)
    sd_out = (h @ w0).std(0).clamp_min(1e-6)  # (U_b,)
    scaled = h / sd_in  # (n, U_a)
    params = [(w0 * sd_in[:, None] / sd_out).requires_grad_(True), (c0 / sd_out).requires_grad_()]
    best, kept = math.inf, [p.detach().clone() for p in params]
    velocity = [torch.zeros_like(p) for p in params]
    for _ in range(steps):
        v, c = params
        value = _loss(head((scaled @ v + c) * sd_out).unsqueeze(0), y, kind)[0]
        with torch.no_grad():
            if not float(value) <= best:  # uphill or not finite: undo, slow down
                for p, k, m in zip(params, kept, velocity):
                    p.copy_(k)
                    m.zero_()
                lr /= 2
                continue
            best, kept = float(value), [p.detach().clone() for p in params]
        grads = torch.autograd.grad(value, params)
        with torch.no_grad():
            for p, g, m in zip(params, grads, velocity):
                p.sub_(lr * m.mul_(0.9).add_(g))
    v, c = kept
    weight = (v / sd_in[:, None] * sd_out).cpu().double().numpy()
    return LinearMap(weight, (c * sd_out).cpu().double().numpy())
