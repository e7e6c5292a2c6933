"""Compression for real: range coding of the token stream under the model's next-token distribution.

The text is tokenized once and cut into chunks of ``chunk_tokens`` tokens; each chunk is coded
from the prefix token on, with its own context, like a document of the scorer. Decoding is
sequential within a chunk, so ``batch`` chunks advance side by side, one token a step, through a
key-value cache. Encoder and decoder run *the same* steps (same chunks, same batch rows, same
shapes) so the model returns bit-identical probabilities on both sides; constriction's range coder
quantises them the same way. Determinism holds on one machine with the same library versions and
thread count (stored in the header and restored for decoding).

Bytes the tokenizer cannot carry exactly (non-UTF-8, or text whose tokens do not decode back to
it) are not altered: the file falls back to xz. Input that xz already shrinks to under 1 % (say,
a megabyte of one character) also stays with xz: a model cannot beat that by a useful margin.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import lzma
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from compressiq import models
from compressiq.container import Header, Mode, ModelStamp, pack, sha256, unpack
from compressiq.errors import CompressiqError, missing_extra
from compressiq.hf import TransformersBackend, load_transformers

XZ_DEGENERATE = 0.01
Chooser = Callable[[int, npt.NDArray[np.float64], list[int]], list[int]]


def _constriction() -> Any:
    try:
        return importlib.import_module("constriction")
    except ImportError:
        raise missing_extra("constriction", "codec") from None


def load_model(model: str) -> tuple[TransformersBackend, int | None]:
    """A registry name, .gguf file or folder, loaded; and the registry's prefix token, if any."""
    entry = models.resolve(model)
    backend = load_transformers(models.locate(entry), entry.name)
    return backend, backend.token_id(entry.prefix_token) if entry.prefix_token else None


def tokenizer_fingerprint(backend: TransformersBackend) -> str:
    tok = backend.tok
    definition = (
        tok.backend_tokenizer.to_str() if hasattr(tok, "backend_tokenizer") else repr(sorted(tok.get_vocab().items()))
    )
    return hashlib.sha256(definition.encode()).hexdigest()


def chunk_lengths(tokens: int, chunk_tokens: int) -> list[int]:
    """Example: 10 tokens in chunks of 4 are [4, 4, 2]; 0 tokens are []."""
    return [min(chunk_tokens, tokens - start) for start in range(0, tokens, chunk_tokens)]


def compress(
    data: bytes, backend: TransformersBackend, chunk_tokens: int = 512, batch: int = 128, prefix: int | None = None
) -> bytes:
    """``data`` as a compressiq file (see ``container``); chunks start from ``prefix`` (default BOS)."""
    digest = sha256(data)
    if not data:
        return pack(Header(Mode.STORED, 0, digest), data)
    xz = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
    tokens = None if len(xz) < XZ_DEGENERATE * len(data) else _exact_tokens(data, backend)
    if tokens is None:
        if len(xz) < len(data):
            return pack(Header(Mode.XZ, len(data), digest), xz)
        return pack(Header(Mode.STORED, len(data), digest), data)
    start = _prefix(backend) if prefix is None else prefix
    threads = backend.torch.get_num_threads()
    stamp = ModelStamp(backend.name, backend.fingerprint, tokenizer_fingerprint(backend), chunk_tokens, batch,
                       start, len(tokens), threads)  # fmt: skip
    rc = _constriction()
    encoder = rc.stream.queue.RangeEncoder()
    family = rc.stream.model.Categorical(perfect=False)
    chunks = [tokens[i : i + chunk_tokens] for i in range(0, len(tokens), chunk_tokens)]

    def encode(step: int, probs: npt.NDArray[np.float64], rows: list[int]) -> list[int]:
        symbols = np.array([chunks[r][step] for r in rows], dtype=np.int32)
        encoder.encode(symbols, family, probs)
        return [int(s) for s in symbols]

    _run(backend, stamp, [len(c) for c in chunks], encode)
    payload = encoder.get_compressed().astype("<u4").tobytes()
    return pack(Header(Mode.MODEL, len(data), digest, stamp), payload)


def decompress(blob: bytes, backend_for: Callable[[ModelStamp], TransformersBackend]) -> bytes:
    """The original bytes, or an error; never bytes that fail the checksum."""
    header, payload = unpack(blob)
    if header.mode == Mode.STORED:
        data = payload
    elif header.mode == Mode.XZ:
        try:
            data = lzma.decompress(payload)
        except lzma.LZMAError as e:
            raise CompressiqError(f"damaged compressiq file ({e})") from None
    else:
        assert header.model is not None
        data = _decode_tokens(payload, header.model, backend_for(header.model))
    if len(data) != header.length or sha256(data) != header.sha256:
        raise CompressiqError("damaged compressiq file: the decoded bytes fail the checksum; nothing written")
    return data


