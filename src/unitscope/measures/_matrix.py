"""Layer × layer similarity matrices: from arrays in memory, or from two models in one pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._errors import UnitscopeError
from .._layout import layout_for
from ..record._hooks import capture, eval_mode, iter_batches, run_batch
from ._cka import hsic_unbiased, ratio_unbiased
from ._conv import CONV_MODES, UnitView, to_units
from ._moments import CrossMoments
from ._registry import check_options, get_measure
from ._streaming import check_streamable, value_from_moments
from ._validate import choice


@dataclass(frozen=True)
class LayerMatrix:
    """A measure between every layer of one set (rows) and every layer of another (columns).

    Attributes:
        values: float64 (len(rows), len(cols)).
        rows: layer names of the first model / dict.
        cols: layer names of the second.
        measure: the measure's name; ``convention`` says whether larger is more similar.
        convention: ``"similarity"`` or ``"distance"``.
        unit_views: layer → how its activations became units (``"dense"`` or a conv mode).
        n_samples: samples (rows) the measure saw.
    """

    values: np.ndarray
    rows: list[str]
    cols: list[str]
    measure: str
    convention: str
    unit_views: dict[str, str] = field(default_factory=dict)
    n_samples: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready content."""
        return {
            "measure": self.measure,
            "convention": self.convention,
            "rows": list(self.rows),
            "cols": list(self.cols),
            "values": self.values.tolist(),
            "unit_views": dict(self.unit_views),
            "n_samples": self.n_samples,
        }


def layer_similarity_matrix(
    acts_a: Mapping[str, Any],
    acts_b: Mapping[str, Any] | None = None,
    measure: str = "linear_cka",
    *,
    conv: str = "mean",
    layout: str | Mapping[str, str] | None = None,
    **options: Any,
) -> LayerMatrix:
    """A registered measure between every layer of ``acts_a`` and every layer of ``acts_b``.

    Args:
        acts_a: layer → (n_samples, n_units), or maps / tokens with a ``layout``.
        acts_b: the same for the second model; ``None`` compares ``acts_a`` with itself
            (symmetric measures then compute one triangle).
        measure: a registered measure name.
        conv: how maps and tokens become units (:func:`to_units`), recorded in the result.
        layout: the layout of every tensor of more than two axes, e.g. ``"NCHW"`` (a string
            applies to every such tensor with that many axes), or a dict layer → layout.
            Never guessed: a 3-D or 4-D tensor without one is refused.
        **options: the measure's options.

    Returns:
        :class:`LayerMatrix`.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = {"h0": rng.standard_normal((50, 6)), "h1": rng.standard_normal((50, 3))}
    >>> m = layer_similarity_matrix(a)
    >>> m.values.diagonal().round(12).tolist()
    [1.0, 1.0]
    """
    spec = get_measure(measure)
    check_options(spec, options)
    views_a = _views(acts_a, conv, layout, "acts_a")
    views_b = views_a if acts_b is None else _views(acts_b, conv, layout, "acts_b")
    n = _common_rows(views_a, views_b)
    rows, cols = list(views_a), list(views_b)
    values = np.empty((len(rows), len(cols)))
    for i, ra in enumerate(rows):
        for j, cb in enumerate(cols):
            if acts_b is None and spec.symmetric and j < i:
                values[i, j] = values[j, i]
                continue
            values[i, j] = spec.fn(views_a[ra].values, views_b[cb].values, **options)
    modes = {k: v.mode for k, v in {**views_a, **views_b}.items()}
    return LayerMatrix(values, rows, cols, measure, spec.convention, modes, n)


