"""The loss and accuracy along the straight line between two networks, and its barriers.

With ``θ(λ) = (1 − λ) θ_A + λ θ_B`` and ``L(λ)`` the loss of ``θ(λ)``:

* Git Re-Basin barrier (Ainsworth et al., 2023): ``B_GR = max_λ L(λ) − ½ (L(0) + L(1))``.
  Since the endpoints are on the grid, ``B_GR >= |L(0) − L(1)| / 2``.
* Entezari barrier (Entezari et al., 2022, "The role of permutation invariance in linear mode
  connectivity"): ``B_E = max_λ [L(λ) − ((1 − λ) L(0) + λ L(1))]`` (>= 0).
* Midpoint accuracy barrier: ``½ (acc(0) + acc(1)) − acc(½)``.

A barrier near 0 means the two networks sit in one linearly connected basin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import UnitscopeError, unknown_name

KINDS = ("rebasin", "entezari")


@dataclass(frozen=True)
class Curve:
    """Metrics of P pairs along the line from A (λ=0) to B (λ=1).

    Attributes:
        lambdas: (T,) interpolation weights, 0 and 1 included.
        values: metric -> (P, T), metrics named ``{split}_loss`` and ``{split}_acc``
            (accuracy only for classification).
        repaired: whether REPAIR rescaled the interpolated networks.

    Example:
        >>> lam = np.linspace(0, 1, 5)
        >>> c = Curve(lam, {"test_loss": np.array([[1.0, 1.5, 2.0, 1.5, 1.0]])})
        >>> c.barrier().tolist(), c.barrier(kind="entezari").tolist()
        ([1.0], [1.0])
    """

    lambdas: np.ndarray
    values: dict[str, np.ndarray]
    repaired: bool = False

    @property
    def splits(self) -> list[str]:
        """The data splits evaluated (``train``, ``test``, ...), in order."""
        return list(dict.fromkeys(k.rsplit("_", 1)[0] for k in self.values))

    def _split(self, split: str | None) -> str:
        if split is None:
            return "test" if "test" in self.splits else self.splits[0]
        if split not in self.splits:
            raise unknown_name("split", split, self.splits)
        return split

    def loss(self, split: str | None = None) -> np.ndarray:
        """(P, T) loss along the line on ``split`` (default: test if present, else the first)."""
        return self.values[f"{self._split(split)}_loss"]

    def accuracy(self, split: str | None = None) -> np.ndarray:
        """(P, T) accuracy along the line (classification only)."""
        key = f"{self._split(split)}_acc"
        if key not in self.values:
            raise UnitscopeError("accuracy is only defined for classification data.")
        return self.values[key]

    def barrier(self, split: str | None = None, kind: str = "rebasin") -> np.ndarray:
        """(P,) loss barrier of kind ``rebasin`` (max − endpoint mean) or ``entezari``
        (max excess over the chord)."""
        if kind not in KINDS:
            raise unknown_name("barrier kind", kind, KINDS)
        loss = self.loss(split)
        ends = loss[:, [0]], loss[:, [-1]]
        if kind == "rebasin":
            return loss.max(axis=1) - 0.5 * (ends[0][:, 0] + ends[1][:, 0])
        chord = (1 - self.lambdas) * ends[0] + self.lambdas * ends[1]  # (P, T)
        return (loss - chord).max(axis=1)

    def midpoint(self, metric: str) -> np.ndarray:
        """(P,) value of ``metric`` at λ = ½ (linear interpolation if ½ is not on the grid)."""
        v = self.values[metric]
        return np.array([np.interp(0.5, self.lambdas, row) for row in v])

    def accuracy_barrier(self, split: str | None = None) -> np.ndarray:
        """(P,) ``½ (acc(0) + acc(1)) − acc(½)``: accuracy lost at the midpoint."""
        acc = self.accuracy(split)
        return 0.5 * (acc[:, 0] + acc[:, -1]) - self.midpoint(f"{self._split(split)}_acc")

    def summary(self, pair: int = 0) -> dict[str, Any]:
        """Barriers and endpoint values of pair ``pair`` on every split (JSON-able)."""
        out: dict[str, Any] = {"repaired": self.repaired, "n_points": len(self.lambdas)}
        for split in self.splits:
            loss = self.loss(split)[pair]
            out[split] = {
                "loss_a": float(loss[0]),
                "loss_b": float(loss[-1]),
                "loss_mid": float(self.midpoint(f"{split}_loss")[pair]),
                "barrier": float(self.barrier(split)[pair]),
                "barrier_entezari": float(self.barrier(split, "entezari")[pair]),
            }
            if f"{split}_acc" in self.values:
                out[split]["accuracy_barrier"] = float(self.accuracy_barrier(split)[pair])
        return out


def relative_reduction(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``1 − after / before``: the fraction of a barrier removed by alignment.

    NaN where ``before`` is not positive (there was no barrier to remove).

    >>> relative_reduction(np.array([2.0, 0.0]), np.array([0.5, 0.0])).tolist()
    [0.75, nan]
    """
    before = np.asarray(before, dtype=np.float64)
    after = np.asarray(after, dtype=np.float64)
    safe = np.where(before > 0, before, 1.0)
    return np.where(before > 0, 1.0 - after / safe, np.nan)
