"""``compressiq baselines``: classical compressors scored like models (8 bits per compressed byte)."""

from __future__ import annotations

import argparse
from typing import Any

from compressiq.cli import options


def register(sub: Any) -> None:
    p = sub.add_parser("baselines", help="classical compressors (gzip-9 ... ppmd) as models: 8 bits per output byte")
    p.add_argument("--corpus", default="sample", help="as for score (default: %(default)s)")
    p.add_argument(
        "--compressor",
        action="append",
        help="one of gzip-9, bz2-9, xz-9e, zstd-19, brotli-11, ppmd (repeat; default all)",
    )
    p.add_argument("--granularity", choices=["per-document", "whole-corpus", "both"], default="both")
    options.add_results(p)
    options.add_limit(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compressiq.backends import compressors
    from compressiq.core.corpus import load_corpus
    from compressiq.core.store import summary

    corpus = load_corpus(args.corpus, args.limit)
    kinds = compressors.GRANULARITIES if args.granularity == "both" else (args.granularity,)
    names = args.compressor or compressors.NAMES
    runs = [compressors.score_compressor(n, corpus, g, args.results) for n in names for g in kinds]
    print(options.table([rec for run in runs for rec in summary(run)]))
    return 0
