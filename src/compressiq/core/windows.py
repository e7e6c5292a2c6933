"""Window arithmetic: which tokens each model call sees and which it scores. Pure: no torch, no I/O.

Two protocols share one shape, ``Window(start, end, scored_from)``: the call sees tokens
``[start, end)`` and scores tokens ``[scored_from, end)``, each predicted from everything before it
in the window (plus a prefix token on top, which the caller adds).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """Tokens ``[start, end)`` are the context; tokens ``[scored_from, end)`` are scored."""

    start: int
    end: int
    scored_from: int

    @property
    def scored(self) -> int:
        return self.end - self.scored_from


def check_block_stride(block: int, stride: int) -> None:
    """Reject settings that cannot score every token exactly once."""
    if block < 2:
        raise ValueError(f"block must be at least 2 tokens, got {block}")
    if not 1 <= stride <= block:
        raise ValueError(f"stride must be between 1 and the block ({block}), got {stride}")


def rolling_windows(n_tokens: int, block: int, stride: int) -> list[Window]:
    """The exact protocol: window k holds tokens ``[k*stride, k*stride + block)``, clipped at the end.

    Each window scores only the tokens no earlier window scored, so every token is scored exactly
    once, the tail included. Windows stop once the last token is scored. Example, 10 tokens,
    block 4, stride 2: (0,4,0) (2,6,4) (4,8,6) (6,10,8) — the first window scores 4, the rest 2.
    """
    check_block_stride(block, stride)
    windows: list[Window] = []
    scored = 0
    start = 0
    while scored < n_tokens:
        end = min(start + block, n_tokens)
        windows.append(Window(start, end, scored))
        scored = end
        start += stride
    return windows


def paper_windows(n_tokens: int, block: int, stride: int) -> list[Window]:
    """The paper's accounting over one stream of concatenated documents (arXiv:2404.09937 code).

    There are ``floor((n - (block + 1)) / stride) + 1`` windows of exactly ``block + 1`` tokens,
    window k starting at ``k*stride``. The first scores tokens 1..block (token 0 never is); every
    later window scores its last ``stride`` tokens. The tail after the last full window is never
    scored. Example, 12 tokens, block 4, stride 3: (0,5,1) (3,8,5) (6,11,8); token 11 is unscored.
    """
    check_block_stride(block, stride)
    span = block + 1
    if n_tokens < span:
        return []
    count = (n_tokens - span) // stride + 1
    windows = [Window(0, span, 1)]
    for k in range(1, count):
        start = k * stride
        windows.append(Window(start, start + span, start + span - stride))
    return windows


def tokens_for_chars(chars: int, chars_per_token: float) -> int:
    """Convert a length in characters to tokens for one model: ``round(chars / chars_per_token)``.

    Example: a 7,600-character window with a tokenizer that averages 4.0 characters per token is
    1,900 tokens; with 3.2 characters per token it is 2,375 tokens.
    """
    if chars_per_token <= 0:
        raise ValueError("characters per token must be positive")
    return max(1, round(chars / chars_per_token))


@dataclass(frozen=True)
class Call:
    """One model input: ``tokens``, of which the last ``scored`` are scored.

    ``first`` is the position of the first scored token in the corpus token stream (all documents'
    tokens end to end), which is how scores are attributed back to documents.
    """

    tokens: list[int]
    scored: int
    first: int


def exact_calls(
    documents: list[list[int]], prefix: int | None, block: int, stride: int, every_window: bool = True
) -> Iterator[Call]:
    """Model inputs of the exact protocol, document by document, in stream order.

    Each document is windowed on its own (``rolling_windows``). Its first window starts with the
    prefix token, so the first token is predicted from it; later windows start with it too unless
    ``every_window`` is False (then a window's first token is context only, which needs
    stride < block). Example, tokens [a b c d e], prefix P, block 3, stride 2:
    [P a b c] scores a b c; [P c d e] scores d e.
    """
    if prefix is None:
        raise ValueError("the exact protocol needs a prefix token to predict each document's first token")
    if not every_window and stride >= block:
        raise ValueError("windows without a prefix token need stride < block")
    offset = 0
    for tokens in documents:
        for w in rolling_windows(len(tokens), block, stride):
            head = [prefix] if (every_window or w.start == 0) else []
            yield Call(head + tokens[w.start : w.end], w.scored, offset + w.scored_from)
        offset += len(tokens)


def paper_calls(stream: list[int], block: int, stride: int) -> Iterator[Call]:
    """Model inputs of the paper's protocol over one stream (see ``paper_windows``)."""
    for w in paper_windows(len(stream), block, stride):
        yield Call(stream[w.start : w.end], w.scored, w.scored_from)
