"""Cross-run unit correlation in float64, exact and streaming.

The correlation between unit ``i`` of run A and unit ``j`` of run B over ``n`` observations is

    r_ij = Σ_t (a_ti − ā_i)(b_tj − b̄_j) / sqrt(Σ_t (a_ti − ā_i)² · Σ_t (b_tj − b̄_j)²).

For a conv layer every (sample, position) pair is one observation of a channel (Li et al.,
2015, "Convergent learning: do different neural networks learn the same representations?").
:class:`CrossCorrelation` accumulates the means and the centred co-moment matrix of the
concatenated units ``[a | b]`` batch by batch, merging batches with the pairwise update of
Chan, Golub & LeVeque (1979), ``M = M₁ + M₂ + n₁n₂/(n₁+n₂) δδᵀ``, so nothing cancels
catastrophically. A unit that does not vary (a dead ReLU) has no defined correlation; it gets
correlation 0 with every unit and is flagged inactive.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._errors import UnitscopeError
from .._layout import require_layout

_CHUNK = 1 << 22  # float64 elements converted per chunk (32 MB)
_RTOL = 1e-12  # a unit whose std is below _RTOL * |mean| (or exactly 0) does not vary


def as_tensor(x: Any, name: str) -> Tensor:
    """``x`` (numpy or torch, any real dtype) as a torch tensor, without copying if possible."""
    t = x.detach() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64, torch.bool)):
        raise UnitscopeError(f"`{name}` must hold real numbers, got dtype {t.dtype}.")
    return t


def observations(acts: Any, name: str, layout: str | None) -> Tensor:
    """Activations as (K, n_observations, n_units), read with ``layout`` (never guessed).

    ``layout`` names every axis (``"KND"``, ``"KNCHW"``, ``"NTD"``, ...; see
    :mod:`~unitscope._layout`); a 2-D tensor without one is ``"ND"``. Every
    (sample, position) is one observation of a unit; without a K axis, K=1.
    """
    t = as_tensor(acts, name)
    lay = require_layout(tuple(t.shape), layout, name, members=True)
    t = t.permute(lay.order)  # (K?, n, *positions, U)
    if lay.members is None:
        t = t.unsqueeze(0)
    t = t.reshape(t.shape[0], -1, t.shape[-1])  # (K, n * positions, U)
    if t.shape[1] < 2:
        raise UnitscopeError(f"`{name}` needs >= 2 observations to correlate, got {t.shape[1]}.")
    return t


def as_observations(acts: Any, name: str) -> Tensor:
    """Activations of unitscope's own models as (K, n_observations, n_units).

    For callers that know their layout by construction: dense (n, U) or (K, n, U) and conv
    maps (n, C, H, W) or (K, n, C, H, W). Input from users goes through :func:`observations`,
    which never guesses.
    """
    t = as_tensor(acts, name)
    if t.dim() in (2, 4):
        t = t.unsqueeze(0)
    if t.dim() == 5:  # (K, n, C, H, W) -> (K, n*H*W, C)
        t = t.permute(0, 1, 3, 4, 2).reshape(t.shape[0], -1, t.shape[2])
    if t.dim() != 3:
        raise UnitscopeError(
            f"`{name}` must be (n, units), (K, n, units), (n, C, H, W) or (K, n, C, H, W), got "
            f"shape {tuple(t.shape)}."
        )
    if t.shape[1] < 2:
        raise UnitscopeError(f"`{name}` needs >= 2 observations to correlate, got {t.shape[1]}.")
    return t


class CrossCorrelation:
    """Streaming float64 correlation between the units of two runs (and within each run).

    Call :meth:`update` with batches of paired rows, then :meth:`compute`.

    Example:
        >>> acc = CrossCorrelation()
        >>> a = torch.randn(1, 100, 3)
        >>> for lo in range(0, 100, 30):
        ...     _ = acc.update(a[:, lo:lo + 30], a[:, lo:lo + 30, [2, 0, 1]])
        >>> r = acc.compute()  # (1, 3, 3): unit i of A is unit [1, 2, 0][i] of B
        >>> r[0].argmax(axis=1).tolist(), bool(np.allclose(r[0].max(axis=1), 1.0))
        ([1, 2, 0], True)
    """

    def __init__(self) -> None:
        self.n = 0
        self.n_a = 0
        self.mean: Tensor | None = None  # (K, U_a + U_b)
        self.comoment: Tensor | None = None  # (K, U_a + U_b, U_a + U_b)

    def update(self, a: Any, b: Any) -> CrossCorrelation:
        """Add rows: ``a`` (K, m, U_a) and ``b`` (K, m, U_b), row t of a paired with row t of b."""
        ta, tb = as_tensor(a, "a"), as_tensor(b, "b")
        if ta.dim() != 3 or tb.dim() != 3 or ta.shape[1] != tb.shape[1]:
            raise UnitscopeError(
                f"batches must be (K, m, units) with the same rows m, got {tuple(ta.shape)} and "
                f"{tuple(tb.shape)}."
            )
        ta, tb = _broadcast_members(ta, tb)
        if self.mean is not None and ta.shape[2] != self.n_a:
            raise UnitscopeError(f"a batch has {ta.shape[2]} units of A, earlier ones {self.n_a}.")
        self.n_a = ta.shape[2]
        step = max(1, _CHUNK // max(1, ta.shape[0] * (ta.shape[2] + tb.shape[2])))
        for lo in range(0, ta.shape[1], step):
            z = torch.cat([ta[:, lo : lo + step], tb[:, lo : lo + step]], dim=2)
            self._merge(z.to(torch.float64))
        return self

    def _merge(self, z: Tensor) -> None:
        m = z.shape[1]
        mu = z.mean(dim=1)  # (K, D)
        c = z - mu.unsqueeze(1)  # (K, m, D)
        moment = c.transpose(1, 2) @ c  # (K, D, D)
        if self.mean is None or self.comoment is None:
            self.mean, self.comoment, self.n = mu, moment, m
            return
        if mu.shape != self.mean.shape:
            raise UnitscopeError(
                f"a batch has {mu.shape[1]} units in all, earlier ones {self.mean.shape[1]}."
            )
        delta = mu - self.mean  # (K, D)
        f = self.n * m / (self.n + m)
        self.comoment = self.comoment + moment + f * delta.unsqueeze(2) * delta.unsqueeze(1)
        self.mean = self.mean + delta * (m / (self.n + m))
        self.n += m

    def full(self) -> tuple[np.ndarray, np.ndarray]:
        """(correlation (K, D, D), active (K, D)) over the concatenated units ``[a | b]``."""
        if self.comoment is None or self.mean is None:
            raise UnitscopeError("no rows were added; call `update` before `compute`.")
        return correlation_from_moments(self.comoment, self.mean, self.n)

    def compute(self) -> np.ndarray:
        """(K, U_a, U_b) float64 correlation between A's and B's units."""
        corr, _ = self.full()
        return corr[:, : self.n_a, self.n_a :]


def _broadcast_members(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Expand a K=1 side to the other side's K."""
    if a.shape[0] == b.shape[0]:
        return a, b
    if a.shape[0] == 1:
        return a.expand(b.shape[0], -1, -1), b
    if b.shape[0] == 1:
        return a, b.expand(a.shape[0], -1, -1)
    raise UnitscopeError(
        f"runs A and B hold {a.shape[0]} and {b.shape[0]} members; pair them one to one "
        "(same K) or give one of them K=1."
    )


