"""Sample-geometry measures: representational similarity analysis and mutual k-NN overlap.

Both compare how two representations arrange the same samples, not their units: RSA correlates
the two matrices of pairwise sample dissimilarities (Kriegeskorte, Mur & Bandettini 2008);
the mutual k-NN overlap counts shared nearest neighbours (Huh et al. 2024).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.distance import pdist
from scipy.stats import rankdata

from ._validate import centred, choice, degenerate, int_in_range, matrix, paired

_RDM_METRICS = ("correlation", "euclidean", "sqeuclidean", "cosine")
_COMPARE = ("spearman", "pearson")


def rdm(x: Any, *, metric: str = "correlation") -> np.ndarray:
    """Representational dissimilarity matrix, condensed: the n(n−1)/2 pairs i < j in row order.

    Args:
        x: (n_samples, n_units) activations.
        metric: ``"correlation"`` (1 − Pearson r between two samples' activation vectors, the
            classic RSA choice), ``"euclidean"``, ``"sqeuclidean"`` or ``"cosine"``.

    Returns:
        float64 array (n(n−1)/2,); ``scipy.spatial.distance.squareform`` makes it (n, n).

    >>> import numpy as np
    >>> rdm(np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]), metric="euclidean")
    array([ 5., 10.,  5.])
    """
    choice("metric", metric, _RDM_METRICS)
    xa = matrix(x, "x")
    if _check_rows(xa, metric, "x"):
        return pdist(xa, metric=metric)
    with np.errstate(invalid="ignore", divide="ignore"):  # undefined pairs are NaN, as warned
        return pdist(xa, metric=metric)


def rsa_similarity(
    x: Any, y: Any, *, rdm_metric: str = "correlation", compare: str = "spearman"
) -> float:
    """RSA: the correlation between the two RDMs' upper triangles.

    Args:
        x: (n_samples, d1) activations, n_samples ≥ 3.
        y: (n_samples, d2) activations, rows paired with ``x``.
        rdm_metric: dissimilarity between samples, see :func:`rdm`.
        compare: ``"spearman"`` (rank correlation, ties get average ranks; the default) or
            ``"pearson"``.

    Returns:
        A Python float in [−1, 1], larger is more similar; NaN with a warning when an RDM is
        constant (all pairs equally far) or a dissimilarity is undefined.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((20, 5))
    >>> round(rsa_similarity(x, np.exp(x), rdm_metric="euclidean", compare="pearson"), 3) < 1
    True
    >>> round(rsa_similarity(x, 3 * x + 2), 12)  # correlation distance ignores scale and shift
    1.0
    """
    choice("rdm_metric", rdm_metric, _RDM_METRICS)
    choice("compare", compare, _COMPARE)
    xa, ya = paired(x, y, min_rows=3, purpose=" for RSA")
    if not (_check_rows(xa, rdm_metric, "x") and _check_rows(ya, rdm_metric, "y")):
        return np.nan
    dx, dy = pdist(xa, metric=rdm_metric), pdist(ya, metric=rdm_metric)
    for d, name in ((dx, "x"), (dy, "y")):
        if d.min() == d.max():  # exact: the mean of equal values need not equal them
            what = "constant over samples" if _constant(xa if name == "x" else ya) else "constant"
            return degenerate(f"RSA is undefined: the RDM of `{name}` is {what}")
    if compare == "spearman":
        dx, dy = rankdata(dx), rankdata(dy)
    dx, dy = dx - dx.mean(), dy - dy.mean()
    return float(dx @ dy) / float(np.linalg.norm(dx) * np.linalg.norm(dy))


def mutual_knn_similarity(x: Any, y: Any, *, k: int = 10, metric: str = "cosine") -> float:
    """Mean fraction of shared k nearest neighbours: ``(1/n) Σ_i |N_x(i) ∩ N_y(i)| / k``.

    ``N_x(i)`` are the k samples nearest to sample i in ``x`` (i itself excluded); distance
    ties are broken by the lower sample index, so the result is deterministic.

    Args:
        x: (n_samples, d1) activations.
        y: (n_samples, d2) activations, rows paired with ``x``.
        k: neighbours per sample, 1 ≤ k ≤ n_samples − 1 (default 10).
        metric: ``"cosine"`` (rows normalized, largest inner product; Huh et al. 2024) or
            ``"euclidean"``.

    Returns:
        A Python float in [0, 1], larger is more similar; NaN with a warning when ``metric`` is
        cosine and a sample's activation vector is all zeros.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((30, 4))
    >>> mutual_knn_similarity(x, 2 * x, k=5)
    1.0
    """
    choice("metric", metric, ("cosine", "euclidean"))
    xa, ya = paired(x, y)
    k = int_in_range("k", k, 1, xa.shape[0] - 1)
    for a, name in ((xa, "x"), (ya, "y")):
        if _constant(a):
            return degenerate(
                f"mutual k-NN is undefined: `{name}` is constant over samples (every sample is "
                "equally near every other)"
            )
    nx, ny = _neighbours(xa, k, metric, "x"), _neighbours(ya, k, metric, "y")
    if nx is None or ny is None:
        return np.nan
    n = xa.shape[0]
    member = np.zeros((n, n), dtype=bool)
    member[np.arange(n)[:, None], nx] = True
    shared = member[np.arange(n)[:, None], ny].sum(axis=1)  # (n,)
    return float(shared.mean() / k)


def _neighbours(a: np.ndarray, k: int, metric: str, name: str) -> np.ndarray | None:
    """Indices (n, k) of each sample's k nearest others; ties broken by lower index."""
    if metric == "cosine":
        norms = np.linalg.norm(a, axis=1)
        if np.any(norms == 0.0):
            degenerate(
                f"cosine neighbours are undefined: {int(np.sum(norms == 0))} sample(s) of "
                f"`{name}` are all-zero vectors; use metric='euclidean'",
                stacklevel=4,
            )
            return None
        u = a / norms[:, None]
        score = -(u @ u.T)  # (n, n): smaller is nearer
    else:
        a = centred(a)  # distances are translation invariant; centring avoids cancellation
        sq = np.einsum("ij,ij->i", a, a)
        score = sq[:, None] + sq[None, :] - 2.0 * (a @ a.T)  # (n, n) squared distances
    np.fill_diagonal(score, np.inf)
    return np.argsort(score, axis=1, kind="stable")[:, :k]


def _constant(a: np.ndarray) -> bool:
    """Every row equal to the first (the representation does not vary over samples)."""
    return bool(np.all(a.min(axis=0) == a.max(axis=0)))


def _check_rows(a: np.ndarray, metric: str, name: str) -> bool:
    """Correlation / cosine dissimilarities need non-constant / non-zero sample vectors."""
    if metric == "correlation":
        bad = int(np.count_nonzero(np.ptp(a, axis=1) == 0.0))
        what = "constant across units (correlation distance undefined)"
    elif metric == "cosine":
        bad = int(np.count_nonzero(np.linalg.norm(a, axis=1) == 0.0))
        what = "all-zero (cosine distance undefined)"
    else:
        return True
    if bad:
        degenerate(
            f"RSA is undefined: {bad} sample(s) of `{name}` are {what}; use rdm_metric='euclidean'",
            stacklevel=4,
        )
        return False
    return True
