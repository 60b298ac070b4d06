"""Exact float64 sufficient statistics of paired activations: counts, means, centred products.

Linear CKA, CCA, Procrustes and unit correlation over a whole dataset are functions of
``n``, the means and the centred products ``X̃ᵀX̃``, ``ỸᵀỸ``, ``X̃ᵀỸ``. :class:`CrossMoments`
accumulates them batch by batch. Batches are merged with the pairwise update of Chan, Golub &
LeVeque (1979), so no raw second moment of the whole stream is ever formed:

    M = M_a + M_b + (n_a n_b / (n_a + n_b)) (μ_a − μ_b)(μ_a − μ_b)ᵀ.

Within one batch the centred products come from one of two routes:

- float64 input: the raw products ``AᵀB`` minus ``m μ_a μ_bᵀ`` (no copy of the data, exactly
  the three BLAS products plus one summing pass). This route is kept only when no column's
  mean dominates its spread: if ``m μ_j² > (1 − 10⁻³) Σ_i a_ij²`` for some column, the
  subtraction would lose more than 3 of float64's 16 digits, and the batch is recomputed by
- the centring route: the data are centred in row chunks of about 32 MB (memory independent of
  the batch size) and the products of the centred chunks are summed. Float32 input always takes
  this route (the cast to float64 is the centring pass).

A constant column gets exactly its value as mean (so it contributes exact zeros), and each array
is stored scaled by a power of two ``2^-e`` chosen from the running maximum of its magnitudes
(:func:`~._validate.scale_exponent`): data of magnitude 1e200 or 1e-200 keep their products in
float64's range. When a later batch raises the maximum past the range, the stored moments of that
array are scaled down by the exact power of two. Every measure computed from the moments is
invariant to these scales; ``exp_x[i]`` / ``exp_y[j]`` say what they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._errors import UnitscopeError
from ._validate import check_finite, constant_columns, precision, scale_exponent

_CHUNK_ELEMENTS = 1 << 22  # float64 elements per centred chunk buffer (32 MB)
_MAX_LOSS = 1e-3  # raw route only while every column keeps variance ≥ 1e-3 × its raw moment


def chunk_rows(width: int) -> int:
    """Rows per chunk so that a (rows, width) float64 buffer holds about 32 MB."""
    return max(1024, _CHUNK_ELEMENTS // max(width, 1))


@dataclass
class _Batch:
    """Centred products of one batch of m rows (about its own means)."""

    m: int
    mean_x: np.ndarray  # (Dx,)
    mean_y: np.ndarray  # (Dy,)
    xx: list[np.ndarray]  # [(dx_i, dx_i)]
    yy: list[np.ndarray]  # [(dy_j, dy_j)]
    xy: np.ndarray  # (Dx, Dy)


class CrossMoments:
    """Centred self-products of each array in ``xs`` and ``ys`` and the cross-products between.

    After ``update`` calls with batches of rows (same rows in every array), ``xx[i]`` is
    ``X̃_iᵀX̃_i``, ``yy[j]`` is ``Ỹ_jᵀỸ_j`` and ``cross(i, j)`` is ``X̃_iᵀỸ_j``, all in float64
    and centred on the means of everything seen so far. With ``ys=None`` the second side is the
    first one (a model compared with itself). ``eps_x[i]`` is the unit roundoff of the least
    precise dtype array i arrived in (float32 data carry only float32 precision). The moments of
    array i are those of ``X_i · 2^-exp_x[i]`` (see the module docstring).
    """

    def __init__(self) -> None:
        self.n = 0
        self.dims_x: list[int] = []
        self.dims_y: list[int] = []
        self.same = False
        self.mean_x = np.zeros(0)
        self.mean_y = np.zeros(0)
        self.xx: list[np.ndarray] = []
        self.yy: list[np.ndarray] = []
        self.xy = np.zeros((0, 0))
        self.eps_x: list[float] = []
        self.eps_y: list[float] = []
        self.exp_x: list[int] = []
        self.exp_y: list[int] = []
        self._peak_x: list[float] = []
        self._peak_y: list[float] = []

    def update(self, xs: Sequence[np.ndarray], ys: Sequence[np.ndarray] | None) -> None:
        """Add a batch: ``xs[i]`` is (m, dx_i) and ``ys[j]`` is (m, dy_j), rows paired."""
        rows = [a.shape[0] for a in [*xs, *(ys or [])]]
        if len(set(rows)) != 1:
            raise UnitscopeError(f"every array of a batch must have the same rows, got {rows}.")
        if self.n == 0:
            self._start([a.shape[1] for a in xs], None if ys is None else [b.shape[1] for b in ys])
        self._check_dims(xs, ys)
        self.eps_x = [max(e, precision(a)) for e, a in zip(self.eps_x, xs)]
        if not self.same and ys is not None:
            self.eps_y = [max(e, precision(b)) for e, b in zip(self.eps_y, ys)]
        xs_in, mx = self._scaled(xs, "x")
        ys_in, my = (None, mx) if ys is None else self._scaled(ys, "y")
        self._merge(_batch_products(xs_in, ys_in, mx, my))

    def data_noise(self, i: int, j: int) -> tuple[float, float]:
        """``½ ε_in ‖X_i‖_F`` and ``½ ε_in ‖Y_j‖_F`` of the raw data (in the units of the stored
        moments): how far storing them in their dtype can move a singular value (Weyl), used as
        a rank tolerance."""
        out = []
        for eps, blocks, mean, dims, k in (
            (self.eps_x[i], self.xx, self.mean_x, self.dims_x, i),
            (self.eps_y[j], self.yy, self.mean_y, self.dims_y, j),
        ):
            mu = mean[_slices(dims)[k]]
            raw_sq = float(np.trace(blocks[k])) + self.n * float(mu @ mu)
            out.append(0.5 * eps * np.sqrt(raw_sq))
        return out[0], out[1]

    def _scaled(
        self, arrays: Sequence[np.ndarray], side: str
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Each array times ``2^-e`` (e from the running peak; the stored moments follow e) and
        the concatenated column means of the scaled arrays, exact for constant columns.

        A max and a min pass (raising on NaN/inf), a column sum and :func:`constant_columns`.
        """
        peaks, exps = (self._peak_x, self.exp_x) if side == "x" else (self._peak_y, self.exp_y)
        out, means = [], []
        for k, a in enumerate(arrays):
            peaks[k] = max(peaks[k], check_finite(a, side))
            e = scale_exponent(peaks[k])
            if e != exps[k]:  # e only grows: the stored moments shrink by an exact power of 2
                self._rescale(side, k, exps[k] - e)
                exps[k] = e
            a = np.ldexp(a, -e) if e else a
            # one BLAS pass (gemv) is the cheapest float64 column sum; else accumulate in float64
            sums = np.ones(a.shape[0]) @ a if a.dtype == np.float64 else a.sum(0, dtype=np.float64)
            exact = np.asarray(a[0], dtype=np.float64)  # a constant column's own value
            means.append(np.where(constant_columns(a)[0], exact, sums / a.shape[0]))  # (d,)
            out.append(a)
        return out, np.concatenate(means)

    def _rescale(self, side: str, k: int, shift: int) -> None:
        """Multiply the stored mean and moments of array k of ``side`` by ``2^shift``."""
        sl = _slices(self.dims_x if side == "x" else self.dims_y)[k]
        mean, blocks = (self.mean_x, self.xx) if side == "x" else (self.mean_y, self.yy)
        mean[sl] = np.ldexp(mean[sl], shift)  # in place: mean_y may be mean_x
        blocks[k] = np.ldexp(blocks[k], 2 * shift)
        if side == "x" or self.same:
            self.xy[sl, :] = np.ldexp(self.xy[sl, :], shift)
        if side == "y" or self.same:
            self.xy[:, sl] = np.ldexp(self.xy[:, sl], shift)

    def cross(self, i: int, j: int) -> np.ndarray:
        """``X̃_iᵀỸ_j`` (dx_i, dy_j)."""
        return self.xy[_slices(self.dims_x)[i], _slices(self.dims_y)[j]]

    def _start(self, dims_x: list[int], dims_y: list[int] | None) -> None:
        self.same = dims_y is None
        self.dims_x = dims_x
        self.dims_y = dims_x if dims_y is None else dims_y
        self.mean_x = np.zeros(sum(self.dims_x))
        self.mean_y = self.mean_x if self.same else np.zeros(sum(self.dims_y))
        self.xx = [np.zeros((d, d)) for d in self.dims_x]
        self.yy = self.xx if self.same else [np.zeros((d, d)) for d in self.dims_y]
        self.xy = np.zeros((len(self.mean_x), len(self.mean_y)))
        self.eps_x = [0.0] * len(self.dims_x)
        self.eps_y = self.eps_x if self.same else [0.0] * len(self.dims_y)
        self.exp_x, self._peak_x = [0] * len(self.dims_x), [0.0] * len(self.dims_x)
        self.exp_y = self.exp_x if self.same else [0] * len(self.dims_y)
        self._peak_y = self._peak_x if self.same else [0.0] * len(self.dims_y)

    def _check_dims(self, xs: Sequence[np.ndarray], ys: Sequence[np.ndarray] | None) -> None:
        got_x = [a.shape[1] for a in xs]
        got_y = None if ys is None else [b.shape[1] for b in ys]
        if (
            got_x != self.dims_x
            or (ys is None) != self.same
            or (got_y or self.dims_y) != self.dims_y
        ):
            raise UnitscopeError(
                f"a batch has units {got_x} / {got_y}, but earlier batches had "
                f"{self.dims_x} / {None if self.same else self.dims_y}; every batch must match."
            )

    def _merge(self, b: _Batch) -> None:
        """Chan et al.'s pairwise update of the running moments with one batch."""
        f = self.n * b.m / (self.n + b.m)
        dx = b.mean_x - self.mean_x  # (Dx,)
        dy = dx if self.same else b.mean_y - self.mean_y  # (Dy,)
        self.xy += b.xy
        if f:  # the first batch has nothing to merge with
            self.xy += np.outer(f * dx, dy)
        for k, sl in enumerate(_slices(self.dims_x)):
            self.xx[k] += b.xx[k]
            self.xx[k] += np.outer(f * dx[sl], dx[sl])
        if not self.same:
            for k, sl in enumerate(_slices(self.dims_y)):
                self.yy[k] += b.yy[k]
                self.yy[k] += np.outer(f * dy[sl], dy[sl])
        w = b.m / (self.n + b.m)
        self.mean_x += w * dx
        if not self.same:
            self.mean_y += w * dy
        self.n += b.m


