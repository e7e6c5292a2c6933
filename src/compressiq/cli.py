"""The ``compressiq`` command: parse, call the library, print. Errors become one line on stderr."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compressiq.cache import write_atomic_bytes
from compressiq.cluster import RayOptions
from compressiq.collect import command as collect_command
from compressiq.corpus import load_corpus
from compressiq.errors import CompressiqError
from compressiq.leaderboard import FORMATS, format_rows, gather, leaderboard, render
from compressiq.models import registry
from compressiq.runner import ScoreConfig, score
from compressiq.server import Endpoint
from compressiq.store import Store, record, summary, to_csv

# What ``score --json`` prints, in this order, as its last line.
JSON_KEYS = ("model", "corpus", "bpc", "bits_per_byte", "bits", "characters", "bytes", "tokens", "documents",
             "block", "stride", "seconds", "run_id")  # fmt: skip
DEFAULT_RESULTS = Path("compressiq-results")
DEMO_MODELS = ("smollm2-135m", "gemma3-270m")

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
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CompressiqError as e:
        print(f"compressiq: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("compressiq: interrupted; finished documents are stored, rerun to continue", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="compressiq",
        description="Bits per character of language models on fresh text.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    s = sub.add_parser(
        "score", help="score a model on a corpus", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    s.add_argument("--model", required=True, help="registry name, .gguf file, model folder, or hub id")
    s.add_argument(
        "--corpus", required=True, help="sample, demo, sample:cc, a .jsonl/.parquet file, a folder, or a dataset id"
    )
    _score_options(s)
    s.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    s.set_defaults(func=_score)
    d = sub.add_parser("demo", help="score the built-in models on the built-in fresh text and print a leaderboard")
    _score_options(d)
    d.add_argument("--corpus", default="demo", help="built-in corpus (default: demo; sample is the full 2 MB)")
    d.set_defaults(func=_demo)
    b = sub.add_parser("baselines", help="classical compressors (gzip-9 ... ppmd) as models: 8 bits per output byte")
    b.add_argument("--corpus", default="sample", help="as for score (default: %(default)s)")
    b.add_argument(
        "--compressor",
        action="append",
        help="one of gzip-9, bz2-9, xz-9e, zstd-19, brotli-11, ppmd (repeat; default all)",
    )
    b.add_argument("--granularity", choices=["per-document", "whole-corpus", "both"], default="both")
    b.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results directory (default: %(default)s)")
    b.add_argument("--limit", type=int, help="only the first N documents")
    b.set_defaults(func=_baselines)
    c = sub.add_parser("compress", help="compress a file with a language model (arithmetic coding)")
    c.add_argument("--model", required=True, help="registry name, .gguf file, or model folder")
    c.add_argument("input", type=Path)
    c.add_argument("output", type=Path)
    c.add_argument("--chunk-tokens", type=int, default=512, help="tokens per independently coded chunk")
    c.add_argument("--batch", type=int, default=128, help="chunks coded side by side (the model runs batched)")
    c.set_defaults(func=_compress)
    x = sub.add_parser("decompress", help="restore a file made by compress (needs the same model)")
    x.add_argument("input", type=Path)
    x.add_argument("output", type=Path)
    x.add_argument("--model", help="where to find the model (default: the name in the file)")
    x.set_defaults(func=_decompress)
    collect_command.add_parser(sub)
    sv = sub.add_parser("serve", help="serve a model's prompt log-probabilities (OpenAI /v1/completions)")
    sv.add_argument("--model", required=True, help="registry name, .gguf file, model folder, or hub id")
    sv.add_argument("--backend", choices=["transformers", "llamacpp"], default="transformers")
    sv.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    sv.add_argument("--host", default="127.0.0.1", help="(default: %(default)s; 0.0.0.0 to listen on all)")
    sv.add_argument("--port", type=int, default=8000)
    sv.set_defaults(func=_serve)
    m = sub.add_parser("models", help="list the model registry")
    m.set_defaults(func=_models)
    r = sub.add_parser("results", help="table of stored results; export as CSV or JSON")
    r.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results directory (default: %(default)s)")
    r.add_argument("--format", choices=["table", "csv", "json"], default="table")
    r.add_argument("--documents", metavar="RUN_ID", help="per-document rows of one run instead")
    r.set_defaults(func=_results)
    lb = sub.add_parser(
        "leaderboard",
        help="models x subsets BPC, best first; with --scores, the fit per area",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _analysis_options(lb)
    lb.add_argument("--format", choices=FORMATS, default="table")
    lb.set_defaults(func=_leaderboard)
    rp = sub.add_parser(
        "report",
        help="one self-contained HTML file: leaderboard, plots, fits, run settings",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _analysis_options(rp)
    rp.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    rp.set_defaults(func=_report)
    return p


def _analysis_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results directory (default: %(default)s)")
    p.add_argument("--reference", choices=["paper"], help="add the published rows (paper: the 2024 paper's table)")
    p.add_argument(
        "--scores", type=Path, help="benchmark scores: CSV/JSON (model, benchmark, score, area) or lm-eval results"
    )


def _score_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results directory (default: %(default)s)")
    p.add_argument("--block", type=int, default=1900, help="window in tokens (default: %(default)s)")
    p.add_argument("--stride", type=int, default=512, help="stride in tokens (default: %(default)s)")
    p.add_argument("--window-chars", type=int, help="window in characters, converted per model")
    p.add_argument("--stride-chars", type=int, help="stride in characters (with --window-chars)")
    p.add_argument(
        "--protocol", choices=["exact", "paper"], default="exact", help="paper: the original script's accounting"
    )
    p.add_argument("--prefix-token", help="token each document is predicted from (default: registry's, else BOS)")
    p.add_argument(
        "--no-prefix-after-first", action="store_true", help="only the first window starts with the prefix token"
    )
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument(
        "--batch-tokens",
        type=int,
        default=1024,
        help="padded tokens per model call (small on CPU: padding costs more than batching gains)",
    )
    p.add_argument("--limit", type=int, help="score only the first N documents")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--backend",
        choices=["transformers", "llamacpp", "openai"],
        default="transformers",
        help="(default: %(default)s)",
    )
    p.add_argument("--base-url", help="openai backend: server URL, e.g. http://127.0.0.1:8000/v1 (or OPENAI_BASE_URL)")
    p.add_argument("--api-key", help="openai backend: bearer key (or OPENAI_API_KEY)")
    p.add_argument("--served-model", help="openai backend: the server's model name (default: the first it lists)")
    p.add_argument("--concurrency", type=int, default=4, help="openai backend: requests in flight (default: 4)")
    p.add_argument(
        "--ray", nargs="?", const="", metavar="ADDRESS", help="spread documents over Ray workers (no address: local)"
    )
    p.add_argument("--workers", type=int, help="Ray: model replicas (default: the cluster's CPUs / --worker-cpus)")
    p.add_argument("--worker-cpus", type=float, default=1.0, help="Ray: CPUs per replica (default: 1)")
    p.add_argument("--worker-gpus", type=float, default=0.0, help="Ray: GPUs per replica (default: 0)")


def config_from(args: argparse.Namespace) -> ScoreConfig:
    if (args.window_chars is None) != (args.stride_chars is None):
        raise CompressiqError("--window-chars and --stride-chars go together")
    chars = args.window_chars is not None
    return ScoreConfig(
        protocol=args.protocol,
        block=args.window_chars if chars else args.block,
        stride=args.stride_chars if chars else args.stride,
        unit="chars" if chars else "tokens",
        prefix_token=args.prefix_token,
        prefix_every_window=not args.no_prefix_after_first,
        dtype=args.dtype,
        backend=args.backend,
    )


def ray_from(args: argparse.Namespace) -> RayOptions | None:
    if args.ray is None:
        return None
    return RayOptions(args.ray or None, args.workers, args.worker_cpus, args.worker_gpus)


def endpoint_from(args: argparse.Namespace) -> Endpoint | None:
    if args.backend != "openai":
        return None
    return Endpoint.from_env(args.base_url, args.api_key, model=args.served_model, concurrency=args.concurrency)


def _score(args: argparse.Namespace) -> int:
    corpus = load_corpus(args.corpus, args.limit)
    run = score(
        args.model,
        corpus,
        config_from(args),
        args.results,
        args.batch_tokens,
        progress=not args.quiet,
        endpoint=endpoint_from(args),
        ray=ray_from(args),
    )
    print(_table(summary(run)))
    if args.json:
        rec = record(run, "all", run.totals) | {"seconds": round(run.seconds, 3)}
        print(json.dumps({key: rec[key] for key in JSON_KEYS}))
    return 0


def _demo(args: argparse.Namespace) -> int:
    corpus = load_corpus(args.corpus, args.limit)
    config = config_from(args)
    runs = []
    for name in DEMO_MODELS:
        print(f"scoring {name} on {corpus.name} ({len(corpus.documents)} documents)", flush=True)
        runs.append(score(name, corpus, config, args.results, args.batch_tokens, not args.quiet, endpoint_from(args)))
    print()
    print(leaderboard(runs))
    print(
        f"\nstored in {args.results / 'results.sqlite'}; per-run details: compressiq results --results {args.results}"
    )
    return 0


def _baselines(args: argparse.Namespace) -> int:
    from compressiq import compressors

    corpus = load_corpus(args.corpus, args.limit)
    kinds = compressors.GRANULARITIES if args.granularity == "both" else (args.granularity,)
    names = args.compressor or compressors.NAMES
    runs = [compressors.score_compressor(n, corpus, g, args.results) for n in names for g in kinds]
    print(_table([rec for run in runs for rec in summary(run)]))
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from compressiq.report import fit_records
    from compressiq.scores import fit_areas, read_scores

    entries = gather(args.results, args.reference)
    print(render(entries, args.format))
    if args.scores:
        fits = fit_areas(read_scores(args.scores), [(e.model, e.bpc) for e in entries])
        print()
        print(format_rows(fit_records(fits), args.format))
    return 0


def _report(args: argparse.Namespace) -> int:
    from compressiq import report

    report.write(args.out, report.render(report.build(args.results, args.reference, args.scores)))
    print(f"wrote {args.out}")
    return 0


def _compress(args: argparse.Namespace) -> int:
    from compressiq import codec

    data = _read(args.input)
    backend, prefix = codec.load_model(args.model)
    blob = codec.compress(data, backend, args.chunk_tokens, args.batch, prefix)
    write_atomic_bytes(args.output, blob)
    print(f"{args.input}: {len(data)} -> {len(blob)} bytes ({8 * len(blob) / max(1, len(data)):.3f} bits/byte)")
    return 0


def _decompress(args: argparse.Namespace) -> int:
    from compressiq import codec

    data = codec.decompress(_read(args.input), lambda stamp: codec.load_model(args.model or stamp.name)[0])
    write_atomic_bytes(args.output, data)
    print(f"{args.input}: {len(data)} bytes restored, checksum verified")
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise CompressiqError(f"cannot read {path}: {e.strerror}") from None


def _serve(args: argparse.Namespace) -> int:
    from compressiq import models
    from compressiq.runner import load
    from compressiq.serve import CompletionsServer

    entry = models.resolve(args.model)
    backend = load(models.locate(entry), entry.name, ScoreConfig(backend=args.backend, dtype=args.dtype))
    server = CompletionsServer(backend, entry.name, args.host, args.port)
    print(f"serving {entry.name} ({args.backend}) at http://{args.host}:{server.server_port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _models(args: argparse.Namespace) -> int:
    rows = [{"name": e.name, "licence": e.licence, "about": e.about or e.source} for e in registry().values()]
    print(_table(rows))
    return 0


def _results(args: argparse.Namespace) -> int:
    store = Store(args.results)
    try:
        if args.documents:
            cols = ("doc", "subset", "nats", "characters", "bytes", "tokens")
            records = [dict(zip(cols, row)) for row in store.document_rows(args.documents)]
        else:
            records = [rec for run in store.runs() for rec in summary(run)]
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(records, indent=1))
    elif args.format == "csv":
        sys.stdout.write(to_csv(records))
    else:
        print(_table(records) if records else f"no results in {args.results}")
    return 0


def _table(records: list[dict[str, Any]]) -> str:
    """A plain aligned text table; floats to four decimals."""
    if not records:
        return ""
    cells = [[_cell(v) for v in rec.values()] for rec in records]
    head = list(records[0])
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    raise SystemExit(main())
