"""Corpora in: documents in the paper's schema ``{content, subset, meta}`` from files or a hub.

``--corpus`` takes a built-in name (``sample``, ``demo``, or one subset such as ``sample:cc``), a
JSON Lines or Parquet file, a folder of text files (one document per file) or of JSON Lines shards
(what ``compressiq collect`` writes; its output folder works too), or a Hugging Face
dataset id (``hkust-nlp/llm-compression:cc``, loaded with ``datasets`` when online).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from compressiq.errors import CompressiqError, missing_extra

BUILTIN_SUBSETS = ("cc", "python")
DEMO_CHARACTERS = 20_000  # per subset: the demo's slice of the sample, first documents first


@dataclass(frozen=True)
class Document:
    """One text of a corpus: its ``content``, its ``subset`` (cc, python, ...) and free-form ``meta``."""

    content: str
    subset: str = "default"
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Corpus:
    """A named, ordered list of documents; the fingerprint changes if any byte or subset does."""

    name: str
    documents: list[Document]

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for doc in self.documents:
            digest.update(f"{doc.subset}\0{len(doc.content)}\0{doc.content}\0".encode())
        return digest.hexdigest()


def load_corpus(spec: str, limit: int | None = None) -> Corpus:
    """Load ``spec`` (see the module docstring); ``limit`` (0 or more) keeps the first documents."""
    if limit is not None and limit < 0:
        raise CompressiqError(f"--limit must be 0 or more documents, got {limit}")
    docs = list(_documents(spec))
    if limit is not None:
        docs = docs[:limit]
    if not docs:
        raise CompressiqError(f"corpus {spec!r} has no documents")
    return Corpus(spec, docs)


def _documents(spec: str) -> Iterator[Document]:
    name, _, subset = spec.partition(":")
    path = Path(spec).expanduser()
    if name in ("sample", "demo"):
        yield from _builtin(name, subset)
    elif path.is_dir():
        yield from _folder(path)
    elif path.suffix == ".jsonl" or path.name.endswith(".jsonl.gz") or path.suffix == ".json":
        yield from _jsonl(path)
    elif path.suffix == ".parquet":
        yield from _parquet(path)
    elif path.exists():
        raise CompressiqError(f"unknown corpus format {path.name}: use .jsonl, .parquet, or a folder of text files")
    else:
        yield from _hub(name, subset or None)


def _builtin(name: str, subset: str) -> Iterator[Document]:
    subsets = [subset] if subset else list(BUILTIN_SUBSETS)
    for sub in subsets:
        if sub not in BUILTIN_SUBSETS:
            raise CompressiqError(f"no built-in subset {sub!r}; choose from {', '.join(BUILTIN_SUBSETS)}")
        source = resources.files("compressiq").joinpath(f"data/corpora/{sub}.jsonl")
        with resources.as_file(source) as path:
            docs = list(_jsonl(path))
        if name == "demo":
            docs = _first_characters(docs, DEMO_CHARACTERS)
        yield from docs


def _first_characters(docs: list[Document], budget: int) -> list[Document]:
    """The first documents whose lengths add up to at most ``budget`` characters (at least one)."""
    kept: list[Document] = []
    for doc in docs:
        if kept and sum(len(d.content) for d in kept) + len(doc.content) > budget:
            break
        kept.append(doc)
    return kept


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:  # permissions, an I/O error, a file gone since the folder was listed
        raise CompressiqError(f"{path}: cannot read ({e.strerror or e})") from None


def _read_text(path: Path) -> str:
    try:
        return _read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as e:
        raise CompressiqError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})") from None


def _gunzip(path: Path, raw: bytes) -> bytes:
    import gzip
    import zlib

    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:  # not gzip, truncated, or damaged
        raise CompressiqError(f"{path}: not a complete gzip file ({e})") from None


def _jsonl(path: Path) -> Iterator[Document]:
    """JSON Lines: one record a line, split at ``\\n`` only (a JSON string may hold a raw U+2028);
    a UTF-8 byte order mark at the start is skipped."""
    if not path.is_file():
        raise CompressiqError(f"corpus file not found: {path}")
    raw = _read_bytes(path)
    if path.name.endswith(".gz"):
        raw = _gunzip(path, raw)
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        where = raw[: e.start].count(b"\n") + 1
        raise CompressiqError(f"{path}:{where}: not UTF-8 text ({e.reason})") from None
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise CompressiqError(f"{path}:{number}: not JSON ({e})") from None
            yield _document(path, number, row)


def _document(path: Path, number: int, row: Any) -> Document:
    content = row.get("content") if isinstance(row, dict) else None
    if not isinstance(content, str):
        raise CompressiqError(f"{path}:{number}: not a {{content, subset, meta}} record with string content")
    meta = row.get("meta")
    if isinstance(meta, str) and meta:  # Parquet written by compressiq collect keeps meta as JSON text
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError:
            raise CompressiqError(f"{path}:{number}: meta is neither a mapping nor JSON") from None
    meta = {} if meta is None or meta == "" else meta
    if not isinstance(meta, dict):
        raise CompressiqError(f"{path}:{number}: meta must be a mapping, got {type(meta).__name__}")
    subset = str(row.get("subset") or path.name.removesuffix(".gz").rsplit(".", 1)[0])
    for what, text in (("content", content), ("subset", subset)):
        _check_unicode(path, number, what, text)
    return Document(content, subset, dict(meta))


def _check_unicode(path: Path, number: int, what: str, text: str) -> None:
    """Text that UTF-8 can hold: JSON's ``"\\ud800"`` escape gives a lone surrogate, which it cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        bad = f"U+{ord(text[e.start]):04X}"
        raise CompressiqError(
            f"{path}:{number}: {what} holds a lone surrogate ({bad} at character {e.start})"
        ) from None


