"""The store under stress: identical runs at once, a damaged file, read-only commands."""

import sqlite3
import threading
from pathlib import Path

import pytest

from compressiq import ScoreConfig, load_corpus, score
from compressiq.backends.testing import ByteBackend
from compressiq.cli import main
from compressiq.core.store import Store
from compressiq.errors import CompressiqError


def test_stores_opened_at_once_on_a_new_file_all_open(tmp_path: Path) -> None:
    """SQLite answers "database is locked" at once, without waiting, when two connections switch a new file
    to WAL or make its tables together; before the retry 14 in 300 rounds of three failed."""
    errors: list[Exception] = []

    def open_store(folder: Path) -> None:
        try:
            Store(folder).close()
        except CompressiqError as e:
            errors.append(e)

    for round_ in range(200):
        threads = [threading.Thread(target=open_store, args=(tmp_path / str(round_),)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors[:3]


def test_two_identical_runs_at_once_both_finish_with_one_set_of_rows(tmp_path: Path) -> None:
    corpus = load_corpus("demo", 12)
    config = ScoreConfig(block=64, stride=32)
    alone = score(ByteBackend(), corpus, config, tmp_path / "alone")
    results: list[object] = []

    def run() -> None:
        try:
            results.append(score(ByteBackend(), corpus, config, tmp_path / "shared"))
        except Exception as e:  # the old store raised IntegrityError here
            results.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(not isinstance(r, Exception) for r in results), results
    store = Store(tmp_path / "shared", readonly=True)
    (run_row,) = store.runs()
    assert len(store.document_rows(run_row.run_id)) == len(corpus.documents)
    assert run_row.totals == alone.totals
    store.close()


@pytest.mark.parametrize(
    "damage",
    [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\x00" * 50],
    ids=["garbage", "truncated"],
)
@pytest.mark.parametrize("command", ["results", "leaderboard", "score"])
def test_a_damaged_store_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: bytes, command: str
) -> None:
    (tmp_path / "results.sqlite").write_bytes(damage)
    extra = ["--model", "smollm2-135m", "--corpus", "demo", "--limit", "1"] if command == "score" else []
    capsys.readouterr()
    assert main([command, "--results", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("compressiq: error: ") and err.count("\n") == 1 and "results.sqlite" in err, err
    assert (tmp_path / "results.sqlite").read_bytes() == damage  # never overwritten


def test_read_only_commands_open_the_store_read_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nothing-here"
    assert main(["results", "--results", str(missing)]) == 0
    assert "no results" in capsys.readouterr().out and not missing.exists()  # nothing created
    score(ByteBackend(), load_corpus("demo", 2), ScoreConfig(block=64, stride=32), tmp_path / "r")
    store = Store(tmp_path / "r", readonly=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store.db.execute("DELETE FROM documents")
    store.close()
    assert main(["results", "--results", str(tmp_path / "r"), "--format", "json"]) == 0
    assert '"bpc"' in capsys.readouterr().out


def test_an_unwritable_results_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(CompressiqError, match="results"):
        Store(tmp_path / "file" / "sub")
