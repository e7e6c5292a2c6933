"""Compression for real: the container, round trips on a real model, and damaged files."""

import math
import random
from pathlib import Path

import numpy as np
import pytest

from compressiq.backends.hf import TransformersBackend
from compressiq.cli import main
from compressiq.codec import coding as codec
from compressiq.codec import container
from compressiq.codec.container import Header, Mode
from compressiq.core.engine import score_calls
from compressiq.core.windows import exact_calls
from compressiq.errors import CompressiqError
from tests.conftest import fresh_text


def test_container_round_trip_and_header_checks() -> None:
    stamp = container.ModelStamp("m", "ab" * 32, "cd" * 32, 512, 32, 1, 1000, 2)
    header = Header(Mode.MODEL, 5, container.sha256(b"hello"), stamp)
    blob = container.pack(header, b"payload")
    assert container.unpack(blob) == (header, b"payload")
    for i in (0, 6, 20, len(blob) - len(b"payload") - 5):  # magic, mode, digest, model stamp
        bad = bytearray(blob)
        bad[i] ^= 1
        with pytest.raises(CompressiqError, match="compressiq file"):
            container.unpack(bytes(bad))
    with pytest.raises(CompressiqError, match="truncated|compressiq file"):
        container.unpack(blob[:30])


def test_chunk_lengths() -> None:
    assert codec.chunk_lengths(10, 4) == [4, 4, 2]
    assert codec.chunk_lengths(8, 4) == [4, 4]
    assert codec.chunk_lengths(0, 4) == []


def test_auto_steps_small_gguf_files_on_llamacpp_and_the_rest_on_transformers() -> None:
    assert codec.pick_backend("auto", "/m/model.gguf", 3000) == "llamacpp"  # llama-cpp-python is a test extra
    assert codec.pick_backend("auto", "/m/model.gguf", codec.SMALL_FILE) == "transformers"
    assert codec.pick_backend("auto", "/m/folder", 3000) == "transformers"  # no GGUF: llama.cpp cannot load it
    assert codec.pick_backend("auto", "/m/model.gguf", 3000, dtype="bfloat16") == "transformers"  # a dtype asked for
    assert codec.pick_backend("transformers", "/m/model.gguf", 3000) == "transformers"


@pytest.fixture(scope="module")
def text() -> str:
    return "\n".join(d.content for d in fresh_text("cc", 6))[:11_000] + "\n" + fresh_text("python", 2)[1].content[:5000]


@pytest.mark.slow
def test_round_trip_matches_the_scorer(smollm2: TransformersBackend, text: str) -> None:
    data = text.encode("utf-8")
    prefix = smollm2.token_id("<|endoftext|>")
    blob = codec.compress(data, smollm2, chunk_tokens=256, batch=16, prefix=prefix)
    assert codec.decompress(blob, lambda stamp: smollm2) == data
    assert codec.compress(data, smollm2, chunk_tokens=256, batch=16, prefix=prefix) == blob  # deterministic
    header, payload = container.unpack(blob)
    assert header.mode == Mode.MODEL
    tokens = smollm2.encode(text)
    chunks = [tokens[i : i + 256] for i in range(0, len(tokens), 256)]
    bounds = list(np.cumsum([0] + [len(c) for c in chunks]))
    calls = exact_calls(chunks, prefix, 256, 256)
    bits = sum(s.nats for group in score_calls(smollm2, calls, bounds, set()) for s in group) / math.log(2)
    assert len(payload) == pytest.approx(bits / 8, rel=0.005), (len(payload), bits / 8)
    assert len(blob) - len(payload) < 256  # the fixed header (format 2 adds the backend and kernels, ~70 B)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("data", "mode"),
    [
        (b"", Mode.STORED),
        (b"x", Mode.STORED),  # a model-coded byte would be 100 header bytes larger
        (random.Random(0).randbytes(4096), Mode.STORED),
        ("café ".encode("latin-1") * 50, Mode.XZ),
        (b"a" * 1_000_000, Mode.XZ),
        # long enough that the model's payload and header beat the stored form
        (
            ("tabs\tand  spaces \r\n, ünïcödé, 漢字, emoji 🙂\n" + fresh_text("cc", 1)[0].content[:600]).encode(),
            Mode.MODEL,
        ),
    ],
    ids=["empty", "one-byte", "random-bytes", "invalid-utf8", "1mb-one-char", "odd-text"],
)
def test_hostile_inputs_come_back_byte_for_byte(smollm2: TransformersBackend, data: bytes, mode: Mode) -> None:
    blob = codec.compress(data, smollm2, chunk_tokens=64, batch=4)
    assert container.unpack(blob)[0].mode == mode
    assert codec.decompress(blob, lambda stamp: smollm2) == data


