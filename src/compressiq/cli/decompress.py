"""``compressiq decompress``: a file made by ``compress``, restored and checked against its SHA-256."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from compressiq.cli import options
from compressiq.errors import CompressiqError


def register(sub: Any) -> None:
    p = sub.add_parser("decompress", help="restore a file made by compress (needs the same model)")
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument("--model", help="the model it was compressed with (default: the registry name in the file)")
    p.add_argument(
        "--backend",
        choices=["transformers", "llamacpp"],
        help="the backend it was compressed on (default: the one the file names; another is refused)",
    )
    options.add_force(p)
    options.add_trust(p)
    options.add_device(p, codec=True)
    p.set_defaults(func=run, interrupted="interrupted; nothing was written")


def run(args: argparse.Namespace) -> int:
    from compressiq.codec import coding

    options.check_output(args.input, args.output, args.force)
    blob = options.read_input(args.input)
    data = coding.decompress(
        blob,
        lambda stamp: coding.load_model(
            _model(args.model, stamp.name),
            args.trust_remote_code,
            args.backend or stamp.backend,
            args.device,
            coding.stamp_dtype(stamp),
        )[0],
    )
    options.write_output(args.output, data)
    print(f"{args.input}: {len(data)} bytes restored, checksum verified")
    return 0


def _model(given: str | None, named: str) -> str:
    """The model to load: the user's ``--model``, else the file's name if it is a registry name.

    A file's header is not trusted to name a path or hub id to open; either way the weights' and
    tokenizer's fingerprints must match the header's before any byte is decoded.
    """
    if given:
        return given
    from compressiq.core.registry import registry

    if named not in registry():
        raise CompressiqError(f"the file names the model {named!r}, which is not in the registry: pass --model")
    return named
