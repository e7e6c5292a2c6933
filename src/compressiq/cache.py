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
    """``text`` as UTF-8, written atomically (see ``write_atomic_bytes``)."""
    write_atomic_bytes(path, text.encode("utf-8"))


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, flush it to disk, then rename over ``path``.

    A reader (or a crash) never sees half a file: ``path`` is the old file or the whole new one, and
    the temporary file is removed if anything fails on the way.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
