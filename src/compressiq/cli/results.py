"""``compressiq results``: stored runs (or one run's documents) as a table, CSV or JSON."""

from __future__ import annotations

import argparse
from typing import Any

from compressiq.cli import options


def register(sub: Any) -> None:
    p = sub.add_parser("results", help="table of stored results; export as CSV or JSON")
    options.add_results(p)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--documents", metavar="RUN_ID", help="per-document rows of one run instead")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compressiq.analysis import tables
    from compressiq.core.store import Store, summary

    store = Store(args.results, readonly=True)
    try:
        if args.documents:
            cols = ("doc", "subset", "nats", "characters", "bytes", "tokens")
            records = [dict(zip(cols, row)) for row in store.document_rows(args.documents)]
        else:
            records = [rec for run in store.runs() for rec in summary(run)]
    finally:
        store.close()
    if args.format == "json":
        print(options.to_json(records, indent=1))
    elif args.format == "csv":
        print(tables.render(records, "csv"))
    else:
        print(options.table(records) if records else f"no results in {args.results}")
    return 0
