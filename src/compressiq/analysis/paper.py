"""The paper's claim recomputed from its own printed tables: every Pearson r and RMSE beside the print.

Huang et al. 2024 (arXiv 2404.09937v2) print each model's benchmark scores and BPC in Tables 4, 6
and 8, and the coefficients in Tables 5, 7, 9 and Figure 1. All of them ship in ``data/reference``
(``PROVENANCE.md`` says where each number was read). The recomputation makes the paper's choices:

- knowledge ↔ ``cc``, coding ↔ ``python``, math ↔ ``arxiv_math`` (an area's BPC is on its subset);
- scores on a 0-1 scale (the tables print percentages);
- in math, Qwen-7b, Qwen-14b and Qwen-72b left out (the paper's MIN-K% check suggests contamination);
- overall (Figure 1): the mean of the three area averages against the mean of the three BPCs, over
  the 19 general models (those in all three tables). The recipe the paper's Appendix A.3 describes,
  the mean of all 12 benchmarks, is shown beside it: it does not give the printed -0.931.

Pearson r and the line's RMSE (sqrt of the mean squared residual, the paper's "e") come from
``stats``; the logarithmic fit (score against log BPC) is shown beside the line with its RMSE.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from compressiq.analysis.scores import AREAS
from compressiq.analysis.stats import Array, Line, fit_line, pearson_rows

TOLERANCE = 0.002  # the print has three decimals: a larger gap is a real difference, and is said
AVERAGE = "Average"
OVERALL = "overall"
ALL_BENCHMARKS = "Average of 12 benchmarks"
EXCLUDED = {"math": ("Qwen-7b", "Qwen-14b", "Qwen-72b")}
EXCLUDED_WHY = "contaminated (the paper's MIN-K% check)"
CHOICES = (
    "areas against subsets as in the paper: knowledge ↔ cc, coding ↔ python, math ↔ arxiv_math",
    "scores on a 0–1 scale (the tables print percentages)",
    f"math without {', '.join(EXCLUDED['math'])}: {EXCLUDED_WHY}",
    "overall (Figure 1): the mean of the three area averages against the mean of the three BPCs, over the 19 "
    f"general models; '{ALL_BENCHMARKS}' is the recipe the paper's Appendix A.3 describes",
    f"a recomputed value more than {TOLERANCE} from the print is noted in its row",
)


@dataclass(frozen=True)
class Series:
    """One fit's points, ordered by BPC: x is BPC on ``subset``, y a score on the 0-1 scale."""

    area: str
    benchmark: str
    subset: str
    models: tuple[str, ...]
    bpc: Array
    score: Array


@dataclass(frozen=True)
class Published:
    """A coefficient as the paper prints it: Pearson r and the linear fit's RMSE, and where."""

    area: str
    benchmark: str
    pearson: float
    rmse: float
    where: str


@dataclass(frozen=True)
class Row:
    """One published coefficient beside its recomputation, the log fit's RMSE, and a note on gaps."""

    area: str
    benchmark: str
    models: int
    published: float
    recomputed: float
    rmse_published: float
    rmse_recomputed: float
    rmse_log: float
    where: str
    note: str


@dataclass(frozen=True)
class Recomputed:
    """What a series gives: Pearson r, the linear line and the logarithmic one."""

    series: Series
    pearson: float
    linear: Line
    logarithmic: Line


