"""The codec's command line never loses a user's file: outputs are checked before any work, written atomically."""

from pathlib import Path

import pytest

from compressiq.cli import main
from compressiq.codec import coding


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().err


def one_error_line(err: str) -> bool:
    return err.startswith("compressiq: error: ") and err.count("\n") == 1


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_the_input_is_never_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    src = tmp_path / "t.txt"
    src.write_bytes(b"precious")
    model = ["--model", "smollm2-135m"] if command == "compress" else []
    for target in (str(src), str(tmp_path / "." / "t.txt")):
        code, err = run(capsys, command, *model, str(src), target, "--force")
        assert code == 2 and one_error_line(err) and "is the input" in err
    assert src.read_bytes() == b"precious"


def test_an_existing_output_needs_force_and_a_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "t.txt", tmp_path / "t.ciqz"
    src.write_bytes(b"x")
    out.write_bytes(b"keep me")
    code, err = run(capsys, "compress", "--model", "smollm2-135m", str(src), str(out))
    assert code == 2 and one_error_line(err) and "--force" in err and out.read_bytes() == b"keep me"
    code, err = run(capsys, "decompress", str(out), str(src))
    assert code == 2 and one_error_line(err) and src.read_bytes() == b"x"
    code, err = run(capsys, "compress", "--model", "smollm2-135m", str(src), str(tmp_path))
    assert code == 2 and one_error_line(err) and "directory" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.ciqz", "t.txt"]  # no temporary file left


@pytest.mark.slow
def test_force_replaces_atomically_and_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, packed, back = tmp_path / "t.txt", tmp_path / "t.ciqz", tmp_path / "back.txt"
    src.write_bytes(b"Hello, compressed world.\n")
    packed.write_bytes(b"old")
    back.write_bytes(b"old")
    assert run(capsys, "compress", "--model", "smollm2-135m", str(src), str(packed), "--force")[0] == 0
    assert run(capsys, "decompress", str(packed), str(back), "--force")[0] == 0
    assert back.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.txt", "t.ciqz", "t.txt"]


@pytest.mark.parametrize(("flag", "value"), [("--chunk-tokens", "0"), ("--batch", "0"), ("--batch", "70000")])
def test_bad_chunking_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str) -> None:
    src = tmp_path / "t.txt"
    src.write_text("Some text to compress. " * 20)
    code, err = run(capsys, "compress", "--model", "smollm2-135m", str(src), str(tmp_path / "o.ciqz"), flag, value)
    assert code == 2 and one_error_line(err) and flag in err
    assert not (tmp_path / "o.ciqz").exists()


def test_ctrl_c_during_compress_says_nothing_was_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(coding, "load_model", interrupted)
    src = tmp_path / "t.txt"
    src.write_text("text")
    code, err = run(capsys, "compress", "--model", "smollm2-135m", str(src), str(tmp_path / "o.ciqz"))
    assert code == 130 and "nothing was written" in err and "stored" not in err


def test_decompress_opens_only_a_registry_name_from_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from compressiq.backends.testing import ByteBackend
    from compressiq.codec import container

    model = ByteBackend()
    model.name = str(tmp_path / "evil-model-folder")
    packed = tmp_path / "f.ciqz"
    text = "Some text. " * 20
    stamp, payload = coding.encode(model.encode(text), model, chunk_tokens=64, batch=2, prefix=256)
    header = container.Header(container.Mode.MODEL, len(text), container.sha256(text.encode()), stamp)
    packed.write_bytes(container.pack(header, payload))
    code, err = run(capsys, "decompress", str(packed), str(tmp_path / "out.txt"))
    assert code == 2 and one_error_line(err) and "not in the registry" in err and "--model" in err
