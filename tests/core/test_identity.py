"""A run is another model's only if every weight differs nowhere; a folder's own code and pickles never run."""

import io
import json
import os
import pickle
from pathlib import Path

import pytest

from compressiq import ScoreConfig, load_corpus, score
from compressiq.cli import main
from compressiq.core import registry, weights
from compressiq.errors import CompressiqError

TINY_LLAMA = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "num_hidden_layers": 1,
    "vocab_size": 49152,
    "max_position_embeddings": 256,
}


def folder(path: Path, files: dict[str, bytes]) -> Path:
    path.mkdir()
    for name, data in files.items():
        (path / name).write_bytes(data)
    return path


def test_folders_differing_only_in_a_bin_file_differ(tmp_path: Path) -> None:
    config = json.dumps(TINY_LLAMA).encode()
    a = folder(tmp_path / "a", {"config.json": config, "pytorch_model.bin": b"weights A"})
    b = folder(tmp_path / "b", {"config.json": config, "pytorch_model.bin": b"weights B"})
    assert weights.fingerprint(str(a)) != weights.fingerprint(str(b))
    for suffix in (".pt", ".pth", ".gguf", ".safetensors"):
        (b / "pytorch_model.bin").rename(b / f"w{suffix}")
        c = folder(tmp_path / f"c-{suffix[1:]}", {"config.json": config, f"w{suffix}": b"weights B"})
        assert weights.fingerprint(str(b)) == weights.fingerprint(str(c)) != weights.fingerprint(str(a))
        (b / f"w{suffix}").rename(b / "pytorch_model.bin")
        (c / f"w{suffix}").write_bytes(b"weights C")
        assert weights.fingerprint(str(b)) != weights.fingerprint(str(c))


def test_sharded_indexes_are_part_of_the_identity(tmp_path: Path) -> None:
    files = {"config.json": b"{}", "model-00001-of-00001.safetensors": b"w"}
    a = folder(tmp_path / "a", files | {"model.safetensors.index.json": b'{"weight_map": {"x": "1"}}'})
    b = folder(tmp_path / "b", files | {"model.safetensors.index.json": b'{"weight_map": {"x": "2"}}'})
    assert weights.fingerprint(str(a)) != weights.fingerprint(str(b))


def test_a_folder_without_weights_we_can_fingerprint_is_an_error(tmp_path: Path) -> None:
    bare = folder(tmp_path / "m", {"config.json": b"{}", "flax_model.msgpack": b"w"})
    with pytest.raises(CompressiqError, match="no model weights.*safetensors"):
        weights.fingerprint(str(bare))


def test_scoring_a_bin_twin_never_returns_the_first_ones_result(tmp_path: Path) -> None:
    """The two folders once shared a run id, so the second returned the first's BPC without loading."""
    config = json.dumps(TINY_LLAMA).encode()
    first = folder(tmp_path / "a", {"config.json": config, "pytorch_model.bin": b"weights A"})
    second = folder(tmp_path / "b", {"config.json": config, "pytorch_model.bin": b"weights B"})
    corpus = load_corpus("demo", 1)
    from compressiq.core import runner

    ids = {runner.run_id(weights.fingerprint(str(f)), corpus.fingerprint, ScoreConfig()) for f in (first, second)}
    assert len(ids) == 2
    with pytest.raises(CompressiqError, match="cannot load model"):  # a .bin that is no real pickle of tensors
        score(str(second), corpus, ScoreConfig(), tmp_path / "results")


class _Payload:
    """A pickle whose loading runs a command: what ``weights_only=True`` must refuse."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def smollm2_tokenizer_files() -> dict[str, bytes]:
    from compressiq.backends import hf

    converted = hf.converted_gguf(Path(registry.locate(registry.resolve("smollm2-135m"))))
    names = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
    return {n: (converted / n).read_bytes() for n in names if (converted / n).is_file()}


@pytest.mark.slow
def test_a_pickled_bin_is_never_unpickled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    pickle.dump(_Payload(marker), buffer)
    model = folder(
        tmp_path / "m",
        {"config.json": json.dumps(TINY_LLAMA).encode(), "pytorch_model.bin": buffer.getvalue()}
        | smollm2_tokenizer_files(),
    )
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"content": "Some text to score."}) + "\n")
    code = main(["score", "--model", str(model), "--corpus", str(corpus), "--results", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("compressiq: error: cannot load model") and err.count("\n") == 1, err
    assert not marker.exists()


REMOTE_CODE = """
from pathlib import Path
Path({marker!r}).touch()
from transformers import PretrainedConfig
class EvilConfig(PretrainedConfig):
    model_type = "evil"
"""


@pytest.mark.slow
def test_a_folders_own_code_never_runs_without_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    config = {"model_type": "evil", "auto_map": {"AutoConfig": "configuration_evil.EvilConfig",
              "AutoModelForCausalLM": "modeling_evil.EvilModel"}}  # fmt: skip
    model = folder(
        tmp_path / "m",
        {
            "config.json": json.dumps(config).encode(),
            "configuration_evil.py": REMOTE_CODE.format(marker=str(marker)).encode(),
            "model.safetensors": b"not read",
        }
        | smollm2_tokenizer_files(),
    )
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"content": "Some text to score."}) + "\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("y\ny\ny\n"))  # transformers once asked on the terminal
    code = main(["score", "--model", str(model), "--corpus", str(corpus), "--results", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("compressiq: error: ") and err.count("\n") == 1, err
    assert "trust_remote_code" in err or "--trust-remote-code" in err, err
    assert not marker.exists()
