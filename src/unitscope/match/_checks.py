"""Checks at the boundary of matching: two models or recordings that can be compared."""

from __future__ import annotations

from typing import Any

from .._errors import UnitscopeError
from ..models import UnitModel


def same_architecture(spec_a: Any, spec_b: Any, what: str = "models") -> None:
    """Raise unless the two architecture specs are equal."""
    if spec_a != spec_b:
        raise UnitscopeError(
            f"the {what} have different architectures ({_short(spec_a)} vs {_short(spec_b)}); "
            "only runs of the same architecture can be matched."
        )


def _short(spec: Any) -> str:
    if not isinstance(spec, dict):
        return repr(spec)
    keys = ("kind", "hidden", "channels", "activation", "in_features", "out_features")
    return ", ".join(f"{k}={spec[k]!r}" for k in keys if k in spec) or repr(spec)


def pair_models(model_a: UnitModel, model_b: UnitModel) -> tuple[UnitModel, UnitModel]:
    """Check the architectures and broadcast a 1-member model to the other's K members.

    Pair k is member k of A with member k of B; the returned models both hold P members.
    """
    for name, m in (("model_a", model_a), ("model_b", model_b)):
        if not isinstance(m, UnitModel):
            raise UnitscopeError(
                f"`{name}` must be a unitscope model (MLP, SmallCNN), got {type(m).__name__}."
            )
    same_architecture(getattr(model_a, "spec", None), getattr(model_b, "spec", None))
    Ka, Kb = model_a.members, model_b.members
    if Ka == Kb:
        return model_a, model_b
    if Ka == 1:
        return type(model_a).stack([model_a] * Kb), model_b
    if Kb == 1:
        return model_a, type(model_b).stack([model_b] * Ka)
    raise UnitscopeError(
        f"model A has {Ka} members and model B {Kb}; pair k is member k of A with member k of "
        "B, so give both the same K (or one of them K=1), e.g. with `model.select([i])`."
    )
