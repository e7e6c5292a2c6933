"""``compressiq report``: one self-contained HTML file: leaderboard, plots, fits, run settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from compressiq.cli import options


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="one self-contained HTML file: leaderboard, plots, fits, run settings")
    options.add_analysis(p)
    p.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compressiq.analysis import report

    report.write(args.out, report.render(report.build(args.results, args.reference, args.scores)))
    print(f"wrote {args.out}")
    return 0
