"""``compressiq reproduce paper``: the paper's coefficients recomputed from its tables; where stored runs land."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compressiq.cli import options
from compressiq.errors import CompressiqError

if TYPE_CHECKING:
    from compressiq.analysis.paper import Recomputed, Row
    from compressiq.analysis.predict import Placement

EXAMPLES = """examples:
  compressiq reproduce paper                               # every coefficient beside the published one
  compressiq reproduce paper --format json                 # the same rows for scripts
  compressiq reproduce paper --plots figures/ --plot-format svg    # Figure 1 and the three area panels
  compressiq reproduce paper --with-stored --scores mine.csv       # your runs on the lines, with residuals
  compressiq reproduce paper --with-stored --allow-other-corpus    # runs on other corpora too, marked
"""
FIGURES = {"overall": "figure1", "knowledge": "knowledge", "coding": "coding", "math": "math"}


def register(sub: Any) -> None:
    from compressiq.analysis.tables import FORMATS

    p = sub.add_parser(
        "reproduce",
        help="the paper's correlations recomputed from its printed tables; where stored runs land on its lines",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", choices=["paper"], help="paper: Huang et al. 2024, arXiv 2404.09937v2")
    p.add_argument("--format", choices=[*FORMATS, "json"], default="table")
    p.add_argument(
        "--with-stored",
        action="store_true",
        help="place the stored runs on each area's line: the predicted score with its 95%% prediction interval",
    )
    options.add_results(p)
    p.add_argument(
        "--allow-other-corpus",
        action="store_true",
        help="with --with-stored: also place runs not on the paper's corpus with --protocol paper, marked",
    )
    p.add_argument(
        "--scores", type=Path, help="with --with-stored: your models' real scores on a 0-1 scale, for the residuals"
    )
    p.add_argument("--plots", type=Path, metavar="DIR", help="write Figure 1 and the three area panels into DIR")
    p.add_argument("--plot-format", choices=["png", "svg"], default="png")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compressiq.analysis import paper, predict

    if not args.with_stored and (args.allow_other_corpus or args.scores):
        raise CompressiqError("--allow-other-corpus and --scores go with --with-stored")
    rows = paper.reproduce()
    lines = paper.lines()
    placed = _placed(args, lines) if args.with_stored else []
    if args.format == "json":
        doc = {"choices": list(paper.CHOICES), "rows": paper.records(rows), "placed": predict.records(placed)}
        print(json.dumps(doc, indent=1, ensure_ascii=False))
    else:
        print(_text(args.format, rows, placed))
    if args.plots:
        _write_plots(args.plots, args.plot_format, lines, placed)
    return 0


def _placed(args: argparse.Namespace, lines: list[Recomputed]) -> list[Placement]:
    from compressiq.analysis import predict
    from compressiq.analysis.leaderboard import stored_runs
    from compressiq.analysis.scores import area_means, read_scores

    runs = stored_runs(args.results)
    predict.check_comparable(runs, args.allow_other_corpus, str(args.results))
    actual = area_means(read_scores(args.scores)) if args.scores else {}
    predict.check_scale(actual)
    return predict.place(runs, lines, actual)


def _text(fmt: str, rows: list[Row], placed: list[Placement]) -> str:
    from compressiq.analysis import paper, predict, tables

    parts = []
    if fmt != "csv":
        title = "The paper's result recomputed from its printed tables (Huang et al. 2024, arXiv 2404.09937v2):"
        parts.append("\n".join([title, *(f"- {c}" for c in paper.CHOICES)]))
    parts.append(tables.render(paper.display(rows) if fmt != "csv" else paper.records(rows), fmt))
    if placed:
        if fmt != "csv":
            parts.append("Stored runs on the lines (predicted score on a 0-1 scale; residual = actual - predicted):")
        parts.append(tables.render(predict.display(placed) if fmt != "csv" else predict.records(placed), fmt))
    return "\n\n".join(parts)


def _write_plots(folder: Path, fmt: str, lines: list[Recomputed], placed: list[Placement]) -> None:
    from compressiq.analysis import plots

    folder.mkdir(parents=True, exist_ok=True)
    for fit in lines:
        path = folder / f"{FIGURES[fit.series.area]}.{fmt}"
        options.write_output(path, plots.line_panel(fit, [p for p in placed if p.area == fit.series.area], fmt))
        print(f"wrote {path}", file=sys.stderr)  # stdout stays the table (or JSON) alone