def _slices(dims: list[int]) -> list[slice]:
    ends = np.cumsum([0, *dims])
    return [slice(int(a), int(b)) for a, b in zip(ends[:-1], ends[1:])]


def _batch_products(
    xs: list[np.ndarray], ys: list[np.ndarray] | None, mx: np.ndarray, my: np.ndarray
) -> _Batch:
    """Centred products of one batch about its column means ``mx`` (Dx,) and ``my`` (Dy,)."""
    if all(a.dtype == np.float64 for a in [*xs, *(ys or [])]):
        raw = _raw_route(xs, ys, mx, my)
        if raw is not None:
            return raw
    return _centring_route(xs, ys, mx, my)


def _raw_route(
    xs: list[np.ndarray], ys: list[np.ndarray] | None, mx: np.ndarray, my: np.ndarray
) -> _Batch | None:
    """``AᵀB − m μ_a μ_bᵀ`` on the float64 data; None when a column's mean dominates."""
    m = xs[0].shape[0]
    sx, sy = _slices([a.shape[1] for a in xs]), _slices([b.shape[1] for b in ys or xs])
    xx = [a.T @ a for a in xs]
    yy = xx if ys is None else [b.T @ b for b in ys]
    for blocks, mean, sl in ((xx, mx, sx), (yy, my, sy)):
        for raw, s in zip(blocks, sl):
            mu = mean[s]
            if np.any(m * mu * mu > (1.0 - _MAX_LOSS) * np.diag(raw)):
                return None
    xy = np.empty((len(mx), len(my)))
    right = xs if ys is None else ys
    for i, a in enumerate(xs):
        for j, b in enumerate(right):
            xy[sx[i], sy[j]] = xx[i] if ys is None and i == j else a.T @ b
    xy -= np.outer(m * mx, my)
    xx = [raw - m * np.outer(mx[s], mx[s]) for raw, s in zip(xx, sx)]
    yy = xx if ys is None else [raw - m * np.outer(my[s], my[s]) for raw, s in zip(yy, sy)]
    return _Batch(m, mx, my, xx, yy, xy)


