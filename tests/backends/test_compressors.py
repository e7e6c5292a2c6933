"""Classical compressors as models: honest byte counts, both granularities, in the store and leaderboard."""

import math
from pathlib import Path

import pytest

from compressiq.backends import compressors
from compressiq.cli import main
from compressiq.core.corpus import Corpus
from compressiq.core.store import Store
from compressiq.errors import CompressiqError
from tests.conftest import fresh_text


def corpus() -> Corpus:
    return Corpus("fresh", fresh_text("cc", 4) + fresh_text("python", 4))


@pytest.mark.parametrize("name", compressors.NAMES)
def test_round_trip_and_bits_are_eight_times_bytes(name: str) -> None:
    c = compressors.compressor(name)
    text = fresh_text("cc", 1)[0].content
    packed = c.compress(text.encode())
    assert c.decompress(packed) == text.encode()
    assert compressors.compressed_bits(c, text) == 8 * len(packed)


@pytest.mark.parametrize("name", compressors.NAMES)
def test_both_granularities_stored_and_sensible(name: str, tmp_path: Path) -> None:
    docs = corpus()
    per_doc = compressors.score_compressor(name, docs, "per-document", tmp_path)
    whole = compressors.score_compressor(name, docs, "whole-corpus", tmp_path)
    chars = sum(len(d.content) for d in docs.documents)
    assert per_doc.complete and per_doc.totals.documents == 8 and per_doc.totals.characters == chars
    assert whole.complete and whole.totals.documents == 2 and whole.totals.characters == chars
    expected = sum(compressors.compressed_bits(compressors.compressor(name), d.content) for d in docs.documents)
    assert math.isclose(per_doc.totals.bits, expected, rel_tol=1e-12)
    # One stream shares its dictionary and pays one header: never worse than many, on this text.
    assert whole.totals.bits < per_doc.totals.bits
    assert 1.0 < whole.totals.bpc < 4.0, whole.totals.bpc
    assert set(whole.subsets) == {"cc", "python"}


def test_rerun_adds_nothing_and_unknown_name_is_one_error(tmp_path: Path) -> None:
    first = compressors.score_compressor("gzip-9", corpus(), "per-document", tmp_path)
    again = compressors.score_compressor("gzip-9", corpus(), "per-document", tmp_path)
    assert again.totals == first.totals and again.run_id == first.run_id
    store = Store(tmp_path)
    assert len(store.document_rows(first.run_id)) == 8
    store.close()
    with pytest.raises(CompressiqError, match="unknown compressor"):
        compressors.compressor("lz4-1")


def test_cli_baselines_then_results_and_leaderboard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = str(tmp_path)
    assert main(["baselines", "--corpus", "sample:cc", "--limit", "3", "--compressor", "xz-9e", "--results", res]) == 0
    assert main(["results", "--results", res, "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "xz-9e" in out and "per-document" in out and "whole-corpus" in out
    assert main(["leaderboard", "--results", res]) == 0
    assert "stored (whole-corpus)" in capsys.readouterr().out
