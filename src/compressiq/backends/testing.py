"""A test double that ships with the library: a tiny byte-level model whose answers are exact.

Its next-token distribution depends on the previous token *and* on the position in the window,
so a test can tell whether the scorer gave each token the right context. It is for orchestration
tests (store, resume, CLI); every real backend is tested on a real model.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence

import numpy as np

from compressiq.core.backend import FloatArray

BOS, EOS = 256, 257
VOCAB = 258


class ByteBackend:
    """Bytes as tokens; ``log p(v | context) = log softmax_v(((prev*7 + v*13 + pos) % 17) / 5)``."""

    kind = "testing"
    name = "byte-test-model"
    fingerprint = hashlib.sha256(b"compressiq ByteBackend v1").hexdigest()
    bos_id: int | None = BOS

    def __init__(self, max_context: int = 1 << 20) -> None:
        self.max_context = max_context
        self.calls = 0
        self.threads = 1

    def encode(self, text: str, special: bool = False) -> list[int]:
        ids = list(text.encode("utf-8"))
        return [BOS, *ids] if special else ids

    def token_id(self, token: str) -> int:
        ids = {"<bos>": BOS, "<eos>": EOS}
        if token not in ids:
            raise ValueError(f"unknown token {token!r}")
        return ids[token]

    def decode(self, tokens: Sequence[int]) -> str:
        special = {BOS: "<bos>", EOS: "<eos>"}
        out, run = [], bytearray()
        for t in tokens:
            if t in special:
                out += [run.decode("utf-8", "replace"), special[t]]
                run = bytearray()
            else:
                run.append(t)
        return "".join(out) + run.decode("utf-8", "replace")

    def tokenizer_fingerprint(self) -> str:
        return hashlib.sha256(b"compressiq ByteBackend tokenizer v1").hexdigest()

    def vocab_size(self) -> int:
        return VOCAB

    def kernels(self) -> str:
        return "numpy float64, exact"

    def num_threads(self) -> int:
        return self.threads

    def set_num_threads(self, threads: int) -> None:
        self.threads = threads

    def start(self, rows: int, capacity: int) -> Callable[[Sequence[int], int], FloatArray]:
        """The codec's stepping: position ``j`` of a row is predicted from token ``j - 1``, as in ``logprobs``."""
        position = 0
        vocab = np.arange(VOCAB)

        def step(tokens: Sequence[int], live: int) -> FloatArray:  # every row: exact either way
            nonlocal position
            position += 1
            self.calls += 1
            logits = ((np.asarray(tokens)[:, None] * 7 + vocab * 13 + position) % 17) / 5.0
            probs: FloatArray = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            return probs

        return step

    def logprobs(self, windows: Sequence[tuple[Sequence[int], int]]) -> list[FloatArray]:
        self.calls += 1
        return [self._window(list(tokens), scored) for tokens, scored in windows]

    def _window(self, tokens: list[int], scored: int) -> FloatArray:
        if len(tokens) > self.max_context or not 0 < scored < len(tokens):
            raise ValueError("window too long or nothing to score")
        out = np.empty(scored)
        vocab = np.arange(VOCAB)
        for i, j in enumerate(range(len(tokens) - scored, len(tokens))):
            logits = ((tokens[j - 1] * 7 + vocab * 13 + j) % 17) / 5.0
            out[i] = logits[tokens[j]] - np.log(np.exp(logits).sum())
        return out


class ExitingBackend(ByteBackend):
    """A ``ByteBackend`` whose process dies (``os._exit``) at its first model call, once in all: the
    first process to create ``marker`` dies, every other scores normally. For worker-failure tests."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def logprobs(self, windows: Sequence[tuple[Sequence[int], int]]) -> list[FloatArray]:
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return super().logprobs(windows)
        os._exit(1)
