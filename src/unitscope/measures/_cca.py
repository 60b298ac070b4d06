"""Canonical correlation analysis and its two descendants, SVCCA and PWCCA.

CCA finds directions ``a_i``, ``b_i`` that maximize the correlation ``ρ_i`` of the projections
``X̃a_i`` and ``Ỹb_i``. The correlations are the singular values of ``U_xᵀU_y``, where ``U_x`` is an
orthonormal basis of the column space of the centred data (Björck & Golub 1973). The basis comes
from the thin SVD of the centred (n, d) matrix, which LAPACK reduces to a d×d core when n > d
and an n×n core otherwise. Rank handling: singular values ≤ ``max(s_max · max(n, d) · ε₆₄,
½ · ε_in · ‖X‖_F)`` are dropped. The first term is numpy's ``matrix_rank`` tolerance for the
computation; the second bounds (Weyl's inequality, ``‖E‖₂ ≤ ‖E‖_F ≤ ½ ε_in ‖X‖_F``) how far
storing the raw data ``X`` in its dtype (machine epsilon ``ε_in``) can move a singular value:
float32 activations carry only float32 precision, and whitening their rounding noise would
create spurious correlations of 1.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .._errors import UnitscopeError
from ._validate import (
    EPS64,
    DegenerateInputWarning,
    centred,
    degenerate,
    in_unit_interval,
    paired,
    precision,
)


def canonical_correlations(x: Any, y: Any) -> np.ndarray:
    """All canonical correlations between ``x`` and ``y``, largest first.

    Args:
        x: (n_samples, d1) activations.
        y: (n_samples, d2) activations, rows paired with ``x``.

    Returns:
        float64 array (min(rank x, rank y),) of correlations in [0, 1] (up to rounding), empty
        with a warning when either side has rank 0. Warns when ``rank x + rank y > n − 1``:
        then at least that excess of correlations equals 1 by construction, whatever the data.

    Unchanged by any invertible linear map of either side:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.standard_normal((200, 3)), rng.standard_normal((200, 4))
    >>> a = rng.standard_normal((3, 3))
    >>> bool(np.allclose(canonical_correlations(x, y), canonical_correlations(x @ a - 5, y)))
    True
    """
    (ux, _, _), (uy, _, _), n = bases(x, y)
    if not _check_ranks(ux.shape[1], uy.shape[1], n):
        return np.zeros(0)
    return _correlations(ux, uy)


def cca_similarity(x: Any, y: Any) -> float:
    """Mean canonical correlation ``ρ̄ = (1/m) Σ ρ_i`` over all m = min(rank x, rank y) pairs.

    Args:
        x: (n_samples, d1) activations.
        y: (n_samples, d2) activations, rows paired with ``x``.

    Returns:
        A Python float in [0, 1], larger is more similar; NaN with a warning at rank 0.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((100, 4))
    >>> round(cca_similarity(x, x @ np.diag([1.0, 2.0, 3.0, 4.0]) + 1.0), 12)
    1.0
    """
    return _mean(canonical_correlations(x, y), squared=False)


def cca_r2_similarity(x: Any, y: Any) -> float:
    """Mean squared canonical correlation ``(1/m) Σ ρ_i²`` (Yanai's generalized R²).

    Args:
        x: (n_samples, d1) activations.
        y: (n_samples, d2) activations, rows paired with ``x``.

    Returns:
        A Python float in [0, 1], larger is more similar; NaN with a warning at rank 0.

    >>> import numpy as np
    >>> x = np.random.default_rng(1).standard_normal((100, 3))
    >>> round(cca_r2_similarity(x, -x), 12)
    1.0
    """
    return _mean(canonical_correlations(x, y), squared=True)


def svcca_similarity(
    x: Any, y: Any, *, keep: float | None = None, n_components: int | None = None
) -> float:
    """SVCCA of Raghu et al. (2017): SVD-reduce each side, then mean canonical correlation.

    Each side keeps its top singular directions (of the centred data): the fewest whose
    cumulative variance ``Σ_{i≤k} s_i² / Σ s_i²`` reaches ``keep`` (default 0.99), or exactly
    ``n_components`` of them. The result is the mean of the min(k_x, k_y) canonical correlations
    between the reduced representations.

    Args:
        x: (n_samples, d1) activations.
        y: (n_samples, d2) activations, rows paired with ``x``.
        keep: fraction of variance to keep, in (0, 1]; default 0.99.
        n_components: fixed number of directions per side instead of ``keep``.

    Returns:
        A Python float in [0, 1], larger is more similar.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((100, 6))
    >>> round(svcca_similarity(x, x[:, ::-1] * 2.0, n_components=3), 12)
    1.0
    """
    if keep is not None and n_components is not None:
        raise UnitscopeError(
            f"pass either `keep` or `n_components`, not both (got {keep} and {n_components})."
        )
    keep_f = (
        0.99 if keep is None else in_unit_interval("keep", keep, low_open=True, high_open=False)
    )
    (ux, sx, _), (uy, sy, _), n = bases(x, y)
    if ux.shape[1] == 0 or uy.shape[1] == 0:
        which = "x" if ux.shape[1] == 0 else "y"
        return degenerate(f"SVCCA is undefined: `{which}` has rank 0 (constant over samples)")
    kx = _n_kept(sx, keep_f, n_components, "x")
    ky = _n_kept(sy, keep_f, n_components, "y")
    _check_ranks(kx, ky, n)
    return _mean(_correlations(ux[:, :kx], uy[:, :ky]), squared=False)


def pwcca_similarity(x: Any, y: Any) -> float:
    """Projection-weighted CCA of Morcos et al. (2018): ``Σ α_i ρ_i`` with weights from ``x``.

    Weighting convention: ``α_i ∝ Σ_j |⟨h_i, x̃_j⟩|``, where ``h_i`` is the i-th canonical
    variate of ``x`` (unit norm, in sample space) and ``x̃_j`` the centred activations of unit j
    of ``x``, normalized so ``Σ α_i = 1``. The weights come from the first argument only, so
    ``pwcca_similarity(x, y) != pwcca_similarity(y, x)`` in general; pass the layer whose
    structure should set the weights first (Morcos et al. weight by the earlier/"source" layer).

    Args:
        x: (n_samples, d1) activations; sets the weights.
        y: (n_samples, d2) activations, rows paired with ``x``.

    Returns:
        A Python float in [0, 1], larger is more similar; NaN with a warning at rank 0.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((100, 5))
    >>> round(pwcca_similarity(x, 2 * x + 1), 12)
    1.0
    """
    (ux, sx, vtx), (uy, _, _), n = bases(x, y)
    if not _check_ranks(ux.shape[1], uy.shape[1], n):
        return math.nan  # rank 0, warned
    p, rho, _ = np.linalg.svd(ux.T @ uy)  # (r_x, r_x), (m,)
    m = rho.shape[0]
    weights = np.abs(p[:, :m].T @ (sx[:, None] * vtx)).sum(axis=1)  # (m,): Σ_j |h_iᵀ x̃_j|
    return float(weights @ rho / weights.sum())


# -- shared pieces ---------------------------------------------------------------------------


Basis = tuple[np.ndarray, np.ndarray, np.ndarray]


def bases(x: Any, y: Any) -> tuple[Basis, Basis, int]:
    """Validate a pair and return the rank-truncated SVD of each centred side, and n."""
    xa, ya = paired(x, y, float64=False)
    return basis_of(xa), basis_of(ya), xa.shape[0]


def basis_of(a: np.ndarray) -> Basis:
    """:func:`basis` of a validated array, centred in float64, with its dtype's precision."""
    a64 = np.asarray(a, np.float64)
    return basis(centred(a64), precision(a), float(np.linalg.norm(a64)))


def basis(xc: np.ndarray, eps: float = EPS64, raw_norm: float = 0.0) -> Basis:
    """Thin SVD of centred data truncated to its numerical rank: U (n, r), s (r,), Vᵀ (r, d).

    ``eps`` is the machine epsilon of the dtype the raw data came in and ``raw_norm`` their
    Frobenius norm before centring (see the module docstring for the tolerance).
    """
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    tol = max((s[0] if s.size else 0.0) * max(xc.shape) * EPS64, 0.5 * eps * raw_norm)
    r = int(np.count_nonzero(s > tol))
    return u[:, :r], s[:r], vt[:r]


def _correlations(ux: np.ndarray, uy: np.ndarray) -> np.ndarray:
    return np.linalg.svd(ux.T @ uy, compute_uv=False)  # (min(r_x, r_y),)


def _check_ranks(rx: int, ry: int, n: int) -> bool:
    """False (with a warning) at rank 0; a warning when correlations are 1 by construction."""
    if rx == 0 or ry == 0:
        warnings.warn(
            f"CCA is undefined: `{'x' if rx == 0 else 'y'}` has rank 0 (constant over samples).",
            DegenerateInputWarning,
            stacklevel=3,
        )
        return False
    if rx + ry > n - 1:
        warnings.warn(
            f"CCA with rank(x) + rank(y) = {rx + ry} > n_samples − 1 = {n - 1}: at least "
            f"{rx + ry - n + 1} canonical correlation(s) are 1 by construction; use more "
            "samples than units, or svcca_similarity with fewer components.",
            DegenerateInputWarning,
            stacklevel=3,
        )
    return True


def _mean(rho: np.ndarray, *, squared: bool) -> float:
    if rho.size == 0:  # rank 0, already warned by _check_ranks
        return math.nan
    return float(np.mean(rho * rho if squared else rho))


def _n_kept(s: np.ndarray, keep: float, n_components: int | None, name: str) -> int:
    if n_components is not None:
        if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)):
            raise UnitscopeError(f"`n_components` must be an integer, got {n_components!r}.")
        if not 1 <= n_components <= s.shape[0]:
            raise UnitscopeError(
                f"`n_components` must be between 1 and the rank of `{name}` ({s.shape[0]}), "
                f"got {n_components}."
            )
        return int(n_components)
    cum = np.cumsum(s * s)  # (r,)
    return int(np.searchsorted(cum, keep * cum[-1], side="left")) + 1


