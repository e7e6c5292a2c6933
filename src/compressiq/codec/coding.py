"""Compression for real: range coding of the token stream under the model's next-token distribution.

The text is tokenized once and cut into chunks of ``chunk_tokens`` tokens; each chunk is coded
from the prefix token on, with its own context, like a document of the scorer. Decoding is
sequential within a chunk, so ``batch`` chunks advance side by side, one token a step (see
``stepping``). Encoder and decoder run *the same* steps (same chunks, same batch rows, same
shapes) so the model returns bit-identical probabilities on both sides; constriction's range coder
quantises them the same way. Determinism holds on one machine with the same backend, kernels and
thread count: the header records all three, decoding replays the thread count and refuses other
kernels. Stepping runs on one thread unless asked otherwise: a single-token step is many tiny
operations, which two threads on a busy machine made several times slower, and one thread makes
a file independent of the machine's core count.

Bytes the tokenizer cannot carry exactly (non-UTF-8, or text whose tokens do not decode back to
it) are not altered: the file falls back to xz. Input that xz already shrinks to under 1 % (say,
a megabyte of one character) also stays with xz: a model cannot beat that by a useful margin. A
model-coded file that would be no smaller than the stored or xz form is stored that way instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import lzma
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from compressiq.codec.container import MAX_BATCH, MAX_THREADS, Header, Mode, ModelStamp, pack, sha256, unpack
from compressiq.codec.stepping import Probabilities, Stepper
from compressiq.errors import CompressiqError, missing_extra

XZ_DEGENERATE = 0.01
SMALL_FILE = 16 * 1024  # bytes: below it ``auto`` steps a GGUF model on llama.cpp (see ``pick_backend``)
STEPPERS = ("transformers", "llamacpp")  # the backends that can step a model for the codec
PRECISION = 24  # constriction's Categorical quantises probabilities to multiples of 2**-24
Chooser = Callable[[int, Probabilities, list[int]], list[int]]


def _constriction() -> Any:
    try:
        return importlib.import_module("constriction")
    except ImportError:
        raise missing_extra("constriction", "codec") from None


def load_model(
    model: str,
    trust_remote_code: bool = False,
    backend: str = "transformers",
    device: str = "cpu",
    dtype: str = "auto",
    size: int = 0,
) -> tuple[Stepper, int | None]:
    """A registry name, .gguf file or folder, loaded on ``backend`` (transformers, llamacpp, or ``auto`` for
    a file of ``size`` bytes: see ``pick_backend``); and the registry's prefix token, if any. ``device``
    (``auto``, ``cpu``, ``cuda:N``, ``mps``) and ``dtype``: where and in which number type a transformers
    model steps; ``auto`` is bf16 where the device computes it natively (a GPU, or a CPU with AVX512-BF16
    or AMX), else float32. On a GPU, deterministic algorithms (the header names the GPU). llama.cpp
    computes in the GGUF file's own types."""
    from compressiq.core import device as device_lib
    from compressiq.core import loader

    resolved = loader.resolve(model)
    backend = pick_backend(backend, resolved.source, size, dtype)
    if backend not in STEPPERS:
        raise CompressiqError(f"the codec runs on {' or '.join(STEPPERS)}, not {backend!r}")
    if backend == "transformers":
        placed = device_lib.resolve(device, dtype, fast_cpu=True)
        device, dtype = placed.device, placed.dtype
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS: read when CUDA starts
    stepper = loader.load(
        resolved.source,
        resolved.name,
        backend=backend,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        device=device,
    )
    if getattr(stepper, "device_kind", "cpu") == "cuda":
        importlib.import_module("torch").use_deterministic_algorithms(True, warn_only=True)
    if not isinstance(stepper, Stepper):
        raise CompressiqError(f"the {backend} backend of {resolved.name} cannot step a model")
    return stepper, stepper.token_id(resolved.prefix_token) if resolved.prefix_token else None


def pick_backend(requested: str, source: str, size: int, dtype: str = "auto") -> str:
    """The backend ``auto`` means for a file of ``size`` bytes: llama.cpp for a file under ``SMALL_FILE``
    when the model is a .gguf file and llama-cpp-python is installed (and no dtype was asked for, which only
    transformers takes), else transformers.

    A small file has a few chunks, so a step has a few rows: there llama.cpp's quantised one-token steps
    win (SmolLM2 on one core: 17 ms a step against 75, a 0.7 s load against 6; 10 KB in 40 s against 50).
    A larger file steps many rows at once, where transformers' bf16 matrix products win (100 KB: 158 s
    against 367).
    Example: ``pick_backend("auto", "m.gguf", 3000)`` is ``llamacpp`` where llama-cpp-python is installed.
    """
    if requested != "auto":
        return requested
    gguf = source.endswith(".gguf") and importlib.util.find_spec("llama_cpp") is not None
    return "llamacpp" if gguf and size < SMALL_FILE and dtype == "auto" else "transformers"


