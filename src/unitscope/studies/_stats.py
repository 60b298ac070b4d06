"""Statistics every finding uses: intervals over seeds, Holm's correction, verdicts decided
from intervals, and words generated from verdicts.

Seeds are the independent units of every study. A statistic of *pairs* of seeds (a barrier,
a matched correlation) is not a sample of independent values: :func:`pair_interval` resamples
seeds and recomputes the mean over the pairs among the drawn seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from .._errors import UnitscopeError
from ._common import fmt
from ._finding import Interval, Verdict

LEVEL = 0.95
N_BOOT = 2000


def _finite(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[np.isfinite(v)]


def t_interval(values: Any, level: float = LEVEL, *, half_scale: float = 1.0) -> Interval:
    """Mean of ``values`` (one per seed, NaNs dropped) with a Student-t interval.

    ``half_scale`` widens the half-width (used by :func:`holm_intervals`). With one value the
    interval is unbounded; with none, NaN.

    >>> iv = t_interval([1.0, 2.0, 3.0])
    >>> round(iv.value, 6), round(iv.hi - iv.value, 4), iv.n
    (2.0, 2.4841, 3)
    """
    v = _finite(values)
    if v.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0, level)
    m = float(v.mean())
    if v.size < 2:
        return Interval(m, -math.inf, math.inf, 1, level)
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1)) * sd / math.sqrt(v.size) * half_scale
    return Interval(m, m - half, m + half, int(v.size), level, "t")


def min_detectable(values: Any, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable effect: the smallest true mean (a change, a difference from a
    threshold) that a two-sided one-sample t-test at level ``alpha`` finds with probability
    ``power``, from the seed-to-seed SD and the number n of ``values`` (NaNs dropped):
    ``(t_{1-α/2, n-1} + t_{power, n-1}) · SD / √n``.

    ``inf`` with fewer than 2 values. Pass ``alpha / m`` for one of m Holm-corrected tests.

    >>> v = np.linspace(-1, 1, 16)
    >>> round(min_detectable(v / v.std(ddof=1)), 3)  # SD 1, n = 16
    0.749
    """
    v = _finite(values)
    if v.size < 2:
        return math.inf
    df = v.size - 1
    z = float(stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df))
    return z * float(v.std(ddof=1)) / math.sqrt(v.size)


def exact(value: float) -> Interval:
    """A deterministic number (no seed-to-seed variation), as a zero-width interval."""
    return Interval(float(value), float(value), float(value), 1, 1.0, "exact")


