"""The report: one self-contained HTML file with the leaderboard, plots, fits and every run's settings.

Self-contained means a reader can mail it or open it offline: images are SVG data URIs, styles
are inline, there is no script and no external resource. It is written to a temporary file and
renamed, so a report that exists is whole. Stored runs also get a per-document bootstrap
interval of their BPC, because a 20-document corpus gives a less certain number than 2,000.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

from compressiq.analysis import paper, plots
from compressiq.analysis.leaderboard import Entry, gather, records
from compressiq.analysis.predict import Placement, display, not_comparable, place
from compressiq.analysis.scores import AREA_TITLES, AreaData, fit_areas, read_scores
from compressiq.analysis.stats import Fit, Interval, bpc_interval
from compressiq.cache import write_atomic
from compressiq.core.store import RunRow, Store

DOCUMENT_RESAMPLES = 2000
STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.85em}td,th{border:1px solid #ccc;padding:.25em .5em}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%;display:block}
code{font-size:.8em;white-space:pre-wrap}"""


@dataclass(frozen=True)
class Report:
    """What the page shows; ``intervals`` maps (run id, subset) to the BPC's document bootstrap."""

    entries: list[Entry]
    fits: list[tuple[AreaData, Fit]]
    intervals: dict[tuple[str, str], Interval]
    paper: Paper | None = None


@dataclass(frozen=True)
class Paper:
    """The paper's coefficients recomputed, its lines, and the comparable stored runs placed on them."""

    rows: list[paper.Row]
    lines: list[paper.Recomputed]
    placed: list[Placement]
    unplaced: list[str]  # stored runs not comparable to the published BPC, each with the reason


def build(results: Path, ref: str | None, scores: Path | None, seed: int = 0) -> Report:
    """Gather stored runs and reference rows, fit the scores if given, bootstrap each stored run."""
    entries = gather(results, ref)
    fits = fit_areas(read_scores(scores), [(e.model, e.bpc) for e in entries], seed=seed) if scores else []
    runs = [e.run for e in entries if e.run is not None]
    intervals = document_intervals(results, runs, seed) if runs else {}
    return Report(entries, fits, intervals, reproduction(runs) if ref == "paper" else None)


def reproduction(runs: Sequence[RunRow]) -> Paper:
    """The paper's section: its coefficients recomputed; only comparable runs are placed on its lines."""
    lines = paper.lines()
    comparable = [r for r in runs if not not_comparable(r)]
    unplaced = [f"{r.model} ({not_comparable(r)})" for r in runs if not_comparable(r)]
    return Paper(paper.reproduce(), lines, place(comparable, lines, {}), unplaced)


def document_intervals(results: Path, runs: Sequence[RunRow], seed: int = 0) -> dict[tuple[str, str], Interval]:
    """Per run and subset, BPC with its interval over resampled documents (Σbits / Σcharacters)."""
    store = Store(results, readonly=True)
    try:
        rows = {r.run_id: store.document_rows(r.run_id) for r in runs}
    finally:
        store.close()
    out = {}
    for run_id, docs in rows.items():
        for subset in sorted({d[1] for d in docs}):
            mine = [d for d in docs if d[1] == subset and d[3] > 0]
            if mine:
                bits = np.array([d[2] for d in mine]) / math.log(2)
                chars = np.array([d[3] for d in mine], dtype=np.float64)
                out[(run_id, subset)] = bpc_interval(bits, chars, DOCUMENT_RESAMPLES, seed)
    return out


def fit_records(fits: Sequence[tuple[AreaData, Fit]]) -> list[dict[str, str]]:
    """One row of text cells per area: correlations with intervals, both lines, the better fit."""
    return [
        {
            "area": d.area,
            "subset": d.subset,
            "models": str(f.n),
            "pearson": f"{f.pearson.value:.3f}",
            f"pearson {f.pearson.level:.0%} CI": f"[{f.pearson.low:.3f}, {f.pearson.high:.3f}]",
            "spearman": f"{f.spearman.value:.3f}",
            f"spearman {f.spearman.level:.0%} CI": f"[{f.spearman.low:.3f}, {f.spearman.high:.3f}]",
            "slope": f"{f.linear.slope:.4g}",
            "intercept": f"{f.linear.intercept:.4g}",
            "RMSE linear": f"{f.linear.rmse:.4g}",
            "RMSE log": f"{f.logarithmic.rmse:.4g}",
            "better fit": f.better,
        }
        for d, f in fits
    ]


