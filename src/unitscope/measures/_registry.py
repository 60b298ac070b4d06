"""The registry of layer measures: name → function, convention, one-line description, options.

The CLI (``unitscope measure NAME X Y``), :func:`apply_measure` and the layer matrices look
measures up here, so every registered measure is reachable the same way and is checked by
one conformance suite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._errors import UnitscopeError, unknown_name
from ._cca import cca_r2_similarity, cca_similarity, pwcca_similarity, svcca_similarity
from ._cka import debiased_linear_cka, linear_cka, rbf_cka
from ._procrustes import procrustes_distance, procrustes_similarity
from ._rsa import mutual_knn_similarity, rsa_similarity
from ._streaming import STREAMABLE


@dataclass(frozen=True)
class Measure:
    """A registered layer measure ``fn(x, y, **options) -> float``.

    Attributes:
        name: registry name, equal to the function's name.
        fn: the pure function.
        convention: ``"similarity"`` (larger = more similar) or ``"distance"`` (smaller).
        description: one line, with the paper.
        options: keyword options ``fn`` accepts.
        symmetric: whether ``fn(x, y) == fn(y, x)``.
    """

    name: str
    fn: Callable[..., float]
    convention: str
    description: str
    options: tuple[str, ...] = ()
    symmetric: bool = True

    @property
    def streaming(self) -> bool:
        """Whether :class:`StreamingMeasure` computes it exactly over batches."""
        return self.name in STREAMABLE


_ALL = [
    Measure(
        "linear_cka",
        linear_cka,
        "similarity",
        "linear CKA, biased HSIC (Kornblith et al. 2019)",
        ("method",),
    ),
    Measure(
        "debiased_linear_cka",
        debiased_linear_cka,
        "similarity",
        "linear CKA with the unbiased HSIC of Song et al. (2012) in every term",
        ("method",),
    ),
    Measure(
        "rbf_cka",
        rbf_cka,
        "similarity",
        "RBF-kernel CKA, σ = f·sqrt(median squared distance) or absolute (Kornblith 2019)",
        ("sigma_factor", "sigma", "debiased"),
    ),
    Measure("cca_similarity", cca_similarity, "similarity", "mean canonical correlation ρ̄"),
    Measure(
        "cca_r2_similarity", cca_r2_similarity, "similarity", "mean squared canonical correlation"
    ),
    Measure(
        "svcca_similarity",
        svcca_similarity,
        "similarity",
        "SVCCA: SVD to `keep` variance (or n_components), then mean CCA (Raghu et al. 2017)",
        ("keep", "n_components"),
    ),
    Measure(
        "pwcca_similarity",
        pwcca_similarity,
        "similarity",
        "projection-weighted CCA, weights from x (Morcos et al. 2018)",
        symmetric=False,
    ),
    Measure(
        "procrustes_similarity",
        procrustes_similarity,
        "similarity",
        "orthogonal Procrustes score ‖X̃ᵀỸ‖_*/(‖X̃‖‖Ỹ‖), partial whitening α",
        ("alpha",),
    ),
    Measure(
        "procrustes_distance",
        procrustes_distance,
        "distance",
        "angular shape distance arccos(Procrustes score) (Williams et al. 2021)",
        ("alpha",),
    ),
    Measure(
        "rsa_similarity",
        rsa_similarity,
        "similarity",
        "RSA: Spearman/Pearson correlation of the two RDMs (Kriegeskorte et al. 2008)",
        ("rdm_metric", "compare"),
    ),
    Measure(
        "mutual_knn_similarity",
        mutual_knn_similarity,
        "similarity",
        "mean fraction of shared k nearest neighbours (Huh et al. 2024)",
        ("k", "metric"),
    ),
]

MEASURES: dict[str, Measure] = {m.name: m for m in _ALL}


def get_measure(name: str) -> Measure:
    """The registered :class:`Measure` called ``name`` (did-you-mean on a typo).

    >>> get_measure("linear_cka").convention
    'similarity'
    """
    if name not in MEASURES:
        raise unknown_name("measure", name, MEASURES)
    return MEASURES[name]


def list_measures() -> list[Measure]:
    """Every registered measure, in registry order."""
    return list(_ALL)


def check_options(measure: Measure, options: dict[str, Any]) -> None:
    """Raise when an option does not apply to ``measure``."""
    for key in options:
        if key not in measure.options:
            accepted = ", ".join(measure.options) or "no options"
            raise UnitscopeError(
                f"option {key!r} does not apply to {measure.name!r}; it accepts: {accepted}."
            )


def compute(name: str, x: Any, y: Any, **options: Any) -> float:
    """Compute the registered measure ``name`` between ``x`` and ``y``.

    Args:
        name: a registered measure (see :func:`list_measures`).
        x: (n_samples, d1) activations.
        y: (n_samples, d2) activations, rows paired with ``x``.
        **options: the measure's options (e.g. ``keep=0.95`` for SVCCA).

    Returns:
        A Python float.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((30, 3))
    >>> compute("procrustes_distance", x, 2 * x) < 1e-7
    True
    """
    measure = get_measure(name)
    check_options(measure, options)
    return measure.fn(x, y, **options)
