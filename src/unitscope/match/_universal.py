"""Universal units with calibrated nulls: is the unit basis special, or only the subspace?

For each unit i of seed k, its **best-partner correlation** is the mean over the other seeds l
of ``max_j corr(k_i, l_j)`` (Gurnee et al., 2024, "Universal neurons in GPT2 language
models"). A high value alone proves little: when two seeds span the same subspace, some unit of
l correlates with k_i even if l's units are any rotation of k's. So it is compared with nulls:

* **rotated**: every partner layer l replaced by its centred activations times a random
  orthogonal matrix (Haar): the same subspace, no privileged basis. The universality
  ``threshold`` is this null's ``quantile`` (default 99th percentile) over all live units;
  a unit whose best-partner correlation exceeds it is **universal**;
* **shuffled**: the partner's probe rows permuted (what n samples give by chance);
* **untrained**: the same best-partner correlation among the untrained networks.

Gurnee et al.'s fixed rule is reported alongside: a unit is universal when its *excess*
correlation, best-partner minus its mean best-partner against the rotated partners, is above
0.5. Linear CKA and SVCCA of the same pairs of layers say whether the span is shared; when it
is but few units beat the rotated null, the seeds share the subspace, not the units.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits  # installed with scikit-learn

from .._errors import UnitscopeError
from ..data._checks import check_seed
from ..measures import linear_cka, svcca_similarity
from ._consensus import _resolve, standardized, unit_correlations
from ._correlation import as_observations

FIXED = 0.5  # Gurnee et al. (2024): excess correlation above 0.5


@dataclass(frozen=True)
class Universality:
    """Best-partner correlations of K seeds' units against three nulls.

    Attributes:
        partner: (K, K, U) ``max_j corr(k_i, l_j)`` for seed k's unit i and seed l (NaN for
            l = k).
        best: (K, U) mean of ``partner`` over the other seeds.
        rotated: (R, K, U) ``best`` against R draws of randomly rotated partner layers.
        shuffled: (K, U) ``best`` against partners with shuffled probe rows.
        untrained: (K, U) ``best`` among the untrained networks, or None.
        threshold: the ``quantile`` of ``rotated`` over live units.
        quantile: its level; ``fixed``: the excess-correlation rule (Gurnee et al.: 0.5).
        active: (K, U) bool, units that vary on the inputs.
        cka, svcca: (K, K) linear CKA and SVCCA of every pair of seeds (NaN on the diagonal).
        layer, step: what was compared (None for arrays).
    """

    partner: np.ndarray
    best: np.ndarray
    rotated: np.ndarray
    shuffled: np.ndarray
    untrained: np.ndarray | None
    threshold: float
    quantile: float
    fixed: float
    active: np.ndarray
    cka: np.ndarray
    svcca: np.ndarray
    layer: str | None = None
    step: int | None = None

    @property
    def excess(self) -> np.ndarray:
        """(K, U) best-partner correlation minus its mean against the rotated partners."""
        return self.best - self.rotated.mean(axis=0)

    @property
    def universal(self) -> np.ndarray:
        """(K, U) bool: live units whose best-partner correlation exceeds ``threshold``."""
        return self.active & (self.best > self.threshold)

    @property
    def universal_fixed(self) -> np.ndarray:
        """(K, U) bool: live units whose excess correlation exceeds ``fixed`` (Gurnee's rule)."""
        return self.active & (self.excess > self.fixed)

    def fraction(self, rule: str = "calibrated") -> np.ndarray:
        """(K,) share of each seed's live units that are universal (``calibrated`` or
        ``fixed``)."""
        flags = {"calibrated": self.universal, "fixed": self.universal_fixed}.get(rule)
        if flags is None:
            raise UnitscopeError(f"`rule` must be 'calibrated' or 'fixed', got {rule!r}.")
        return flags.sum(axis=1) / np.maximum(self.active.sum(axis=1), 1)

    def null_fractions(self) -> dict[str, float]:
        """Share of live units above ``threshold`` under each null (the rotated one is ≈ 1 −
        ``quantile`` by construction)."""
        out = {
            "rotated": _share(self.rotated, self.active, self.threshold),
            "shuffled": _share(self.shuffled[None], self.active, self.threshold),
        }
        if self.untrained is not None:
            out["untrained"] = _share(
                self.untrained[None], np.ones_like(self.active), self.threshold
            )
        return out

    def summary(self) -> dict[str, Any]:
        """Everything as plain Python values."""
        off = ~np.eye(self.cka.shape[0], dtype=bool)
        return {
            "layer": self.layer,
            "step": self.step,
            "threshold": self.threshold,
            "quantile": self.quantile,
            "fixed_excess": self.fixed,
            "fraction_universal": self.fraction("calibrated").tolist(),
            "fraction_universal_fixed": self.fraction("fixed").tolist(),
            "null_fractions": self.null_fractions(),
            "mean_best": float(self.best[self.active].mean()) if self.active.any() else None,
            "mean_rotated": float(self.rotated.mean()),
            "mean_shuffled": float(self.shuffled.mean()),
            "mean_untrained": None if self.untrained is None else float(self.untrained.mean()),
            "mean_cka": float(self.cka[off].mean()),
            "mean_svcca": float(np.nanmean(self.svcca[off])),
            "best": self.best.tolist(),
        }


def _share(values: np.ndarray, active: np.ndarray, threshold: float) -> float:
    keep = np.broadcast_to(active, values.shape)
    return float((values[keep] > threshold).mean()) if keep.any() else float("nan")


# ---- the pure functions ----------------------------------------------------------------------


def partner_correlation(cross: np.ndarray) -> np.ndarray:
    """(K, K, U) best correlation of unit i of k with any unit of l from (K, K, U, U)
    correlations ``cross[k, l, i, j]``; NaN where l = k."""
    partner = cross.max(axis=3)
    K = partner.shape[0]
    partner[np.arange(K), np.arange(K)] = np.nan
    return partner


def best_partner(partner: np.ndarray, members: Any = None) -> np.ndarray:
    """(M, U) mean of ``partner[k, l]`` over the other seeds l, among ``members`` (default
    all; repeats count once).

    Example:
        >>> p = np.full((3, 3, 2), 0.5); p[0, 1] = 1.0
        >>> best_partner(p)[0].tolist(), best_partner(p, [0, 1, 1])[0].tolist()
        ([0.75, 0.75], [1.0, 1.0])
    """
    K = partner.shape[0]
    chosen = sorted(set(range(K) if members is None else (int(m) for m in members)))
    if len(chosen) < 2:
        raise UnitscopeError(f"best-partner correlations need >= 2 seeds, got {len(chosen)}.")
    sub = partner[np.ix_(chosen, chosen)].copy()  # (M, M, U)
    sub[np.arange(len(chosen)), np.arange(len(chosen))] = np.nan  # a seed is not its partner
    return np.nanmean(sub, axis=1)


def random_rotation(U: int, rng: np.random.Generator) -> np.ndarray:
    """A (U, U) orthogonal matrix drawn from the Haar measure (QR with signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((U, U)))
    return q * np.sign(np.diag(r))


def _cross(acts: torch.Tensor, other: torch.Tensor) -> np.ndarray:
    """(K, K, U, U) correlations between the units of ``acts`` and those of ``other``."""
    K, _, U = acts.shape
    za, _ = standardized(acts)
    zb, _ = standardized(other)
    cross = (za.T @ zb).clamp(-1.0, 1.0).numpy()  # (K*U, K*U)
    return cross.reshape(K, U, K, U).transpose(0, 2, 1, 3)


def rotated_partners(acts: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """(K, n, U) each member's centred activations times its own random rotation."""
    z = acts - acts.mean(dim=1, keepdim=True)
    U = acts.shape[2]
    q = np.stack([random_rotation(U, rng) for _ in range(acts.shape[0])])
    return z @ torch.from_numpy(q)


def shuffled_partners(acts: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """(K, n, U) each member's probe rows in its own random order."""
    n = acts.shape[1]
    return torch.stack([a[torch.from_numpy(rng.permutation(n))] for a in acts])


def span_similarity(acts: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(K, K) linear CKA and SVCCA of every pair of members (NaN on the diagonal)."""
    K = acts.shape[0]
    cka, svcca = np.full((K, K), np.nan), np.full((K, K), np.nan)
    x = acts.numpy()
    # small SVDs: one BLAS thread (several threads on busy cores cost 50x more)
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")  # a constant layer gives NaN; the summary says so
        for a, b in combinations(range(K), 2):
            cka[a, b] = cka[b, a] = linear_cka(x[a], x[b])
            svcca[a, b] = svcca[b, a] = svcca_similarity(x[a], x[b])
    return cka, svcca


def universal(
    source: Any,
    *,
    layer: str | None = None,
    step: int = -1,
    quantile: float = 0.99,
    fixed: float = FIXED,
    n_rotations: int = 4,
    untrained: Any = "auto",
    seed: int = 0,
) -> Universality:
    """Best-partner correlation of every unit against rotated, shuffled and untrained nulls.

    Args:
        source: a :class:`~unitscope.record.Recording` (its K members at ``step``) or
            activations (K, n, U) / conv maps (K, n, C, H, W) of K ≥ 2 seeds on the same inputs.
        layer, step: the recording's layer (default its first) and checkpoint.
        quantile: the rotated null's quantile that calibrates the threshold, in (0, 1).
        fixed: the excess-correlation rule reported alongside (Gurnee et al.: 0.5).
        n_rotations: independent draws of the rotated null (each rotates every partner).
        untrained: the untrained networks' activations; ``"auto"`` takes a recording's step-0
            checkpoint (None for arrays); None skips that null.
        seed: seed of the rotations and row shuffles.

    Returns:
        A :class:`Universality`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> base = rng.normal(size=(400, 16))
        >>> same = np.stack([base[:, rng.permutation(16)] for _ in range(3)])
        >>> turned = np.stack([base @ random_rotation(16, rng) for _ in range(3)])
        >>> universal(same).fraction().tolist(), bool(universal(turned).fraction().max() < 0.2)
        ([1.0, 1.0, 1.0], True)
    """
    check_seed("seed", seed)
    if not 0.0 < float(quantile) < 1.0:
        raise UnitscopeError(f"`quantile` must be in (0, 1), got {quantile!r}.")
    if int(n_rotations) < 1:
        raise UnitscopeError(f"`n_rotations` must be >= 1, got {n_rotations!r}.")
    raw, base, name, value = _resolve(source, layer, step, untrained)
    acts = as_observations(raw, "acts").to(torch.float64)  # (K, n, U)
    if acts.shape[0] < 2:
        raise UnitscopeError(
            f"universal units need K >= 2 seeds to find partners in, got {acts.shape[0]}."
        )
    rng = np.random.default_rng(seed)
    own, active = unit_correlations(acts)
    partner = partner_correlation(own)
    rotated = np.stack(
        [
            best_partner(partner_correlation(_cross(acts, rotated_partners(acts, rng))))
            for _ in range(int(n_rotations))
        ]
    )
    shuffled = best_partner(partner_correlation(_cross(acts, shuffled_partners(acts, rng))))
    keep = np.broadcast_to(active, rotated.shape)
    threshold = float(np.quantile(rotated[keep], quantile)) if keep.any() else float("nan")
    untrained_best = None
    if base is not None:
        untrained_best = best_partner(partner_correlation(unit_correlations(base)[0]))
    cka, svcca = span_similarity(acts)
    return Universality(
        partner=partner,
        best=best_partner(partner),
        rotated=rotated,
        shuffled=shuffled,
        untrained=untrained_best,
        threshold=threshold,
        quantile=float(quantile),
        fixed=float(fixed),
        active=active,
        cka=cka,
        svcca=svcca,
        layer=name,
        step=value,
    )