def render(report: Report) -> str:
    """The whole page as one HTML string."""
    runs = [e.run for e in report.entries if e.run is not None]
    parts = [
        "<h2>Leaderboard</h2>",
        _table(records(report.entries), "leaderboard"),
        _image(plots.bars(report.entries, "svg"), "BPC per subset"),
    ]
    if report.fits:
        parts += ["<h2>Benchmark score against BPC</h2>", _table(fit_records(report.fits), "fits")]
        parts += [
            _image(plots.scatter(d, f, "svg"), f"{AREA_TITLES[d.area]}: score against BPC") for d, f in report.fits
        ]
    if report.paper:
        parts += _paper_section(report.paper)
    if runs:
        parts += [
            "<h2>Stored runs: BPC with document bootstrap</h2>",
            _table(_interval_rows(runs, report), "intervals"),
        ]
        parts += ["<h2>Stored runs: settings and versions</h2>", _table(_run_rows(runs), "runs")]
    title = "compressiq report"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body><h1>{title}</h1>"
        f"<p>compressiq {html.escape(version('compressiq'))}. BPC = Σbits / Σcharacters; lower is better. "
        f"Paper rows are the published numbers (paper protocol) and are not re-measured.</p>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def _interval_rows(runs: Sequence[RunRow], report: Report) -> list[dict[str, str]]:
    return [
        {
            "model": r.model,
            "corpus": r.corpus,
            "subset": s,
            "documents": str(r.subsets[s].documents),
            "BPC": f"{iv.value:.4f}",
            f"{iv.level:.0%} CI": f"[{iv.low:.4f}, {iv.high:.4f}]",
            "run": r.run_id,
        }
        for r in runs
        for s in r.subsets
        if (iv := report.intervals.get((r.run_id, s))) is not None
    ]


def _run_rows(runs: Sequence[RunRow]) -> list[dict[str, str]]:
    return [
        {
            "run": r.run_id,
            "model": r.model,
            "corpus": r.corpus,
            "block/stride": f"{r.block}/{r.stride}",
            "documents": f"{r.totals.documents}/{r.documents}",
            "seconds": f"{r.seconds:.1f}",
            "finished": r.finished or "no",
            "settings": json.dumps(r.settings, sort_keys=True),
            "versions": json.dumps(r.versions, sort_keys=True),
        }
        for r in runs
    ]


def _paper_section(p: Paper) -> list[str]:
    """Figure 1 and the area panels beside the recomputed table; comparable stored runs on the lines."""
    choices = "".join(f"<li>{html.escape(c)}</li>" for c in paper.CHOICES)
    parts = [
        "<h2>The paper's result, recomputed from its printed tables</h2>",
        "<p>Huang et al. 2024, arXiv 2404.09937v2, Tables 4–9 and Figure 1. Choices, as the paper's:</p>",
        f"<ul>{choices}</ul>",
        _table(paper.display(p.rows), "paper"),
    ]
    titles = {"overall": "Figure 1: overall"} | {a: f"{AREA_TITLES[a]}: average" for a in AREA_TITLES}
    for fit in p.lines:
        placed = [x for x in p.placed if x.area == fit.series.area]
        parts.append(_image(plots.line_panel(fit, placed, "svg"), f"{titles[fit.series.area]} score against BPC"))
    if p.placed:
        parts += ["<h3>Stored runs on the paper's lines</h3>", _table(display(p.placed), "placed")]
    if p.unplaced:
        why = html.escape("; ".join(p.unplaced))
        parts.append(f"<p>Not placed, not comparable to the published BPC: {why}.</p>")
    return parts


def _table(rows: Sequence[dict[str, str]], name: str) -> str:
    if not rows:
        return f'<p id="{name}">none</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td{_class(v)}>{_cell(k, v)}</td>" for k, v in r.items()) + "</tr>\n" for r in rows
    )
    return f'<table id="{name}"><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>'


def _class(value: str) -> str:
    return ' class="n"' if value.replace(".", "", 1).lstrip("-").isdigit() else ""


def _cell(key: str, value: str) -> str:
    if key in ("settings", "versions"):
        return f"<code>{html.escape(value)}</code>"
    return html.escape(value) if value else "–"


def _image(svg: bytes, alt: str) -> str:
    data = base64.b64encode(svg).decode("ascii")
    return f'<figure><img src="data:image/svg+xml;base64,{data}" alt="{html.escape(alt)}"></figure>'


def write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see ``cache.write_atomic``)."""
    write_atomic(path, text)
