"""Matching across runs: which unit is which, and the barrier between two solutions.

Hidden units are interchangeable, so a network has ``width!`` equivalent copies per layer; two
runs can only be compared after deciding which unit corresponds to which.

Arrays and models first::

    m = match.activations(acts_a, acts_b)       # Li et al. 2015: Hungarian on correlations
    w = match.weights(model_a, model_b)         # Ainsworth et al. 2023: weight matching
    b_aligned = match.permute(model_b, w.perms)  # same function, B's units in A's order
    curve = match.interpolate(model_a, b_aligned, {"train": (x, y), "test": (xt, yt)})
    curve.barrier("test")                        # max L(λ) − ½ (L(0) + L(1))

Any PyTorch network: trace its permutation spec once (residual additions, BatchNorm,
concatenation, flatten, depthwise convolutions; a self-check confirms the function is kept),
then the same verbs take ``spec=``::

    spec = match.permutation_spec(net_a, x[:8])
    w = match.weights(net_a, net_b, spec=spec)
    b_aligned = match.permute(net_b, w.perms, spec=spec)
    curve = match.interpolate(net_a, b_aligned, {"test": (xt, yt)}, reset_bn=train_loader)

Recordings on top: ``match.compare(rec_a, rec_b)``, ``match.pairs(rec)`` (all K(K−1)/2
member pairs of one ensemble), ``match.over_training(rec)`` (every checkpoint). A recording of
your own networks (``Recording.from_models``) is matched by its recorded activations, and with
``factory=`` (the function that builds one) by weights through its spec, with barriers.

Can B *use* A's units? ``match.stitch(model_a, model_b, data)`` connects every layer of A into
every layer of B through a fitted map and reports the stitching penalty, with self, raw-input
and untrained controls (``match.stitch_recordings(rec)`` for two members of a recording,
``match.stitch_pairs(rec, pairs)`` for many pairs, each member run once); any
torch module works too, with ``layers_a`` / ``layers_b`` module names and a ``layout`` for
conv maps or tokens (stitched at every position).
Do they predict alike? ``match.agreement(rec)``: disagreement, Cohen's κ, Jensen–Shannon
divergence and |Δaccuracy| of every member pair at every checkpoint.

Many seeds at once: ``match.consensus(rec)`` checks K ≥ 3 seeds' pairwise matches against each
other (cycle consistency A→B→C vs A→C), aligns all K jointly and finds consensus units;
``match.universal(rec)`` tests each unit's best-partner correlation against rotated, shuffled
and untrained nulls (is the unit basis special, or only the subspace?).

**Pairing convention.** Every model and activation array carries the member axis K. Pair k is
member k of A with member k of B; a side with K=1 is paired with every member of the other.
Results carry a leading pair axis P (``perm`` (P, U), barriers (P,)). To pair member i of A
with member j of B, pass ``model_a.select([i])`` and ``model_b.select([j])``, or stack several
such selections to match many pairs in one call.

**Permutation convention.** ``perm[i]`` is the unit of B that corresponds to unit i of A; B is
brought into A's order by gathering: ``acts_b[..., perm]``, ``permute(model_b, perms)``.
"""

from __future__ import annotations

from ._activations import ActivationMatch, activations, hungarian
from ._agreement import Agreement, agreement, prediction_agreement
from ._align import METHODS, align, match_layers
from ._compare import Comparison, Trajectory, compare, over_training, pairs
from ._consensus import Consensus, consensus
from ._correlation import CrossCorrelation, cross_correlation
from ._curve import Curve, relative_reduction
from ._interpolate import interpolate
from ._module_line import repair
from ._permute import identity_perms, invert, permute, random_perms
from ._spec import Axis, Group, PermutationSpec, RepairPoint
from ._stitch import StitchEntry, Stitching, stitch, stitch_pairs, stitch_recordings
from ._trace import permutation_spec
from ._universal import Universality, universal
from ._weights import WeightMatch, weights

__all__ = [
    "METHODS",
    "ActivationMatch",
    "Agreement",
    "Axis",
    "Comparison",
    "Consensus",
    "CrossCorrelation",
    "Curve",
    "Group",
    "PermutationSpec",
    "RepairPoint",
    "Trajectory",
    "StitchEntry",
    "Stitching",
    "Universality",
    "WeightMatch",
    "activations",
    "agreement",
    "align",
    "compare",
    "consensus",
    "cross_correlation",
    "hungarian",
    "identity_perms",
    "interpolate",
    "invert",
    "match_layers",
    "over_training",
    "pairs",
    "permutation_spec",
    "permute",
    "prediction_agreement",
    "random_perms",
    "relative_reduction",
    "repair",
    "stitch",
    "stitch_pairs",
    "stitch_recordings",
    "universal",
    "weights",
]
