"""Statistics of BPC against benchmark scores; pure functions on arrays: no I/O, no plotting.

The paper's claim is a straight line: average benchmark score against BPC, Pearson about -0.95.
With tens of models a correlation is uncertain, so every coefficient comes with a bootstrap
interval (models resampled with a seeded generator), and the line comes with the RMSE of its
residuals and a logarithmic rival (score against log BPC) to show whether "linear" is earned.
scipy is imported lazily: only the rank and t-quantile helpers need it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from compressiq.errors import CompressiqError, missing_extra

Array = NDArray[np.float64]
RESAMPLES = 10_000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """An estimate and its bootstrap percentile interval at ``level`` (e.g. 0.95)."""

    value: float
    low: float
    high: float
    level: float = LEVEL


@dataclass(frozen=True)
class Line:
    """``score ≈ slope · f(bpc) + intercept``, with the RMSE of the residuals (f = identity or log)."""

    slope: float
    intercept: float
    rmse: float
    log: bool = False

    def __call__(self, bpc: Array) -> Array:
        x = np.log(bpc) if self.log else bpc
        return np.asarray(self.slope * x + self.intercept, dtype=np.float64)


@dataclass(frozen=True)
class Fit:
    """Everything the report says about one area: correlations, both lines, and which fits better."""

    n: int
    pearson: Interval
    spearman: Interval
    linear: Line
    logarithmic: Line

    @property
    def better(self) -> str:
        """``linear`` unless the log fit has the smaller RMSE (ties go to the simpler, linear)."""
        return "logarithmic" if self.logarithmic.rmse < self.linear.rmse else "linear"


def check_pair(x: Array, y: Array, minimum: int = 3) -> None:
    """Refuse what would give a meaningless number: unequal lengths, too few points, NaN/inf."""
    if x.shape != y.shape or x.ndim != 1:
        raise CompressiqError(f"x and y must be 1-D arrays of one length, got {x.shape} and {y.shape}")
    if len(x) < minimum:
        raise CompressiqError(f"a fit needs at least {minimum} models, got {len(x)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise CompressiqError("x and y must be finite numbers (no NaN or infinity)")


def pearson_rows(x: Array, y: Array) -> Array:
    """Pearson r along the last axis; NaN where either row is constant (r is undefined there).

    Example: x = [1, 2, 3], y = [2, 4, 7]: centred x = [-1, 0, 1], y = [-2.33, -0.33, 2.67],
    r = 5 / sqrt(2 · 12.67) = 0.9934.
    """
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((xc * xc).sum(axis=-1) * (yc * yc).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(axis=-1) / den
    return np.asarray(np.where(den > 0, np.clip(r, -1.0, 1.0), np.nan), dtype=np.float64)


def ranks(x: Array) -> Array:
    """Average ranks (1-based, ties share their mean rank) along the last axis."""
    try:
        from scipy.stats import rankdata
    except ImportError as e:
        raise missing_extra("scipy", "analysis") from e
    return np.asarray(rankdata(x, axis=-1), dtype=np.float64)


def spearman_rows(x: Array, y: Array) -> Array:
    """Spearman's rho: Pearson r of the average ranks, along the last axis."""
    return pearson_rows(ranks(x), ranks(y))