def _decode_tokens(payload: bytes, stamp: ModelStamp, backend: TransformersBackend) -> bytes:
    if backend.fingerprint != stamp.fingerprint or tokenizer_fingerprint(backend) != stamp.tokenizer:
        raise CompressiqError(
            f"this file was compressed with another model ({stamp.name}, weights {stamp.fingerprint[:12]})"
        )
    if len(payload) % 4:
        raise CompressiqError("damaged or truncated compressiq file (payload is not whole 32-bit words)")
    rc = _constriction()
    decoder = rc.stream.queue.RangeDecoder(np.frombuffer(payload, dtype="<u4").astype(np.uint32))
    family = rc.stream.model.Categorical(perfect=False)

    def decode(step: int, probs: npt.NDArray[np.float64], rows: list[int]) -> list[int]:
        return [int(s) for s in decoder.decode(family, probs)]

    chunks = _run(backend, stamp, chunk_lengths(stamp.tokens, stamp.chunk_tokens), decode)
    text = backend.tok.decode(
        [t for c in chunks for t in c], skip_special_tokens=False, clean_up_tokenization_spaces=False
    )
    return str(text).encode("utf-8")


def _run(backend: TransformersBackend, stamp: ModelStamp, lengths: list[int], choose: Chooser) -> list[list[int]]:
    """Step ``stamp.batch`` chunks at a time through the model; ``choose`` codes each step's tokens."""
    torch = backend.torch
    threads = torch.get_num_threads()
    torch.set_num_threads(stamp.threads)
    try:
        out: list[list[int]] = []
        for first in range(0, len(lengths), stamp.batch):
            out += _lockstep(backend, lengths[first : first + stamp.batch], stamp.prefix, choose, first)
        return out
    finally:
        torch.set_num_threads(threads)


def _lockstep(
    backend: TransformersBackend, lengths: list[int], prefix: int, choose: Chooser, first: int
) -> list[list[int]]:
    """One batch of chunks, one token a step; finished rows keep stepping on the prefix token."""
    torch = backend.torch
    cache = _chunk_cache(backend, max(lengths))
    # transformers 5.x renames ``past_key_values`` to ``cache``; pass whichever this version takes.
    kwarg = "cache" if "cache" in inspect.signature(backend.model.forward).parameters else "past_key_values"
    feed = [prefix] * len(lengths)
    out: list[list[int]] = [[] for _ in lengths]
    with torch.inference_mode():
        for step in range(max(lengths)):
            ids = torch.tensor(feed)[:, None]
            logits = backend.model(input_ids=ids, use_cache=True, **{kwarg: cache}).logits[:, -1]
            probs = logits.float().softmax(-1).double().numpy()
            rows = [r for r, n in enumerate(lengths) if step < n]
            symbols = choose(step, probs[rows], [first + r for r in rows])
            for r, s in zip(rows, symbols):
                out[r].append(s)
                feed[r] = s
    return out


def _chunk_cache(backend: TransformersBackend, capacity: int) -> Any:
    """transformers' DynamicCache with its full-attention layers written in place into buffers of
    ``capacity`` positions. DynamicCache concatenates at every step, which copies the whole cache and
    made a step 4x slower at the end of a 512-token chunk than at its start; sliding-window layers keep theirs."""
    transformers = importlib.import_module("transformers")
    cache = transformers.DynamicCache(config=backend.model.config)

    class Buffered(transformers.DynamicLayer):  # type: ignore[misc, name-defined]
        def update(self, keys: Any, values: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            if not hasattr(self, "k_buf"):
                batch, heads, _, width = keys.shape
                self.k_buf = keys.new_empty(batch, heads, capacity, width)
                self.v_buf = values.new_empty(batch, heads, capacity, width)
                self.used, self.is_initialized = 0, True
            end = self.used + keys.shape[-2]
            self.k_buf[:, :, self.used : end] = keys
            self.v_buf[:, :, self.used : end] = values
            self.used, self.keys, self.values = end, self.k_buf[:, :, :end], self.v_buf[:, :, :end]
            return self.keys, self.values

    cache.layers = [Buffered() if type(layer) is transformers.DynamicLayer else layer for layer in cache.layers]
    return cache


def _prefix(backend: TransformersBackend) -> int:
    if backend.bos_id is not None:
        return int(backend.bos_id)
    raise CompressiqError(f"{backend.name} has no BOS token to start chunks from")


def _exact_tokens(data: bytes, backend: TransformersBackend) -> list[int] | None:
    """The tokens of ``data`` if they decode back to exactly these bytes, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    tokens = backend.encode(text)
    back = backend.tok.decode(tokens, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    return tokens if back == text else None
