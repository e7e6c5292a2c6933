"""Tokens scored per second: compressiq's engine against a straightforward reference loop.

Same model, same text, same windows (block 1900, stride 512 tokens, the paper's defaults). The
reference runs one window at a time and computes full logits over every position, like the
paper's script; compressiq projects only the scored positions and batches similar windows.
Each side runs in its own process so that its peak memory is its own.

    .venv/bin/python bench/score_speed.py [--model smollm2-135m] [--tokens 6000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from compressiq.backends import hf
from compressiq.core import registry as models
from compressiq.core.corpus import load_corpus
from compressiq.core.engine import score_calls
from compressiq.core.windows import Call, exact_calls

BLOCK, STRIDE = 1900, 512


def workload(backend: hf.TransformersBackend, n_tokens: int) -> tuple[list[list[int]], list[Call]]:
    """The first Python documents of the built-in sample, up to ``n_tokens`` tokens."""
    docs: list[list[int]] = []
    for doc in load_corpus("sample:python").documents:
        docs.append(backend.encode(doc.content))
        if sum(map(len, docs)) >= n_tokens:
            break
    prefix = backend.token_id("<|endoftext|>") if "smollm2" in backend.name else backend.bos_id
    assert prefix is not None
    return docs, list(exact_calls(docs, prefix, BLOCK, STRIDE))


@torch.inference_mode()
def reference(backend: hf.TransformersBackend, calls: list[Call]) -> float:
    nats = 0.0
    for call in calls:
        ids = torch.tensor([call.tokens])
        logits = backend.model(input_ids=ids).logits[0, :-1].float()
        loss = torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="none")
        nats += float(loss[-call.scored :].sum())
    return nats


def engine(backend: hf.TransformersBackend, docs: list[list[int]], calls: list[Call], batch_tokens: int) -> float:
    bounds = list(np.cumsum([0] + [len(d) for d in docs]))
    return sum(s.nats for group in score_calls(backend, calls, bounds, set(), batch_tokens) for s in group)


def measure(model: str, side: str, n_tokens: int, batch_tokens: int) -> dict[str, float]:
    backend = hf.load_transformers(models.locate(models.resolve(model)), model)
    docs, calls = workload(backend, n_tokens)
    start = time.perf_counter()
    nats = reference(backend, calls) if side == "reference" else engine(backend, docs, calls, batch_tokens)
    seconds = time.perf_counter() - start
    scored = sum(c.scored for c in calls)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"nats": nats, "seconds": seconds, "tokens": scored, "windows": len(calls), "peak_mb": peak_mb}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--tokens", type=int, default=6000, help="document tokens in the workload")
    p.add_argument("--batch-tokens", type=int, default=1024)
    p.add_argument("--side", choices=["reference", "compressiq"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side:
        print(json.dumps(measure(args.model, args.side, args.tokens, args.batch_tokens)))
        return
    out = {}
    for side in ("reference", "compressiq"):
        cmd = [
            sys.executable,
            __file__,
            "--model",
            args.model,
            "--tokens",
            str(args.tokens),
            "--batch-tokens",
            str(args.batch_tokens),
            "--side",
            side,
        ]
        out[side] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    ref, ours = out["reference"], out["compressiq"]
    print(
        f"model {args.model}; {ours['windows']} windows of block {BLOCK} stride {STRIDE}; "
        f"{ours['tokens']} tokens scored; torch threads {torch.get_num_threads()}"
    )
    for side, r in out.items():
        rate = r["tokens"] / r["seconds"]
        print(f"  {side:<11} {rate:8.1f} tokens/s  {r['seconds']:7.1f} s  peak {r['peak_mb']:6.0f} MB")
    print(
        f"  speed-up    {ref['seconds'] / ours['seconds']:.2f}x   "
        f"(same total to {abs(ref['nats'] - ours['nats']) / ref['nats']:.1e} relative)"
    )


if __name__ == "__main__":
    main()