def cca_from_products(
    sxx: np.ndarray,
    syy: np.ndarray,
    sxy: np.ndarray,
    data_noise: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Canonical correlations from centred products (the streaming, d×d route).

    Whitens with the eigendecomposition of each self-product (see :func:`eig_basis` for the
    rank tolerance): ``ρ = svd(Λ_x^{-1/2} V_xᵀ S_xy V_y Λ_y^{-1/2})``. Its rounding error grows
    with the condition number of the covariance, unlike the SVD route of the one-shot functions.
    """
    (vx, sx), (vy, sy) = eig_basis(sxx, data_noise[0]), eig_basis(syy, data_noise[1])
    if sx.size == 0 or sy.size == 0:
        return np.zeros(0)
    return np.linalg.svd((vx / sx).T @ sxy @ (vy / sy), compute_uv=False)


def eig_basis(s: np.ndarray, data_noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvectors (d, r) and singular values (r,) of the data behind ``s = X̃ᵀX̃``.

    Keeps ``λ > max(λ_max · d · ε₆₄, data_noise²)``: the rounding floor of a computed
    eigenvalue, and the squared bound ``½ ε_in ‖X‖_F`` on the input's own rounding noise.
    """
    lam, v = np.linalg.eigh(s)  # ascending
    d = s.shape[0]
    tol = max((lam[-1] if lam.size else 0.0) * d * EPS64, data_noise**2)
    keep = lam > max(tol, 0.0)
    return v[:, keep], np.sqrt(lam[keep])
