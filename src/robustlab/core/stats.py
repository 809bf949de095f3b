"""Numbers with their uncertainty: the intervals every verdict is read from.

Every model of a run sees the *same* test images (and, for paper A, the same corruption draws), so
a difference between two models or two cells is a *paired* quantity: the interval is computed by
resampling the shared items (images) jointly for every array (:func:`bootstrap`), never as if the
samples were independent. Where a quantity was measured with several training seeds, the interval
is over the seeds instead (:func:`over_seeds`, Student's t), which also covers the models'
seed-to-seed variation; :func:`estimate` picks between the two.

All intervals are two-sided 95 % by default (``level``). :class:`Estimate` holds a value, its
interval and how the interval was obtained, and formats itself.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["LEVEL", "N_BOOT", "Estimate", "bootstrap", "over_seeds", "estimate", "wilson", "t_quantile", "spearman"]

#: Two-sided confidence level of every interval.
LEVEL = 0.95
#: Bootstrap resamples (percentile intervals; the Monte-Carlo error of a 95 % bound is ~0.1 sd).
N_BOOT = 2000


@dataclass(frozen=True)
class Estimate:
    """A number with its ``level`` interval [``lo``, ``hi``]; ``method`` says how the interval was
    obtained ("bootstrap over 1000 images", "t over 3 seeds", "Wilson", "none"), ``n`` the sample
    size behind it. NaN value/bounds mean "not measurable"."""

    value: float
    lo: float
    hi: float
    method: str = "none"
    n: int = 0

    @property
    def finite(self) -> bool:
        return bool(np.isfinite(self.value) and np.isfinite(self.lo) and np.isfinite(self.hi))

    def scaled(self, k: float) -> Estimate:
        """The estimate times ``k`` (k > 0), e.g. 100 for percent."""
        return Estimate(self.value * k, self.lo * k, self.hi * k, self.method, self.n)

    def fmt(self, scale: float = 1.0, digits: int = 2, unit: str = "", sign: bool = False) -> str:
        """``"12.3 [10.1, 14.2] unit"`` (``sign``: with a leading +/-)."""
        if not np.isfinite(self.value):
            return "n/a"
        f = f"{{:{'+' if sign else ''}.{digits}f}}"
        body = f.format(self.value * scale)
        if np.isfinite(self.lo) and np.isfinite(self.hi):
            body += f" [{f.format(self.lo * scale)}, {f.format(self.hi * scale)}]"
        return body + unit

    def interval(self) -> tuple[float, float] | None:
        return (self.lo, self.hi) if self.finite else None


def _nan(method: str = "none", n: int = 0) -> Estimate:
    return Estimate(float("nan"), float("nan"), float("nan"), method, n)


#: Student's t quantiles of a two-sided 95 % interval for 1..30 degrees of freedom (beyond: normal).
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)


def t_quantile(df: int, level: float = LEVEL) -> float:
    """Student's t quantile of a two-sided ``level`` interval with ``df`` degrees of freedom (scipy
    when installed; without it, a table for the 95 % level)."""
    if df < 1:
        raise ValueError(f"t_quantile: df must be >= 1, got {df}")
    try:
        # optional: scipy's t quantiles when installed
        from scipy import stats
    except ImportError:
        if abs(level - 0.95) > 1e-12:
            raise ValueError(f"t_quantile: level {level} needs scipy (only 0.95 is tabulated)") from None
        return _T95[df - 1] if df <= len(_T95) else 1.960
    return float(stats.t.ppf(0.5 + level / 2, df))


def over_seeds(values, level: float = LEVEL) -> Estimate:
    """Mean of per-seed ``values`` (1-D; NaN entries dropped) with a Student-t interval; a single
    value gets no interval (NaN bounds)."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return _nan("t over 0 seeds")
    m = float(v.mean())
    if len(v) == 1:
        return Estimate(m, float("nan"), float("nan"), "one seed", 1)
    h = t_quantile(len(v) - 1, level) * float(v.std(ddof=1)) / math.sqrt(len(v))
    return Estimate(m, m - h, m + h, f"t over {len(v)} seeds", len(v))


