"""Figures: score against BPC per area with the fitted line and its band; BPC per subset as bars.

Each function returns the encoded image (PNG or SVG bytes), so the report can embed it and the
CLI can write it; nothing here computes a statistic. matplotlib is imported lazily, with the
headless Agg backend, and every figure is closed after it is encoded.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from compressiq.analysis import Fit, band
from compressiq.errors import missing_extra
from compressiq.leaderboard import Entry, averaged, subsets_of
from compressiq.scores import AREA_TITLES, AreaData

FORMATS = ("png", "svg")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as e:
        raise missing_extra("matplotlib", "analysis") from e
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "compressiq"  # the same figure gives the same SVG
    import matplotlib.pyplot as plt

    return plt


def _encode(figure: Any, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    out = io.BytesIO()
    figure.savefig(out, format=fmt, dpi=110, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None)
    _pyplot().close(figure)
    return out.getvalue()


def scatter(data: AreaData, fit: Fit, fmt: str = "png") -> bytes:
    """Score against BPC, one labelled point a model, the linear fit with its band, the log fit dashed."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    grid = np.linspace(data.bpc.min(), data.bpc.max(), 100)
    low, high = band(data.bpc, data.score, fit.linear, grid, fit.pearson.level)
    ax.fill_between(grid, low, high, alpha=0.2, color="tab:blue", label=f"{fit.pearson.level:.0%} band of the line")
    ax.plot(grid, fit.linear(grid), color="tab:blue", label=f"linear, RMSE {fit.linear.rmse:.3g}")
    ax.plot(grid, fit.logarithmic(grid), "--", color="tab:orange", label=f"log, RMSE {fit.logarithmic.rmse:.3g}")
    ax.scatter(data.bpc, data.score, color="black", s=14, zorder=3)
    for name, x, y in zip(data.models, data.bpc, data.score):
        ax.annotate(name, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=6)
    p = fit.pearson
    ax.set_title(f"{AREA_TITLES[data.area]}: Pearson {p.value:.3f} [{p.low:.3f}, {p.high:.3f}], n = {fit.n}")
    ax.set_xlabel(f"BPC on {data.subset} (lower is better)")
    ax.set_ylabel("mean benchmark score")
    ax.legend(fontsize=7)
    return _encode(fig, fmt)


def bars(entries: Sequence[Entry], fmt: str = "png") -> bytes:
    """BPC per subset for every row, grouped bars a model, best average at the top."""
    plt = _pyplot()
    subsets = subsets_of(entries)
    ordered = [e for e, _ in averaged(entries)[1]][::-1]
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.28 * len(ordered) * max(1, len(subsets)) ** 0.5))
    height = 0.8 / max(1, len(subsets))
    y = np.arange(len(ordered))
    for k, s in enumerate(subsets):
        values = [e.bpc.get(s, 0.0) for e in ordered]  # a missing subset draws no bar (width 0)
        ax.barh(y + ((len(subsets) - 1) / 2 - k) * height, values, height, label=s)
    ax.set_yticks(y, [f"{e.model} [{e.source}]" for e in ordered], fontsize=7)
    ax.set_xlabel("bits per character (lower is better)")
    ax.legend(fontsize=7)
    return _encode(fig, fmt)
