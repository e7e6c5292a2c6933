"""The scoring layer both the local runner and Ray replicas call: texts in, per-document (nats, tokens) out.

It owns what turns a config and texts into model calls: tokenization (with or without special
tokens), the token block and stride (given, or derived from characters), the prefix token, the
protocol's windows and the stream bounds that attribute each scored token to its document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from compressiq.core.backend import Backend
from compressiq.core.device import CPU_BATCH_TOKENS
from compressiq.core.engine import DocScore, score_calls
from compressiq.core.windows import check_block_stride, exact_calls, paper_calls, tokens_for_chars
from compressiq.errors import CompressiqError


@dataclass(frozen=True)
class ScoreConfig:
    """What decides the numbers; stored beside every result and part of its identity.

    ``block`` and ``stride`` are tokens, or characters when ``unit == "chars"`` (then each model's
    token block is derived from its own characters per token on the corpus). ``prefix_token``:
    the token each document's first token is predicted from; ``None`` means the registry's choice,
    else the model's BOS. ``protocol="paper"`` reproduces the original script's accounting.
    ``backend`` picks the kernels (``transformers``, ``llamacpp``, or ``openai``: a compatible
    server); they move the last digits, so the backend is part of a run's identity. So are ``dtype``
    (``float32``, ``bfloat16``, ``float16``; ``auto`` is resolved before a run, see ``core.device``) and
    the ``device`` kind the model runs on (``cpu``, ``cuda``, ``mps``; asked as ``auto`` or ``cuda:N``, a
    run stores the kind).
    """

    protocol: Literal["exact", "paper"] = "exact"
    block: int = 1900
    stride: int = 512
    unit: Literal["tokens", "chars"] = "tokens"
    prefix_token: str | None = None
    prefix_every_window: bool = True
    dtype: str = "float32"
    backend: Literal["transformers", "llamacpp", "openai"] = "transformers"
    device: str = "auto"


SLICE_CHARS = 1 << 20  # a fast tokenizer holds about 110 bytes a character while it works: 20 MB took 2.2 GB
CUT = re.compile(r"(?<=\S) (?=\S)")  # one space between two words: every pre-tokenizer in use starts a token there
CUT_CHECK_CHARS = 2000  # the text either side of a cut that must tokenize the same joined as apart


def tokenize(
    backend: Backend, config: ScoreConfig, texts: Sequence[str], slice_chars: int = SLICE_CHARS
) -> list[list[int]]:
    """Each text on its own; with the tokenizer's special tokens only in the paper protocol.

    Without special tokens, a text over ``slice_chars`` is tokenized in slices, each cut at the first
    single space between two words after ``slice_chars`` more characters, so the tokenizer's memory is
    bounded by a slice, not the document. GPT-2/Llama-3 regex pre-tokenizers and SentencePiece's split by
    whitespace all start a token there, so the ids equal one-shot tokenization (tested on both built-in
    models); each cut is also checked on the ``CUT_CHECK_CHARS`` around it, and a cut whose two sides do not
    join exactly is passed over. A text without such a space is tokenized whole.
    """
    special = config.protocol == "paper"
    if special:  # BOS (and friends) once a document: no slices
        return [backend.encode(t, special=True) for t in texts]
    ids: list[list[int]] = []
    for text in texts:
        start, parts = 0, []
        while (cut := _cut(backend, text, start + slice_chars)) is not None:
            parts.append(backend.encode(text[start:cut]))
            start = cut
        ids.append([i for part in [*parts, backend.encode(text[start:])] for i in part])
    return ids


def _cut(backend: Backend, text: str, near: int) -> int | None:
    """The first checked cut at or after ``near`` (None: none, or the text ends before it)."""
    if near >= len(text):
        return None
    for tried, match in enumerate(CUT.finditer(text, near)):
        cut = match.start()
        left, right = text[max(0, cut - CUT_CHECK_CHARS) : cut], text[cut : cut + CUT_CHECK_CHARS]
        if backend.encode(left + right) == backend.encode(left) + backend.encode(right):
            return cut
        if tried == 8:  # a tokenizer that joins across spaces: the rest in one piece
            return None
    return None


def token_windows(
    config: ScoreConfig, texts: Sequence[str], tokens: Sequence[Sequence[int]], max_context: int
) -> tuple[int, int]:
    """The token block and stride: as given, or derived from this model's characters per token."""
    block, stride = config.block, config.stride
    if config.unit == "chars":
        if not any(tokens):
            raise CompressiqError("--window-chars converts characters to tokens on the corpus, and it has no text")
        per_token = sum(map(len, texts)) / sum(map(len, tokens))
        block, stride = tokens_for_chars(block, per_token), tokens_for_chars(stride, per_token)
    check(block, stride, config)
    if block + 1 > max_context:
        raise CompressiqError(f"block {block} + 1 prefix token exceeds the model's context of {max_context} tokens")
    return block, stride


def check(block: int, stride: int, config: ScoreConfig) -> None:
    """Settings that cannot score every token exactly once are one error line, naming the characters given."""
    given = f" (from {config.block}/{config.stride} characters)" if config.unit == "chars" else ""
    try:
        check_block_stride(block, stride)
    except ValueError as e:
        raise CompressiqError(f"{e}{given}") from None
    if not config.prefix_every_window and stride >= block:
        raise CompressiqError(f"--no-prefix-after-first needs stride < block, got {stride} and {block}{given}")


def prefix_id(backend: Backend, config: ScoreConfig) -> int:
    """The token each document's first token is predicted from: the configured one, else BOS."""
    prefix = backend.token_id(config.prefix_token) if config.prefix_token else backend.bos_id
    if prefix is None:
        raise CompressiqError(f"{backend.name} has no BOS token: pass --prefix-token")
    return prefix


def score_tokens(
    backend: Backend,
    config: ScoreConfig,
    tokens: list[list[int]],
    windows: tuple[int, int],
    skip: set[int],
    batch_tokens: int,
    on_group: Callable[[int], None] | None = None,
) -> Iterator[list[DocScore]]:
    """Score documents' ``tokens`` with (block, stride) ``windows``; yield documents as they complete.

    Documents in ``skip`` are already stored: they are never yielded, and calls that score only them
    are not run (see ``engine.score_calls``, which calls ``on_group`` with each group's scored tokens).
    """
    block, stride = windows
    bounds = [0]
    for t in tokens:
        bounds.append(bounds[-1] + len(t))
    if config.protocol == "paper":
        calls = paper_calls([i for t in tokens for i in t], block, stride)
    else:
        calls = exact_calls(tokens, prefix_id(backend, config), block, stride, config.prefix_every_window)
    return score_calls(backend, calls, bounds, skip, batch_tokens, 4 * batch_tokens, on_group)


def score_texts(
    backend: Backend, config: ScoreConfig, texts: Sequence[str], windows: tuple[int, int], batch_tokens: int
) -> list[tuple[float, int]]:
    """(nats, tokens) per text, all at once: what a Ray replica returns for its share of documents."""
    out = [(0.0, 0)] * len(texts)
    for group in score_tokens(backend, config, tokenize(backend, config, texts), windows, set(), batch_tokens):
        for s in group:
            out[s.index] = (s.nats, s.tokens)
    return out


def budget(backend: Backend, batch_tokens: int | None) -> int:
    """Padded tokens per model call: as given, or (``None``) what the backend's free memory allows."""
    if batch_tokens is not None:
        return batch_tokens
    auto = getattr(backend, "auto_batch_tokens", None)
    return int(auto()) if callable(auto) else CPU_BATCH_TOKENS
