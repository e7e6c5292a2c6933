"""The llama.cpp backend (llama-cpp-python): a GGUF file scored with its own quantised kernels.

Logits are asked for only at the positions a window scores (llama.cpp's per-token output flag,
the efficient equivalent of ``logits_all=True``), and the log-softmax is ours, in float64, so the
sums are computed exactly as for the transformers backend; only the kernels differ.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from compressiq.cache import sha256_file
from compressiq.core.backend import FloatArray
from compressiq.errors import CompressiqError, missing_extra

SOFTMAX_ROWS = 128  # rows per float64 log-softmax: 128 x 262k x 8 bytes = 268 MB at most


def _lib() -> Any:
    try:
        return importlib.import_module("llama_cpp")
    except ImportError as e:
        raise missing_extra("llama-cpp-python", "llamacpp") from e


def load_llamacpp(source: str, name: str | None = None, dtype: str = "float32") -> LlamaCppBackend:
    """Load a ``.gguf`` file with its full training context. ``dtype`` is the file's, not ours: only
    ``float32`` (the default, meaning "as stored") is accepted, so a run never claims what it did not do."""
    if dtype != "float32":
        raise CompressiqError("the llama.cpp backend computes with the GGUF file's own types: drop --dtype")
    path = Path(source).expanduser()
    if path.suffix != ".gguf" or not path.is_file():
        raise CompressiqError(f"the llama.cpp backend needs a .gguf file, got {source}")
    llama_cpp = _lib()
    try:
        llm = llama_cpp.Llama(
            model_path=str(path), n_ctx=0, n_batch=512, n_threads=os.cpu_count() or 1, logits_all=False, verbose=False
        )
    except ValueError as e:
        raise CompressiqError(f"llama.cpp cannot load {path}: {e}") from e
    return LlamaCppBackend(llm, name or source, sha256_file(path))


def log_softmax_at(logits: np.ndarray, targets: Sequence[int]) -> FloatArray:
    """``log softmax(logits[i])[targets[i]]`` per row, in float64 (a stable log-sum-exp).

    Example: logits [[0, ln 3]] and target 1 give ln(3/4) = -0.2877.
    """
    out = np.empty(len(targets))
    for i in range(0, len(targets), SOFTMAX_ROWS):
        x = logits[i : i + SOFTMAX_ROWS].astype(np.float64)
        top = x.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(x - top).sum(axis=1))
        rows = np.arange(len(x))
        out[i : i + SOFTMAX_ROWS] = x[rows, np.asarray(targets[i : i + SOFTMAX_ROWS])] - lse
    return out


class LlamaCppBackend:
    """A ``llama_cpp.Llama``, one window at a time, logits only where scored."""

    kind = "llamacpp"

    def __init__(self, llm: Any, name: str, fingerprint: str) -> None:
        self.llm = llm
        self.name = name
        self.fingerprint = fingerprint
        self.max_context = int(llm.n_ctx())
        bos = int(llm.token_bos())
        self.bos_id = bos if bos >= 0 else None
        self.n_vocab = int(llm.n_vocab())

    def encode(self, text: str, special: bool = False) -> list[int]:
        return [int(t) for t in self.llm.tokenize(text.encode("utf-8"), add_bos=special, special=special)]

    def vocab_size(self) -> int:
        """Rows of the output layer: every token id this model can take is below it."""
        return self.n_vocab

    def token_id(self, token: str) -> int:
        ids = self.llm.tokenize(token.encode("utf-8"), add_bos=False, special=True)
        if len(ids) != 1:
            raise CompressiqError(f"token {token!r} is not in the vocabulary of {self.name}")
        return int(ids[0])

    def logprobs(self, windows: Sequence[tuple[Sequence[int], int]]) -> list[FloatArray]:
        return [self._window(list(tokens), scored) for tokens, scored in windows]

    def _window(self, tokens: list[int], scored: int) -> FloatArray:
        """Feed ``tokens[:-1]``; logits at the last ``scored`` inputs predict the last ``scored`` tokens."""
        inputs, first = tokens[:-1], len(tokens) - 1 - scored
        ctx, batch, step = self.llm._ctx, self.llm._batch, self.llm.n_batch
        ctx.kv_cache_seq_rm(-1, 0, -1)
        parts = []
        for start in range(0, len(inputs), step):
            chunk = inputs[start : start + step]
            batch.set_batch(batch=chunk, n_past=start, logits_all=False)
            for i in range(len(chunk)):
                batch.batch.logits[i] = start + i >= first
            ctx.decode(batch)
            flagged = len(chunk) - max(0, min(len(chunk), first - start))
            if flagged:
                logits = np.ctypeslib.as_array(ctx.get_logits(), shape=(flagged * self.n_vocab,))
                targets = tokens[start + len(chunk) - flagged + 1 : start + len(chunk) + 1]
                parts.append(log_softmax_at(logits.reshape(flagged, self.n_vocab), targets))
        return np.concatenate(parts)
