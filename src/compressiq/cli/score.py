"""``compressiq score``: one model on one corpus, into the store; prints the run's totals."""

from __future__ import annotations

import argparse
from typing import Any

from compressiq.cli import options

# What ``score --json`` prints, in this order, as its last line.
JSON_KEYS = ("model", "corpus", "bpc", "bits_per_byte", "bits", "characters", "bytes", "tokens", "documents",
             "block", "stride", "seconds", "run_id")  # fmt: skip

EXAMPLES = """examples:
  compressiq score --model smollm2-135m --corpus sample:cc --limit 20
  compressiq score --model gemma3-270m --corpus texts/ --window-chars 7600 --stride-chars 2048
  compressiq score --model ./my-model.gguf --corpus data.jsonl --protocol paper --json
  compressiq score --model smollm2-135m --corpus sample --backend llamacpp
  compressiq score --model smollm2-135m --corpus sample --ray --workers 2     # or --ray HOST:6379
  compressiq score --model org/70b-model --corpus sample --device-map auto    # bf16, sharded over the GPUs
  compressiq score --model org/8b-model --corpus sample --gpus 8 --batch-tokens auto   # 8 replicas, one store
  compressiq score --model org/big-model --corpus sample --backend openai --base-url http://127.0.0.1:8000/v1
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "score", help="score a model on a corpus", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    options.add_model(p)
    p.add_argument(
        "--corpus", required=True, help="sample, demo, sample:cc, a .jsonl/.parquet file, a folder, or a dataset id"
    )
    options.add_score(p)
    options.add_device(p)
    options.add_ray(p)
    options.add_trust(p)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compressiq.core.corpus import load_corpus
    from compressiq.core.runner import score
    from compressiq.core.store import record, summary

    corpus = load_corpus(args.corpus, args.limit)
    run = score(
        args.model,
        corpus,
        options.config_from(args),
        args.results,
        args.batch_tokens,
        progress=not args.quiet,
        endpoint=options.endpoint_from(args),
        ray=_ray_from(args),
        trust_remote_code=args.trust_remote_code,
        hardware=options.hardware_from(args),
    )
    print(options.table(summary(run)))
    if args.json:
        rec = record(run, "all", run.totals) | {"seconds": round(run.seconds, 3)}
        print(options.to_json({key: rec[key] for key in JSON_KEYS}))
    return 0


def _ray_from(args: argparse.Namespace) -> Any:
    if args.ray is None:
        return None
    from compressiq.core.cluster import RayOptions

    return RayOptions(args.ray or None, args.workers, args.worker_cpus, args.worker_gpus)
