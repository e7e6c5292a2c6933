"""The scoring loop: model calls in batches, scores attributed back to documents.

Calls arrive in stream order (``windows.exact_calls`` / ``paper_calls``). They are taken in
groups; inside a group, calls of similar length share a batch. After each group, every document
whose tokens all lie before the furthest scored position is complete and is handed out, so a
caller can store it at once and a killed run loses at most one group.

An out-of-memory error (a GPU's, or any ``RuntimeError`` saying so) costs no document: nothing of
the failed batch was counted, the budget is halved below that batch's size and the group's
remaining calls are packed again, for the rest of the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from compressiq.core.backend import Backend, FloatArray
from compressiq.core.windows import Call
from compressiq.errors import CompressiqError


@dataclass(frozen=True)
class DocScore:
    """The cost of one document: ``nats`` over ``tokens`` scored tokens."""

    index: int
    nats: float
    tokens: int


def batches(calls: list[Call], batch_tokens: int) -> list[list[Call]]:
    """Sort calls by length and pack them greedily so that a batch's padded size, its longest
    call times its number of calls, stays within ``batch_tokens``; a call longer than the budget
    gets a batch of its own.

    Example, budget 10, lengths 3 3 4 6: [3 3] is 2 x 3 = 6; adding the 4 would make 3 x 4 = 12,
    so [4] starts a batch; adding the 6 would make 2 x 6 = 12, so [6] is alone: [3 3] [4] [6].
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
    on_group: Callable[[int], None] | None = None,
) -> Iterator[list[DocScore]]:
    """Run ``calls`` and yield the documents each group completes.

    ``bounds[i]`` is the stream position where document i starts (``bounds[-1]`` is the stream
    length); documents in ``skip`` are already stored: calls that score only them are not run and
    they are never yielded. Documents whose tokens are never scored (empty ones, or the paper
    protocol's tail) are yielded at the end with what they got, so no document goes missing.
    ``on_group`` hears how many tokens each group scored: progress inside a long document.
    """
    starts = np.asarray(bounds, dtype=np.int64)
    nats = np.zeros(len(bounds) - 1)
    counts = np.zeros(len(bounds) - 1, dtype=np.int64)
    emitted = 0
    it = (c for c in calls if not _only_skipped(c, starts, skip))
    while group := _take(it, group_tokens):
        results, batch_tokens = run_group(backend, group, batch_tokens)
        for call, lp in results:
            docs = np.searchsorted(starts, np.arange(call.first, call.first + call.scored), side="right") - 1
            np.add.at(nats, docs, -lp)
            np.add.at(counts, docs, 1)
        if on_group is not None:
            on_group(sum(c.scored for c in group))
        reached = max(c.first + c.scored for c in group)
        done = int(np.searchsorted(starts[1:], reached, side="right"))
        yield _scores(range(emitted, done), nats, counts, skip)
        emitted = max(emitted, done)
    yield _scores(range(emitted, len(nats)), nats, counts, skip)


def run_group(backend: Backend, group: list[Call], batch_tokens: int) -> tuple[list[tuple[Call, FloatArray]], int]:
    """Every call of ``group`` with its log-probabilities, and the budget that worked.

    On an out-of-memory error the failed batch counts for nothing; the budget becomes half of that
    batch's padded size and the calls not yet run are packed again. Example: budget 8192, a batch of
    4 windows of 1900 (7600 padded) fails: the budget becomes 3800, two windows a batch. A single
    window that does not fit is one error line.
    """
    done: list[tuple[Call, FloatArray]] = []
    pending = batches(group, batch_tokens)
    while pending:
        batch = pending.pop(0)
        try:
            values = backend.logprobs([(c.tokens, c.scored) for c in batch])
        except RuntimeError as e:
            if not out_of_memory(e):
                raise
            longest = max(len(c.tokens) for c in batch)
            if len(batch) == 1:
                raise CompressiqError(f"out of memory on one window of {longest} tokens: lower --block") from e
            batch_tokens = max(1, longest * len(batch) // 2)
            pending = batches([c for b in [batch, *pending] for c in b], batch_tokens)
            continue
        done.extend(zip(batch, values))
    return done, batch_tokens


def out_of_memory(error: BaseException) -> bool:
    """``torch.cuda.OutOfMemoryError``, or a ``RuntimeError`` saying out of memory (MPS, CPU allocators)."""
    return type(error).__name__ == "OutOfMemoryError" or "out of memory" in str(error).lower()


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
