"""Issue 14 on one GPU: (a) throughput against the seed-style loop and the FLOP floor, (b) CPU/GPU
agreement, (c) a codec round trip; in under 8 minutes on one H200. ``--device cpu --tiny`` runs all
three on tiny models so CI exercises the script.

The GPU machine has no internet and carries 64 MiB of files, so weights are random, of real shapes:
(a) Llama-2-7B's (hidden 4096, 32 heads, 11008 MLP, vocab 32000) and Llama-3-8B's (8 KV heads, 14336
MLP, vocab 128256), ``--layers`` of their 32 (printed); (b) and (c) SmolLM2-135M's, with its real
tokenizer from the converted cache.

(a) ~``--tokens`` tokens of one random stream at block 1900 / stride 512, three ways: compressiq's
    engine (batched, logits only where scored); the seed-style loop (one batch of 8 windows at a
    time, full logits at every position, the same windows and dtype); the FLOP floor, 2 x parameters
    (all but the input embedding) x tokens through the model / the bf16 matmul rate measured here.
(b) The same random SmolLM2-shaped weights (N(0, 0.1), see ``INIT_STD``) scored on the CPU in float32,
    on the device in float32 and in bf16, through ``compressiq.score``: relative BPC differences.
(c) 50 KB of the built-in fresh text range-coded under that model on the device (float32, deterministic
    algorithms) and decoded: bit-exact, and KB/s each way.

    .venv/bin/python bench/gpu.py [--device cuda] [--layers 32] [--tokens 200000] [--json out.json]
    .venv/bin/python bench/gpu.py --device cpu --tiny
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, before CUDA starts

import numpy as np
import torch
import transformers

from compressiq.backends import hf
from compressiq.codec import coding, container
from compressiq.core import device, registry
from compressiq.core.corpus import Corpus, Document, load_corpus
from compressiq.core.engine import score_calls
from compressiq.core.runner import ScoreConfig, score
from compressiq.core.windows import Call, exact_calls

LLAMA_7B = {"hidden_size": 4096, "intermediate_size": 11008, "num_attention_heads": 32, "num_key_value_heads": 32,
            "vocab_size": 32000}  # fmt: skip
LLAMA3_8B = {"hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32, "num_key_value_heads": 8,
             "vocab_size": 128256}  # fmt: skip
TINY = {"hidden_size": 64, "intermediate_size": 176, "num_attention_heads": 4}  # vocabularies stay real
RANDOM = hashlib.sha256(b"random weights, seed 0").hexdigest()  # the fingerprint the codec header carries
# Part (b)'s weights: N(0, 0.1) rather than the config's 0.02, whose logits are so flat (BPC = log2 of the
# vocabulary / characters per token) that no rounding could show; 0.1 gives a peaked distribution.
INIT_STD = 0.1


class ByteTokenizer:
    """Just enough tokenizer for ``TransformersBackend`` on random weights: bytes are token ids."""

    bos_token_id, pad_token_id = 1, 0

    def __call__(self, text: str, **_: Any) -> dict[str, list[int]]:
        return {"input_ids": list(text.encode())}


def synchronize(where: str) -> None:
    if where.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], float], where: str) -> tuple[float, float]:
    """(value, seconds) of ``fn``, the device drained before and after."""
    synchronize(where)
    start = time.perf_counter()
    value = fn()
    synchronize(where)
    return value, time.perf_counter() - start


def matmul_rate(where: str, dtype: torch.dtype, n: int) -> float:
    """FLOP/s of an n x n x n matmul in ``dtype`` here, the best of a few timed repeats."""
    a, b = torch.randn(n, n, device=where, dtype=dtype), torch.randn(n, n, device=where, dtype=dtype)
    best = math.inf
    for _ in range(5):
        _, seconds = timed(lambda: float(sum(float((a @ b)[0, 0]) for _ in range(10))), where)
        best = min(best, seconds)
    return 10 * 2 * n**3 / best


def random_llama(shape: dict[str, int], layers: int, where: str, dtype: torch.dtype) -> Any:
    config = transformers.LlamaConfig(**shape, num_hidden_layers=layers, max_position_embeddings=4096)
    torch.manual_seed(0)
    with torch.device(where):
        return transformers.AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa").eval()


def engine(backend: hf.TransformersBackend, stream: list[int], calls: list[Call], batch_tokens: int) -> float:
    return sum(s.nats for group in score_calls(backend, calls, [0, len(stream)], set(), batch_tokens) for s in group)


@torch.inference_mode()
def seed_loop(model: Any, calls: list[Call], where: str, batch: int = 8) -> float:
    """The paper script's way: a batch of windows, full logits at every position, cross-entropy, keep the scored."""
    nats = 0.0
    for i in range(0, len(calls), batch):
        group = calls[i : i + batch]
        width = max(len(c.tokens) for c in group)
        ids = torch.zeros((len(group), width), dtype=torch.long)
        for row, c in enumerate(group):
            ids[row, : len(c.tokens)] = torch.tensor(c.tokens)
        ids = ids.to(where)
        logits = model(input_ids=ids[:, :-1], use_cache=False).logits.float()
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
        for row, c in enumerate(group):
            nats += float(loss[row, len(c.tokens) - 1 - c.scored : len(c.tokens) - 1].sum())
    return nats


