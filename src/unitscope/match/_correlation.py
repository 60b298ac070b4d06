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


WITHIN = ("both", "a", "none")


class CrossCorrelation:
    """Streaming float64 correlation between the units of two runs (and within each run).

    Call :meth:`update` with batches of paired rows, then :meth:`compute` (A against B),
    :meth:`blocks` or :meth:`full`.

    Args:
        within: which within-run co-moments to accumulate besides the cross block A·B:
            ``"both"`` (A·A and B·B: :meth:`full` needs them), ``"a"`` (A·A, and B's
            variances only), ``"none"`` (the variances only). The cross correlations are the
            same in every mode; ``"none"`` costs a quarter of ``"both"``'s products.

    Example:
        >>> acc = CrossCorrelation()
        >>> a = torch.randn(1, 100, 3)
        >>> for lo in range(0, 100, 30):
        ...     _ = acc.update(a[:, lo:lo + 30], a[:, lo:lo + 30, [2, 0, 1]])
        >>> r = acc.compute()  # (1, 3, 3): unit i of A is unit [1, 2, 0][i] of B
        >>> r[0].argmax(axis=1).tolist(), bool(np.allclose(r[0].max(axis=1), 1.0))
        ([1, 2, 0], True)
    """

    def __init__(self, within: str = "both") -> None:
        if within not in WITHIN:
            raise UnitscopeError(f"`within` must be one of {WITHIN}, got {within!r}.")
        self.within = within
        self.n = 0
        self.n_a = 0
        # means (K, U) and centred co-moments: "ab" (K, U_a, U_b); "aa"/"bb" (K, U, U) when
        # accumulated in full, else their diagonals (K, U)
        self.moments: dict[str, Tensor] = {}

    def update(self, a: Any, b: Any) -> CrossCorrelation:
        """Add rows: ``a`` (K, m, U_a) and ``b`` (K, m, U_b), row t of a paired with row t of b."""
        ta, tb = as_tensor(a, "a"), as_tensor(b, "b")
        if ta.dim() != 3 or tb.dim() != 3 or ta.shape[1] != tb.shape[1]:
            raise UnitscopeError(
                f"batches must be (K, m, units) with the same rows m, got {tuple(ta.shape)} and "
                f"{tuple(tb.shape)}."
            )
        _check_members(ta, tb)  # a K=1 side stays K=1: its own moments are computed once
        if self.moments and ta.shape[2] != self.n_a:
            raise UnitscopeError(f"a batch has {ta.shape[2]} units of A, earlier ones {self.n_a}.")
        if self.moments and tb.shape[2] != self.moments["mean_b"].shape[1]:
            raise UnitscopeError(
                f"a batch has {tb.shape[2]} units of B, earlier ones "
                f"{self.moments['mean_b'].shape[1]}."
            )
        self.n_a = ta.shape[2]
        step = max(1, _CHUNK // max(1, max(ta.shape[0], tb.shape[0]) * (ta.shape[2] + tb.shape[2])))
        for lo in range(0, ta.shape[1], step):
            self._merge(
                ta[:, lo : lo + step].to(torch.float64), tb[:, lo : lo + step].to(torch.float64)
            )
        return self

    def _merge(self, za: Tensor, zb: Tensor) -> None:
        """Chan, Golub & LeVeque's pairwise update, block by block."""
        m = za.shape[1]
        mean = {"a": za.mean(dim=1), "b": zb.mean(dim=1)}  # (K, U) each
        c = {"a": za - mean["a"].unsqueeze(1), "b": zb - mean["b"].unsqueeze(1)}
        full = {"a": self.within in ("both", "a"), "b": self.within == "both"}
        batch = {"ab": c["a"].transpose(1, 2) @ c["b"]}
        for side in "ab":
            cs = c[side]
            batch[side * 2] = cs.transpose(1, 2) @ cs if full[side] else (cs * cs).sum(dim=1)
        if not self.moments:
            self.moments = {"mean_a": mean["a"], "mean_b": mean["b"], **batch}
            self.n = m
            return
        delta = {side: mean[side] - self.moments[f"mean_{side}"] for side in "ab"}
        f = self.n * m / (self.n + m)
        for key, value in batch.items():
            x, y = delta[key[0]], delta[key[1]]
            if value.dim() == 3:
                extra = f * x.unsqueeze(2) * y.unsqueeze(1)
            else:  # a diagonal
                extra = f * x * y
            self.moments[key] = self.moments[key] + value + extra
        for side in "ab":
            self.moments[f"mean_{side}"] = self.moments[f"mean_{side}"] + delta[side] * (
                m / (self.n + m)
            )
        self.n += m

    def _scales(self) -> dict[str, tuple[Tensor, Tensor]]:
        """Per side: (scale (K, U): 1 / (std √n) for an active unit, else 0; active (K, U))."""
        if not self.moments:
            raise UnitscopeError("no rows were added; call `update` before `compute`.")
        out = {}
        for side in "ab":
            m = self.moments[side * 2]
            diag = torch.diagonal(m, dim1=1, dim2=2) if m.dim() == 3 else m
            out[side] = _scale(diag, self.moments[f"mean_{side}"], self.n)
        return out

    def blocks(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
        """(A·B correlation (K, U_a, U_b), A·A correlation (K, U_a, U_a) or None when not
        accumulated, active A (K, U_a), active B (K, U_b))."""
        scales = self._scales()
        (sa, act_a), (sb, act_b) = scales["a"], scales["b"]
        K = self.moments["ab"].shape[0]
        cross = _correlate(self.moments["ab"], sa, sb)
        aa = self.moments["aa"]
        within = None
        if aa.dim() == 3:
            within = np.array(np.broadcast_to(_correlate(aa, sa, sa), (K, *aa.shape[1:])))
        return cross, within, _members(act_a, K), _members(act_b, K)

    def full(self) -> tuple[np.ndarray, np.ndarray]:
        """(correlation (K, D, D), active (K, D)) over the concatenated units ``[a | b]``."""
        if self.within != "both":
            raise UnitscopeError(
                f"`full` needs both runs' within co-moments; this accumulator keeps "
                f"within={self.within!r} (use CrossCorrelation(within='both'))."
            )
        if not self.moments:
            raise UnitscopeError("no rows were added; call `update` before `compute`.")
        mom = self.moments
        K = mom["ab"].shape[0]
        aa, bb = (mom[k].expand(K, -1, -1) for k in ("aa", "bb"))
        top = torch.cat([aa, mom["ab"]], dim=2)
        bottom = torch.cat([mom["ab"].transpose(1, 2), bb], dim=2)
        mean = torch.cat([mom[k].expand(K, -1) for k in ("mean_a", "mean_b")], dim=1)
        return correlation_from_moments(torch.cat([top, bottom], dim=1), mean, self.n)

    def compute(self) -> np.ndarray:
        """(K, U_a, U_b) float64 correlation between A's and B's units."""
        return self.blocks()[0]


def _scale(diag: Tensor, mean: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """(1 / (std √n) where a unit varies, else 0; whether it varies) from its co-moment
    diagonal ``Σ (z − z̄)²``: a unit varies when std > ``_RTOL`` · |mean| and std > 0."""
    std = (diag.clamp_min(0) / n).sqrt()  # (K, D)
    active = (std > _RTOL * mean.abs()) & (std > 0)
    return torch.where(active, 1.0 / torch.where(active, std, 1.0), 0.0) / n**0.5, active


def _members(t: Tensor, K: int) -> np.ndarray:
    """A (1 or K, U) tensor as a (K, U) array."""
    return np.array(np.broadcast_to(t.cpu().numpy(), (K, t.shape[1])))


def _correlate(moment: Tensor, scale_x: Tensor, scale_y: Tensor) -> np.ndarray:
    corr = moment * scale_x.unsqueeze(2) * scale_y.unsqueeze(1)
    return corr.clamp(-1.0, 1.0).cpu().numpy()


def _check_members(a: Tensor, b: Tensor) -> None:
    """Check that the runs pair one to one (same K) or that one side has K=1."""
    if a.shape[0] == b.shape[0] or 1 in (a.shape[0], b.shape[0]):
        return
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
    scale, active = _scale(torch.diagonal(comoment, dim1=1, dim2=2), mean, n)
    return _correlate(comoment, scale, scale), active.cpu().numpy()


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
        CrossCorrelation(within="none")
        .update(observations(a, "a", layout), observations(b, "b", layout))
        .compute()
    )
