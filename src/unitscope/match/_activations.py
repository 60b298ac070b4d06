"""Activation matching (Li et al., 2015, "Convergent learning"): which unit of B is unit i of A.

From the correlation matrix ``r`` (K, U, U) between the units of two runs on the same inputs:

* **one-to-one** (bipartite) matching: the permutation maximizing ``Σ_i r[i, perm[i]]``,
  found by the Hungarian method (``scipy.optimize.linear_sum_assignment``);
* **semi-matching** (many-to-one): each unit of A takes its best partner ``max_j r[i, j]``,
  so ``mean(semi) >= mean(matched)`` always;
* **baselines**: ``unaligned`` = ``r[i, i]`` (the order the runs happened to use), ``sibling``
  = the best correlation of unit i with another unit of its *own* run (how redundant A is),
  and ``null`` = the matched correlations against B with its rows shuffled (or against an
  untrained network), the value matching reaches by chance.

Each pair of runs is one member index k: pair k is member k of A with member k of B.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .._errors import UnitscopeError
from .._layout import Layout, require_layout
from ._correlation import CrossCorrelation, observations


@dataclass(frozen=True)
class ActivationMatch:
    """The matching of the units of one layer across P pairs of runs.

    Attributes:
        corr: (P, U, U) float64, ``corr[k, i, j]`` between unit i of A and unit j of B.
        perm: (P, U) int64, the Hungarian matching: unit ``perm[k, i]`` of B is unit i of A,
            so ``acts_b[..., perm[k]]`` is B in A's order.
        matched: (P, U) ``corr[k, i, perm[k, i]]``, in A's unit order.
        semi: (P, U) best partner's correlation ``max_j corr[k, i, j]`` (many-to-one).
        semi_index: (P, U) int64 ``argmax_j corr[k, i, j]``.
        unaligned: (P, U) ``corr[k, i, i]`` (identity order).
        sibling: (P, U) ``max_{j != i}`` of A's within-run correlation (NaN for one unit).
        null: (P, U) matched correlations of the null comparison, or NaN when none was run.
        active_a, active_b: (P, U) bool, units that vary on the inputs (dead units are not).
    """

    corr: np.ndarray
    perm: np.ndarray
    matched: np.ndarray
    semi: np.ndarray
    semi_index: np.ndarray
    unaligned: np.ndarray
    sibling: np.ndarray
    null: np.ndarray
    active_a: np.ndarray
    active_b: np.ndarray

    @property
    def sorted(self) -> np.ndarray:
        """(P, U) matched correlations sorted from best to worst (Li et al.'s figure)."""
        return -np.sort(-self.matched, axis=1)

    @property
    def mean(self) -> np.ndarray:
        """(P,) mean matched correlation over all units."""
        return self.matched.mean(axis=1)

    def fraction_above(self, threshold: float = 0.9) -> np.ndarray:
        """(P,) fraction of A's units whose matched partner correlates above ``threshold``."""
        return (self.matched > threshold).mean(axis=1)

    def fraction_below(self, threshold: float = 0.3) -> np.ndarray:
        """(P,) fraction of A's units whose matched partner correlates below ``threshold``."""
        return (self.matched < threshold).mean(axis=1)

    def summary(self, pair: int = 0) -> dict[str, Any]:
        """Numbers of pair ``pair`` as plain Python values (JSON-able)."""

        def mean(x: np.ndarray) -> float:
            return float(np.nanmean(x[pair])) if np.isfinite(x[pair]).any() else float("nan")

        return {
            "perm": self.perm[pair].tolist(),
            "matched_sorted": self.sorted[pair].tolist(),
            "mean_matched": mean(self.matched),
            "mean_semi": mean(self.semi),
            "mean_unaligned": mean(self.unaligned),
            "mean_sibling": mean(self.sibling),
            "mean_null": mean(self.null),
            "fraction_above_0.9": float(self.fraction_above(0.9)[pair]),
            "fraction_below_0.3": float(self.fraction_below(0.3)[pair]),
            "active_a": int(self.active_a[pair].sum()),
            "active_b": int(self.active_b[pair].sum()),
        }


def hungarian(corr: np.ndarray) -> np.ndarray:
    """(P, U) permutations maximizing ``Σ_i corr[k, i, perm[k, i]]`` for each k of (P, U, U)."""
    perms = np.empty(corr.shape[:2], dtype=np.int64)
    for k, c in enumerate(corr):
        rows, cols = linear_sum_assignment(c, maximize=True)
        perms[k, rows] = cols
    return perms


def _take(corr: np.ndarray, perm: np.ndarray) -> np.ndarray:
    return np.take_along_axis(corr, perm[..., None], axis=2)[..., 0]


def activations(
    acts_a: Any,
    acts_b: Any,
    *,
    layout: str | None = None,
    null: Any = "shuffle",
    seed: int = 0,
) -> ActivationMatch:
    """Match the units of one layer of run A to those of run B by activation correlation.

    Args:
        acts_a: activations of A on a probe set: (n, U), or more axes with a ``layout``.
        acts_b: activations of B on the same inputs, same layout. A side with K=1 is paired
            with every member of the other side.
        layout: one letter per axis of both (and of an array ``null``): ``"KND"`` for K
            members' (K, n, U), ``"KNCHW"`` for conv maps, ``"NTD"`` for a transformer's
            tokens, ``"NHWC"`` channels-last. Every (sample, position) is one observation of
            a unit. Required beyond two axes: a (N, T, D) tensor is never guessed to be K=N
            runs of T samples.
        null: ``"shuffle"`` matches A against B with its samples shuffled (seeded by ``seed``);
            an array like ``acts_b`` (e.g. an untrained network's activations) is matched
            against A instead; ``None`` skips the null (``null`` is then NaN).
        seed: seed of the row shuffle.

    Returns:
        The :class:`ActivationMatch` of the P = max(K_a, K_b) pairs.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a = rng.normal(size=(200, 6))
        >>> m = activations(a, a[:, [5, 4, 3, 2, 1, 0]] + 0.01 * rng.normal(size=(200, 6)))
        >>> m.perm[0].tolist(), bool(m.mean[0] > 0.99), bool(abs(m.null).max() < 0.3)
        ([5, 4, 3, 2, 1, 0], True, True)
    """
    a, b = observations(acts_a, "acts_a", layout), observations(acts_b, "acts_b", layout)
    _check_pair(a, b)
    U = a.shape[2]
    cross, within, active_a, active_b = CrossCorrelation(within="a").update(a, b).blocks()
    assert within is not None  # within="a" keeps A's block
    perm = hungarian(cross)
    diag = np.arange(U)
    within[:, diag, diag] = -np.inf  # a unit is not its own sibling
    sibling = within.max(axis=2) if U > 1 else np.full((cross.shape[0], U), np.nan)
    return ActivationMatch(
        corr=cross,
        perm=perm,
        matched=_take(cross, perm),
        semi=cross.max(axis=2),
        semi_index=cross.argmax(axis=2),
        unaligned=cross[:, diag, diag],
        sibling=sibling,
        null=_null(a, acts_b, layout, null, seed, cross.shape[:2]),
        active_a=active_a,
        active_b=active_b,
    )


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape[1:] != b.shape[1:]:
        raise UnitscopeError(
            f"runs A and B must have the same observations and units to be matched, got "
            f"(n, units) = {tuple(a.shape[1:])} and {tuple(b.shape[1:])}; record both on the "
            "same probe set and layer."
        )


def _null(
    a: torch.Tensor, raw_b: Any, layout: str | None, null: Any, seed: int, shape: tuple[int, ...]
) -> np.ndarray:
    """Matched correlations of A against a comparison that shares nothing with A."""
    if null is None:
        return np.full(shape, np.nan)
    if isinstance(null, str):
        if null != "shuffle":
            raise UnitscopeError(f"`null` must be 'shuffle', an array or None, got {null!r}.")
        lay = require_layout(tuple(raw_b.shape), layout, "acts_b", members=True)
        order = torch.from_numpy(np.random.default_rng(seed).permutation(raw_b.shape[lay.samples]))
        other = observations(_rows(raw_b, order, lay), "acts_b", layout)
    else:
        other = observations(null, "null", layout)
        _check_pair(a, other)
    corr = CrossCorrelation(within="none").update(a, other).compute()
    return _take(corr, hungarian(corr))


def _rows(acts: Any, order: torch.Tensor, lay: Layout) -> torch.Tensor:
    """The samples of ``acts`` in ``order``, along the layout's sample axis."""
    t = acts.detach() if isinstance(acts, torch.Tensor) else torch.as_tensor(np.asarray(acts))
    return t.index_select(lay.samples, order.to(t.device))
