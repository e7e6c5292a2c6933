"""Corpora in: every accepted format, and the bad inputs."""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from compressiq.corpus import DEMO_CHARACTERS, load_corpus
from compressiq.errors import CompressiqError
from compressiq.windows import rolling_windows


def test_builtin_sample_and_demo() -> None:
    sample = load_corpus("sample")
    assert {d.subset for d in sample.documents} == {"cc", "python"}
    for subset in ("cc", "python"):
        docs = [d for d in sample.documents if d.subset == subset]
        assert sum(len(d.content.encode()) for d in docs) <= 1_000_000 and len(docs) > 200
    demo = load_corpus("demo:cc")
    assert sum(len(d.content) for d in demo.documents) <= DEMO_CHARACTERS
    assert demo.documents == sample.documents[: len(demo.documents)]
    assert load_corpus("demo").fingerprint != load_corpus("demo:cc").fingerprint


def test_jsonl_parquet_and_folder_agree(tmp_path: Path) -> None:
    rows = [
        {"content": "first doc", "subset": "cc", "meta": {"i": 1}},
        {"content": "ünïcode", "subset": "cc", "meta": {}},
    ]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "c.parquet")
    folder = tmp_path / "cc"
    folder.mkdir()
    for i, r in enumerate(rows):
        (folder / f"{i}.txt").write_text(r["content"], encoding="utf-8")
    corpora = [load_corpus(str(tmp_path / n)) for n in ("c.jsonl", "c.parquet", "cc")]
    assert len({c.fingerprint for c in corpora}) == 1
    assert corpora[0].documents[0].meta == {"i": 1}
    assert corpora[2].documents[1].meta == {"file": "1.txt"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"content": "ok"}\n{"text": "no content field"}\n', "bad.jsonl:2: not a {content, subset, meta} record"),
        (b'{"content": "ok"}\nnot json\n', "bad.jsonl:2: not JSON"),
        (b'{"content": "caf\xe9"}\n', "bad.jsonl:1: not UTF-8"),
        (b"", "has no documents"),
    ],
    ids=["no-content", "not-json", "non-utf8", "empty"],
)
def test_bad_jsonl(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "bad.jsonl").write_bytes(content)
    with pytest.raises(CompressiqError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_corpus(str(tmp_path / "bad.jsonl"))


def test_non_utf8_file_in_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"\x80\x81 binary")
    with pytest.raises(CompressiqError, match=r"a\.txt: not UTF-8"):
        load_corpus(str(tmp_path))


def test_a_single_10mb_line_loads_and_windows_lazily(tmp_path: Path) -> None:
    line = "word " * 2_000_000
    (tmp_path / "big.jsonl").write_text(json.dumps({"content": line}) + "\n")
    (doc,) = load_corpus(str(tmp_path / "big.jsonl")).documents
    assert len(doc.content) == 10_000_000
    assert len(rolling_windows(len(doc.content) // 4, 1900, 512)) == 1 + -(-(2_500_000 - 1900) // 512)


def test_hub_dataset_offline_is_a_clear_error() -> None:
    """The real ``datasets.load_dataset`` call, offline: it must fail with our message, not a traceback."""
    with pytest.raises(CompressiqError, match="hkust-nlp/llm-compression"):
        load_corpus("hkust-nlp/llm-compression:cc")