def model_similarity_matrix(
    model_a: nn.Module,
    model_b: nn.Module | None,
    data: Any,
    *,
    layers_a: Sequence[str],
    layers_b: Sequence[str] | None = None,
    measure: str = "linear_cka",
    conv: str = "mean",
    layout: str | Mapping[str, str] | None = None,
    max_batches: int | None = None,
    **options: Any,
) -> LayerMatrix:
    """Layer × layer similarity between two models (or one with itself) in one pass over data.

    Nothing is kept but float64 sufficient statistics: for the exact measures
    (``linear_cka``, ``cca_similarity``, ``cca_r2_similarity``, ``procrustes_similarity``,
    ``procrustes_distance``) the means and centred products of every layer (memory
    O((Σ units)²), independent of the number of samples), for ``"minibatch_cka"`` (Nguyen et
    al. 2021, every batch weighted equally, ≥ 4 rows each) three sums per pair.

    Args:
        model_a: any ``nn.Module``.
        model_b: the second model, or ``None`` (or ``model_a``) to compare ``model_a`` with
            itself; every batch then runs once.
        data: a batch or an iterable of batches (a DataLoader), see ``record.iter_batches``.
        layers_a: module names of ``model_a`` (rows).
        layers_b: module names of ``model_b`` (columns); default ``layers_a``.
        measure: an exact streaming measure or ``"minibatch_cka"``.
        conv: how maps and tokens become units (:func:`to_units`).
        layout: the layout of layers whose outputs have more than two axes: ``"NCHW"`` for
            torch conv layers, ``"NHWC"`` channels-last, ``"NTD"`` transformer tokens; a
            string applies to every such layer with that many axes, a dict names each layer.
            Never guessed: a 3-D or 4-D output without one is refused.
        max_batches: stop after this many batches.
        **options: the measure's options (``alpha`` for Procrustes).

    Returns:
        :class:`LayerMatrix`.

    A model compared with itself has ones on the diagonal:

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    >>> loader = [torch.randn(32, 4) for _ in range(4)]  # any iterable of batches
    >>> m = model_similarity_matrix(net, None, loader, layers_a=["0", "1", "2"])
    >>> m.values.diagonal().round(6).tolist(), m.n_samples
    ([1.0, 1.0, 1.0], 128)
    """
    if measure != "minibatch_cka":
        check_streamable(measure, options)
    elif options:
        raise UnitscopeError(f"'minibatch_cka' takes no options, got {sorted(options)}.")
    choice("conv", conv, CONV_MODES)
    rows, cols = list(layers_a), list(layers_a if layers_b is None else layers_b)
    acc: _Exact | _Minibatch = (
        _Minibatch() if measure == "minibatch_cka" else _Exact(measure, options)
    )
    modes = _one_pass(acc, model_a, model_b, data, rows, cols, (conv, layout), max_batches)
    values, n = acc.result(len(rows), len(cols))
    convention = "similarity" if measure == "minibatch_cka" else get_measure(measure).convention
    return LayerMatrix(values, rows, cols, measure, convention, modes, n)


def _one_pass(
    acc: _Exact | _Minibatch,
    model_a: nn.Module,
    model_b: nn.Module | None,
    data: Any,
    rows: list[str],
    cols: list[str],
    conv: tuple[str, Any],
    max_batches: int | None,
) -> dict[str, str]:
    """Feed every batch's unit views to ``acc``; hooks and modes are restored on exit."""
    other = model_a if model_b is None else model_b
    same = other is model_a
    modes: dict[str, str] = {}
    with ExitStack() as stack:
        cap_a = stack.enter_context(capture(model_a, _union(rows, cols if same else [])))
        cap_b = cap_a if same else stack.enter_context(capture(other, cols))
        for model in (model_a,) if same else (model_a, other):
            stack.enter_context(eval_mode(model))
        stack.enter_context(torch.no_grad())
        for batch in iter_batches(data, max_batches=max_batches):
            run_batch(model_a, batch)
            got_a = cap_a.take()
            if not same:
                run_batch(other, batch)
            got_b = got_a if same else cap_b.take()
            xs = [_units(got_a[k], conv, modes, k) for k in rows]
            ys = [_units(got_b[k], conv, modes, k) for k in cols]
            acc.update(xs, None if same and cols == rows else ys)
    return modes


