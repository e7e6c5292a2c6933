"""Compression speed and size on SmolLM2, beside xz -9e and the scorer, in one run.

Same text, same chunks: the scorer scores each chunk as a document (block = stride = chunk),
which is the Σbits the compressed size should match. Prints KB/s both ways, sizes, and the ratio
of decompression to scoring throughput (target: at least 0.5).

    .venv/bin/python bench/codec_speed.py [--chars 40000] [--chunk-tokens 128] [--batch 128] [--corpus sample:cc]
"""

from __future__ import annotations

import argparse
import lzma
import math
import time

import numpy as np

from compressiq.codec import coding as codec
from compressiq.codec import container
from compressiq.core.corpus import load_corpus
from compressiq.core.engine import score_calls
from compressiq.core.windows import exact_calls


def timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def scorer_bits(backend, text: str, chunk_tokens: int, prefix: int | None) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """The scorer's Σbits for ``text`` cut into the codec's chunks (each a document), and the tokens."""
    tokens = backend.encode(text)
    chunks = [tokens[i : i + chunk_tokens] for i in range(0, len(tokens), chunk_tokens)]
    bounds = list(np.cumsum([0] + [len(c) for c in chunks]))
    calls = exact_calls(chunks, prefix if prefix is not None else backend.bos_id, chunk_tokens, chunk_tokens)
    scores = [s for g in score_calls(backend, calls, bounds, set()) for s in g]
    return sum(s.nats for s in scores) / math.log(2), len(tokens)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chars", type=int, default=40_000)
    p.add_argument("--chunk-tokens", type=int, default=128)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--corpus", default="sample:cc", help="any --corpus spec; its documents joined by newlines")
    args = p.parse_args()
    backend, prefix = codec.load_model("smollm2-135m")
    text = "\n".join(d.content for d in load_corpus(args.corpus).documents)[: args.chars]
    data = text.encode("utf-8")
    xz, t_xz = timed(lambda: lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    blob, t_c = timed(codec.compress, data, backend, args.chunk_tokens, args.batch, prefix)
    back, t_d = timed(codec.decompress, blob, lambda stamp: backend)
    assert back == data, "round trip failed"
    (bits, tokens), t_s = timed(scorer_bits, backend, text, args.chunk_tokens, prefix)
    payload = len(container.unpack(blob)[1])
    kb = len(data) / 1024
    print(f"{len(data)} bytes, {tokens} tokens; chunks of {args.chunk_tokens} tokens, {args.batch} side by side")
    print(f"  xz -9e        {len(xz):8d} bytes  {kb / t_xz:8.1f} KB/s")
    print(f"  compressiq    {len(blob):8d} bytes  compress {kb / t_c:6.2f} KB/s  decompress {kb / t_d:6.2f} KB/s")
    head = len(blob) - payload
    print(f"  scorer Σbits/8 {bits / 8:8.0f} bytes  payload/Σbits {8 * payload / bits:.4f}  (header {head} B)")
    rate_d, rate_s = tokens / t_d, tokens / t_s
    print(f"  tokens/s: scorer {rate_s:.0f}, decompress {rate_d:.0f}, ratio {rate_d / rate_s:.2f} (target ≥ 0.5)")


if __name__ == "__main__":
    main()
