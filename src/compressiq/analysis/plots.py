"""Figures: score against BPC with the fits; BPC per subset as bars; the paper's Figure 1 and panels.

The paper's figures can carry stored runs, placed on the lines with their prediction intervals.

Each function returns the encoded image (PNG or SVG bytes), so the report can embed it and the
CLI can write it; nothing here computes a statistic. matplotlib is imported lazily, with the
headless Agg backend, and every figure is closed after it is encoded.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from compressiq.analysis.leaderboard import Entry, averaged, subsets_of
from compressiq.analysis.paper import Recomputed
from compressiq.analysis.predict import Placement
from compressiq.analysis.scores import AREA_TITLES, AreaData
from compressiq.analysis.stats import Fit, band
from compressiq.errors import missing_extra

FORMATS = ("png", "svg")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as e:
        raise missing_extra("matplotlib", "analysis") from e
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "compressiq"  # the same figure gives the same SVG
    matplotlib.rcParams["text.parse_math"] = False  # model names are text: "$x$" is not mathtext
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


def line_panel(fit: Recomputed, placed: Sequence[Placement] = (), fmt: str = "png") -> bytes:
    """One of the paper's figures: score against BPC, named models, the line, r and RMSE in the corner.

    The overall line is Figure 1, an area's average its panel. The log fit is dashed beside the line.
    Stored runs placed on the line are red: a diamond at the predicted score with its prediction
    interval, a cross at the real score when known; a run not comparable to the published BPC is
    hollow and says so in its label.
    """
    plt = _pyplot()
    s = fit.series
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    grid = np.linspace(min([*s.bpc, *(p.bpc for p in placed)]), max([*s.bpc, *(p.bpc for p in placed)]), 100)
    ax.plot(grid, fit.linear(grid), color="tab:blue", label=f"linear, RMSE {fit.linear.rmse:.3f}")
    ax.plot(grid, fit.logarithmic(grid), "--", color="tab:orange", label=f"log, RMSE {fit.logarithmic.rmse:.3f}")
    ax.scatter(s.bpc, s.score, color="black", s=14, zorder=3)
    for name, x, y in zip(s.models, s.bpc, s.score):
        ax.annotate(name, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=6)
    for p in placed:
        _placed(ax, p)
    corner = f"ρ = {fit.pearson:.3f}\nRMSE = {fit.linear.rmse:.3f}\nn = {len(s.models)}"
    ax.text(0.97, 0.97, corner, transform=ax.transAxes, ha="right", va="top", fontsize=10)
    title = AREA_TITLES.get(s.area, "Overall (Figure 1)")
    ax.set_title(f"{title}: {s.benchmark.lower()} score against BPC")
    ax.set_xlabel(f"BPC on {s.subset} (lower is better)")
    ax.set_ylabel(f"{s.benchmark.lower()} score (0-1)")
    ax.legend(fontsize=7, loc="lower left")
    return _encode(fig, fmt)


def _placed(ax: Any, p: Placement) -> None:
    face = "tab:red" if p.comparable else "none"
    err = [[p.linear.value - p.linear.low], [p.linear.high - p.linear.value]]
    ax.errorbar([p.bpc], [p.linear.value], yerr=err, fmt="D", color="tab:red", mfc=face, capsize=3, zorder=4)
    if p.actual is not None:
        ax.scatter([p.bpc], [p.actual], marker="x", color="tab:red", zorder=4)
    label = p.model if p.comparable else f"{p.model} (not comparable)"
    ax.annotate(label, (p.bpc, p.linear.value), xytext=(4, -9), textcoords="offset points", fontsize=6, color="tab:red")
