"""Options shared by several commands, defined once; and the config objects they map to, 1:1."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from compressiq.analysis import tables
from compressiq.cache import write_atomic_bytes
from compressiq.core.device import DTYPES
from compressiq.core.loader import Hardware
from compressiq.core.scoring import ScoreConfig
from compressiq.errors import CompressiqError

DEFAULT_RESULTS = Path("compressiq-results")


def add_results(p: argparse.ArgumentParser) -> None:
    """``--results DIR``: where the store lives."""
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results directory (default: %(default)s)")


def add_model(
    p: argparse.ArgumentParser, required: bool = True, what: str = "registry name, .gguf file, model folder, or hub id"
) -> None:
    """``--model``: a registry name, a file, a folder or a hub id (``what`` says which this command takes)."""
    p.add_argument("--model", required=required, help=what)


def add_trust(p: argparse.ArgumentParser) -> None:
    """``--trust-remote-code``: off unless typed; a model folder's own code never runs otherwise."""
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let a model folder's own Python code (auto_map) run; off by default: only for folders you trust",
    )


def add_device(p: argparse.ArgumentParser, codec: bool = False) -> None:
    """Where the model runs and in which precision (see ``core.device``): score, demo, serve; the codec
    (``codec``) takes only ``--device`` here: a file decodes on the device kind and dtype it was coded with."""
    p.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu, cuda, cuda:N, or mps")
    if codec:
        return
    p.add_argument(
        "--dtype", default="auto", choices=DTYPES, help="auto: bf16 on a GPU (fp16 without bf16), float32 on a CPU"
    )
    p.add_argument("--device-map", choices=["auto"], help="auto: shard the model over the visible GPUs (accelerate)")
    p.add_argument(
        "--attn",
        choices=["sdpa", "flash_attention_2"],
        default="sdpa",
        help="attention kernel (default: %(default)s; flash_attention_2 needs the flash-attn package)",
    )


def hardware_from(args: argparse.Namespace) -> Hardware:
    """The placement options beyond device and dtype: device map, attention, replicas (``--gpus``)."""
    return Hardware(args.device_map, args.attn, getattr(args, "gpus", None))


def batch_tokens(value: str) -> int | None:
    """``--batch-tokens``: a positive number, or ``auto`` (None: sized from free device memory)."""
    if value == "auto":
        return None
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of tokens or auto, got {value!r}")
    return int(value)


def add_limit(p: argparse.ArgumentParser) -> None:
    """``--limit N``: only the first N documents (N >= 0)."""
    p.add_argument("--limit", type=int, help="only the first N documents")


def add_score(p: argparse.ArgumentParser) -> None:
    """The options of ``score`` and ``demo``: windows, protocol, prefix, batching, replicas, backend."""
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
    p.add_argument(
        "--batch-tokens",
        type=batch_tokens,
        default=1024,
        help="padded tokens per model call (small on CPU: padding costs more than batching gains); "
        "auto: from free GPU memory",
    )
    p.add_argument(
        "--gpus", type=int, help="N data-parallel replicas, one per GPU, one store (with --device cpu: N CPU processes)"
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
    """``--ray [ADDRESS]`` and the replica sizes: only ``score`` spreads documents over Ray."""
    p.add_argument(
        "--ray", nargs="?", const="", metavar="ADDRESS", help="spread documents over Ray workers (no address: local)"
    )
    p.add_argument("--workers", type=int, help="Ray: model replicas (default: the cluster's CPUs / --worker-cpus)")
    p.add_argument("--worker-cpus", type=float, default=1.0, help="Ray: CPUs per replica (default: 1)")
    p.add_argument("--worker-gpus", type=float, default=0.0, help="Ray: GPUs per replica (default: 0)")


def add_analysis(p: argparse.ArgumentParser) -> None:
    """The inputs of ``leaderboard`` and ``report``: the store, the paper's rows, benchmark scores."""
    add_results(p)
    p.add_argument("--reference", choices=["paper"], help="add the published rows (paper: the 2024 paper's table)")
    p.add_argument(
        "--scores", type=Path, help="benchmark scores: CSV/JSON (model, benchmark, score, area) or lm-eval results"
    )


def config_from(args: argparse.Namespace) -> ScoreConfig:
    """The ``ScoreConfig`` the score options describe, field for field."""
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
        device=args.device,
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
    """``--force``: replace an existing output (never the input)."""
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
    """The bytes of ``path``, or one error line saying why they cannot be read."""
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
