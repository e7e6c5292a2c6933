"""Issue 13: damaged corpora and model registries through the real CLI are one error line, never a traceback.

Each case runs ``compressiq.cli.main`` in this process (an uncaught exception fails the test) and checks
a non-zero exit, exactly one line on stderr, ``compressiq: error: `` first, and the file it names.
"""

import gzip
from pathlib import Path

import pytest

from compressiq.cli import main


def one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str], *named: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0, err
    assert err.count("\n") == 1 and err.startswith("compressiq: error: "), err
    assert all(n in err for n in named), err
    return err


def write_corpus(folder: Path, case: str) -> Path:
    """The damaged corpus of ``case`` in ``folder``: the path to pass as ``--corpus``."""
    good = b'{"content": "a short document"}\n'
    files = {
        "meta-not-a-mapping": ("c.jsonl", good + b'{"content": "x", "meta": ["a", "b"]}\n'),
        "lone-surrogate": ("c.jsonl", b'{"content": "half a pair: \\ud800"}\n'),
        "truncated-gzip": ("c.jsonl.gz", gzip.compress(good * 50)[:-9]),
        "not-gzip": ("c.jsonl.gz", good),
        "one-document": ("c.jsonl", good),
    }
    if case == "unreadable-in-folder":
        (folder / "texts").mkdir()
        (folder / "texts" / "a.txt").write_text("readable", encoding="utf-8")
        (folder / "texts" / "b.txt").symlink_to("/proc/self/mem")  # listed as a file, unreadable even by root
        return folder / "texts"
    name, data = files[case]
    (folder / name).write_bytes(data)
    return folder / name


CORPUS_CASES = [
    ("meta-not-a-mapping", [], ["c.jsonl:2:", "meta must be a mapping"]),
    ("lone-surrogate", [], ["c.jsonl:1:", "lone surrogate"]),
    ("truncated-gzip", [], ["c.jsonl.gz", "not a complete gzip file"]),
    ("not-gzip", [], ["c.jsonl.gz", "not a complete gzip file"]),
    ("unreadable-in-folder", [], ["b.txt", "cannot read"]),
    ("one-document", ["--limit", "-1"], ["--limit must be 0 or more"]),  # once: all but the last document
]


@pytest.mark.parametrize(("case", "extra", "named"), CORPUS_CASES, ids=[c[0] for c in CORPUS_CASES])
@pytest.mark.parametrize("command", ["score", "baselines"])
def test_corpus_input_is_one_error_line(
    command: str, case: str, extra: list[str], named: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = write_corpus(tmp_path, case)
    model = ["--model", "smollm2-135m", "--quiet"] if command == "score" else ["--compressor", "gzip-9"]
    argv = [command, *model, "--corpus", str(corpus), "--results", str(tmp_path / "res"), *extra]
    one_error_line(capsys, argv, *named)


REGISTRY_CASES = [
    ("not-utf8", b'[mine]\nsource = "caf\xe9.gguf"\n', "not UTF-8"),
    ("source-not-a-string", b"[mine]\nsource = 5\n", "[mine] source must be a string, got int"),
    ("prefix-not-a-string", b'[mine]\nsource = "m.gguf"\nprefix_token = ["<s>"]\n', "prefix_token must be a string"),
    ("nested-table", b'[mine]\nsource = "m.gguf"\n[mine.extra]\nx = 1\n', "unknown field 'extra'"),
    ("not-a-table", b'mine = "m.gguf"\n', "[mine] must be a table"),
    ("not-toml", b"[mine\nsource = 1\n", "Expected ']'"),
]


@pytest.mark.parametrize(("case", "content", "message"), REGISTRY_CASES, ids=[c[0] for c in REGISTRY_CASES])
def test_models_toml_is_one_error_line(
    case: str,
    content: bytes,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    toml = tmp_path / "models.toml"
    toml.write_bytes(content)
    monkeypatch.setenv("COMPRESSIQ_MODELS", str(toml))
    one_error_line(capsys, ["models"], str(toml), message)


def test_a_non_string_source_stops_score_before_any_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the fix ``models`` listed ``source = 5`` and ``score`` died in ``Path(5)`` with a traceback."""
    toml = tmp_path / "models.toml"
    toml.write_bytes(b"[mine]\nsource = 5\n")
    monkeypatch.setenv("COMPRESSIQ_MODELS", str(toml))
    argv = ["score", "--model", "mine", "--corpus", "sample:cc", "--limit", "1", "--results", str(tmp_path), "--quiet"]
    one_error_line(capsys, argv, str(toml), "source must be a string")


def test_a_bom_corpus_is_scored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A UTF-8 BOM (Windows editors write one) once failed the whole file as "not JSON"."""
    corpus = tmp_path / "bom.jsonl"
    corpus.write_bytes(b'\xef\xbb\xbf{"content": "hello hello hello world"}\r\n{"content": "second"}\r\n')
    argv = ["baselines", "--compressor", "gzip-9", "--granularity", "per-document"]
    code = main([*argv, "--corpus", str(corpus), "--results", str(tmp_path / "res")])
    out, err = capsys.readouterr()
    assert code == 0 and err == "", err
    assert "gzip-9" in out and "bom" in out
