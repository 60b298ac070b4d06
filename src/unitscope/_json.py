"""One way to make numbers JSON-able: numpy to Python, NaN and ±Inf to ``null``.

The CLI's ``--json`` output, ``findings.json``, the report's ``results.json`` and the arrays
inside the report page all go through :func:`to_jsonable`; they differ only in what becomes
of an array (a list, a summary, a base64 code) and in whether an unknown object is refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ._errors import UnitscopeError


def to_jsonable(
    obj: Any,
    *,
    array: Callable[[np.ndarray], Any] | None = None,
    refuse: str | None = None,
) -> Any:
    """A copy of ``obj`` that ``json.dumps(..., allow_nan=False)`` accepts.

    Dicts (keys made strings), lists and tuples are walked; numpy scalars become Python
    numbers; a float that is NaN or infinite becomes ``None``.

    Args:
        obj: numbers, strings, ``None``, dicts, lists, tuples, numpy arrays and scalars.
        array: what an array becomes (its result is made JSON-able in turn); default: nested
            lists.
        refuse: where the output goes (e.g. ``"a report"``): any other kind of object is then
            refused with a :class:`UnitscopeError` naming it; without ``refuse`` it is kept.

    Example:
        >>> to_jsonable({"a": np.array([1.0, np.nan]), 2: (np.float32(0.5), float("inf"))})
        {'a': [1.0, None], '2': [0.5, None]}
    """
    if isinstance(obj, np.ndarray):
        return to_jsonable(array(obj) if array is not None else obj.tolist(), refuse=refuse)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, array=array, refuse=refuse) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, array=array, refuse=refuse) for v in obj]
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item(), refuse=refuse)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if refuse is None or obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise UnitscopeError(
        f"cannot put a {type(obj).__name__} in {refuse}; use numbers, strings, lists, dicts "
        "and numpy arrays."
    )
