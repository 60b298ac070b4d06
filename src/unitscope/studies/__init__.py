"""Studies: named experiments that put each claim of the seed question to the test.

Each study module has ``NAME``, ``TITLE``, ``QUESTION`` and ``run(scale, progress)`` returning
a :class:`StudyResult` of Findings (verdicts computed from numbers by the module's
``verdict_*`` functions), figure specs and every measured number.

==================== ========================================================================
``symmetry``         identical units stay identical unless something breaks the symmetry
``capacity``         units differ because differing fits better
``diversity``        does training make units more alike or more different?
``convex``           the convex case has one answer; exchangeable features get equal weights
``restarts``         non-convexity: different seeds, different solutions, same units reordered?
``regularization``   L1 pins weights near zero; L2 and dropout change how alike units are
``feature_maps``     the CNN case: feature maps of one layer compute different things
``saddle``           a duplicated unit is a critical point; is it a saddle?
``init_scale``       lazy or condensed: the scale of the start decides whether units become alike
``spawn``            copies of one run that differ in one source: is it only the initialization?
``rebasin``          the same units in another order: barriers before and after matching by width
``correspondence``   can B use A's units; do the matches of many seeds agree; is the basis shared?
==================== ========================================================================
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .._errors import unknown_name
from ._common import SCALES, Scale
from ._finding import FigureSpec, Finding, StudyResult

NAMES = (
    "symmetry",
    "capacity",
    "diversity",
    "convex",
    "restarts",
    "regularization",
    "feature_maps",
    "saddle",
    "init_scale",
    "spawn",
    "rebasin",
    "correspondence",
)

__all__ = ["NAMES", "SCALES", "FigureSpec", "Finding", "Scale", "StudyResult", "get", "run"]


def get(name: str) -> ModuleType:
    """The module of study ``name`` (did-you-mean on a typo)."""
    if name not in NAMES:
        raise unknown_name("study", name, NAMES)
    return importlib.import_module(f"{__name__}.{name}")


def run(name: str, scale: Scale = "small") -> StudyResult:
    """Run study ``name`` at ``scale`` (``tiny``, ``small`` or ``full``)."""
    return get(name).run(scale)
