"""Measures: pure functions of activations and weights, exact in float64.

Conventions:

- Inputs are numpy arrays or torch tensors of any real dtype; activations are
  (n_samples, n_units) with rows paired between ``x`` and ``y``. Everything is computed in
  float64. Scalar measures return Python floats; matrix results are float64 numpy arrays.
- Names state the contract: ``*_similarity`` / ``*_cka``: larger is more similar;
  ``*_distance``: smaller is more similar.
- An undefined value (zero variance, rank 0, too few samples) is NaN with a
  :class:`DegenerateInputWarning` that says why; bad input raises
  :class:`~unitscope._errors.UnitscopeError`. Nothing is clamped, no epsilon is added.

Unit level (one layer): :func:`unit_correlation`, :func:`weight_cosine`,
:func:`symmetry_spread`, :func:`effective_rank`, :func:`participation_ratio`,
:func:`unit_groups`, :func:`distinct_units`, :func:`dead_units`, :func:`saturated_units`,
:func:`ablation_importance`. Lazy or rich training: :func:`orientation_clusters`,
:func:`relative_change`, :func:`init_alignment`.

Layer level (two layers or models), all registered in :data:`MEASURES`: linear, debiased and
RBF CKA; CCA, SVCCA, PWCCA; Procrustes similarity and angular distance; RSA; mutual k-NN.

Streaming: :class:`StreamingMeasure`, :class:`StreamingUnitCorrelation`, :class:`MinibatchCKA`.
Batched over checkpoints and members: :func:`apply_measure`, :func:`unit_summary`,
:func:`over_recording`. Layer × layer: :func:`layer_similarity_matrix`,
:func:`model_similarity_matrix`. Maps and tokens to units: :func:`to_units`; a tensor of
more than two axes always comes with its ``layout`` (``"NCHW"``, ``"NHWC"``, ``"NTD"``, ...),
which is never guessed.
"""

from __future__ import annotations

from .._layout import LAYOUTS
from ._ablation import ablation_importance
from ._batched import apply_measure, over_recording, unit_summary
from ._cca import (
    canonical_correlations,
    cca_r2_similarity,
    cca_similarity,
    pwcca_similarity,
    svcca_similarity,
)
from ._cka import debiased_linear_cka, linear_cka, rbf_cka
from ._condensation import (
    OrientationClusters,
    RelativeChange,
    init_alignment,
    orientation_clusters,
    relative_change,
)
from ._conv import CONV_MODES, UnitView, to_units
from ._matrix import LayerMatrix, layer_similarity_matrix, model_similarity_matrix
from ._procrustes import procrustes_distance, procrustes_similarity
from ._registry import MEASURES, Measure, compute, get_measure, list_measures
from ._rsa import mutual_knn_similarity, rdm, rsa_similarity
from ._streaming import MinibatchCKA, StreamingMeasure, StreamingUnitCorrelation
from ._unit_measures import (
    SymmetrySpread,
    dead_units,
    distinct_units,
    effective_rank,
    participation_ratio,
    saturated_units,
    symmetry_spread,
    unit_correlation,
    unit_groups,
    weight_cosine,
)
from ._validate import DegenerateInputWarning

__all__ = [
    "CONV_MODES",
    "LAYOUTS",
    "MEASURES",
    "DegenerateInputWarning",
    "LayerMatrix",
    "Measure",
    "OrientationClusters",
    "RelativeChange",
    "MinibatchCKA",
    "StreamingMeasure",
    "StreamingUnitCorrelation",
    "SymmetrySpread",
    "UnitView",
    "ablation_importance",
    "apply_measure",
    "canonical_correlations",
    "cca_r2_similarity",
    "cca_similarity",
    "compute",
    "dead_units",
    "debiased_linear_cka",
    "distinct_units",
    "effective_rank",
    "get_measure",
    "init_alignment",
    "layer_similarity_matrix",
    "linear_cka",
    "list_measures",
    "model_similarity_matrix",
    "mutual_knn_similarity",
    "orientation_clusters",
    "over_recording",
    "participation_ratio",
    "procrustes_distance",
    "procrustes_similarity",
    "pwcca_similarity",
    "rbf_cka",
    "rdm",
    "relative_change",
    "rsa_similarity",
    "saturated_units",
    "svcca_similarity",
    "symmetry_spread",
    "to_units",
    "unit_correlation",
    "unit_groups",
    "unit_summary",
    "weight_cosine",
]
