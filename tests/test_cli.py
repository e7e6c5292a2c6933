"""The command line on a real model: outputs, exports, and one clear line for each bad input."""

import json
from pathlib import Path

import pytest

from compressiq.cli import main

pytestmark = pytest.mark.slow


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"content": t, "subset": "cc", "meta": {}}) + "\n" for t in texts))
    return path


def test_score_json_results_and_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = str(tmp_path / "res")
    code, out, _ = run(
        capsys,
        "score",
        "--model",
        "smollm2-135m",
        "--corpus",
        "sample:python",
        "--limit",
        "2",
        "--results",
        res,
        "--quiet",
        "--json",
    )
    assert code == 0
    last = json.loads(out.strip().splitlines()[-1])
    assert last["documents"] == 2 and last["block"] == 1900 and last["stride"] == 512
    assert 0.2 < last["bpc"] < 2.0 and last["bits"] == pytest.approx(last["bpc"] * last["characters"])
    _, out, _ = run(capsys, "results", "--results", res, "--format", "csv")
    assert out.splitlines()[0].startswith("model,corpus,subset,protocol,bpc")
    code, out, _ = run(capsys, "results", "--results", res, "--format", "json")
    (row,) = json.loads(out)
    assert row["bpc"] == pytest.approx(last["bpc"]) and row["complete"] is True
    code, out, _ = run(capsys, "results", "--results", res, "--documents", last["run_id"], "--format", "json")
    docs = json.loads(out)
    assert sum(d["characters"] for d in docs) == last["characters"] and len(docs) == 2


def test_window_chars_derive_token_windows_per_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(
        capsys,
        "score",
        "--model",
        "smollm2-135m",
        "--corpus",
        "sample:cc",
        "--limit",
        "2",
        "--window-chars",
        "800",
        "--stride-chars",
        "400",
        "--results",
        str(tmp_path),
        "--quiet",
        "--json",
    )
    last = json.loads(out.strip().splitlines()[-1])
    per_token = last["characters"] / last["tokens"]
    assert last["block"] == round(800 / per_token) and last["stride"] == round(400 / per_token)


def test_models_lists_the_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models")
    assert code == 0 and "smollm2-135m" in out and "gemma3-270m" in out


def test_help_shows_runnable_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    assert "compressiq score --model smollm2-135m --corpus sample:cc" in capsys.readouterr().out


def bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 64)
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(b'{"content": "caf\xe9"}\n')
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    ok = str(write_jsonl(tmp_path / "ok.jsonl", ["hello"]))
    return {
        "unknown-model": (["--model", "no-such-model", "--corpus", ok], "unknown model 'no-such-model'"),
        "missing-model-file": (["--model", str(tmp_path / "gone.gguf"), "--corpus", ok], "model file not found"),
        "corrupt-model-file": (["--model", str(corrupt), "--corpus", ok], "cannot read GGUF model"),
        "empty-corpus": (["--model", "smollm2-135m", "--corpus", str(empty)], "has no documents"),
        "non-utf8": (["--model", "smollm2-135m", "--corpus", str(latin1)], "latin1.jsonl:1: not UTF-8"),
        "block-below-2": (["--model", "smollm2-135m", "--corpus", ok, "--block", "1"], "block must be at least 2"),
        "stride-above-block": (
            ["--model", "smollm2-135m", "--corpus", ok, "--block", "8", "--stride", "9"],
            "stride must be between 1 and the block",
        ),
        "no-such-corpus": (["--model", "smollm2-135m", "--corpus", "no/such-dataset"], "not a built-in name"),
    }


CASES = [
    "unknown-model",
    "missing-model-file",
    "corrupt-model-file",
    "empty-corpus",
    "non-utf8",
    "block-below-2",
    "stride-above-block",
    "no-such-corpus",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_clear_line_and_keeps_results(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res = str(tmp_path / "res")
    ok = str(write_jsonl(tmp_path / "first.jsonl", ["A finished result that must survive."]))
    assert run(capsys, "score", "--model", "smollm2-135m", "--corpus", ok, "--results", res, "--quiet")[0] == 0
    argv, message = bad_inputs(tmp_path)[case]
    code, _, err = run(capsys, "score", *argv, "--results", res, "--quiet")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("compressiq: error: ") and message in err, err
    _, out, _ = run(capsys, "results", "--results", res, "--format", "json")
    assert [r["corpus"] for r in json.loads(out) if r["complete"]] == [ok]