def bootstrap(stat: Callable[..., float], *arrays, n_boot: int = N_BOOT, seed: int = 0,
              level: float = LEVEL, what: str = "images") -> Estimate:
    """``stat(*arrays)`` with a paired percentile-bootstrap interval: the items of the *last* axis
    (shared by every array: the same images) are resampled with replacement, jointly for all arrays.

    ``stat`` maps arrays of the given shapes to a float (NaN allowed: such resamples are dropped;
    when more than half are NaN the interval is NaN). Deterministic for a given ``seed``.
    """
    arrays = [np.asarray(a) for a in arrays]
    n = arrays[0].shape[-1]
    if any(a.shape[-1] != n for a in arrays):
        raise ValueError(f"bootstrap: the arrays' last axes (the shared items) differ: {[a.shape for a in arrays]}")
    if n == 0:
        return _nan(f"bootstrap over 0 {what}")
    value = float(stat(*arrays))
    rng = np.random.default_rng(seed)
    draws = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        draws[b] = stat(*(a[..., idx] for a in arrays))
    ok = draws[np.isfinite(draws)]
    method = f"bootstrap over {n} {what}"
    if len(ok) < n_boot / 2 or not np.isfinite(value):
        return Estimate(value, float("nan"), float("nan"), method, n)
    a = (1 - level) / 2
    lo, hi = np.quantile(ok, [a, 1 - a])
    return Estimate(value, float(lo), float(hi), method, n)


def estimate(stat: Callable[..., float], *arrays, n_boot: int = N_BOOT, seed: int = 0,
             level: float = LEVEL, what: str = "images") -> Estimate:
    """``stat`` over arrays shaped (n_seeds, ..., n_items): with several seeds, the mean of the
    per-seed values with a t interval over seeds (:func:`over_seeds`); with one seed, the paired
    bootstrap over the items (:func:`bootstrap`)."""
    arrays = [np.asarray(a) for a in arrays]
    k = arrays[0].shape[0]
    if any(a.shape[0] != k for a in arrays):
        raise ValueError(f"estimate: the arrays' first axes (seeds) differ: {[a.shape for a in arrays]}")
    if k >= 2:
        per_seed = [float(stat(*(a[r] for a in arrays))) for r in range(k)]
        if sum(np.isfinite(per_seed)) >= 2:
            return over_seeds(per_seed, level)
    return bootstrap(stat, *(a[0] for a in arrays), n_boot=n_boot, seed=seed, level=level, what=what)


def wilson(k: float, n: int, level: float = LEVEL) -> Estimate:
    """A proportion k/n with its Wilson score interval (NaN for n = 0)."""
    if n <= 0:
        return _nan("Wilson", 0)

    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return Estimate(p, max(0.0, c - h), min(1.0, c + h), "Wilson", int(n))


def spearman(x, y, min_n: int = 2, nan_policy: str = "omit") -> float:
    """Spearman's rank correlation of two vectors of equal length (average ranks for ties).

    ``nan_policy``: ``"omit"`` drops the pairs where either value is not finite, ``"propagate"``
    returns NaN when any value is not finite. NaN as well when fewer than ``min_n`` pairs are left
    or either side is constant (no ranking to compare)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if nan_policy == "propagate" and not ok.all():
        return float("nan")
    if nan_policy not in ("omit", "propagate"):
        raise ValueError(f"nan_policy={nan_policy!r}: must be 'omit' or 'propagate'")
    if ok.sum() < max(2, min_n):
        return float("nan")

    def rank(v: np.ndarray) -> np.ndarray:
        _, inv, cnt = np.unique(v, return_inverse=True, return_counts=True)
        return ((np.cumsum(cnt) - (cnt - 1) / 2)[inv]).astype(float)

    rx, ry = rank(x[ok]), rank(y[ok])
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])
