"""Speed of the engines on one machine, in one run: transformers vs llama.cpp, and the compressors.

Language models: the same model (the built-in GGUF file), the same text (the first Python
documents of the built-in sample, about ``--tokens`` tokens) and the same windows (``--block`` /
``--stride`` tokens, each backend's own tokens), through the same engine; tokens scored per
second and BPC for each, then the ratio. Compressors: MB/s of UTF-8 input compressed as one
stream (whole-corpus granularity) on the same text, and their BPC.

    .venv/bin/python bench/backends.py [--model smollm2-135m] [--tokens 4000] [--block 1900 --stride 512]
"""

from __future__ import annotations

import argparse
import time

from compressiq.backends import compressors
from compressiq.backends.hf import load_transformers
from compressiq.backends.llamacpp import load_llamacpp
from compressiq.core import registry as models
from compressiq.core.backend import Backend
from compressiq.core.corpus import load_corpus
from compressiq.core.runner import ScoreConfig
from compressiq.core.scoring import score_texts
from compressiq.core.totals import Totals, document_totals


def texts_for(n_chars: int) -> list[str]:
    out: list[str] = []
    for doc in load_corpus("sample:python").documents:
        out.append(doc.content)
        if sum(map(len, out)) >= n_chars:
            break
    return out


def lm_speed(backend: Backend, texts: list[str], config: ScoreConfig) -> tuple[float, Totals]:
    start = time.perf_counter()
    scores = score_texts(backend, config, texts, (config.block, config.stride), batch_tokens=2048)
    seconds = time.perf_counter() - start
    totals = sum((document_totals(t, n, k) for t, (n, k) in zip(texts, scores)), Totals())
    return totals.tokens / seconds, totals


def compressor_speed(name: str, text: str) -> tuple[float, float]:
    c = compressors.compressor(name)
    start = time.perf_counter()
    bits = compressors.compressed_bits(c, text)
    seconds = time.perf_counter() - start
    return len(text.encode()) / 1e6 / seconds, bits / len(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--tokens", type=int, default=4000, help="about this many tokens of text (3.5 characters each)")
    p.add_argument("--block", type=int, default=1900)
    p.add_argument("--stride", type=int, default=512)
    a = p.parse_args()
    entry = models.resolve(a.model)
    source = models.locate(entry)
    config = ScoreConfig(block=a.block, stride=a.stride, prefix_token=entry.prefix_token)
    texts = texts_for(int(a.tokens * 3.5))
    print(f"{a.model}, {sum(map(len, texts))} characters of Python, block {a.block}, stride {a.stride}")
    rates = {}
    for label, loader in (("transformers", load_transformers), ("llamacpp", load_llamacpp)):
        rate, totals = lm_speed(loader(source, a.model), texts, config)
        rates[label] = rate
        print(f"  {label:<13} {rate:8.0f} tokens/s   {totals.tokens:6d} tokens   bpc {totals.bpc:.4f}")
    print(f"  llama.cpp / transformers: {rates['llamacpp'] / rates['transformers']:.2f}x tokens/s")
    text = "".join(d.content for d in load_corpus("sample").documents)
    print(f"compressors, whole-corpus, {len(text.encode()) / 1e6:.2f} MB of the built-in sample")
    speeds = {}
    for name in compressors.NAMES:
        speeds[name], bpc = compressor_speed(name, text)
        print(f"  {name:<10} {speeds[name]:8.2f} MB/s   bpc {bpc:.4f}   {speeds[name] / speeds['gzip-9']:6.2f}x gzip-9")


if __name__ == "__main__":
    main()