class _Exact:
    def __init__(self, measure: str, options: dict[str, Any]) -> None:
        self.measure, self.options, self.moments = measure, options, CrossMoments()

    def update(self, xs: list[np.ndarray], ys: list[np.ndarray] | None) -> None:
        self.moments.update(xs, ys)

    def result(self, n_rows: int, n_cols: int) -> tuple[np.ndarray, int]:
        if self.moments.n == 0:
            raise UnitscopeError("`data` yielded no batches; pass a tensor or a non-empty loader.")
        out = np.empty((n_rows, n_cols))
        for i in range(n_rows):
            for j in range(n_cols):
                out[i, j] = value_from_moments(self.measure, self.moments, i, j, self.options)
        return out, self.moments.n


class _Minibatch:
    """Per-pair sums of unbiased HSIC over batches (Nguyen et al. 2021), Grams shared."""

    def __init__(self) -> None:
        self.cross: np.ndarray | None = None
        self.self_x: np.ndarray | None = None
        self.self_y: np.ndarray | None = None
        self.n = 0

    def update(self, xs: list[np.ndarray], ys: list[np.ndarray] | None) -> None:
        if xs[0].shape[0] < 4:
            raise UnitscopeError(
                f"minibatch CKA needs at least 4 samples per batch, got {xs[0].shape[0]}."
            )
        kx = [_gram(x) for x in xs]
        ky = kx if ys is None else [_gram(y) for y in ys]
        cross = np.array([[hsic_unbiased(a, b) for b in ky] for a in kx])
        self_x = np.array([hsic_unbiased(a, a) for a in kx])
        self_y = self_x if ys is None else np.array([hsic_unbiased(b, b) for b in ky])
        if self.cross is None:
            self.cross, self.self_x, self.self_y = cross, self_x, self_y
        else:
            self.cross += cross
            self.self_x += self_x
            self.self_y = self.self_x if ys is None else self.self_y + self_y
        self.n += xs[0].shape[0]

    def result(self, n_rows: int, n_cols: int) -> tuple[np.ndarray, int]:
        if self.cross is None or self.self_x is None or self.self_y is None:
            raise UnitscopeError("`data` yielded no batches; pass a tensor or a non-empty loader.")
        out = np.empty((n_rows, n_cols))
        for i in range(n_rows):
            for j in range(n_cols):
                hxy, hxx, hyy = self.cross[i, j], self.self_x[i], self.self_y[j]
                out[i, j] = ratio_unbiased(float(hxy), float(hxx), float(hyy), self.n)
        return out, self.n


def _gram(x: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=0, dtype=np.float64)  # (m, d)
    return xc @ xc.T  # (m, m)


def _units(t: torch.Tensor, conv: tuple[str, Any], modes: dict[str, str], name: str) -> np.ndarray:
    mode, layout = conv
    view = _view(t.numpy(), mode, layout, name)
    modes[name] = view.mode
    return view.values


def _view(acts: Any, mode: str, layout: Any, name: str) -> UnitView:
    """``to_units`` of layer ``name``; a refused layout names the layer."""
    ndim = len(getattr(acts, "shape", ()))
    try:
        return to_units(acts, mode, layout=layout_for(name, ndim, layout))
    except UnitscopeError as err:
        raise UnitscopeError(f"layer {name!r}: {err}") from None


def _union(a: Sequence[str], b: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def _views(acts: Mapping[str, Any], conv: str, layout: Any, name: str) -> dict[str, UnitView]:
    if not isinstance(acts, Mapping) or not acts:
        raise UnitscopeError(f"`{name}` must be a non-empty dict of layer name → activations.")
    return {str(k): _view(v, conv, layout, str(k)) for k, v in acts.items()}


def _common_rows(a: dict[str, UnitView], b: dict[str, UnitView]) -> int:
    rows = {k: v.values.shape[0] for k, v in {**a, **b}.items()}
    if len(set(rows.values())) != 1:
        raise UnitscopeError(
            f"every layer must have the same number of samples, got {rows}"
            " (conv mode 'positions' multiplies samples by the spatial size)."
        )
    return next(iter(rows.values()))
