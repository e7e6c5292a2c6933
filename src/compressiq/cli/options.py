"""Options shared by several commands, defined once; and the config objects they map to, 1:1."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from compressiq.analysis import tables
from compressiq.cache import write_atomic_bytes
from compressiq.core.scoring import ScoreConfig
from compressiq.errors import CompressiqError

DEFAULT_RESULTS = Path("compressiq-results")
DTYPES = ["float32", "bfloat16", "float16"]


def add_results(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results directory (default: %(default)s)")


def add_model(
    p: argparse.ArgumentParser, required: bool = True, what: str = "registry name, .gguf file, model folder, or hub id"
) -> None:
    p.add_argument("--model", required=required, help=what)


def add_trust(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let a model folder's own Python code (auto_map) run; off by default: only for folders you trust",
    )


def add_limit(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=int, help="only the first N documents")


def add_score(p: argparse.ArgumentParser) -> None:
    """The options of ``score`` and ``demo``: windows, protocol, prefix, dtype, backend, Ray."""
    add_results(p)
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
    p.add_argument("--dtype", default="float32", choices=DTYPES)
    p.add_argument(
        "--batch-tokens",
        type=int,
        default=1024,
        help="padded tokens per model call (small on CPU: padding costs more than batching gains)",
    )
    add_limit(p)
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


def add_ray(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ray", nargs="?", const="", metavar="ADDRESS", help="spread documents over Ray workers (no address: local)"
    )
    p.add_argument("--workers", type=int, help="Ray: model replicas (default: the cluster's CPUs / --worker-cpus)")
    p.add_argument("--worker-cpus", type=float, default=1.0, help="Ray: CPUs per replica (default: 1)")
    p.add_argument("--worker-gpus", type=float, default=0.0, help="Ray: GPUs per replica (default: 0)")


def add_analysis(p: argparse.ArgumentParser) -> None:
    add_results(p)
    p.add_argument("--reference", choices=["paper"], help="add the published rows (paper: the 2024 paper's table)")
    p.add_argument(
        "--scores", type=Path, help="benchmark scores: CSV/JSON (model, benchmark, score, area) or lm-eval results"
    )


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


def endpoint_from(args: argparse.Namespace) -> Any:
    """The ``openai`` backend's server, or None for the other backends."""
    if args.backend != "openai":
        return None
    from compressiq.backends.openai import Endpoint

    return Endpoint.from_env(args.base_url, args.api_key, model=args.served_model, concurrency=args.concurrency)


def to_json(value: Any, indent: int | None = None) -> str:
    """Strict JSON: a NaN (an empty total's ratio) becomes null, never the non-standard ``NaN``."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), indent=indent, allow_nan=False)


def table(records: list[dict[str, Any]]) -> str:
    """Records as the terminal table (floats to four decimals); nothing for no records."""
    return tables.render(records) if records else ""


def add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="replace an existing output file")


def check_output(source: Path, output: Path, force: bool) -> None:
    """Refuse an output that is the input, a directory, or (without ``force``) an existing file."""
    if output.is_dir():
        raise CompressiqError(f"the output {output} is a directory: name a file")
    if output.exists() and source.exists() and output.resolve() == source.resolve():
        raise CompressiqError(f"the output {output} is the input: name another file")
    if output.exists() and not force:
        raise CompressiqError(f"{output} exists: pass --force to replace it")


def read_input(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise CompressiqError(f"cannot read {path}: {e.strerror}") from None


def write_output(path: Path, data: bytes) -> None:
    """Through a temporary file in the output's folder, then a rename: never half a file."""
    try:
        write_atomic_bytes(path, data)
    except OSError as e:
        raise CompressiqError(f"cannot write {path}: {e.strerror}") from None
