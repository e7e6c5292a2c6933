"""The llama.cpp backend (llama-cpp-python): a GGUF file scored with its own quantised kernels.

Logits are asked for only at the positions a window scores (llama.cpp's per-token output flag,
the efficient equivalent of ``logits_all=True``), and the log-softmax is ours, in float64, so the
sums are computed exactly as for the transformers backend; only the kernels differ.

The codec steps it too (``start``): each chunk is one llama.cpp sequence with its own key-value
stream in a context made for the batch, one token a row per ``llama_decode`` call, on the thread
count the file records (one by default). Its quantised single-token kernels are what make a file
a person can wait for: a step reads the 4-bit weights once for all rows.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from compressiq.cache import sha256_file
from compressiq.core.backend import FloatArray
from compressiq.errors import CompressiqError, missing_extra

SOFTMAX_ROWS = 128  # rows per float64 log-softmax: 128 x 262k x 8 bytes = 268 MB at most
KV_PAD = 256  # llama.cpp sizes each sequence's key-value stream in multiples of this


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


def token_piece(vocab: Any, token: int) -> bytes:
    """The bytes of one token, special tokens spelled out, however long the piece."""
    llama_cpp = _lib()
    size = 64
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, size, 0, True)
        if n >= 0:
            return buf.raw[:n]
        size = -n


def softmax_into(out: FloatArray, logits: np.ndarray) -> FloatArray:
    """Row-wise softmax of float32 ``logits`` in float64, written into ``out`` (no allocation).

    Example: logits [[0, ln 3]] give [[0.25, 0.75]].
    """
    np.copyto(out, logits)
    out -= out.max(axis=1, keepdims=True)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def _stepping_context(llm: Any, rows: int, capacity: int, threads: int) -> Any:
    """A llama.cpp context of ``rows`` sequences, each with its own stream of ``capacity`` positions."""
    llama_cpp = _lib()
    internals = importlib.import_module("llama_cpp._internals")
    params = llama_cpp.llama_context_default_params()
    per_row = -(-(capacity + 1) // KV_PAD) * KV_PAD
    params.n_ctx, params.n_seq_max, params.kv_unified = rows * per_row, rows, False
    params.n_batch = params.n_ubatch = rows
    params.n_threads = params.n_threads_batch = threads
    params.no_perf = True
    try:
        return internals.LlamaContext(model=llm._model, params=params, verbose=False)
    except ValueError as e:
        raise CompressiqError(f"llama.cpp cannot make a context of {rows} x {capacity} tokens: {e}") from e


def _row_batch(rows: int) -> Any:
    """A llama.cpp batch of one token per sequence: row ``r`` is sequence ``r``, and every row has logits."""
    internals = importlib.import_module("llama_cpp._internals")
    batch = internals.LlamaBatch(n_tokens=rows, embd=0, n_seq_max=1, verbose=False)
    b = batch.batch
    b.n_tokens = rows
    for r in range(rows):
        b.seq_id[r][0], b.n_seq_id[r], b.logits[r] = r, 1, True
    return batch


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
        self.threads = 1  # the codec's stepping threads (scoring keeps the Llama's own)
        self._pieces: list[bytes] | None = None
        self._stepping: Any = None  # the context of the latest ``start``

    def pieces(self) -> list[bytes]:
        """Every token's bytes, special tokens spelled out (computed once): the codec's decoder table."""
        if self._pieces is None:
            self._pieces = [token_piece(self.llm._model.vocab, t) for t in range(self.n_vocab)]
        return self._pieces

    def decode(self, tokens: Sequence[int]) -> str:
        """The text of ``tokens``: their bytes joined, no space stripped (llama-cpp-python's ``detokenize``
        drops a space after BOS and cuts pieces over 32 bytes)."""
        table = self.pieces()
        return b"".join(table[t] for t in tokens).decode("utf-8", "replace")

    def tokenizer_fingerprint(self) -> str:
        """SHA-256 of every token's bytes and kind, and the pre-tokenizer's name."""
        model = self.llm._model
        digest = hashlib.sha256(str(self.llm.metadata.get("tokenizer.ggml.pre", "")).encode())
        for t, piece in enumerate(self.pieces()):
            digest.update(len(piece).to_bytes(4, "little") + piece + model.token_get_attr(t).to_bytes(4, "little"))
        return digest.hexdigest()

    def kernels(self) -> str:
        """llama.cpp's version and the CPU features its kernels were picked for (another set, other sums)."""
        llama_cpp = _lib()
        features = hashlib.sha256(llama_cpp.llama_print_system_info()).hexdigest()[:12]
        return f"llama-cpp-python {llama_cpp.__version__}, cpu features {features}"

    def num_threads(self) -> int:
        return self.threads

    def set_num_threads(self, threads: int) -> None:
        self.threads = threads

    def start(self, rows: int, capacity: int) -> Callable[[Sequence[int], int], FloatArray]:
        """The codec's stepping (see ``codec.stepping``): ``rows`` sequences in a new context, which
        replaces (and frees) the previous ``start``'s; one preallocated batch and softmax buffer. Ended
        rows are left out of the batch (their sequences just stop): encoder and decoder drop them alike."""
        most = _lib().llama_max_parallel_sequences()
        if not 1 <= rows <= most:
            raise CompressiqError(f"the llama.cpp backend steps at most {most} chunks side by side: lower --batch")
        if self._stepping is not None:
            self._stepping.close()
        ctx = self._stepping = _stepping_context(self.llm, rows, capacity, self.threads)
        batch = _row_batch(rows)
        tokens_in = np.ctypeslib.as_array(batch.batch.token, shape=(rows,))
        positions = np.ctypeslib.as_array(batch.batch.pos, shape=(rows,))
        probs = np.empty((rows, self.n_vocab))
        position = 0

        def step(tokens: Sequence[int], live: int) -> FloatArray:
            nonlocal position
            if ctx is not self._stepping:
                raise CompressiqError("this stepping was replaced by a later start")
            batch.batch.n_tokens = live
            tokens_in[:live] = tokens[:live]
            positions[:live] = position
            position += 1
            ctx.decode(batch)
            logits = np.ctypeslib.as_array(ctx.get_logits(), shape=(live, self.n_vocab))
            return softmax_into(probs[:live], logits)

        return step

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
        # llama-cpp-python's public API has no per-position logits flag: ``Llama.eval`` keeps logits for
        # every position only with ``logits_all=True``, a context x vocabulary float array (8.6 GB for
        # Gemma-3's 262k vocabulary at 8k context). Its own context and batch wrappers (``_ctx``,
        # ``_batch``, stable across 0.3.x, pinned <0.4 in pyproject) flag just the scored positions.
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