def stamp_dtype(stamp: ModelStamp) -> str:
    """The number type a file was coded in, as its kernels say (``..., bfloat16 on cpu``).

    Example: transformers kernels ``transformers 5.2.0, torch 2.13.0, bfloat16 on cpu`` give ``bfloat16``;
    format 1 recorded no kernels and stepped in float32; llama.cpp computes in the GGUF file's own types.
    """
    if stamp.backend != "transformers":
        return "auto"
    found = [d for d in ("bfloat16", "float16") if f", {d} on " in stamp.kernels]
    return found[0] if found else "float32"


def chunk_lengths(tokens: int, chunk_tokens: int) -> list[int]:
    """Example: 10 tokens in chunks of 4 are [4, 4, 2]; 0 tokens are []."""
    return [min(chunk_tokens, tokens - start) for start in range(0, tokens, chunk_tokens)]


def max_tokens(payload_bytes: int, vocab: int) -> int:
    """The most tokens ``payload_bytes`` can hold: every symbol keeps at least one quantum of 2**-24,
    so even the likeliest token costs at least -log2(1 - (vocab-1)/2**24) > (vocab-1)/2**24/ln 2 bits.

    Example: 4 bytes under a 49,152-token vocabulary hold at most 32 x ln 2 x 2**24 / 49,151 = 7,571 tokens.
    """
    return math.floor(8 * payload_bytes * math.log(2) * (1 << PRECISION) / max(1, vocab - 1))


def compress(
    data: bytes,
    backend: Stepper,
    chunk_tokens: int = 512,
    batch: int = 128,
    prefix: int | None = None,
    threads: int = 1,
) -> bytes:
    """``data`` as a compressiq file (see ``container``); chunks start from ``prefix`` (default BOS),
    the model steps on ``threads`` threads (recorded; decoding uses the same)."""
    check_chunking(chunk_tokens, batch, backend, threads)
    digest = sha256(data)
    xz = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
    plain = pack(Header(Mode.XZ, len(data), digest), xz) if len(xz) < len(data) else None
    plain = plain or pack(Header(Mode.STORED, len(data), digest), data)
    tokens = None if len(xz) < XZ_DEGENERATE * len(data) else _exact_tokens(data, backend)
    if not tokens:
        return plain
    start = _prefix(backend) if prefix is None else prefix
    stamp, payload = encode(tokens, backend, chunk_tokens, batch, start, threads)
    coded = pack(Header(Mode.MODEL, len(data), digest, stamp), payload)
    return coded if len(coded) < len(plain) else plain


def encode(
    tokens: list[int], backend: Stepper, chunk_tokens: int, batch: int, prefix: int, threads: int = 1
) -> tuple[ModelStamp, bytes]:
    """Range-code ``tokens`` under the model: the stamp a decoder needs, and the payload."""
    stamp = ModelStamp(backend.name, backend.fingerprint, backend.tokenizer_fingerprint(), chunk_tokens, batch,
                       prefix, len(tokens), threads, backend.kind, backend.kernels())  # fmt: skip
    rc = _constriction()
    encoder = rc.stream.queue.RangeEncoder()
    family = rc.stream.model.Categorical(perfect=False)
    chunks = [tokens[i : i + chunk_tokens] for i in range(0, len(tokens), chunk_tokens)]

    def code(step: int, probs: Probabilities, rows: list[int]) -> list[int]:
        symbols = np.array([chunks[r][step] for r in rows], dtype=np.int32)
        encoder.encode(symbols, family, probs)
        return [int(s) for s in symbols]

    _run(backend, stamp, [len(c) for c in chunks], code)
    return stamp, encoder.get_compressed().astype("<u4").tobytes()


def check_chunking(chunk_tokens: int, batch: int, backend: Stepper, threads: int = 1) -> None:
    """Chunking and threads the header can carry and the model can step through; checked before any work."""
    if not 1 <= chunk_tokens < backend.max_context:
        raise CompressiqError(f"--chunk-tokens must be between 1 and {backend.max_context - 1} (the model's context)")
    if not 1 <= batch <= MAX_BATCH:
        raise CompressiqError(f"--batch must be between 1 and {MAX_BATCH}")
    if not 1 <= threads <= MAX_THREADS:
        raise CompressiqError(f"--threads must be between 1 and {MAX_THREADS}")


def decompress(blob: bytes, backend_for: Callable[[ModelStamp], Stepper]) -> bytes:
    """The original bytes, or an error; never bytes that fail the checksum."""
    header, payload = unpack(blob)
    if header.mode == Mode.STORED:
        if len(payload) != header.length:
            raise CompressiqError("damaged compressiq file (stored bytes do not match the header's length)")
        data = payload
    elif header.mode == Mode.XZ:
        data = _unxz(payload, header.length)
    else:
        assert header.model is not None
        data = _decode_tokens(payload, header, backend_for(header.model))
    if len(data) != header.length or sha256(data) != header.sha256:
        raise CompressiqError("damaged compressiq file: the decoded bytes fail the checksum; nothing written")
    return data


