"""Forged and damaged containers, driven through the pure coding logic with the exact test double."""

import lzma
import zlib
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest

from compressiq.backends.testing import VOCAB, ByteBackend
from compressiq.codec import coding, container
from compressiq.codec.container import Header, Mode
from compressiq.core.backend import FloatArray
from compressiq.errors import CompressiqError

TEXT = ("Compression is prediction, and prediction is understanding. " * 40).encode()


@pytest.fixture(scope="module")
def model() -> ByteBackend:
    return ByteBackend()


@pytest.fixture(scope="module")
def blob(model: ByteBackend) -> bytes:
    """A model-coded file (the double predicts worse than xz, so ``compress`` itself would store xz)."""
    stamp, payload = coding.encode(model.encode(TEXT.decode()), model, chunk_tokens=300, batch=4, prefix=256)
    return container.pack(Header(Mode.MODEL, len(TEXT), container.sha256(TEXT), stamp), payload)


def test_the_double_round_trips(model: ByteBackend, blob: bytes) -> None:
    assert container.unpack(blob)[0].mode == Mode.MODEL
    assert coding.decompress(blob, lambda stamp: model) == TEXT
    assert container.unpack(coding.compress(TEXT, model))[0].mode == Mode.XZ  # the smaller form wins


def forge(blob: bytes, **fields: int) -> bytes:
    header, payload = container.unpack(blob)
    assert header.model is not None
    return container.pack(replace(header, model=replace(header.model, **fields)), payload)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tokens": 2**60}, "cannot come from"),
        ({"tokens": 0}, "out of range"),
        ({"chunk_tokens": 0}, "out of range"),
        ({"batch": 0}, "out of range"),
        ({"batch": 65535}, "out of range"),
        ({"threads": 0}, "out of range"),
        ({"prefix": VOCAB}, "not in the vocabulary"),
        ({"chunk_tokens": 1 << 30}, "chunk-tokens"),
    ],
    ids=[
        "tokens-2^60",
        "no-tokens",
        "chunk-0",
        "batch-0",
        "batch-65535",
        "threads-0",
        "prefix-out-of-vocab",
        "chunk-huge",
    ],
)
def test_forged_header_fields_are_refused_before_any_step(
    model: ByteBackend, blob: bytes, fields: dict[str, int], message: str
) -> None:
    with pytest.raises(CompressiqError, match=message):
        coding.decompress(forge(blob, **fields), lambda stamp: model)


def test_max_tokens_is_a_real_bound(model: ByteBackend, blob: bytes) -> None:
    """The bound holds for what the coder really produced, and is within a small factor of nothing wasted."""
    header, payload = container.unpack(blob)
    assert header.model is not None
    assert header.model.tokens <= coding.max_tokens(len(payload), VOCAB)
    assert coding.max_tokens(4, 49_152) == 7_571  # the docstring's worked example


def test_trailing_bytes_are_refused(model: ByteBackend, blob: bytes) -> None:
    with pytest.raises(CompressiqError, match="after the coded tokens|checksum"):
        coding.decompress(blob + b"\0\0\0\0" * 8, lambda stamp: model)
    stored = coding.compress(b"ab", model)
    assert container.unpack(stored)[0].mode == Mode.STORED
    with pytest.raises(CompressiqError, match="length"):
        coding.decompress(stored + b"junk", lambda stamp: model)


def test_an_xz_bomb_is_refused_without_unpacking_it(model: ByteBackend) -> None:
    bomb = lzma.compress(bytes(256 << 20), preset=9)
    forged = container.pack(Header(Mode.XZ, 1000, container.sha256(b"x" * 1000)), bomb)
    with pytest.raises(CompressiqError, match="length"):
        coding.decompress(forged, lambda stamp: model)
    good = lzma.compress(b"y" * 1000)
    with pytest.raises(CompressiqError, match="length"):
        coding.decompress(
            container.pack(Header(Mode.XZ, 1000, container.sha256(b"y" * 1000)), good + b"!"), lambda s: model
        )


@pytest.mark.parametrize("data", [b"", b"x", b"hi", b"\xff"], ids=["empty", "one-byte", "two-bytes", "non-utf8"])
def test_small_files_stay_small(model: ByteBackend, data: bytes) -> None:
    blob = coding.compress(data, model)
    assert container.unpack(blob)[0].mode == Mode.STORED
    assert len(blob) == len(data) + len(coding.compress(b"", model))  # the fixed header, nothing more
    assert coding.decompress(blob, lambda stamp: model) == data


