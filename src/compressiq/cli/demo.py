"""``compressiq demo``: the built-in models on the built-in fresh text, then their leaderboard."""

from __future__ import annotations

import argparse
from typing import Any

from compressiq.cli import options

DEMO_MODELS = ("smollm2-135m", "gemma3-270m")


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="score the built-in models on the built-in fresh text and print a leaderboard")
    options.add_score(p)
    options.add_device(p)
    p.add_argument("--corpus", default="demo", help="built-in corpus (default: demo; sample is the full 2 MB)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compressiq.analysis.leaderboard import leaderboard
    from compressiq.core.corpus import load_corpus
    from compressiq.core.runner import score

    corpus = load_corpus(args.corpus, args.limit)
    config = options.config_from(args)
    endpoint = options.endpoint_from(args)
    runs = []
    for name in DEMO_MODELS:
        print(f"scoring {name} on {corpus.name} ({len(corpus.documents)} documents)", flush=True)
        runs.append(score(name, corpus, config, args.results, args.batch_tokens, not args.quiet, endpoint,
                          hardware=options.hardware_from(args)))  # fmt: skip
    print()
    print(leaderboard(runs))
    print(
        f"\nstored in {args.results / 'results.sqlite'}; per-run details: compressiq results --results {args.results}"
    )
    return 0
