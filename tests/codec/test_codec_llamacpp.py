"""The codec on the llama.cpp backend: bit-exact round trips on the real GGUF files, the payload against
the llama.cpp scorer's Σbits, and files that name another backend refused with one line."""

import math
from pathlib import Path

import numpy as np
import pytest

from compressiq.backends.hf import TransformersBackend
from compressiq.backends.llamacpp import LlamaCppBackend, load_llamacpp, softmax_into
from compressiq.cli import main
from compressiq.codec import coding, container
from compressiq.codec.container import Mode
from compressiq.core import registry as models
from compressiq.core.engine import score_calls
from compressiq.core.windows import exact_calls
from compressiq.errors import CompressiqError
from tests.conftest import fresh_text

pytestmark = pytest.mark.slow


def load(name: str) -> LlamaCppBackend:
    return load_llamacpp(models.locate(models.resolve(name)), name)


@pytest.fixture(scope="module")
def smollm2_cpp() -> LlamaCppBackend:
    return load("smollm2-135m")


def test_softmax_by_hand() -> None:
    out = np.empty((2, 2))
    softmax_into(out, np.array([[0.0, math.log(3.0)], [1000.0, 1000.0]], dtype=np.float32))
    assert np.allclose(out, [[0.25, 0.75], [0.5, 0.5]])


def test_round_trip_matches_the_llamacpp_scorer(smollm2_cpp: LlamaCppBackend) -> None:
    """Same chunks, same backend: the payload is the scorer's Σbits to within 0.5 %, and decodes bit-exact."""
    text = fresh_text("cc", 3)[2].content[:2500] + "\n" + fresh_text("python", 2)[1].content[:1500]
    data, prefix = text.encode("utf-8"), smollm2_cpp.token_id("<|endoftext|>")
    blob = coding.compress(data, smollm2_cpp, chunk_tokens=256, batch=4, prefix=prefix)
    header, payload = container.unpack(blob)
    assert header.mode == Mode.MODEL and header.model is not None
    assert (header.model.backend, header.model.threads) == ("llamacpp", 1)
    assert header.model.kernels.startswith("llama-cpp-python ")
    assert coding.decompress(blob, lambda stamp: smollm2_cpp) == data
    tokens = smollm2_cpp.encode(text)
    chunks = [tokens[i : i + 256] for i in range(0, len(tokens), 256)]
    bounds = list(np.cumsum([0] + [len(c) for c in chunks]))
    calls = exact_calls(chunks, prefix, 256, 256)
    bits = sum(s.nats for group in score_calls(smollm2_cpp, calls, bounds, set()) for s in group) / math.log(2)
    assert len(payload) == pytest.approx(bits / 8, rel=0.005), (len(payload), bits / 8)


# Pieces longer than llama-cpp-python's 32-byte detokenize buffer, a space after the prefix, and UTF-8
# split across byte tokens: each must come back exactly.
ODD = "<|endoftext|> leading space\n" + " " * 40 + "x = 1\n" + "=" * 70 + "\nünïcödé 漢字 🙂 tabs\tand\r\n"


@pytest.mark.parametrize("name", ["smollm2-135m", "gemma3-270m"])
def test_odd_text_round_trips(smollm2_cpp: LlamaCppBackend, name: str) -> None:
    model = smollm2_cpp if name == "smollm2-135m" else load(name)
    data = (ODD + fresh_text("cc", 1)[0].content[:300]).encode("utf-8")
    blob = coding.compress(data, model, chunk_tokens=64, batch=3)
    assert container.unpack(blob)[0].mode == Mode.MODEL
    assert coding.decompress(blob, lambda stamp: model) == data


def test_the_backend_in_the_file_decodes_it_and_another_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], smollm2: TransformersBackend
) -> None:
    src, packed, back = tmp_path / "in.txt", tmp_path / "in.ciqz", tmp_path / "back.txt"
    src.write_text(fresh_text("cc", 1)[0].content[:500], encoding="utf-8")
    assert main(["compress", "--model", "smollm2-135m", "--backend", "llamacpp", str(src), str(packed)]) == 0
    assert main(["decompress", str(packed), str(back)]) == 0  # the file's backend, unasked
    assert back.read_bytes() == src.read_bytes()
    back.unlink()
    capsys.readouterr()
    assert main(["decompress", "--backend", "transformers", str(packed), str(back)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("compressiq: error: ") and err.count("\n") == 1 and "--backend llamacpp" in err
    assert not back.exists()
    blob = coding.compress(src.read_bytes(), smollm2, chunk_tokens=64, batch=4)
    with pytest.raises(CompressiqError, match="on the transformers backend"):
        coding.decompress(blob, lambda stamp: load("smollm2-135m"))


def test_a_new_start_frees_the_old_stepping(smollm2_cpp: LlamaCppBackend) -> None:
    first = smollm2_cpp.start(2, 16)
    a = first([0, 0], 2)
    second = smollm2_cpp.start(2, 16)
    assert np.array_equal(second([0, 0], 2), a)  # a fresh context: the same first step, bit for bit
    with pytest.raises(CompressiqError, match="replaced"):
        first([0, 0], 2)
    alone = smollm2_cpp.start(2, 16)([0, 7], 1)  # an ended row is left out, not computed
    assert alone.shape == (1, smollm2_cpp.n_vocab) and np.allclose(alone, a[:1], atol=1e-6)
    with pytest.raises(CompressiqError, match="at most 256 chunks"):
        smollm2_cpp.start(257, 16)