def _csv(name: str) -> list[dict[str, str]]:
    text = resources.files("compressiq").joinpath("data/reference", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def scores() -> dict[str, dict[str, dict[str, float]]]:
    """Area -> model -> benchmark -> score on the 0-1 scale, from the paper's Tables 4, 6 and 8."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for r in _csv("paper_scores.csv"):
        out.setdefault(r["area"], {}).setdefault(r["model"], {})[r["benchmark"]] = float(r["score"]) / 100
    return out


def bpc() -> dict[str, dict[str, float]]:
    """Model -> subset -> BPC as printed beside the scores (Tables 4, 6 and 8)."""
    out: dict[str, dict[str, float]] = {}
    for r in _csv("paper_bpc_appendix.csv"):
        out.setdefault(r["model"], {})[r["subset"]] = float(r["bpc"])
    return out


def published() -> list[Published]:
    """The coefficients the paper prints, in its order: areas' benchmarks and averages, then overall."""
    return [
        Published(r["area"], r["benchmark"], float(r["pearson"]), float(r["rmse"]), r["where"])
        for r in _csv("paper_coefficients.csv")
    ]


def benchmarks(area: str) -> list[str]:
    """An area's benchmarks in the paper's column order, without the average."""
    seen = {b: None for m in scores()[area].values() for b in m}
    return [b for b in seen if b != AVERAGE]


def general_models() -> list[str]:
    """The 19 models with scores in all three areas (code and math models are in one area only)."""
    table = scores()
    return sorted(set.intersection(*(set(table[a]) for a in AREAS)))


def series(area: str, benchmark: str, exclude: bool = True) -> Series:
    """The points of one coefficient; ``exclude=False`` keeps the models the paper left out."""
    if area == OVERALL:
        return _overall(benchmark)
    table, subset = scores()[area], AREAS[area]
    models = [m for m in table if not (exclude and m in EXCLUDED.get(area, ()))]
    return _ordered(
        area, benchmark, subset, models, [bpc()[m][subset] for m in models], [table[m][benchmark] for m in models]
    )


def _overall(benchmark: str) -> Series:
    """Figure 1: per general model, the mean of its three BPCs and of its area averages (or benchmarks)."""
    table, bpcs, models = scores(), bpc(), general_models()
    x = [float(np.mean([bpcs[m][s] for s in AREAS.values()])) for m in models]
    columns = {a: benchmarks(a) if benchmark == ALL_BENCHMARKS else [AVERAGE] for a in AREAS}
    y = [float(np.mean([table[a][m][b] for a in AREAS for b in columns[a]])) for m in models]
    return _ordered(OVERALL, benchmark, "mean of " + ", ".join(AREAS.values()), models, x, y)


def _ordered(
    area: str, benchmark: str, subset: str, models: Sequence[str], x: Sequence[float], y: Sequence[float]
) -> Series:
    order = np.argsort(np.asarray(x), kind="stable")
    return Series(
        area,
        benchmark,
        subset,
        tuple(models[i] for i in order),
        np.asarray(x, dtype=np.float64)[order],
        np.asarray(y, dtype=np.float64)[order],
    )


def recompute(s: Series) -> Recomputed:
    """Pearson r, the least-squares line and the log line of one series."""
    return Recomputed(s, float(pearson_rows(s.bpc, s.score)), fit_line(s.bpc, s.score), fit_line(s.bpc, s.score, True))


def lines() -> list[Recomputed]:
    """The lines a new model is placed on: each area's average, then Figure 1's overall line."""
    return [recompute(series(a, AVERAGE)) for a in (*AREAS, OVERALL)]


def reproduce() -> list[Row]:
    """Every printed coefficient beside its recomputation, in the paper's order."""
    return [_row(p, recompute(series(p.area, p.benchmark))) for p in published()]


def _row(p: Published, r: Recomputed) -> Row:
    return Row(
        p.area,
        p.benchmark,
        len(r.series.models),
        p.pearson,
        r.pearson,
        p.rmse,
        r.linear.rmse,
        r.logarithmic.rmse,
        p.where,
        _note(p, r),
    )


def _note(p: Published, r: Recomputed) -> str:
    """Empty when both numbers are within ``TOLERANCE`` of the print; else the gap, and a likelier recipe."""
    gaps = [(name, got - want) for name, got, want in (("ρ", r.pearson, p.pearson), ("RMSE", r.linear.rmse, p.rmse))]
    far = [f"{name} differs by {gap:+.3f}" for name, gap in gaps if abs(gap) > TOLERANCE]
    if not far:
        return ""
    if p.area in EXCLUDED:
        kept = recompute(series(p.area, p.benchmark, exclude=False)).pearson
        if abs(kept - p.pearson) < abs(r.pearson - p.pearson):
            far.append(f"with {', '.join(EXCLUDED[p.area])} kept: ρ {kept:.3f}, nearer the print")
    if p.benchmark == ALL_BENCHMARKS:
        far.append("the recipe the text describes does not give Figure 1's value; the mean of the area averages does")
    return "; ".join(far)


def records(rows: Sequence[Row]) -> list[dict[str, object]]:
    """Rows for ``tables.render`` and JSON: the documented keys first, then the log fit and the note."""
    return [
        {
            "area": r.area,
            "benchmark": r.benchmark,
            "models": r.models,
            "published": r.published,
            "recomputed": r.recomputed,
            "rmse_published": r.rmse_published,
            "rmse_recomputed": r.rmse_recomputed,
            "rmse_log": r.rmse_log,
            "where": r.where,
            "note": r.note,
        }
        for r in rows
    ]


def display(rows: Sequence[Row]) -> list[dict[str, str]]:
    """Rows as the paper prints them, three decimals, with the gap beside each printed number."""
    return [
        {
            "area": r.area,
            "benchmark": r.benchmark,
            "models": str(r.models),
            "ρ published": f"{r.published:.3f}",
            "ρ recomputed": f"{r.recomputed:.3f}",
            "Δρ": _gap(r.recomputed, r.published),
            "RMSE published": f"{r.rmse_published:.3f}",
            "RMSE recomputed": f"{r.rmse_recomputed:.3f}",
            "ΔRMSE": _gap(r.rmse_recomputed, r.rmse_published),
            "RMSE log fit": f"{r.rmse_log:.3f}",
            "where": r.where,
            "note": r.note,
        }
        for r in rows
    ]


def _gap(got: float, want: float) -> str:
    return f"{round(got - want, 3) + 0.0:+.3f}"  # + 0.0: a gap that rounds to zero shows as +0.000, not -0.000