def _unxz(payload: bytes, length: int) -> bytes:
    """xz, decompressed no further than the header's length plus one byte (to tell a longer stream)."""
    decoder = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    try:
        data = decoder.decompress(payload, max_length=length + 1)
    except lzma.LZMAError as e:
        raise CompressiqError(f"damaged compressiq file ({e})") from None
    if len(data) != length or not decoder.eof or decoder.unused_data:
        raise CompressiqError("damaged compressiq file (the xz stream does not match the header's length)")
    return data


def _decode_tokens(payload: bytes, header: Header, backend: Stepper) -> bytes:
    stamp = header.model
    assert stamp is not None
    _check_kernels(stamp, backend)
    if backend.fingerprint != stamp.fingerprint or backend.tokenizer_fingerprint() != stamp.tokenizer:
        raise CompressiqError(
            f"this file was compressed with another model ({stamp.name}, weights {stamp.fingerprint[:12]})"
        )
    if len(payload) % 4:
        raise CompressiqError("damaged or truncated compressiq file (payload is not whole 32-bit words)")
    _check_stamp(stamp, header.length, len(payload), backend)
    rc = _constriction()
    decoder = rc.stream.queue.RangeDecoder(np.frombuffer(payload, dtype="<u4").astype(np.uint32))
    family = rc.stream.model.Categorical(perfect=False)

    def decode(step: int, probs: Probabilities, rows: list[int]) -> list[int]:
        return [int(s) for s in decoder.decode(family, probs)]

    chunks = _run(backend, stamp, chunk_lengths(stamp.tokens, stamp.chunk_tokens), decode)
    if not decoder.maybe_exhausted():
        raise CompressiqError("damaged compressiq file (bytes after the coded tokens)")
    return backend.decode([t for c in chunks for t in c]).encode("utf-8")


def _check_kernels(stamp: ModelStamp, backend: Stepper) -> None:
    """Other kernels give other probabilities: refuse them before a step rather than fail the checksum after."""
    if backend.kind != stamp.backend:
        raise CompressiqError(
            f"this file was compressed on the {stamp.backend} backend: decompress with --backend {stamp.backend}"
        )
    if stamp.kernels and backend.kernels() != stamp.kernels:
        raise CompressiqError(
            f"this file was compressed with {stamp.kernels}; this is {backend.kernels()}: decode it there"
        )


def _check_stamp(stamp: ModelStamp, length: int, payload: int, backend: Stepper) -> None:
    """A forged header must not make the decoder allocate or step without bound."""
    vocab = backend.vocab_size()
    check_chunking(stamp.chunk_tokens, stamp.batch, backend)
    if not 0 <= stamp.prefix < vocab:
        raise CompressiqError(f"damaged compressiq file (prefix token {stamp.prefix} is not in the vocabulary)")
    if not 1 <= stamp.threads <= MAX_THREADS:
        raise CompressiqError(f"damaged compressiq file (thread count {stamp.threads})")
    if not 1 <= stamp.tokens <= min(length, max_tokens(payload, vocab)):
        raise CompressiqError(f"damaged compressiq file ({stamp.tokens} tokens cannot come from {payload} bytes)")


def _run(backend: Stepper, stamp: ModelStamp, lengths: list[int], choose: Chooser) -> list[list[int]]:
    """Step ``stamp.batch`` chunks at a time through the model; ``choose`` codes each step's tokens."""
    threads = backend.num_threads()
    backend.set_num_threads(stamp.threads)
    try:
        out: list[list[int]] = []
        for first in range(0, len(lengths), stamp.batch):
            out += _lockstep(backend, lengths[first : first + stamp.batch], stamp.prefix, choose, first)
        return out
    finally:
        backend.set_num_threads(threads)


def _lockstep(backend: Stepper, lengths: list[int], prefix: int, choose: Chooser, first: int) -> list[list[int]]:
    """One batch of chunks, one token a step. Only a file's last chunk is shorter, and it is the last row,
    so the rows still coding are always the first ``live``; an ended row is fed its last token again."""
    assert lengths == sorted(lengths, reverse=True), "chunks end in order"
    step = backend.start(len(lengths), max(lengths))
    feed = [prefix] * len(lengths)
    out: list[list[int]] = [[] for _ in lengths]
    for position in range(max(lengths)):
        live = sum(position < n for n in lengths)
        probs = step(feed, live)[:live]  # a view: no copy
        symbols = choose(position, probs, list(range(first, first + live)))
        for r, s in enumerate(symbols):
            out[r].append(s)
            feed[r] = s
    return out


def _prefix(backend: Stepper) -> int:
    if backend.bos_id is not None:
        return int(backend.bos_id)
    raise CompressiqError(f"{backend.name} has no BOS token to start chunks from")


def _exact_tokens(data: bytes, backend: Stepper) -> list[int] | None:
    """The tokens of ``data`` if they decode back to exactly these bytes (and none is empty), else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    tokens = backend.encode(text)
    if len(tokens) > len(data) or backend.decode(tokens) != text:
        return None
    return tokens