def bootstrap(
    statistic: Callable[[Array, Array], Array],
    x: Array,
    y: Array,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> Interval:
    """``statistic`` on the pairs, and its percentile interval over pairs resampled with replacement.

    ``statistic`` works row-wise on (resamples, n) arrays. Resamples on which it is undefined (a
    resample that drew one model n times has no correlation) are left out of the percentiles;
    if more than half are, the interval is refused rather than guessed.
    """
    check_pair(x, y)
    value = float(statistic(x, y))
    if math.isnan(value):
        raise CompressiqError("the statistic is undefined on these values (is one of them constant?)")
    idx = np.random.default_rng(seed).integers(0, len(x), size=(resamples, len(x)))
    stats = statistic(x[idx], y[idx])
    stats = stats[np.isfinite(stats)]
    if len(stats) < resamples / 2:
        raise CompressiqError(f"the bootstrap is undefined on most resamples of these {len(x)} values")
    low, high = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return Interval(value, float(low), float(high), level)


def pearson(x: Array, y: Array, resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL) -> Interval:
    """Pearson's r of ``x`` and ``y`` with a seeded bootstrap interval over the pairs (see ``correlation``)."""
    return bootstrap(pearson_rows, x, y, resamples, seed, level)


def spearman(x: Array, y: Array, resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL) -> Interval:
    """Spearman's rank correlation of ``x`` and ``y`` with a seeded bootstrap interval over the pairs."""
    return bootstrap(spearman_rows, x, y, resamples, seed, level)


def bpc_interval(
    bits: Array, characters: Array, resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL
) -> Interval:
    """BPC of a corpus and its interval over documents resampled with replacement.

    Each resample's BPC is Σbits / Σcharacters of the documents it drew, never a mean of
    per-document ratios. Example: documents (20 bits, 10 chars) and (40 bits, 30 chars) give
    60 / 40 = 1.5; the resample {first, first} gives 40 / 20 = 2.0.
    """
    if bits.shape != characters.shape or bits.ndim != 1 or len(bits) == 0:
        raise CompressiqError("per-document bits and characters must be 1-D arrays of one non-zero length")
    if characters.sum() <= 0 or (characters < 0).any():
        raise CompressiqError("characters must be non-negative with a positive sum")
    idx = np.random.default_rng(seed).integers(0, len(bits), size=(resamples, len(bits)))
    chars = characters[idx].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = bits[idx].sum(axis=1) / chars
    stats = stats[chars > 0]  # a resample of only empty documents has no BPC
    low, high = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(bits.sum() / characters.sum()), float(low), float(high), level)


def fit_line(bpc: Array, score: Array, log: bool = False) -> Line:
    """Least squares ``score = slope · bpc + intercept`` (or of ``log bpc``), and its residual RMSE.

    RMSE = sqrt(mean(residual²)), the paper's "root mean square error". Example: bpc = [1, 2, 3],
    score = [2, 4, 7] gives slope 2.5, intercept -0.667, residuals [0.167, -0.333, 0.167], RMSE 0.236.
    """
    check_pair(bpc, score)
    if log and (bpc <= 0).any():
        raise CompressiqError("a logarithmic fit needs positive BPC values")
    x = np.log(bpc) if log else bpc
    if np.ptp(x) == 0:
        raise CompressiqError("all models have the same BPC: no line through them")
    slope, intercept = np.polyfit(x, score, 1)
    residuals = score - (slope * x + intercept)
    return Line(float(slope), float(intercept), float(np.sqrt(np.mean(residuals**2))), log)


def band(bpc: Array, score: Array, line: Line, grid: Array, level: float = LEVEL) -> tuple[Array, Array]:
    """Confidence band of the fitted mean score at ``grid``: ŷ ± t·s·sqrt(1/n + (x-x̄)²/Σ(x-x̄)²).

    ``s`` is the residual standard error with n - 2 degrees of freedom, ``t`` Student's quantile;
    the band is for the line, not for a new model's score.
    """
    try:
        from scipy.stats import t as student
    except ImportError as e:
        raise missing_extra("scipy", "analysis") from e
    check_pair(bpc, score)
    n = len(bpc)
    x = np.log(bpc) if line.log else bpc
    g = np.log(grid) if line.log else grid
    s = line.rmse * math.sqrt(n / (n - 2)) if n > 2 else 0.0
    half = (
        float(student.ppf((1 + level) / 2, n - 2))
        * s
        * np.sqrt(1 / n + (g - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum())
    )
    centre = line(grid)
    return centre - half, centre + half


def fit(bpc: Array, score: Array, resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL) -> Fit:
    """Both correlations with intervals, the linear and the logarithmic line: one area's story."""
    return Fit(
        len(bpc),
        pearson(bpc, score, resamples, seed, level),
        spearman(bpc, score, resamples, seed, level),
        fit_line(bpc, score),
        fit_line(bpc, score, log=True),
    )
