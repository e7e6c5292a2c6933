"""Forged and damaged containers, driven through the pure coding logic with the exact test double."""

import lzma
from dataclasses import replace

import pytest

from compressiq.backends.testing import VOCAB, ByteBackend
from compressiq.codec import coding, container
from compressiq.codec.container import Header, Mode
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
