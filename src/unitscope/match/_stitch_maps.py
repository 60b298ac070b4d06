"""The maps a stitcher fits from A's activations to B's, and how far stitched activations
stray from B's own distribution.

Every map is affine, ``h_a @ weight + bias`` with ``weight`` (U_a, U_b) and ``bias`` (U_b,),
fitted on the rows of A's activations ``xa`` (n, U_a) and B's activations ``yb`` (n, U_b) of
the same inputs:

* ``direct``: least squares, ``min ‖[xa 1] [W; c] − yb‖²`` (minimum-norm when ``xa`` is
  rank-deficient, e.g. with dead units);
* ``orthogonal``: orthogonal Procrustes on centered activations, ``W = U Vᵀ`` from the SVD
  ``xaᶜᵀ ybᶜ = U S Vᵀ`` (semi-orthogonal when the widths differ), ``c = μ_b − μ_a W``;
* ``lowrank:k``: the best rank-k least squares map (reduced-rank regression): the least
  squares map projected on the top-k right singular vectors of its fitted values (a pair
  narrower than k is fitted at full rank);
* ``permutation``: the Hungarian matching of units by activation correlation
  (:func:`~unitscope.match.activations`), unit i of A copied into unit ``perm[i]`` of B;
* ``task``: starts from ``direct`` and is trained on the task loss through B's frozen
  downstream layers (Csiszárik et al., 2021, "Similarity and matching of neural network
  representations"); see :func:`~unitscope.match._stitch`.

The maps are fitted in float64 (torch's linear algebra, numpy arrays out);
:meth:`LinearMap.apply` runs them in torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .._errors import UnitscopeError, unknown_name
from ._activations import activations
from ._correlation import _CHUNK

FITS = ("direct", "task", "permutation", "orthogonal", "lowrank:k")


@dataclass(frozen=True)
class LinearMap:
    """An affine map from A's units to B's: ``h_a @ weight + bias``.

    Attributes:
        weight: (U_a, U_b) float64.
        bias: (U_b,) float64.
        perm: (U_a,) int64 for the permutation stitcher (unit i of A feeds unit ``perm[i]``
            of B, the convention of :func:`~unitscope.match.activations`), else None.
    """

    weight: np.ndarray
    bias: np.ndarray
    perm: np.ndarray | None = None

    def apply(self, h: Tensor) -> Tensor:
        """(n, U_b) stitched activations of A's (n, U_a), in ``h``'s dtype and device."""
        if self.perm is not None and self.weight.shape[0] == self.weight.shape[1]:
            order = torch.from_numpy(np.argsort(self.perm)).to(h.device)
            return h.index_select(1, order)  # a gather: exact, no rounding
        w = torch.from_numpy(self.weight).to(dtype=h.dtype, device=h.device)
        return h @ w + torch.from_numpy(self.bias).to(dtype=h.dtype, device=h.device)


def parse_fit(spec: str) -> tuple[str, int | None]:
    """``"direct"`` -> ``("direct", None)``, ``"lowrank:8"`` -> ``("lowrank", 8)``.

    >>> parse_fit("lowrank:4")
    ('lowrank', 4)
    """
    if not isinstance(spec, str):
        raise UnitscopeError(f"a stitching fit must be a string like 'direct', got {spec!r}.")
    name, sep, rank = spec.partition(":")
    if name == "lowrank":
        try:
            k = int(rank)
        except ValueError:
            k = 0
        if not sep or k < 1:
            raise UnitscopeError(
                f"fit {spec!r} needs a rank k >= 1 after the colon, e.g. 'lowrank:8'."
            )
        return name, k
    if sep or name not in FITS:
        raise unknown_name("stitching fit", spec, FITS)
    return name, None


def check_rank(spec: str, k: int, limit: int) -> None:
    """Refuse a ``lowrank:k`` that constrains no layer pair (``limit``: the largest
    ``min(width of A's layer, width of B's layer)``); narrower pairs are fitted at full rank."""
    if k > limit:
        raise UnitscopeError(
            f"fit {spec!r}: the rank k = {k} exceeds the widths of every layer pair (at most "
            f"{limit} units), so it constrains nothing; choose k <= {limit}."
        )


def _t(a: np.ndarray) -> Tensor:
    return torch.as_tensor(a, dtype=torch.float64)


def direct_map(xa: np.ndarray, yb: np.ndarray) -> LinearMap:
    """Least squares with a bias (minimum-norm solution)."""
    design = torch.cat([_t(xa), torch.ones(xa.shape[0], 1, dtype=torch.float64)], 1)
    coef = torch.linalg.lstsq(design, _t(yb), driver="gelsd").solution.numpy()  # (U_a + 1, U_b)
    return LinearMap(coef[:-1], coef[-1])


def orthogonal_map(xa: np.ndarray, yb: np.ndarray) -> LinearMap:
    """Orthogonal Procrustes on centered activations, plus the mean offset."""
    mu_a, mu_b = xa.mean(0), yb.mean(0)
    u, _, vt = torch.linalg.svd(_t(xa - mu_a).T @ _t(yb - mu_b), full_matrices=False)
    weight = (u @ vt).numpy()  # (U_a, U_b), orthonormal rows or columns
    return LinearMap(weight, mu_b - mu_a @ weight)


def lowrank_map(xa: np.ndarray, yb: np.ndarray, k: int) -> LinearMap:
    """The rank-k least squares map (reduced-rank regression with identity weights)."""
    mu_a, mu_b = xa.mean(0), yb.mean(0)
    xc = _t(xa - mu_a)
    full = torch.linalg.lstsq(xc, _t(yb - mu_b), driver="gelsd").solution  # (U_a, U_b)
    _, _, vt = torch.linalg.svd(xc @ full, full_matrices=False)
    top = vt[:k].T  # (U_b, k)
    weight = (full @ top @ top.T).numpy()
    return LinearMap(weight, mu_b - mu_a @ weight)


def permutation_map(xa: np.ndarray, yb: np.ndarray) -> LinearMap:
    """The Hungarian matching of A's units to B's, as a 0/1 map (equal widths only)."""
    return permutation_maps(xa, [yb])[0]


def permutation_maps(xa: np.ndarray, ybs: Sequence[np.ndarray]) -> list[LinearMap]:
    """:func:`permutation_map` of A into each of several Bs, A's statistics computed once.

    The Bs go through :func:`~unitscope.match.activations` together, in groups small enough
    that each group's rows are read in one chunk, as for one B: the same maps as one by one.
    """
    for yb in ybs:
        if xa.shape[1] != yb.shape[1]:
            raise UnitscopeError(
                f"the permutation stitcher needs layers of equal width, got {xa.shape[1]} and "
                f"{yb.shape[1]} units."
            )
    n, U = xa.shape
    group = max(1, _CHUNK // max(1, n * 2 * U))  # Bs per call that keep one chunk
    out = []
    for lo in range(0, len(ybs), group):
        stacked = np.stack(ybs[lo : lo + group])  # (P, n, U)
        perms = activations(xa[None], stacked, layout="KND", null=None).perm  # (P, U)
        for perm in perms:  # unit i of A is unit perm[i] of B
            weight = np.zeros((U, U))
            weight[np.arange(U), perm] = 1.0
            out.append(LinearMap(weight, np.zeros(U), perm))
    return out


def closed_form(name: str, rank: int | None, xa: np.ndarray, yb: np.ndarray) -> LinearMap:
    """The map ``name`` fitted on (n, U_a) and (n, U_b) float64 activations (not ``task``)."""
    if name == "direct" or name == "task":
        return direct_map(xa, yb)
    if name == "orthogonal":
        return orthogonal_map(xa, yb)
    if name == "lowrank":
        return lowrank_map(xa, yb, int(rank or 1))
    return permutation_map(xa, yb)


@dataclass(frozen=True)
class Gaussian:
    """Mean and shrunk precision of a layer's activations: the reference distribution."""

    mean: np.ndarray
    precision: np.ndarray

    @classmethod
    def fit(cls, acts: np.ndarray, shrink: float = 1e-3) -> Gaussian:
        """From (n, U) activations; the covariance gets ``shrink × mean variance`` added to
        its diagonal so dead (constant) units do not make it singular."""
        mean = acts.mean(0)
        centered = _t(acts - mean)
        cov = centered.T @ centered / max(acts.shape[0] - 1, 1)  # (U, U)
        ridge = shrink * max(float(cov.diagonal().mean()), 1e-12)
        eye = torch.eye(cov.shape[0], dtype=torch.float64)
        return cls(mean, torch.linalg.inv(cov + ridge * eye).numpy())

    def distance(self, acts: np.ndarray) -> float:
        """Mean Mahalanobis distance of the rows of (n, U) ``acts`` from this distribution."""
        d = _t(acts - self.mean)
        squared = ((d @ _t(self.precision)) * d).sum(1).clamp_min(0)
        return float(squared.sqrt().mean())
