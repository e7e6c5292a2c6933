"""``compressiq leaderboard``: models x subsets BPC, best first; with ``--scores``, the fit per area."""

from __future__ import annotations

import argparse
from typing import Any

from compressiq.cli import options


def register(sub: Any) -> None:
    from compressiq.analysis.tables import FORMATS

    p = sub.add_parser("leaderboard", help="models x subsets BPC, best first; with --scores, the fit per area")
    options.add_analysis(p)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compressiq.analysis import tables
    from compressiq.analysis.leaderboard import gather, render
    from compressiq.analysis.report import fit_records
    from compressiq.analysis.scores import fit_areas, read_scores

    entries = gather(args.results, args.reference)
    print(render(entries, args.format))
    if args.scores:
        fits = fit_areas(read_scores(args.scores), [(e.model, e.bpc) for e in entries])
        print()
        print(tables.render(fit_records(fits), args.format))
    return 0