def _centring_route(
    xs: list[np.ndarray], ys: list[np.ndarray] | None, mx: np.ndarray, my: np.ndarray
) -> _Batch:
    """Centre row chunks on the batch means into float64 buffers; sum the products."""
    m = xs[0].shape[0]
    sx = _slices([a.shape[1] for a in xs])
    sy = sx if ys is None else _slices([b.shape[1] for b in ys])
    step = chunk_rows(len(mx) + (0 if ys is None else len(my)))
    zx_buf = np.empty((min(step, m), len(mx)))
    zy_buf = zx_buf if ys is None else np.empty((min(step, m), len(my)))
    xy = np.zeros((len(mx), len(my)))
    xx = [np.zeros((s.stop - s.start,) * 2) for s in sx]
    yy = xx if ys is None else [np.zeros((s.stop - s.start,) * 2) for s in sy]
    for lo in range(0, m, step):
        hi = min(lo + step, m)
        zx, zy = zx_buf[: hi - lo], zy_buf[: hi - lo]
        for a, s in zip(xs, sx):
            np.subtract(a[lo:hi], mx[s], out=zx[:, s])
        for b, s in zip(ys or [], sy):
            np.subtract(b[lo:hi], my[s], out=zy[:, s])
        xy += zx.T @ zy
        if ys is not None:
            for blocks, z, sl in ((xx, zx, sx), (yy, zy, sy)):
                for k, s in enumerate(sl):
                    blocks[k] += z[:, s].T @ z[:, s]
    if ys is None:
        xx = [xy[s, s].copy() for s in sx]
        yy = xx
    return _Batch(m, mx, my, xx, yy, xy)


def centred_row_norms(x: np.ndarray, mean: np.ndarray, exp: int = 0) -> np.ndarray:
    """Squared norms ``‖x_i 2^-exp − μ‖²`` of every row, chunk by chunk (n,) in float64:
    with ``mean`` and ``exp`` of :class:`CrossMoments`, in the units of its moments."""
    out = np.empty(x.shape[0])
    step = chunk_rows(x.shape[1])
    for lo in range(0, x.shape[0], step):
        chunk = x[lo : lo + step]
        c = np.subtract(np.ldexp(chunk, -exp) if exp else chunk, mean, dtype=np.float64)  # (m, d)
        out[lo : lo + step] = np.einsum("ij,ij->i", c, c)
    return out
