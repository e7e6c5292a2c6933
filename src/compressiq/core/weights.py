"""What identifies a model's weights: the hash of a GGUF file, or of every file a model folder loads from.

A stored run's identity includes this fingerprint, so two models share results only if they share
every weight, tokenizer and code file; a folder whose weights cannot be fingerprinted is an error.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path

from compressiq.cache import sha256_file
from compressiq.errors import CompressiqError

WEIGHTS = {".safetensors", ".bin", ".pt", ".pth", ".gguf"}  # what transformers loads a folder's weights from
HASHED = WEIGHTS | {".json", ".model", ".txt", ".tiktoken", ".py"}  # plus indexes, configs, tokenizers, code


def fingerprint(source: str) -> str:
    """What identifies the weights: the GGUF file's hash, or the hashes of a folder's files."""
    path = Path(source).expanduser()
    if source.endswith(".gguf"):
        if not path.is_file():
            raise CompressiqError(f"model file not found: {path}")
        return sha256_file(path)
    if path.is_dir():
        return folder_fingerprint(path)
    return folder_fingerprint(Path(snapshot(source)))


def folder_fingerprint(directory: Path) -> str:
    """SHA-256 over the name and hash of every file a model folder can load weights, tokenizer or code from.

    A folder without weights in a format the loaders read is an error: its runs could not be told apart.
    """
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in HASHED)
    if not any(p.suffix in WEIGHTS for p in files):
        found = ", ".join(sorted({p.suffix for p in directory.iterdir() if p.suffix})) or "nothing"
        raise CompressiqError(
            f"no model weights in {directory} (looked for {', '.join(sorted(WEIGHTS))}; found {found}):"
            " convert them to safetensors"
        )
    digest = hashlib.sha256()
    for p in files:
        digest.update(f"{p.name}:{sha256_file(p)}\n".encode())
    return digest.hexdigest()


def snapshot(repo_id: str) -> str:
    """A hub model's local snapshot (downloaded when online, else from the hub cache)."""
    hub = importlib.import_module("huggingface_hub")
    try:
        return str(hub.snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"]))
    except Exception as e:
        offline = (
            " (offline: HF_HUB_OFFLINE is set and it is not in the cache)" if os.environ.get("HF_HUB_OFFLINE") else ""
        )
        raise CompressiqError(
            f"unknown model {repo_id!r}: not a registered name, a file, a folder, or a reachable hub id{offline}"
        ) from e
