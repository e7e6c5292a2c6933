"""Options that once ended in tracebacks or quiet wrong output: each is one error line, or right output."""

import json
from pathlib import Path

import pytest

from compressiq import ScoreConfig, load_corpus, score
from compressiq.analysis import tables
from compressiq.backends.testing import ByteBackend
from compressiq.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--no-prefix-after-first", "--block", "64", "--stride", "64"], "stride < block"),
        (["--block", "1", "--stride", "1"], "block must be at least 2"),
        (["--window-chars", "100"], "go together"),
    ],
    ids=["no-prefix-stride-equals-block", "block-1", "chars-alone"],
)
def test_bad_score_options_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(
        capsys, "score", "--model", "smollm2-135m", "--corpus", "demo", "--results", str(tmp_path), *argv
    )
    assert code == 2 and err.startswith("compressiq: error: ") and err.count("\n") == 1 and message in err, err


@pytest.mark.slow
def test_window_chars_on_an_empty_corpus_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "empty.jsonl"
    corpus.write_text('{"content": ""}\n{"content": ""}\n')
    argv = ["--window-chars", "400", "--stride-chars", "100", "--results", str(tmp_path), "--quiet"]
    code, _, err = run(capsys, "score", "--model", "smollm2-135m", "--corpus", str(corpus), *argv)
    assert code == 2 and err.count("\n") == 1 and "no text" in err, err


def test_json_never_prints_nan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "empty.jsonl"
    corpus.write_text('{"content": ""}\n')
    score(ByteBackend(), load_corpus(str(corpus)), ScoreConfig(block=64, stride=32), tmp_path / "r")
    code, out, _ = run(capsys, "results", "--results", str(tmp_path / "r"), "--format", "json")
    assert code == 0 and "NaN" not in out
    (row,) = json.loads(out)
    assert row["bpc"] is None and row["characters"] == 0


def test_demo_refuses_ray_instead_of_ignoring_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--ray"])
    assert exit_.value.code == 2 and "--ray" in capsys.readouterr().err


def test_markdown_cells_escape_the_pipe() -> None:
    text = tables.render([{"model": "a|b", "bpc": 0.5}], "markdown")
    assert text.splitlines()[2] == "| a\\|b | 0.5000 |"
    assert tables.render([{"model": "a|b", "bpc": 0.123456789}], "csv") == "model,bpc\na|b,0.123456789"


def test_a_name_that_looks_like_mathtext_still_plots(tmp_path: Path) -> None:
    from compressiq.analysis import plots
    from compressiq.analysis.leaderboard import Entry

    entries = [Entry(r"$\badmath{$", "stored", "demo", {"cc": 1.0, "python": 0.5}, "10")]
    assert plots.bars(entries, "svg").startswith(b"<?xml")
