"""Orthogonal Procrustes similarity and the angular shape distance of Williams et al. (2021).

For centred data ``X̃`` (n, d1) and ``Ỹ`` (n, d2) (the narrower one implicitly zero-padded), the
best rotation ``Q`` of ``Ỹ`` onto ``X̃`` reaches ``tr(X̃ᵀỸQ) = ‖X̃ᵀỸ‖_*`` (nuclear norm). The score

    s = ‖X̃ᵀỸ‖_* / (‖X̃‖_F ‖Ỹ‖_F) ∈ [0, 1]

is the cosine of the angle between the two shapes; ``arccos(s)`` is a metric on shapes
(Williams, Kunz, Kornblith & Linderman, *Generalized shape metrics on neural representations*,
NeurIPS 2021). Partial whitening first maps ``X̃ ↦ X̃(αI + (1 − α)C^{-1/2})`` with the covariance
``C = X̃ᵀX̃ / n`` (pseudo-inverse on the data's span): α = 1 is plain Procrustes, α = 0 whitens
completely and gives a CCA-like metric. In the thin SVD ``X̃ = USVᵀ`` this replaces each
singular value ``s_i`` by ``α s_i + (1 − α)√n``. netrep whitens with ``X̃ᵀX̃`` instead of
``X̃ᵀX̃/n``, which changes the meaning of intermediate α (α = 0 and α = 1 agree).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._cca import basis_of, eig_basis
from ._validate import centred, degenerate, in_unit_interval, paired

# Rounding can push a cosine of 1 a few ulps above 1; such a value is an angle of exactly 0.
_COSINE_ROUNDING = 1e-12


def procrustes_similarity(x: Any, y: Any, *, alpha: float = 1.0) -> float:
    """Orthogonal Procrustes score ``‖X̃ᵀỸ‖_* / (‖X̃‖_F ‖Ỹ‖_F)`` after partial whitening α.

    Args:
        x: (n_samples, d1) activations.
        y: (n_samples, d2) activations, rows paired with ``x``.
        alpha: whitening parameter in [0, 1]; 1 (default) is no whitening.

    Returns:
        A Python float in [0, 1], larger is more similar; NaN with a warning when a side is
        constant over samples.

    Equal to 1 exactly when ``y`` is a rotated, scaled, translated copy of ``x``:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((50, 6))
    >>> q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    >>> round(procrustes_similarity(x, 0.5 * x @ q - 2), 12)
    1.0
    """
    a = in_unit_interval("alpha", alpha, low_open=False, high_open=False)
    xa, ya = paired(x, y, float64=False)
    if a == 1.0:
        return _score(centred(np.asarray(xa, np.float64)), centred(np.asarray(ya, np.float64)))
    return _whitened_score(xa, ya, a)


def procrustes_distance(x: Any, y: Any, *, alpha: float = 1.0) -> float:
    """Angular shape distance ``arccos(procrustes_similarity(x, y, alpha=alpha))`` in radians.

    A metric (symmetric, triangle inequality) on representations up to rotation and
    translation, and up to isotropic scaling for ``alpha`` 0 or 1 (an intermediate α mixes the
    data's scale with √n, so rescaling one side moves it); in [0, π/2]. Near 0 its resolution
    is about 1.5e-8 (arccos of a score rounded to 1 − 2⁻⁵³); scores above 1 by rounding only
    (< 1e-12) give exactly 0.

    Args:
        x: (n_samples, d1) activations.
        y: (n_samples, d2) activations, rows paired with ``x``.
        alpha: whitening parameter in [0, 1]; 1 (default) is no whitening.

    Returns:
        A Python float in [0, π/2], smaller is more similar; NaN with a warning when a side is
        constant over samples.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((40, 3))
    >>> procrustes_distance(x, x[:, [2, 0, 1]]) < 1e-7  # permuting units is a rotation
    True
    """
    return angle(procrustes_similarity(x, y, alpha=alpha))


def angle(cosine: float) -> float:
    """``arccos`` of a cosine that may exceed 1 by rounding; NaN stays NaN."""
    if math.isnan(cosine):
        return cosine
    if 1.0 < cosine <= 1.0 + _COSINE_ROUNDING:
        return 0.0
    if not -1.0 <= cosine <= 1.0:
        raise ArithmeticError(f"cosine {cosine!r} is outside [-1, 1] beyond rounding; a bug.")
    return math.acos(cosine)


def _score(xc: np.ndarray, yc: np.ndarray) -> float:
    nx, ny = float(np.linalg.norm(xc)), float(np.linalg.norm(yc))
    if nx == 0.0 or ny == 0.0:
        return degenerate(f"Procrustes is 0/0: `{'x' if nx == 0 else 'y'}` is constant")
    return _nuclear_cross(xc, yc) / (nx * ny)


def _whitened_score(xa: np.ndarray, ya: np.ndarray, alpha: float) -> float:
    """Score after partial whitening, in the rank-truncated SVD coordinates of each side."""
    (ux, sx, _), (uy, sy, _) = basis_of(xa), basis_of(ya)
    if sx.size == 0 or sy.size == 0:
        return degenerate(f"Procrustes is 0/0: `{'x' if sx.size == 0 else 'y'}` is constant")
    root_n = math.sqrt(xa.shape[0])
    dx, dy = alpha * sx + (1 - alpha) * root_n, alpha * sy + (1 - alpha) * root_n  # (r_x,), (r_y,)
    core = dx[:, None] * (ux.T @ uy) * dy[None, :]  # (r_x, r_y)
    nuclear = float(np.linalg.svd(core, compute_uv=False).sum())
    return nuclear / float(np.linalg.norm(dx) * np.linalg.norm(dy))


def _nuclear_cross(xc: np.ndarray, yc: np.ndarray) -> float:
    """``‖X̃ᵀỸ‖_*``: from the (d1, d2) product, or from n×n QR factors when n < min(d1, d2)."""
    if xc.shape[0] < min(xc.shape[1], yc.shape[1]):
        rx: np.ndarray = np.linalg.qr(xc.T, mode="r")  # type: ignore[assignment]  # (n, n)
        ry: np.ndarray = np.linalg.qr(yc.T, mode="r")  # type: ignore[assignment]  # X̃ᵀ = Q R
        core = rx @ ry.T  # singular values of X̃ᵀỸ = Q_x R_x R_yᵀ Q_yᵀ
    else:
        core = xc.T @ yc  # (d1, d2)
    return float(np.linalg.svd(core, compute_uv=False).sum())


def procrustes_from_products(
    sxx: np.ndarray,
    syy: np.ndarray,
    sxy: np.ndarray,
    n: int,
    alpha: float,
    data_noise: tuple[float, float] = (0.0, 0.0),
) -> float:
    """Procrustes score from centred products (the streaming route), same α convention."""
    if alpha == 1.0:
        tx, ty = float(np.trace(sxx)), float(np.trace(syy))
        if tx <= 0.0 or ty <= 0.0:
            return degenerate(f"Procrustes is 0/0: `{'x' if tx <= 0 else 'y'}` is constant")
        return float(np.linalg.svd(sxy, compute_uv=False).sum()) / math.sqrt(tx * ty)
    ax, dx = _partial_whitener(sxx, n, alpha, data_noise[0])
    ay, dy = _partial_whitener(syy, n, alpha, data_noise[1])
    if dx.size == 0 or dy.size == 0:
        return degenerate(f"Procrustes is 0/0: `{'x' if dx.size == 0 else 'y'}` is constant")
    nuclear = float(np.linalg.svd(ax.T @ sxy @ ay, compute_uv=False).sum())
    return nuclear / float(np.linalg.norm(dx) * np.linalg.norm(dy))


def _partial_whitener(
    s: np.ndarray, n: int, alpha: float, data_noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """Columns ``V_r (α + (1−α)√n / s)`` (d, r) and the whitened singular values (r,)."""
    v, sv = eig_basis(s, data_noise)
    root_n = math.sqrt(n)
    return v * (alpha + (1 - alpha) * root_n / sv), alpha * sv + (1 - alpha) * root_n
