"""Centred kernel alignment: linear (biased HSIC), debiased linear (unbiased HSIC), and RBF.

All three are similarities in [0, 1] for the biased estimator (the debiased one can dip below
0 or exceed 1 slightly; it is never clamped). Inputs are (n_samples, n_units) with paired rows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._errors import UnitscopeError
from ._moments import CrossMoments, centred_row_norms
from ._validate import centred, choice, degenerate, paired, positive, rescaled

_METHODS = ("auto", "feature", "gram")


def linear_cka(x: Any, y: Any, *, method: str = "auto") -> float:
    """Linear CKA of Kornblith et al. (2019), with the biased HSIC estimator.

    ``CKA = ‖X̃ᵀỸ‖_F² / (‖X̃ᵀX̃‖_F ‖ỸᵀỸ‖_F)`` with ``X̃ = HX``, ``H = I − 11ᵀ/n``; equivalently
    ``⟨K, L⟩ / (‖K‖ ‖L‖)`` with the centred Grams ``K = X̃X̃ᵀ``, ``L = ỸỸᵀ``.

    Args:
        x: (n_samples, d1) activations, numpy or torch, any real dtype (computed in float64).
        y: (n_samples, d2) activations; row i of ``y`` is the same sample as row i of ``x``.
        method: ``"feature"`` uses the d×d products (cost n·(d1+d2)², memory independent of
            n), ``"gram"`` the n×n Grams (cost n²·(d1+d2)); ``"auto"`` picks feature when
            ``n > d1 + d2``.

    Returns:
        A Python float in [0, 1]; larger means more similar. NaN with a
        :class:`DegenerateInputWarning` when ``x`` or ``y`` is constant over samples.

    Invariant to orthogonal maps, isotropic scaling and translation of either argument:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((100, 8))
    >>> q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    >>> round(linear_cka(x, 3 * x @ q + 1), 12)
    1.0
    """
    xa, ya = paired(x, y, float64=False, finite=False, rescale=False)  # the routes do both
    if _feature(method, xa.shape[0], xa.shape[1] + ya.shape[1]):
        mom = CrossMoments()
        mom.update([xa], [ya])  # checks NaN/inf and scales into range on its column passes
        return cka_from_products(mom.xx[0], mom.yy[0], mom.xy)
    xc, yc = (centred(np.asarray(rescaled(a, name=n)[0], np.float64)) for a, n in _named(xa, ya))
    return cka_from_grams(xc @ xc.T, yc @ yc.T)


def debiased_linear_cka(x: Any, y: Any, *, method: str = "auto") -> float:
    """Linear CKA with the unbiased HSIC estimator of Song et al. (2012) in all three terms.

    ``HSIC_u(K, L) = [tr(K̂L̂) + 1ᵀK̂1·1ᵀL̂1 / ((n−1)(n−2)) − 2/(n−2)·1ᵀK̂L̂1] / (n(n−3))``
    where ``K̂``, ``L̂`` are the Grams with zeroed diagonals, and
    ``CKA_u = HSIC_u(K, L) / sqrt(HSIC_u(K, K) HSIC_u(L, L))`` (Kornblith et al. 2019, §4).
    HSIC_u is unchanged by translating the data, so it is evaluated on centred data, where the
    feature form is ``[‖X̃ᵀỸ‖² + Σk·Σl/((n−1)(n−2)) − n/(n−2)·Σ k_i l_i] / (n(n−3))`` with the
    row norms ``k_i = ‖x̃_i‖²``, ``l_i = ‖ỹ_i‖²``.

    Args:
        x: (n_samples, d1) activations, n_samples ≥ 4.
        y: (n_samples, d2) activations, rows paired with ``x``.
        method: ``"auto"``, ``"feature"`` or ``"gram"`` as in :func:`linear_cka`.

    Returns:
        A Python float, larger is more similar; not clamped (it can leave [0, 1] slightly).
        NaN with a warning when ``HSIC_u(K, K)`` or ``HSIC_u(L, L)`` is ≤ 0 (too few samples).

    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((50, 4))
    >>> round(debiased_linear_cka(x, -2 * x), 12)
    1.0
    """
    xa, ya = paired(
        x,
        y,
        min_rows=4,
        float64=False,
        purpose=" for the unbiased HSIC estimator",
        finite=False,
        rescale=False,  # unbiased_hsic_terms checks and scales on its own passes
    )
    hxy, hxx, hyy, _ = unbiased_hsic_terms(xa, ya, method=method)
    return ratio_unbiased(hxy, hxx, hyy, xa.shape[0])


def unbiased_hsic_terms(
    xa: np.ndarray, ya: np.ndarray, *, method: str = "auto"
) -> tuple[float, float, float, tuple[int, int]]:
    """``(HSIC_u(K, L), HSIC_u(K, K), HSIC_u(L, L), (e_x, e_y))`` of linear kernels.

    The terms are those of ``xa · 2^-e_x`` and ``ya · 2^-e_y``, each side scaled into range
    (:func:`~._validate.rescaled`), so they are finite for data of any magnitude; multiply
    ``HSIC_u(K, L)`` by ``2^(2 e_x + 2 e_y)`` (and so on) for the terms of the raw data.
    """
    if _feature(method, xa.shape[0], xa.shape[1] + ya.shape[1]):
        mom = CrossMoments()
        mom.update([xa], [ya])  # checks NaN/inf, scales into range
        ex, ey = mom.exp_x[0], mom.exp_y[0]
        k, l = centred_row_norms(xa, mom.mean_x, ex), centred_row_norms(ya, mom.mean_y, ey)
        return (
            _hsic_u_feature(_sq(mom.xy), k, l),
            _hsic_u_feature(_sq(mom.xx[0]), k, k),
            _hsic_u_feature(_sq(mom.yy[0]), l, l),
            (ex, ey),
        )
    (xs, ex), (ys, ey) = (rescaled(a, name=n) for a, n in _named(xa, ya))
    xc, yc = centred(np.asarray(xs, np.float64)), centred(np.asarray(ys, np.float64))
    kx, ly = xc @ xc.T, yc @ yc.T  # (n, n), (n, n)
    return hsic_unbiased(kx, ly), hsic_unbiased(kx, kx), hsic_unbiased(ly, ly), (ex, ey)


def rbf_cka(
    x: Any,
    y: Any,
    *,
    sigma_factor: float = 0.5,
    sigma: float | tuple[float, float] | None = None,
    debiased: bool = False,
) -> float:
    """CKA with Gaussian (RBF) kernels ``k(a, b) = exp(−‖a − b‖² / (2σ²))`` (Kornblith 2019).

    The bandwidth of each representation is ``σ = sigma_factor · sqrt(median ‖a_i − a_j‖²)``,
    the median taken over the n(n−1)/2 distinct pairs i < j (the zero self-distances are not
    counted), unless an absolute ``sigma`` is given.

    Args:
        x: (n_samples, d1) activations.
        y: (n_samples, d2) activations, rows paired with ``x``.
        sigma_factor: multiple of the root median squared distance, > 0 (default 0.5).
        sigma: absolute bandwidth, one value for both or ``(σ_x, σ_y)``; overrides the factor.
        debiased: use the unbiased HSIC estimator (needs n ≥ 4) instead of the biased one.

    Returns:
        A Python float, larger is more similar. NaN with a warning when a median squared
        distance is 0 (more than half the sample pairs coincide): pass an absolute ``sigma``.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((60, 5))
    >>> round(rbf_cka(x, x + 7.0), 12)  # translation leaves every distance unchanged
    1.0
    """
    # scaled into range with the absolute bandwidths, so that an absolute `sigma` keeps its meaning
    xa, ya = paired(x, y, min_rows=4 if debiased else 2, rescale=False)
    positive("sigma_factor", sigma_factor)
    sx, sy = (None, None) if sigma is None else _pair_of_sigmas(sigma)
    (xa, ex), (ya, ey) = rescaled(xa), rescaled(ya)
    sx, sy = (None if s is None else math.ldexp(s, -e) for s, e in ((sx, ex), (sy, ey)))
    dx, dy = _sq_distances(xa), _sq_distances(ya)
    kx = _rbf_gram(dx, sx, sigma_factor, "x")
    ky = None if kx is None else _rbf_gram(dy, sy, sigma_factor, "y")  # one warning, as elsewhere
    if kx is None or ky is None:
        return math.nan
    return cka_from_grams(kx, ky, debiased=debiased)


# -- shared pieces ---------------------------------------------------------------------------


def cka_from_products(sxx: np.ndarray, syy: np.ndarray, sxy: np.ndarray) -> float:
    """Linear CKA from centred products ``X̃ᵀX̃`` (d1, d1), ``ỸᵀỸ`` (d2, d2), ``X̃ᵀỸ`` (d1, d2)."""
    nx, ny = float(np.linalg.norm(sxx)), float(np.linalg.norm(syy))
    if nx == 0.0 or ny == 0.0:
        which = "x" if nx == 0.0 else "y"
        return degenerate(f"linear CKA is 0/0: `{which}` is constant over samples")
    return _sq(sxy) / (nx * ny)


def cka_from_grams(k: np.ndarray, l: np.ndarray, *, debiased: bool = False) -> float:
    """CKA from two (n, n) kernel matrices, biased (centred) or unbiased HSIC."""
    n = k.shape[0]
    if debiased:
        return ratio_unbiased(hsic_unbiased(k, l), hsic_unbiased(k, k), hsic_unbiased(l, l), n)
    kc, lc = _double_centre(k), _double_centre(l)
    nk, nl = float(np.linalg.norm(kc)), float(np.linalg.norm(lc))
    if nk == 0.0 or nl == 0.0:
        which = "x" if nk == 0.0 else "y"
        return degenerate(f"CKA is 0/0: the centred kernel matrix of `{which}` is zero")
    return float(np.vdot(kc, lc)) / (nk * nl)


def hsic_unbiased(k: np.ndarray, l: np.ndarray) -> float:
    """The unbiased HSIC estimator of Song et al. (2012) from (n, n) Grams, n ≥ 4."""
    n = k.shape[0]
    kh, lh = k.copy(), l.copy()
    np.fill_diagonal(kh, 0.0)
    np.fill_diagonal(lh, 0.0)
    rk, rl = kh.sum(axis=1), lh.sum(axis=1)  # (n,), (n,)
    trace = float(np.vdot(kh, lh))
    total = trace + rk.sum() * rl.sum() / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * float(rk @ rl)
    return float(total / (n * (n - 3)))


def _hsic_u_feature(tr_kl: float, k: np.ndarray, l: np.ndarray) -> float:
    """Unbiased HSIC on centred data from ``tr(KL) = ‖X̃ᵀỸ‖²`` and the row norms (n,)."""
    n = k.shape[0]
    total = tr_kl + k.sum() * l.sum() / ((n - 1) * (n - 2)) - n / (n - 2) * float(k @ l)
    return float(total / (n * (n - 3)))


def ratio_unbiased(hxy: float, hxx: float, hyy: float, n: int) -> float:
    if hxx <= 0.0 or hyy <= 0.0:
        which, value = ("x", hxx) if hxx <= 0.0 else ("y", hyy)
        return degenerate(
            f"debiased CKA is undefined: the unbiased HSIC of `{which}` with itself is "
            f"{value:.3g} ≤ 0 (n_samples={n} is too few, or `{which}` is constant)"
        )
    return float(hxy / math.sqrt(hxx * hyy))


def _double_centre(k: np.ndarray) -> np.ndarray:
    """``HKH``: subtract row and column means, add back the grand mean."""
    r = k.mean(axis=0)  # (n,)
    return k - r[None, :] - r[:, None] + r.mean()


def _sq(a: np.ndarray) -> float:
    return float(np.vdot(a, a))


def _named(xa: np.ndarray, ya: np.ndarray) -> tuple[tuple[np.ndarray, str], ...]:
    return (xa, "x"), (ya, "y")


def _feature(method: str, n: int, width: int) -> bool:
    choice("method", method, _METHODS)
    return method == "feature" or (method == "auto" and n > width)


def _sq_distances(x: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (n, n) with an exact zero diagonal."""
    xc = centred(x)
    g = xc @ xc.T  # (n, n)
    d = np.diag(g)
    out = d[:, None] + d[None, :] - 2.0 * g
    np.fill_diagonal(out, 0.0)
    return out


def _rbf_gram(d2: np.ndarray, sigma: float | None, factor: float, name: str) -> np.ndarray | None:
    if not d2.any():  # every squared distance is 0: the kernel is constant, whatever σ
        degenerate(f"RBF CKA is 0/0: `{name}` is constant over samples")
        return None
    if sigma is None:
        med = float(np.median(d2[np.triu_indices(d2.shape[0], 1)]))
        if med == 0.0:
            degenerate(
                f"RBF bandwidth of `{name}` is 0: more than half of its sample pairs coincide "
                "(median squared distance 0); pass an absolute `sigma`"
            )
            return None
        sigma = factor * math.sqrt(med)
    return np.exp(d2 / (-2.0 * sigma * sigma))


def _pair_of_sigmas(sigma: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(sigma, (tuple, list)):
        if len(sigma) != 2:
            raise UnitscopeError(f"`sigma` must be one number or a pair (σ_x, σ_y), got {sigma!r}.")
        return positive("sigma", sigma[0]), positive("sigma", sigma[1])
    s = positive("sigma", sigma)
    return s, s
