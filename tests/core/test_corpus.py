"""Corpora in: every accepted format, and the bad inputs."""

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from compressiq.core.corpus import DEMO_CHARACTERS, load_corpus
from compressiq.core.windows import rolling_windows
from compressiq.errors import CompressiqError


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


# --- issue 13: damaged or unusual input is one clear error naming the file (and line), or is accepted ------


def unreadable(folder: Path) -> Path:
    """A file the folder lists but no one can read, root included: a link to /proc/self/mem (EIO at 0)."""
    link = folder / "b.txt"
    link.symlink_to("/proc/self/mem")
    return link


BAD_INPUTS = [
    ("bad.jsonl", b'{"content": "ok", "meta": [1, 2]}\n', r"bad\.jsonl:1: meta must be a mapping, got list"),
    ("bad.jsonl", b'{"content": "ok"}\n{"content": "ok", "meta": 7}\n', r"bad\.jsonl:2: meta must be a mapping"),
    ("bad.jsonl", b'{"content": "ok", "meta": "[1]"}\n', r"bad\.jsonl:1: meta must be a mapping"),
    (
        "bad.jsonl",
        b'{"content": "a\\ud800b"}\n',
        r"bad\.jsonl:1: content holds a lone surrogate \(U\+D800 at character 1\)",
    ),
    ("bad.jsonl", b'{"content": "a", "subset": "\\udfff"}\n', r"bad\.jsonl:1: subset holds a lone surrogate"),
    ("bad.jsonl.gz", gzip.compress(b'{"content": "ok"}\n' * 100)[:-12], r"bad\.jsonl\.gz: not a complete gzip file"),
    ("bad.jsonl.gz", b'{"content": "ok"}\n', r"bad\.jsonl\.gz: not a complete gzip file"),
]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    BAD_INPUTS,
    ids=["meta-list", "meta-int", "meta-json-list", "lone-surrogate", "surrogate-subset", "truncated-gz", "not-gz"],
)
def test_damaged_input_is_one_error_naming_the_file(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(CompressiqError, match=message):
        load_corpus(str(tmp_path / name))


def test_unreadable_file_in_a_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("fine", encoding="utf-8")
    link = unreadable(tmp_path)
    with pytest.raises(CompressiqError, match=rf"{link}: cannot read \(Input/output error\)"):
        load_corpus(str(tmp_path))


def test_bom_and_unicode_line_separators_are_text(tmp_path: Path) -> None:
    """A UTF-8 BOM opens many files written on Windows; U+2028 and U+0085 may stand raw in a JSON string
    (only ``\\n`` ends a JSON Lines record). Both load, byte for byte, with the gzip form the same."""
    rows = [{"content": "line\u2028separator\x85next"}, {"content": "ünïcode", "meta": {"k": "v"}}]
    text = "\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\r\n"
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + text.encode())
    (tmp_path / "bom.jsonl.gz").write_bytes(gzip.compress(b"\xef\xbb\xbf" + text.encode()))
    for name in ("bom.jsonl", "bom.jsonl.gz"):
        docs = load_corpus(str(tmp_path / name)).documents
        assert [d.content for d in docs] == [r["content"] for r in rows]
        assert docs[1].meta == {"k": "v"} and docs[0].subset == "bom"


def test_limit_must_not_be_negative() -> None:
    """``--limit -1`` once kept all documents but the last ([:-1]); 0 keeps none, which is an error too."""
    assert len(load_corpus("sample:cc", limit=3).documents) == 3
    with pytest.raises(CompressiqError, match="--limit must be 0 or more documents, got -1"):
        load_corpus("sample:cc", limit=-1)
    with pytest.raises(CompressiqError, match="has no documents"):
        load_corpus("sample:cc", limit=0)
