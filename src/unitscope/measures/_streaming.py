"""Streaming accumulators: the exact full-dataset value of a measure over batches of rows.

Each is a thin ``update`` / ``compute`` wrapper (torchmetrics style) around the pure function
that turns float64 sufficient statistics into the measure, so a dataset that does not fit in
memory gives the same number as the one-shot function on all rows at once (to rounding).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._errors import UnitscopeError, unknown_name
from ._cca import cca_from_products
from ._cka import cka_from_products, ratio_unbiased, unbiased_hsic_terms
from ._moments import CrossMoments
from ._procrustes import angle, procrustes_from_products
from ._validate import degenerate, in_unit_interval, matrix, paired

# name -> (value from the moments of array i of x and array j of y, accepted options)
_Value = Callable[[CrossMoments, int, int, dict[str, Any]], float]


def _cca_mean(squared: bool) -> _Value:
    def value(mom: CrossMoments, i: int, j: int, _: dict[str, Any]) -> float:
        rho = cca_from_products(mom.xx[i], mom.yy[j], mom.cross(i, j), mom.data_noise(i, j))
        if rho.size == 0:
            return degenerate("CCA similarity is undefined: a representation has rank 0")
        return float(np.mean(rho * rho if squared else rho))

    return value


def _linear_cka(mom: CrossMoments, i: int, j: int, _: dict[str, Any]) -> float:
    return cka_from_products(mom.xx[i], mom.yy[j], mom.cross(i, j))


def _procrustes(mom: CrossMoments, i: int, j: int, options: dict[str, Any]) -> float:
    alpha, noise = options.get("alpha", 1.0), mom.data_noise(i, j)
    return procrustes_from_products(mom.xx[i], mom.yy[j], mom.cross(i, j), mom.n, alpha, noise)


STREAMABLE: dict[str, tuple[_Value, tuple[str, ...]]] = {
    "linear_cka": (_linear_cka, ()),
    "cca_similarity": (_cca_mean(False), ()),
    "cca_r2_similarity": (_cca_mean(True), ()),
    "procrustes_similarity": (_procrustes, ("alpha",)),
    "procrustes_distance": (lambda m, i, j, o: angle(_procrustes(m, i, j, o)), ("alpha",)),
}


def check_streamable(name: str, options: dict[str, Any]) -> None:
    """Raise unless ``name`` has an exact streaming form and accepts ``options``."""
    if name not in STREAMABLE:
        raise unknown_name("streaming measure", name, STREAMABLE)
    allowed = STREAMABLE[name][1]
    for key in options:
        if key not in allowed:
            raise UnitscopeError(
                f"option {key!r} does not apply to {name!r}; "
                f"it accepts: {', '.join(allowed) or 'no options'}."
            )
    if "alpha" in options:
        in_unit_interval("alpha", options["alpha"], low_open=False, high_open=False)


def value_from_moments(
    name: str, mom: CrossMoments, i: int, j: int, options: dict[str, Any]
) -> float:
    """The measure ``name`` between array i of the x side and array j of the y side."""
    if mom.n < 2:
        raise UnitscopeError(f"a streaming measure needs at least 2 samples, got {mom.n}.")
    return STREAMABLE[name][0](mom, i, j, options)


class StreamingMeasure:
    """Exact full-dataset linear CKA, CCA or Procrustes over batches of paired rows.

    Keeps ``n``, the means and the centred products ``X̃ᵀX̃``, ``ỸᵀỸ``, ``X̃ᵀỸ`` in float64
    (memory O((d1 + d2)²), independent of the number of samples), merged exactly across batches.

    Args:
        name: one of ``linear_cka``, ``cca_similarity``, ``cca_r2_similarity``,
            ``procrustes_similarity``, ``procrustes_distance``.
        **options: the measure's options (``alpha`` for the Procrustes pair).

    >>> import numpy as np
    >>> from unitscope.measures import linear_cka
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.standard_normal((1000, 8)), rng.standard_normal((1000, 5))
    >>> acc = StreamingMeasure("linear_cka")
    >>> for lo in range(0, 1000, 128):
    ...     _ = acc.update(x[lo : lo + 128], y[lo : lo + 128])
    >>> abs(acc.compute() - linear_cka(x, y)) < 1e-12
    True
    """

    def __init__(self, name: str = "linear_cka", **options: Any) -> None:
        check_streamable(name, options)
        self.name = name
        self.options = options
        self._moments = CrossMoments()

    @property
    def n_samples(self) -> int:
        """Rows seen so far."""
        return self._moments.n

    def update(self, x: Any, y: Any) -> StreamingMeasure:
        """Add a batch: ``x`` (m, d1) and ``y`` (m, d2) with paired rows. Returns ``self``."""
        # the moments check NaN and keep one scale per side across batches
        xa, ya = paired(x, y, min_rows=1, float64=False, finite=False, rescale=False)
        self._moments.update([xa], [ya])
        return self

    def compute(self) -> float:
        """The measure over every row seen so far, as a Python float."""
        return value_from_moments(self.name, self._moments, 0, 0, self.options)

    def reset(self) -> None:
        """Forget every batch."""
        self._moments = CrossMoments()


class StreamingUnitCorrelation:
    """Exact Pearson correlation between the units of one layer over batches of rows.

    >>> import numpy as np
    >>> from unitscope.measures import unit_correlation
    >>> x = np.random.default_rng(0).standard_normal((300, 4))
    >>> acc = StreamingUnitCorrelation().update(x[:100]).update(x[100:])
    >>> bool(np.allclose(acc.compute(), unit_correlation(x), atol=1e-12))
    True
    """

    def __init__(self) -> None:
        self._moments = CrossMoments()

    def update(self, x: Any) -> StreamingUnitCorrelation:
        """Add a batch of activations (m, n_units). Returns ``self``."""
        self._moments.update([matrix(x, "x", min_rows=1, float64=False, finite=False)], None)
        return self

    def compute(self) -> np.ndarray:
        """(n_units, n_units) float64 correlations; constant units give NaN with a warning."""
        if self._moments.n < 2:
            raise UnitscopeError(
                f"unit correlation needs at least 2 samples, got {self._moments.n}."
            )
        s = self._moments.xx[0]
        sd = np.sqrt(np.diag(s))
        zero = np.flatnonzero(sd == 0.0)
        if zero.size:
            degenerate(f"constant unit(s) {zero.tolist()[:10]} have undefined correlation")
        with np.errstate(invalid="ignore", divide="ignore"):
            return s / np.outer(sd, sd)


class MinibatchCKA:
    """Minibatch linear CKA of Nguyen, Raghu & Kornblith (2021).

    Each batch i contributes unbiased HSIC estimates (Song et al. 2012) of its own rows;
    the result is ``Σ_i HSIC_u(K_i, L_i) / sqrt(Σ_i HSIC_u(K_i, K_i) · Σ_i HSIC_u(L_i, L_i))``.

    Pooling rule for unequal batches: every batch's estimate counts equally (Nguyen et al.
    average the per-batch estimates), so a short final batch weighs as much as a full one and
    adds more variance; drop it or use equal batch sizes. Each batch needs ≥ 4 rows. With a
    single batch holding every row this equals :func:`debiased_linear_cka` exactly; with many
    batches it estimates the same population quantity but is not equal to it (use
    :class:`StreamingMeasure` for the exact full-dataset linear CKA).

    Each batch's terms come scaled into range (:func:`unbiased_hsic_terms`); the sums are kept
    in units ``2^-E_x``, ``2^-E_y`` with E the largest exponent seen, so data of any magnitude
    (1e200 or 1e-200) give the same value, and a batch far smaller than the others adds the
    negligible amount it should.

    >>> import numpy as np
    >>> from unitscope.measures import debiased_linear_cka
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.standard_normal((64, 6)), rng.standard_normal((64, 3))
    >>> abs(MinibatchCKA().update(x, y).compute() - debiased_linear_cka(x, y)) < 1e-12
    True
    """

    def __init__(self) -> None:
        self._sums = np.zeros(3)  # HSIC_u (xy, xx, yy) summed over batches
        self._exp: tuple[int, int] | None = None  # (E_x, E_y): the sums' units
        self.n_batches = 0
        self.n_samples = 0

    def update(self, x: Any, y: Any) -> MinibatchCKA:
        """Add one minibatch ``x`` (m, d1), ``y`` (m, d2), m ≥ 4. Returns ``self``."""
        xa, ya = paired(
            x, y, min_rows=4, float64=False, purpose=" per minibatch", finite=False, rescale=False
        )
        hxy, hxx, hyy, (ex, ey) = unbiased_hsic_terms(xa, ya)  # of x·2^-ex and y·2^-ey
        old = self._exp or (ex, ey)
        to = (max(old[0], ex), max(old[1], ey))  # the sums only ever shrink into new units
        terms = np.array([hxy, hxx, hyy])
        self._sums = _to_units(self._sums, *old, *to) + _to_units(terms, ex, ey, *to)
        self._exp = to
        self.n_batches += 1
        self.n_samples += xa.shape[0]
        return self

    def compute(self) -> float:
        """Minibatch CKA over the batches seen so far, as a Python float."""
        if self.n_batches == 0:
            raise UnitscopeError("MinibatchCKA.compute() called before any update().")
        hxy, hxx, hyy = (float(v) for v in self._sums)
        return ratio_unbiased(hxy, hxx, hyy, self.n_samples)

    def reset(self) -> None:
        """Forget every batch."""
        self._sums = np.zeros(3)
        self._exp = None
        self.n_batches = 0
        self.n_samples = 0


def _to_units(terms: np.ndarray, ex: int, ey: int, to_x: int, to_y: int) -> np.ndarray:
    """HSIC terms (xy, xx, yy) of ``x·2^-ex``, ``y·2^-ey`` as those of ``x·2^-to_x``, ``y·2^-to_y``.

    HSIC(K, L) is linear in each kernel and a linear kernel is quadratic in its data, so the xy
    term scales by ``2^(2(ex − to_x) + 2(ey − to_y))``, xx by ``2^(4(ex − to_x))``, yy likewise.
    """
    dx, dy = ex - to_x, ey - to_y
    return np.ldexp(terms, [2 * dx + 2 * dy, 4 * dx, 4 * dy])
