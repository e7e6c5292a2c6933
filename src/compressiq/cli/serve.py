"""``compressiq serve``: any backend behind an OpenAI-compatible ``/v1/completions`` endpoint."""

from __future__ import annotations

import argparse
import os
from typing import Any

from compressiq.cli import options
from compressiq.errors import CompressiqError

EXAMPLES = """examples:
  compressiq serve --model smollm2-135m --backend llamacpp --port 8000
  COMPRESSIQ_API_KEY=secret compressiq serve --model smollm2-135m --host 0.0.0.0   # clients send the key
  compressiq score --model smollm2-135m --corpus sample --backend openai --base-url http://HOST:8000/v1 --api-key secret
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a model's prompt log-probabilities (OpenAI /v1/completions)",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    options.add_model(p)
    p.add_argument("--backend", choices=["transformers", "llamacpp"], default="transformers")
    options.add_device(p)
    p.add_argument("--host", default="127.0.0.1", help="(default: %(default)s; 0.0.0.0 to listen on all)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--api-key", help="require 'Authorization: Bearer KEY' on every request (or COMPRESSIQ_API_KEY, kept out of ps)"
    )
    p.add_argument(
        "--timeout", type=float, default=30.0, help="seconds a client may stay silent mid-request (default: 30)"
    )
    options.add_trust(p)
    p.set_defaults(func=run, interrupted="stopped")


def api_key(given: str | None) -> str | None:
    """The key every request must carry: ``--api-key``, else ``$COMPRESSIQ_API_KEY``, else none."""
    key = given if given is not None else os.environ.get("COMPRESSIQ_API_KEY") or None
    if key is not None and not key.strip():
        raise CompressiqError("--api-key is empty: give a key, or leave the option out to serve without one")
    return key


def run(args: argparse.Namespace) -> int:
    from compressiq.core import loader
    from compressiq.serve import CompletionsServer

    key = api_key(args.api_key)
    if not 0 < args.timeout <= 3600:
        raise CompressiqError(f"--timeout must be between 0 and 3600 seconds, got {args.timeout:g}")
    model = loader.resolve(args.model)
    backend: Any = loader.load(model.source, model.name, args.backend, args.dtype, args.trust_remote_code,
                               device=args.device, hardware=options.hardware_from(args))  # fmt: skip
    if not callable(getattr(backend, "vocab_size", None)):  # token ids are checked against it
        raise CompressiqError(f"the {args.backend} backend cannot be served: it does not report its vocabulary")
    try:
        server = CompletionsServer(backend, model.name, args.host, args.port, api_key=key, timeout=args.timeout)
    except OSError as e:
        raise CompressiqError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    locked = ", API key required" if key else ""
    print(f"serving {model.name} ({args.backend}{locked}) at http://{args.host}:{server.server_port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
