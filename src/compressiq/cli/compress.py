"""``compressiq compress``: a file range-coded under a language model (see ``codec``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from compressiq.cli import options
from compressiq.core.device import DTYPES


def register(sub: Any) -> None:
    p = sub.add_parser("compress", help="compress a file with a language model (arithmetic coding)")
    options.add_model(p, what="registry name, .gguf file, or model folder")
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument("--chunk-tokens", type=int, default=512, help="tokens per independently coded chunk")
    p.add_argument("--batch", type=int, default=128, help="chunks coded side by side (the model runs batched)")
    p.add_argument(
        "--backend",
        choices=["auto", "transformers", "llamacpp"],
        default="auto",
        help="what steps the model (default: %(default)s: llamacpp for a file under 16 KB when the model is a "
        ".gguf file, whose steps of a few rows are faster on a CPU; transformers for more, whose batched steps "
        "are 2.3x faster); the file records it and decoding uses the same",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads a step runs on (default: %(default)s: fastest for single files and on a busy machine; "
        "recorded in the file and replayed to decode)",
    )
    p.add_argument(
        "--dtype",
        default="auto",
        choices=DTYPES,
        help="the number type a transformers model steps in (default: %(default)s: bf16 where the device computes "
        "it natively, a GPU or a CPU with AVX512-BF16 or AMX, else float32); recorded, and decoding uses the same",
    )
    options.add_force(p)
    options.add_trust(p)
    options.add_device(p, codec=True)
    p.set_defaults(func=run, interrupted="interrupted; nothing was written")


def run(args: argparse.Namespace) -> int:
    from compressiq.codec import coding

    options.check_output(args.input, args.output, args.force)
    data = options.read_input(args.input)
    backend, prefix = coding.load_model(
        args.model, args.trust_remote_code, args.backend, args.device, args.dtype, size=len(data)
    )
    blob = coding.compress(data, backend, args.chunk_tokens, args.batch, prefix, args.threads)
    options.write_output(args.output, blob)
    print(f"{args.input}: {len(data)} -> {len(blob)} bytes ({8 * len(blob) / max(1, len(data)):.3f} bits/byte)")
    return 0
