"""The compressed file format: a checked header, then the payload. Pure: bytes in, bytes out.

Layout (little-endian): magic ``CIQZ``, format version, mode, original length, SHA-256 of the
original bytes; for model-coded files also the model's and tokenizer's fingerprints, the chunking
(tokens per chunk, chunks per batch), the prefix token, the token count, the thread count and the
model name, and (from version 2) the backend and its kernels; then a CRC-32 of all of the above; then
the payload. A damaged header is caught by the
CRC, damaged payload by the SHA-256 after decoding, so wrong bytes are never passed off as right.
Version 1 files (no backend field) are read as made by transformers, kernels unrecorded.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

from compressiq.errors import CompressiqError

MAGIC = b"CIQZ"
MAX_BATCH = 1024  # chunks side by side: the header field is 16 bits, a KV cache of more is no use
MAX_THREADS = 256
VERSION = 2  # 2 adds the backend and kernels; 1 is still read
_FIXED = struct.Struct("<4sBBQ32s")
_MODEL = struct.Struct("<32s32sIHIQHH")
_CRC = struct.Struct("<I")


class Mode(IntEnum):
    """How the payload holds the original bytes."""

    STORED = 0  # the bytes as they are (empty input, or nothing smaller)
    XZ = 1  # xz -9e: input the tokenizer cannot carry exactly (non-UTF-8, no exact round trip)
    MODEL = 2  # range-coded tokens under the model's next-token distribution


@dataclass(frozen=True)
class ModelStamp:
    """Everything the decoder must reproduce to get the encoder's probabilities back."""

    name: str
    fingerprint: str  # hex SHA-256 of the weights
    tokenizer: str  # hex SHA-256 of the tokenizer definition
    chunk_tokens: int
    batch: int
    prefix: int
    tokens: int
    threads: int
    backend: str = "transformers"  # the loader that steps the model: transformers or llamacpp
    kernels: str = ""  # the libraries and number type that compute it ("" in version 1 files: unrecorded)


@dataclass(frozen=True)
class Header:
    """What precedes the payload: the mode, the original's length and SHA-256, and the model stamp if model-coded."""

    mode: Mode
    length: int
    sha256: str
    model: ModelStamp | None = None


def pack(header: Header, payload: bytes) -> bytes:
    """The file: ``header`` (with its CRC-32), then ``payload``."""
    head = _FIXED.pack(MAGIC, VERSION, header.mode, header.length, bytes.fromhex(header.sha256))
    if header.model is not None:
        m = header.model
        name = m.name.encode("utf-8")
        head += _MODEL.pack(bytes.fromhex(m.fingerprint), bytes.fromhex(m.tokenizer), m.chunk_tokens,
                            m.batch, m.prefix, m.tokens, m.threads, len(name)) + name  # fmt: skip
        head += _text(m.backend) + _text(m.kernels)
    return head + _CRC.pack(zlib.crc32(head)) + payload


def unpack(blob: bytes) -> tuple[Header, bytes]:
    """Parse and check the header; the payload is what follows it."""
    if len(blob) < _FIXED.size + _CRC.size or blob[:4] != MAGIC:
        raise CompressiqError("not a compressiq file (bad magic or too short)")
    _, version, mode, length, digest = _FIXED.unpack_from(blob)
    if version not in (1, VERSION):
        raise CompressiqError(f"compressiq file format {version} is not supported (this version reads 1 to {VERSION})")
    end = _FIXED.size
    model = None
    if mode == Mode.MODEL:
        model, end = _stamp(blob, end, version)
    if len(blob) < end + _CRC.size or _CRC.unpack_from(blob, end)[0] != zlib.crc32(blob[:end]):
        raise CompressiqError("damaged or truncated compressiq file (header checksum mismatch)")
    if mode not in set(Mode):
        raise CompressiqError(f"unknown compression mode {mode}")
    return Header(Mode(mode), length, digest.hex(), model), blob[end + _CRC.size :]


def _stamp(blob: bytes, end: int, version: int) -> tuple[ModelStamp, int]:
    """The model stamp that starts at ``end``, and where it ends; version 1 has no backend or kernels."""
    if len(blob) < end + _MODEL.size:
        raise CompressiqError("truncated compressiq file (header cut short)")
    fp, tok, chunk, batch, prefix, tokens, threads, name_len = _MODEL.unpack_from(blob, end)
    end += _MODEL.size + name_len
    name = blob[end - name_len : end].decode("utf-8", "replace")
    backend, kernels = "transformers", ""
    if version >= 2:
        backend, end = _read_text(blob, end)
        kernels, end = _read_text(blob, end)
    if not (chunk >= 1 and 1 <= batch <= MAX_BATCH and 1 <= threads <= MAX_THREADS and tokens >= 1):
        raise CompressiqError("damaged compressiq file (chunking, batch, threads or token count out of range)")
    return ModelStamp(name, fp.hex(), tok.hex(), chunk, batch, prefix, tokens, threads, backend, kernels), end


def _text(value: str) -> bytes:
    """A short string as one length byte and its UTF-8 (cut to 255 bytes)."""
    raw = value.encode("utf-8")[:255].decode("utf-8", "ignore").encode("utf-8")
    return bytes([len(raw)]) + raw


def _read_text(blob: bytes, end: int) -> tuple[str, int]:
    if len(blob) < end + 1 or len(blob) < end + 1 + blob[end]:
        raise CompressiqError("truncated compressiq file (header cut short)")
    size = blob[end]
    return blob[end + 1 : end + 1 + size].decode("utf-8", "replace"), end + 1 + size


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``: what the decoded bytes must hash to."""
    return hashlib.sha256(data).hexdigest()