def bootstrap_interval(
    samples: Sequence[Any],
    statistic: Callable[[list[Any]], float],
    *,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap of ``statistic`` over independent ``samples`` (one per seed),
    resampled with replacement."""
    n = len(samples)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, level, "bootstrap")
    value = float(statistic(list(samples)))
    if n < 2:
        return Interval(value, -math.inf, math.inf, 1, level, "bootstrap")
    rng = np.random.default_rng(seed)
    draws = np.array(
        [statistic([samples[i] for i in rng.integers(0, n, n)]) for _ in range(n_boot)]
    )
    draws = draws[np.isfinite(draws)]
    lo, hi = np.quantile(draws, [0.5 - level / 2, 0.5 + level / 2])
    return Interval(value, float(lo), float(hi), n, level, "bootstrap")


def pair_matrix(K: int, pairs: Sequence[tuple[int, int]], values: Any) -> list[list[float]]:
    """A symmetric (K, K) matrix (as lists) from one value per pair of seeds; NaN elsewhere.

    >>> pair_matrix(3, [(0, 1), (1, 2)], [0.5, 0.25])[1]
    [0.5, nan, 0.25]
    """
    m = np.full((K, K), np.nan)
    for (i, j), v in zip(pairs, np.asarray(values, dtype=np.float64)):
        m[i, j] = m[j, i] = v
    return m.tolist()


def pair_interval(
    matrix: Any, *, level: float = LEVEL, n_boot: int = N_BOOT, seed: int = 0
) -> Interval:
    """Mean of a statistic over pairs of seeds, with an interval that resamples *seeds*.

    Args:
        matrix: ``(K, K)``, entry ``[i, j]`` the statistic of seeds i and j (NaN where not
            measured; the diagonal is ignored; the matrix need not be symmetric).

    A bootstrap draw picks K seeds with replacement and averages the entries of the distinct
    drawn seeds' pairs, so the interval reflects K independent seeds, not K(K-1)/2 pairs.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise UnitscopeError(f"`matrix` must be square (K, K), got shape {m.shape}.")
    K = m.shape[0]
    off = ~np.eye(K, dtype=bool)

    def mean_of(idx: np.ndarray) -> float:
        sub = m[np.ix_(idx, idx)]
        keep = (idx[:, None] != idx[None, :]) & np.isfinite(sub)
        return float(sub[keep].mean()) if keep.any() else math.nan

    value = float(np.nanmean(np.where(off, m, np.nan))) if K > 1 else math.nan
    if K < 3:
        return Interval(value, -math.inf, math.inf, K, level, "bootstrap")
    rng = np.random.default_rng(seed)
    draws = np.array([mean_of(np.asarray(rng.integers(0, K, K))) for _ in range(n_boot)])
    draws = draws[np.isfinite(draws)]
    lo, hi = np.quantile(draws, [0.5 - level / 2, 0.5 + level / 2])
    return Interval(value, float(lo), float(hi), K, level, "bootstrap")


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (same order as given).

    >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    order = np.argsort(p)
    m = p.size
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def one_sided_p(values: Any, threshold: float, *, greater: bool) -> float:
    """p-value of the one-sample t-test that the mean exceeds (``greater``) or falls short of
    ``threshold``; NaN with fewer than 2 values; 0 or 1 when the values do not vary."""
    v = _finite(values)
    if v.size < 2:
        return math.nan
    if float(v.std(ddof=1)) == 0.0:
        return 0.0 if (v[0] > threshold if greater else v[0] < threshold) else 1.0
    alt = "greater" if greater else "less"
    return float(stats.ttest_1samp(v, threshold, alternative=alt).pvalue)


def holm_intervals(groups: Mapping[Any, Any], level: float = LEVEL) -> dict[Any, Interval]:
    """Simultaneous t intervals for a family of conditions: each at level
    ``1 - (1 - level) / m`` (Bonferroni, the conservative end of Holm's step-down), so all m
    hold together at ``level``."""
    m = max(len(groups), 1)
    each = 1 - (1 - level) / m
    out = {}
    for key, values in groups.items():
        iv = t_interval(values, each)
        out[key] = Interval(iv.value, iv.lo, iv.hi, iv.n, level, "holm" if m > 1 else "t")
    return out


def interval_verdict(iv: Interval, threshold: float, *, greater: bool = True) -> Verdict:
    """``supported`` when the whole interval is on the claimed side of ``threshold``,
    ``refuted`` when it is wholly on the other side, ``inconclusive`` when it straddles.

    >>> interval_verdict(Interval(0.5, 0.2, 0.8, 8), 0.1)
    'supported'
    >>> interval_verdict(Interval(0.5, 0.2, 0.8, 8), 0.3)
    'inconclusive'
    """
    if not iv.finite:
        return "inconclusive"
    if greater:
        return (
            "supported"
            if iv.above(threshold)
            else "refuted"
            if iv.below(threshold)
            else ("inconclusive")
        )
    return (
        "supported"
        if iv.below(threshold)
        else "refuted"
        if iv.above(threshold)
        else ("inconclusive")
    )


def family_verdict(verdicts: Sequence[Verdict]) -> Verdict:
    """One verdict for a claim tested under several conditions: ``supported`` or
    ``refuted`` when all agree, ``mixed`` when some of each, ``inconclusive`` otherwise."""
    if not verdicts:
        return "inconclusive"
    if all(v == "supported" for v in verdicts):
        return "supported"
    if all(v == "refuted" for v in verdicts):
        return "refuted"
    if "supported" in verdicts and "refuted" in verdicts:
        return "mixed"
    if all(v == "inconclusive" for v in verdicts):
        return "inconclusive"
    return "mixed"


def worded(verdict: str, **phrases: str) -> str:
    """The phrase for ``verdict``: a caption or title generated from the verdict, never
    written with an outcome in it by hand. ``phrases`` maps verdict names to text; ``other``
    is the fallback.

    >>> worded("refuted", supported="units stay alike", other="units do not stay alike")
    'units do not stay alike'
    """
    if verdict in phrases:
        return phrases[verdict]
    if "other" in phrases:
        return phrases["other"]
    raise UnitscopeError(f"no phrase for verdict {verdict!r}; give it or `other`.")


def fmt_interval(iv: Interval, digits: int = 3) -> str:
    """``0.52 [0.41, 0.63], n=8`` for a summary sentence."""
    return f"{fmt(iv.value, digits)} [{fmt(iv.lo, digits)}, {fmt(iv.hi, digits)}], n={iv.n}"
