"""The scoring loop: model calls in batches, scores attributed back to documents.

Calls arrive in stream order (``windows.exact_calls`` / ``paper_calls``). They are taken in
groups; inside a group, calls of similar length share a batch. After each group, every document
whose tokens all lie before the furthest scored position is complete and is handed out, so a
caller can store it at once and a killed run loses at most one group.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from compressiq.core.backend import Backend
from compressiq.core.windows import Call


@dataclass(frozen=True)
class DocScore:
    """The cost of one document: ``nats`` over ``tokens`` scored tokens."""

    index: int
    nats: float
    tokens: int


def batches(calls: list[Call], batch_tokens: int) -> list[list[Call]]:
    """Sort by length and pack so that (longest input x batch size) stays within ``batch_tokens``.

    Example, budget 10, lengths 3 3 4 6: [3 3] [4] [6] would waste nothing only if... the rule is
    greedy over the sorted list: [3 3] (2x3=6), adding 4 makes 3x4=12 > 10, so [4 6]? 2x6=12 > 10,
    so [4] and [6]. Each batch holds at least one call, however long.
    """
    out: list[list[Call]] = []
    for call in sorted(calls, key=lambda c: len(c.tokens)):
        if out and len(call.tokens) * (len(out[-1]) + 1) <= batch_tokens:
            out[-1].append(call)
        else:
            out.append([call])
    return out


def score_calls(
    backend: Backend,
    calls: Iterable[Call],
    bounds: list[int],
    skip: set[int],
    batch_tokens: int = 1024,
    group_tokens: int = 16384,
) -> Iterator[list[DocScore]]:
    """Run ``calls`` and yield the documents each group completes.

    ``bounds[i]`` is the stream position where document i starts (``bounds[-1]`` is the stream
    length); documents in ``skip`` are already stored: calls that score only them are not run and
    they are never yielded. Documents whose tokens are never scored (empty ones, or the paper
    protocol's tail) are yielded at the end with what they got, so no document goes missing.
    """
    starts = np.asarray(bounds, dtype=np.int64)
    nats = np.zeros(len(bounds) - 1)
    counts = np.zeros(len(bounds) - 1, dtype=np.int64)
    emitted = 0
    it = (c for c in calls if not _only_skipped(c, starts, skip))
    while group := _take(it, group_tokens):
        for batch in batches(group, batch_tokens):
            for call, lp in zip(batch, backend.logprobs([(c.tokens, c.scored) for c in batch])):
                docs = np.searchsorted(starts, np.arange(call.first, call.first + call.scored), side="right") - 1
                np.add.at(nats, docs, -lp)
                np.add.at(counts, docs, 1)
        reached = max(c.first + c.scored for c in group)
        done = int(np.searchsorted(starts[1:], reached, side="right"))
        yield _scores(range(emitted, done), nats, counts, skip)
        emitted = max(emitted, done)
    yield _scores(range(emitted, len(nats)), nats, counts, skip)


def _only_skipped(call: Call, starts: np.ndarray, skip: set[int]) -> bool:
    if not skip:
        return False
    first, last = np.searchsorted(starts, [call.first, call.first + call.scored - 1], side="right") - 1
    return all(d in skip for d in range(int(first), int(last) + 1))


def _take(calls: Iterator[Call], group_tokens: int) -> list[Call]:
    group: list[Call] = []
    size = 0
    for call in calls:
        group.append(call)
        size += len(call.tokens)
        if size >= group_tokens:
            break
    return group


def _scores(docs: range, nats: np.ndarray, counts: np.ndarray, skip: set[int]) -> list[DocScore]:
    return [DocScore(d, float(nats[d]), int(counts[d])) for d in docs if d not in skip]