@pytest.mark.parametrize(
    ("chunk", "batch"), [(0, 4), (-1, 4), (16, 0), (16, 1025)], ids=["chunk-0", "chunk-neg", "batch-0", "batch-big"]
)
def test_bad_chunking_is_refused_before_the_model_runs(chunk: int, batch: int) -> None:
    model = ByteBackend()
    with pytest.raises(CompressiqError, match="--chunk-tokens|--batch"):
        coding.compress(TEXT, model, chunk_tokens=chunk, batch=batch)
    assert model.calls == 0


def version_1(blob: bytes) -> bytes:
    """``blob`` rewritten in format 1: no backend or kernels fields, version byte 1, CRC recomputed."""
    header, payload = container.unpack(blob)
    assert header.model is not None
    tail = 2 + len(header.model.backend.encode()) + len(header.model.kernels.encode())
    head = bytearray(blob[: len(blob) - len(payload) - 4 - tail])
    head[4] = 1
    return bytes(head) + zlib.crc32(head).to_bytes(4, "little") + payload


def test_format_1_files_are_still_read(model: ByteBackend, blob: bytes) -> None:
    old = version_1(replace_stamp(blob, backend="transformers"))
    header = container.unpack(old)[0]
    assert header.model is not None and (header.model.backend, header.model.kernels) == ("transformers", "")
    assert container.unpack(blob)[0].model == replace(header.model, backend="testing", kernels=model.kernels())
    as_transformers = TransformersDouble()
    assert coding.decompress(old, lambda stamp: as_transformers) == TEXT  # kernels unrecorded: not checked
    future = bytearray(blob)
    future[4] = 3
    with pytest.raises(CompressiqError, match="format 3 is not supported"):
        container.unpack(bytes(future))


class TransformersDouble(ByteBackend):
    """The exact double, claiming to be the transformers backend (what format 1 files imply)."""

    kind = "transformers"


def replace_stamp(blob: bytes, **fields: str) -> bytes:
    header, payload = container.unpack(blob)
    assert header.model is not None
    return container.pack(replace(header, model=replace(header.model, **fields)), payload)


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"backend": "llamacpp"}, "on the llamacpp backend: decompress with --backend llamacpp"),
     ({"kernels": "torch 0.1, float32 on cpu"}, "compressed with torch 0.1, float32 on cpu; this is numpy")],
    ids=["other-backend", "other-kernels"],
)  # fmt: skip
def test_other_backends_or_kernels_are_refused_before_any_step(
    blob: bytes, fields: dict[str, str], message: str
) -> None:
    model = ByteBackend()
    with pytest.raises(CompressiqError, match=message):
        coding.decompress(replace_stamp(blob, **fields), lambda stamp: model)
    assert model.calls == 0


class ThreadWatcher(ByteBackend):
    """Records the thread count each batch of steps starts under."""

    def __init__(self) -> None:
        super().__init__()
        self.threads, self.seen = 5, list[int]()

    def start(self, rows: int, capacity: int) -> Callable[[Sequence[int]], FloatArray]:
        self.seen.append(self.threads)
        return super().start(rows, capacity)


@pytest.mark.parametrize("threads", [1, 3], ids=["default-one", "three"])
def test_steps_run_on_the_recorded_threads_then_the_callers_come_back(threads: int) -> None:
    model = ThreadWatcher()
    tokens = model.encode(TEXT.decode())
    stamp, payload = coding.encode(tokens, model, chunk_tokens=500, batch=2, prefix=256, threads=threads)
    blob = container.pack(Header(Mode.MODEL, len(TEXT), container.sha256(TEXT), stamp), payload)
    assert stamp.threads == threads and model.threads == 5
    assert coding.decompress(blob, lambda s: model) == TEXT
    assert model.seen == [threads] * 6 and model.threads == 5  # 5 chunks: 3 batches of 2 each way
    assert coding.encode(tokens, model, chunk_tokens=500, batch=2, prefix=256)[0].threads == 1  # the default


def test_bad_thread_counts_are_refused_before_the_model_runs() -> None:
    model = ByteBackend()
    for bad in (0, 257):
        with pytest.raises(CompressiqError, match="--threads"):
            coding.compress(TEXT, model, threads=bad)
    assert model.calls == 0
