"""Classical compressors as reference points: bits = 8 x compressed bytes, stored like any model.

A compressor is not a language model (it has no log-probabilities), so it has its own short path
into the store instead of a fake backend. Two granularities: ``per-document`` compresses each
document alone (comparable with per-document LM scoring, headers and all), ``whole-corpus``
compresses each subset's documents concatenated (no separator), one stored row per subset.
Example: a 1,000-character document that gzip-9 turns into 450 bytes costs 3,600 bits, 3.6 BPC.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import importlib
import lzma
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from compressiq.core.corpus import Corpus
from compressiq.core.store import RunRecord, RunRow, Store
from compressiq.core.totals import Totals
from compressiq.errors import CompressiqError, missing_extra

Granularity = Literal["per-document", "whole-corpus"]
GRANULARITIES: tuple[Granularity, ...] = ("per-document", "whole-corpus")
PPMD = {"max_order": 6, "mem_size": 16 << 20, "variant": "I"}


@dataclass(frozen=True)
class Compressor:
    """A named lossless compressor at fixed settings; ``decompress`` proves the count is honest."""

    name: str
    compress: Callable[[bytes], bytes]
    decompress: Callable[[bytes], bytes]
    version: str


def _module(name: str, package: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise missing_extra(package, "compressors") from None


def _stdlib(name: str) -> Compressor:
    python = f"python {platform.python_version()}"
    if name == "gzip-9":
        return Compressor(name, lambda b: gzip.compress(b, 9, mtime=0), gzip.decompress, python)
    if name == "bz2-9":
        return Compressor(name, lambda b: bz2.compress(b, 9), bz2.decompress, python)
    preset = 9 | lzma.PRESET_EXTREME
    return Compressor(name, lambda b: lzma.compress(b, preset=preset), lzma.decompress, python)


def _zstd(name: str) -> Compressor:
    zstd = _module("zstandard", "zstandard")
    return Compressor(
        name,
        zstd.ZstdCompressor(level=19).compress,
        zstd.ZstdDecompressor().decompress,
        f"zstandard {zstd.__version__}",
    )


def _brotli(name: str) -> Compressor:
    brotli = _module("brotli", "brotli")
    return Compressor(name, lambda b: brotli.compress(b, quality=11), brotli.decompress, f"brotli {brotli.version}")


def _ppmd(name: str) -> Compressor:
    ppmd = _module("pyppmd", "pyppmd")
    return Compressor(
        name,
        lambda b: ppmd.compress(b, **PPMD),
        lambda b: ppmd.decompress(b, **PPMD),
        f"pyppmd {ppmd.__version__} {PPMD}",
    )


MAKERS: dict[str, Callable[[str], Compressor]] = {
    "gzip-9": _stdlib,
    "bz2-9": _stdlib,
    "xz-9e": _stdlib,
    "zstd-19": _zstd,
    "brotli-11": _brotli,
    "ppmd": _ppmd,
}
NAMES = tuple(MAKERS)


def compressor(name: str) -> Compressor:
    """The compressor called ``name`` (one of ``NAMES``); a missing extra is one error line."""
    if name not in MAKERS:
        raise CompressiqError(f"unknown compressor {name!r}; known: {', '.join(NAMES)}")
    return MAKERS[name](name)


def compressed_bits(c: Compressor, text: str) -> int:
    """8 x the compressed size of the text's UTF-8 bytes (an empty text costs its header too)."""
    return 8 * len(c.compress(text.encode("utf-8")))


def streams(corpus: Corpus, granularity: Granularity) -> list[tuple[str, str]]:
    """(subset, text) units to compress: one per document, or one per subset in corpus order."""
    if granularity == "per-document":
        return [(d.subset, d.content) for d in corpus.documents]
    joined: dict[str, list[str]] = {}
    for d in corpus.documents:
        joined.setdefault(d.subset, []).append(d.content)
    return [(subset, "".join(texts)) for subset, texts in joined.items()]


def unit_totals(bits: int, text: str) -> Totals:
    """Totals of one compressed unit, in the store's currency (nats; tokens = compressed bytes)."""
    return Totals(bits * math.log(2), len(text), len(text.encode("utf-8")), bits // 8, 1)


def run_id(c: Compressor, corpus_fingerprint: str, granularity: Granularity) -> str:
    """The store's id of a compressor run: the compressor's version, the corpus and the granularity."""
    key = f"compressor|{c.name}|{c.version}|{corpus_fingerprint}|{granularity}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def score_compressor(name: str, corpus: Corpus, granularity: Granularity, results: Path) -> RunRow:
    """Compress ``corpus`` with ``name`` into the store at ``results`` (a directory); resumable.

    Stored as model ``name`` with settings ``{"protocol": granularity, ...}``, so ``results`` and
    the leaderboard list it beside the language models, its granularity in the source column.
    """
    c = compressor(name)
    units = streams(corpus, granularity)
    rid = run_id(c, corpus.fingerprint, granularity)
    store = Store(results)
    try:
        settings = {"protocol": granularity, "compressor": c.name, "unit": "compressed bytes"}
        fingerprint = hashlib.sha256(c.version.encode()).hexdigest()
        versions = {"compressor": c.version}
        store.begin_run(
            RunRecord(rid, c.name, fingerprint, corpus.name, corpus.fingerprint, settings, len(units), versions)
        )
        done = store.done(rid)
        for i, (subset, text) in enumerate(units):
            if i not in done:
                start = time.perf_counter()
                bits = compressed_bits(c, text)
                store.add(rid, [(i, subset, unit_totals(bits, text))], time.perf_counter() - start)
        store.finish(rid)
        return store.runs(rid)[0]
    finally:
        store.close()