def throughput(name: str, shape: dict[str, int], args: argparse.Namespace, where: str) -> dict[str, Any]:
    """Part (a) on one shape: engine, seed-style loop and FLOP floor on the same windows."""
    dtype = getattr(torch, args.dtype)
    model = random_llama(shape, args.layers, where, dtype)
    backend = hf.TransformersBackend(model, ByteTokenizer(), name, RANDOM)
    stream = np.random.default_rng(0).integers(2, shape["vocab_size"], args.tokens).tolist()
    calls = list(exact_calls([stream], 1, args.block, args.stride))
    budget = args.batch_tokens or backend.auto_batch_tokens()
    engine(backend, stream, calls[:2], budget)  # warm-up: kernels chosen, memory pooled
    seed_loop(model, calls[:8], where)
    ours, t_ours = timed(lambda: engine(backend, stream, calls, budget), where)
    seed, t_seed = timed(lambda: seed_loop(model, calls, where), where)
    processed = sum(len(c.tokens) - 1 for c in calls)
    params = sum(p.numel() for p in model.parameters()) - model.get_input_embeddings().weight.numel()
    rate = matmul_rate(where, dtype, args.matmul)
    floor = 2 * params * processed / rate
    return {"shape": name, "layers": args.layers, "dtype": args.dtype, "parameters": params, "windows": len(calls),
            "scored": args.tokens, "processed": processed, "batch_tokens": budget, "matmul_tflops": rate / 1e12,
            "engine_tokens_s": args.tokens / t_ours, "seed_tokens_s": args.tokens / t_seed,
            "floor_tokens_s": args.tokens / floor, "speedup_vs_seed": t_seed / t_ours, "mfu": floor / t_ours,
            "seed_mfu": floor / t_seed, "nats_relative_difference": abs(ours - seed) / seed}  # fmt: skip


def smollm2_parts(tiny: bool) -> tuple[Any, Any]:
    """SmolLM2-135M's config (shrunk when ``tiny``) and its real tokenizer, from the converted cache."""
    folder = hf.converted_gguf(Path(registry.locate(registry.resolve("smollm2-135m"))))
    config = transformers.AutoConfig.from_pretrained(folder)
    config.initializer_range = INIT_STD
    if tiny:
        config.update({"num_hidden_layers": 2, "num_key_value_heads": 2} | TINY)
    return config, transformers.AutoTokenizer.from_pretrained(folder)


def agreement(config: Any, tok: Any, where: str, corpus: Corpus) -> tuple[dict[str, Any], dict[str, Any]]:
    """Part (b): one random model scored on the CPU in float32, on ``where`` in float32 and in bf16."""
    torch.manual_seed(0)
    cpu = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="sdpa")
    models = {"cpu float32": cpu.eval(), "device float32": copy.deepcopy(cpu).to(where)}
    models["device bfloat16"] = copy.deepcopy(cpu).to(where, torch.bfloat16)
    bpc = {}
    with tempfile.TemporaryDirectory() as results:
        for label, model in models.items():
            backend = hf.TransformersBackend(model, tok, "random-smollm2-shape", RANDOM)
            run = score(backend, corpus, ScoreConfig(), Path(results) / label.replace(" ", "-"), batch_tokens=4096)
            bpc[label] = run.totals.bpc
    ref = bpc["cpu float32"]
    out = {"device": where, "bpc": bpc, "characters": sum(len(d.content) for d in corpus.documents)}
    out |= {f"{label} vs cpu float32": abs(v - ref) / ref for label, v in bpc.items() if label != "cpu float32"}
    return out, models


