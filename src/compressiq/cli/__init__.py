"""The ``compressiq`` command: parse, call the library, print. Errors become one line on stderr.

Each command is one module here with ``register(sub)``, which adds its parser and its function;
options several commands share are defined once, in ``options``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from compressiq.cli import (
    baselines,
    compress,
    decompress,
    demo,
    leaderboard,
    models,
    report,
    reproduce,
    results,
    score,
    serve,
)
from compressiq.collect import command as collect
from compressiq.errors import CompressiqError

COMMANDS = (
    demo, score, baselines, compress, decompress, collect, serve, models, results, leaderboard, report, reproduce,
)  # fmt: skip
INTERRUPTED = "interrupted; finished documents are stored, rerun to continue"

EXAMPLES = """examples:
  compressiq demo                                   # built-in models on the built-in fresh text
  compressiq score --model smollm2-135m --corpus sample:cc --limit 20
  compressiq score --model gemma3-270m --corpus texts/ --window-chars 7600 --stride-chars 2048
  compressiq score --model ./my-model.gguf --corpus data.jsonl --protocol paper --json
  compressiq score --model smollm2-135m --corpus sample --backend llamacpp
  compressiq score --model smollm2-135m --corpus sample --ray --workers 2     # or --ray HOST:6379
  compressiq score --model org/big-model --corpus sample --backend openai --base-url http://127.0.0.1:8000/v1
  compressiq baselines --corpus sample --compressor xz-9e --compressor zstd-19   # classical compressors
  compressiq compress --model smollm2-135m notes.txt notes.ciqz && compressiq decompress notes.ciqz notes.txt
  compressiq serve --model smollm2-135m --backend llamacpp --port 8000   # for --backend openai elsewhere
  compressiq models
  compressiq results --format csv > results.csv
  compressiq leaderboard --reference paper --format markdown
  compressiq leaderboard --scores scores.csv        # plus Pearson, CI and RMSE per area
  compressiq report --reference paper --scores lm-eval-results/ --out report.html
  compressiq collect cc crawl/*.warc.gz --since 2025-01-01 --out corpora/cc   # build a fresh corpus
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names; 0 on success, 2 with one error line, 130 when interrupted."""
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CompressiqError as e:
        print(f"compressiq: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"compressiq: {getattr(args, 'interrupted', INTERRUPTED)}", file=sys.stderr)
        return 130


def parser() -> argparse.ArgumentParser:
    """The argument parser: every command module's ``register``, in the order ``--help`` lists them."""
    p = argparse.ArgumentParser(
        prog="compressiq",
        description="Bits per character of language models on fresh text.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return p


if __name__ == "__main__":
    raise SystemExit(main())
