"""The user cache (converted models, file hashes) and content fingerprints."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def cache_dir() -> Path:
    """``$COMPRESSIQ_CACHE``, else ``$XDG_CACHE_HOME/compressiq``, else ``~/.cache/compressiq``."""
    if env := os.environ.get("COMPRESSIQ_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "compressiq"


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, remembered by (path, size, mtime) so a 1 GB model is hashed once."""
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    memo = cache_dir() / "hashes" / f"{key}.json"
    if memo.exists():
        return str(json.loads(memo.read_text())["sha256"])
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    write_atomic(memo, json.dumps({"path": str(path), "sha256": digest.hexdigest()}))
    return digest.hexdigest()


def write_atomic(path: Path, text: str) -> None:
    write_atomic_bytes(path, text.encode("utf-8"))


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