def codec(model: Any, tok: Any, size: int) -> dict[str, Any]:
    """Part (c): ``size`` bytes of fresh text coded under ``model`` and decoded, deterministic kernels."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    backend = hf.TransformersBackend(model, tok, "random-smollm2-shape", RANDOM)
    text = "\n\n".join(d.content for d in load_corpus("sample:cc").documents).encode()[:size].decode(errors="ignore")
    data = text.encode()
    tokens = backend.encode(text)
    assert backend.decode(tokens) == text, "the tokenizer does not carry this text exactly"
    where = str(backend.device)
    start = time.perf_counter()
    stamp, payload = coding.encode(tokens, backend, 512, 128, int(tok.bos_token_id or 0))
    synchronize(where)
    encoded = time.perf_counter()
    blob = container.pack(container.Header(container.Mode.MODEL, len(data), container.sha256(data), stamp), payload)
    back = coding.decompress(blob, lambda _: backend)
    decoded = time.perf_counter()
    torch.use_deterministic_algorithms(False)
    return {"bytes": len(data), "tokens": len(tokens), "payload_bytes": len(payload), "bit_exact": back == data,
            "kernels": stamp.kernels, "compress_kb_s": len(data) / 1e3 / (encoded - start),
            "decompress_kb_s": len(data) / 1e3 / (decoded - encoded)}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto, cuda, cuda:N, cpu")
    p.add_argument("--tiny", action="store_true", help="tiny shapes and workloads: the CPU test of this script")
    p.add_argument("--layers", type=int, help="layers of the 32 in part (a) (default: 32; tiny: 2)")
    p.add_argument("--tokens", type=int, help="tokens scored in part (a) (default: 200000; tiny: 2000)")
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"], help="part (a)")
    p.add_argument("--batch-tokens", type=int, help="engine batch budget in part (a) (default: auto)")
    p.add_argument("--parts", default="abc", help="which parts to run (default: abc)")
    p.add_argument("--json", type=Path, help="also write every figure here")
    args = p.parse_args()
    tiny = args.tiny
    args.layers = args.layers or (2 if tiny else 32)
    args.tokens = args.tokens or (800 if tiny else 200_000)
    args.block, args.stride = (64, 16) if tiny else (1900, 512)
    args.matmul = 512 if tiny else 8192
    where = device.resolve(args.device, "float32").device
    out: dict[str, Any] = {"device": where, "torch": torch.__version__, "transformers": transformers.__version__,
                           "cuda": torch.version.cuda, "tiny": tiny, "block": args.block,
                           "stride": args.stride}  # fmt: skip
    if where.startswith("cuda"):
        out["gpu"] = torch.cuda.get_device_name(where)
    print(json.dumps(out))
    if "a" in args.parts:
        shapes = {"llama-7b": LLAMA_7B, "llama3-8b-128k": LLAMA3_8B}
        for name, shape in shapes.items():
            shape = shape | (TINY | {"num_key_value_heads": shape["num_key_value_heads"] // 8} if tiny else {})
            out[f"a {name}"] = report(throughput(name, shape, args, where))
            if where.startswith("cuda"):
                torch.cuda.empty_cache()  # the last shape's weights are gone with its function
    config, tok = smollm2_parts(tiny)
    if "b" in args.parts or "c" in args.parts:
        corpus = load_corpus("demo")
        corpus = Corpus("demo", [Document(d.content[:800], d.subset) for d in corpus.documents[:6]]) if tiny else corpus
        out["b agreement"], models = agreement(config, tok, where, corpus)
        report(out["b agreement"])
    if "c" in args.parts:  # bf16 is what compress steps in on a GPU (--dtype auto); float32 for comparison
        for label in ("device bfloat16", "device float32"):
            out[f"c codec, {label}"] = report(codec(models[label], tok, 2_000 if tiny else 50_000))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


def report(figures: dict[str, Any]) -> dict[str, Any]:
    print(json.dumps(figures), flush=True)
    return figures


if __name__ == "__main__":
    main()