def correlation_from_moments(
    comoment: Tensor, mean: Tensor, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Correlation matrix from a centred co-moment matrix; inactive units get correlation 0.

    Args:
        comoment: (K, D, D) ``Σ_t (z_t − z̄)(z_t − z̄)ᵀ`` in float64.
        mean: (K, D) the means ``z̄``.
        n: number of observations.

    Returns:
        (correlation (K, D, D) in [-1, 1], active (K, D) bool).
    """
    var = torch.diagonal(comoment, dim1=1, dim2=2).clamp_min(0) / n  # (K, D)
    std = var.sqrt()
    active = std > _RTOL * mean.abs()
    active &= std > 0
    scale = torch.where(active, 1.0 / torch.where(active, std, 1.0), 0.0) / n**0.5  # (K, D)
    corr = comoment * scale.unsqueeze(2) * scale.unsqueeze(1)
    return corr.clamp(-1.0, 1.0).cpu().numpy(), active.cpu().numpy()


def cross_correlation(a: Any, b: Any, *, layout: str | None = None) -> np.ndarray:
    """Correlation between every unit of A and every unit of B, in float64.

    Args:
        a: activations of run A: (n, U_a), or a tensor of more axes with its ``layout``.
        b: activations of run B on the same inputs, same layout.
        layout: one letter per axis, e.g. ``"KND"`` (members, samples, units), ``"KNCHW"``
            or ``"NTD"`` (tokens); required beyond two axes. Every (sample, position) is an
            observation; without a K axis, K=1.

    Returns:
        (K, U_a, U_b) correlations; entries of a unit that does not vary are 0.

    Example:
        >>> a = np.random.default_rng(0).normal(size=(50, 4))
        >>> r = cross_correlation(a, a[:, [3, 1, 0, 2]])
        >>> r[0].argmax(axis=1).tolist()  # unit i of A is unit argmax of B
        [2, 1, 3, 0]
    """
    return (
        CrossCorrelation()
        .update(observations(a, "a", layout), observations(b, "b", layout))
        .compute()
    )