def _folder(path: Path) -> Iterator[Document]:
    """A ``compressiq collect`` output folder (or its shard folder), else one document per text file."""
    collected = (path / "card.json").is_file()
    if collected:
        path = path / _collected_subset(path / "card.json")
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    shards = {suffix: [f for f in files if f.suffix == suffix] for suffix in (".jsonl", ".parquet")}
    if collected or (files and len(shards[".jsonl"]) + len(shards[".parquet"]) == len(files)):
        for f in shards[".jsonl"] or shards[".parquet"]:  # JSON Lines first: both hold the same records
            yield from _jsonl(f) if f.suffix == ".jsonl" else _parquet(f)
        return
    for f in files:
        yield Document(_read_text(f), path.name, {"file": str(f.relative_to(path))})


def _collected_subset(card: Path) -> str:
    """The subset folder a ``compressiq collect`` output's card names."""
    try:
        subset = json.loads(_read_text(card)).get("subset")
    except (json.JSONDecodeError, AttributeError):
        subset = None
    if not isinstance(subset, str) or not subset or "/" in subset or subset.startswith("."):
        raise CompressiqError(f"{card}: not a compressiq collect card (no subset name)")
    return subset


def _parquet(path: Path) -> Iterator[Document]:
    try:
        pq = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise missing_extra("pyarrow", "data") from None
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as e:  # pyarrow raises ArrowInvalid and friends for damaged files
        raise CompressiqError(f"{path}: cannot read Parquet ({e})") from None
    for number, row in enumerate(rows, 1):
        yield _document(path, number, row)


def _hub(dataset: str, subset: str | None) -> Iterator[Document]:
    """The paper's dataset and its kin: split ``test`` of a hub dataset with a ``content`` column."""
    try:
        datasets = importlib.import_module("datasets")
    except ImportError:
        raise missing_extra("datasets", "data") from None
    try:
        rows = datasets.load_dataset(dataset, subset, split="test")
    except Exception as e:  # offline, unknown id, or no such subset
        raise CompressiqError(
            f"corpus {dataset!r} is not a built-in name, a file, a folder, or a loadable dataset ({type(e).__name__})"
        ) from None
    for row in rows:
        yield Document(row["content"], subset or str(row.get("subset") or "default"), dict(row.get("meta") or {}))
