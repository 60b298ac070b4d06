"""Matching the members of recordings of the user's own torch networks (``from_models``).

The recorded probe-set activations are matched layer by layer (Li et al., 2015), exactly as
for unitscope's own recordings. Weight matching and the loss barrier need the networks
themselves: they are rebuilt with a factory the caller names (``rec.modules(factory)``) and
aligned through the permutation spec traced from them; without a factory, or in a unitscope
without permutation specs, they are refused with the reason.
"""

from __future__ import annotations

import time
from typing import Any

from .._errors import UnitscopeError, unknown_name
from ..data._checks import check_seed
from ..record import Recording
from ._activations import ActivationMatch, activations
from ._align import METHODS
from ._compare import NULLS, Comparison, resolve_pairs


def check_torch_pair(rec_a: Recording, rec_b: Recording) -> None:
    """Raise unless two torch recordings hold the same class, layers and probe set."""
    if not rec_b.is_torch:
        raise UnitscopeError(
            "recording A holds a torch model and B one of unitscope's; only runs of one "
            "architecture can be matched."
        )
    spec_a, spec_b = rec_a.meta["model_spec"], rec_b.meta["model_spec"]
    units_a = {n: a["n_units"] for n, a in rec_a.meta["unit_axes"].items()}
    units_b = {n: a["n_units"] for n, a in rec_b.meta["unit_axes"].items()}
    if spec_a["class"] != spec_b["class"] or units_a != units_b:
        raise UnitscopeError(
            f"the recordings hold different networks ({spec_a['class']} with layers "
            f"{units_a} vs {spec_b['class']} with {units_b}); record the same layers of one "
            "architecture."
        )
    if rec_a.probe_hash != rec_b.probe_hash:
        raise UnitscopeError(
            f"the recordings were made on different probe sets (probe hash "
            f"{rec_a.probe_hash[:12]} vs {rec_b.probe_hash[:12]}); record both on the same "
            "inputs so their units can be compared."
        )


def compare_torch(
    rec_a: Recording,
    rec_b: Recording | None = None,
    *,
    members: Any = None,
    step: int = -1,
    method: str = "activations",
    barrier: bool = False,
    n_points: int = 25,
    repair: bool = False,
    seed: int = 0,
    null: str = "shuffle",
    data: Any = None,
) -> Comparison:
    """:func:`~unitscope.match.compare` for torch recordings: activation matching of every
    recorded layer at checkpoint ``step``; arguments as there.

    ``method="weights"``, ``barrier`` and ``repair`` need the networks and their permutation
    spec, which a recording alone cannot provide: they are refused with what to do instead.
    """
    if method not in METHODS:
        raise unknown_name("matching method", method, METHODS)
    if null not in NULLS:
        raise unknown_name("null", null, NULLS)
    check_seed("seed", seed)
    if rec_b is not None:
        check_torch_pair(rec_a, rec_b)
    if method == "weights" or barrier or repair:
        asked = "weight matching" if method == "weights" else "the loss barrier"
        raise UnitscopeError(
            f"{asked} of a torch recording needs the networks and their permutation spec: "
            "rebuild the members with rec.modules('pkg.module:factory') and use "
            "match.weights / match.interpolate on them, or match this recording with "
            "method='activations' and barrier=False (--method activations --no-barrier)."
        )
    other = rec_a if rec_b is None else rec_b
    pairs = resolve_pairs(rec_a, rec_b, members)
    t = rec_a.step_index(step)
    step_value = int(rec_a.steps[t])
    tb = other.step_index(step_value)
    ia, jb = [i for i, _ in pairs], [j for _, j in pairs]
    start = time.perf_counter()
    units: dict[str, ActivationMatch] = {}
    for layer in rec_a.layers:
        a = rec_a.acts[layer][t][ia]  # (P, n, U)
        b = other.acts[layer][tb][jb]  # (P, n, U)
        units[layer] = activations(
            a, b, layout="KND", seed=seed, null=_null(other, layer, jb, null)
        )
    perms = {layer: m.perm for layer, m in units.items()}
    return Comparison(
        pairs, step_value, method, units, perms, None, seconds=time.perf_counter() - start
    )


def _null(rec: Recording, layer: str, members: list[int], null: str) -> Any:
    """``"shuffle"``, or B's members' activations at step 0 for ``"untrained"``."""
    if null == "shuffle":
        return null
    if int(rec.steps[0]) != 0:
        raise UnitscopeError(
            f"null='untrained' needs the step-0 checkpoint, but the first checkpoint is step "
            f"{int(rec.steps[0])}; record step 0 or use null='shuffle'."
        )
    return rec.acts[layer][0][members]  # (P, n, U)