@pytest.mark.slow
def test_damaged_or_foreign_files_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.txt"
    src.write_text(fresh_text("cc", 1)[0].content[:600], encoding="utf-8")
    packed, out = tmp_path / "in.ciqz", tmp_path / "back.txt"
    assert main(["compress", "--model", "smollm2-135m", str(src), str(packed)]) == 0
    assert main(["decompress", str(packed), str(out)]) == 0 and out.read_bytes() == src.read_bytes()
    blob = packed.read_bytes()
    stamp = coding_header(blob).model
    assert stamp is not None and stamp.backend == "llamacpp"  # auto: a small file on a GGUF model
    cases = {
        "flipped-payload-bit": blob[:-40] + bytes([blob[-40] ^ 4]) + blob[-39:],
        "truncated": blob[: len(blob) // 2],
        "foreign": b"PK\x03\x04 not ours",
    }
    for name, bad in cases.items():
        packed.write_bytes(bad)
        out.unlink(missing_ok=True)
        capsys.readouterr()
        assert main(["decompress", str(packed), str(out)]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith("compressiq: error: ") and err.count("\n") == 1, (name, err)
        assert not out.exists(), name  # nothing written as if it were right
    packed.write_bytes(blob)
    assert main(["decompress", str(packed), str(out), "--model", "gemma3-270m"]) == 2
    assert "another model" in capsys.readouterr().err


@pytest.mark.slow
def test_decoding_runs_with_the_encoders_thread_count(smollm2: TransformersBackend, text: str) -> None:
    """Kernels may split sums differently with another thread count; the header carries the encoder's,
    and decoding puts the caller's back (the default of one thread: tests/codec/test_forged.py)."""
    torch, before = smollm2.torch, smollm2.torch.get_num_threads()
    data = text[:900].encode("utf-8")
    try:
        blob = codec.compress(data, smollm2, chunk_tokens=128, batch=8, threads=2)
        header = coding_header(blob)
        assert header.model is not None and header.model.threads == 2
        assert header.model.backend == "transformers" and header.model.kernels == smollm2.kernels()
        torch.set_num_threads(1)
        assert codec.decompress(blob, lambda stamp: smollm2) == data
        assert torch.get_num_threads() == 1  # the caller's setting comes back
    finally:
        torch.set_num_threads(before)


def coding_header(blob: bytes) -> Header:
    return container.unpack(blob)[0]


@pytest.mark.slow
def test_a_bf16_file_names_its_dtype_decodes_in_it_and_matches_the_bf16_scorer(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file's kernels say bfloat16; decompress reads that and steps in bf16 again, with no flag. The
    steps (packed single-query attention, float32 softmax) agree with the bf16 scorer's Σbits."""
    model, prefix = codec.load_model("smollm2-135m", dtype="bfloat16")
    assert prefix is not None
    data = text[:8000].encode("utf-8")
    blob = codec.compress(data, model, chunk_tokens=128, batch=16, prefix=prefix)
    stamp = coding_header(blob).model
    assert stamp is not None and stamp.kernels.endswith("bfloat16 on cpu") and codec.stamp_dtype(stamp) == "bfloat16"
    tokens = model.encode(data.decode("utf-8"))
    chunks = [tokens[i : i + 128] for i in range(0, len(tokens), 128)]
    bounds = list(np.cumsum([0] + [len(c) for c in chunks]))
    calls = exact_calls(chunks, prefix, 128, 128)
    bits = sum(s.nats for group in score_calls(model, calls, bounds, set()) for s in group) / math.log(2)
    payload = len(container.unpack(blob)[1])
    assert payload == pytest.approx(bits / 8, rel=0.005), (payload, bits / 8)
    packed, back = tmp_path / "in.ciqz", tmp_path / "back.txt"
    packed.write_bytes(blob)
    assert main(["decompress", str(packed), str(back)]) == 0
    assert back.read_bytes() == data
    float32 = container.ModelStamp(
        "m", "", "", 1, 1, 0, 1, 1, "transformers", "transformers 5, torch 2, float32 on cpu"
    )
    assert codec.stamp_dtype(float32) == "float32"
    assert codec.stamp_dtype(container.ModelStamp("m", "", "", 1, 1, 0, 1, 1)) == "float32"  # format 1
