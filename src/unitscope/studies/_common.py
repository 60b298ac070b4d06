"""Helpers shared by the studies: scales, statistics, configs and safe parts."""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
from scipy import stats

from .._errors import UnitscopeError
from ..train import Config
from ._finding import StudyResult

Scale = Literal["tiny", "small", "full"]
SCALES = ("tiny", "small", "full")


def pick(scale: Scale, tiny: Any, small: Any, full: Any) -> Any:
    """The value for ``scale``: tiny runs in the test suite, small in the demo."""
    if scale not in SCALES:
        raise UnitscopeError(f"`scale` must be one of {SCALES}, got {scale!r}.")
    return {"tiny": tiny, "small": small, "full": full}[scale]


def config(**sections: dict[str, Any]) -> Config:
    """A Config from keyword sections: ``config(model={"hidden": [8]}, train={...})``."""
    return Config.from_dict(sections)


def mean_ci(values: Any, level: float = 0.95) -> dict[str, float]:
    """Mean and a t confidence interval over seeds (NaNs dropped)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": math.nan, "lo": math.nan, "hi": math.nan, "n": 0}
    m = float(v.mean())
    if v.size < 2:
        return {"mean": m, "lo": m, "hi": m, "n": 1}
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return {"mean": m, "lo": m - half, "hi": m + half, "n": int(v.size)}


def fmt(x: float, digits: int = 3) -> str:
    """A number for a summary sentence: 3 significant digits, scientific when tiny."""
    if x is None or not np.isfinite(x):
        return "nan"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


@contextmanager
def part(
    result: StudyResult, name: str, progress: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Run one part of a study; a failure is recorded in ``result.failures`` and the study
    goes on with its other parts. ``progress`` is told the part's name as it starts."""
    if progress is not None:
        progress(f"{result.name}: {name}")
    try:
        yield
    except Exception as err:  # noqa: BLE001 - a failed part must not lose the others
        where = traceback.extract_tb(err.__traceback__)[-1]
        result.failures.append(
            f"{name}: {type(err).__name__}: {err} "
            f"({where.filename.rsplit('/', 1)[-1]}:{where.lineno})"
        )


ProgressFn = Callable[[str], None]


def no_progress(_: str) -> None:
    return None


def share_verdict(flags: list[bool]) -> str:
    """``supported`` when every case agrees with the claim, ``refuted`` when none does,
    ``mixed`` otherwise, ``inconclusive`` without cases."""
    if not flags:
        return "inconclusive"
    if all(flags):
        return "supported"
    return "refuted" if not any(flags) else "mixed"


def rounding_tolerance(dtype: str, scale: float) -> float:
    """Spread still at rounding level: 1000 machine epsilons times the weights' scale."""
    eps = np.finfo(np.float64 if dtype == "float64" else np.float32).eps
    return float(1000 * eps * max(1.0, scale))
