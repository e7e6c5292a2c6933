"""The scoring loop and the store on the test double, against a naive token-by-token loop."""

import math
from pathlib import Path

import numpy as np
import pytest

from compressiq.backends.testing import BOS, ByteBackend
from compressiq.core.corpus import Corpus, Document
from compressiq.core.engine import batches, score_calls
from compressiq.core.runner import ScoreConfig, score
from compressiq.core.store import Store
from compressiq.core.windows import Call, exact_calls

TEXTS = ["", "a", "hello, world " * 7, "Ünïcödé – text", "x" * 300, "short"]


def naive_exact(backend: ByteBackend, text: str, block: int, stride: int) -> float:
    """Independent reference: each token scored alone, with the context of the window that owns it."""
    t = backend.encode(text)
    nats = 0.0
    for i in range(len(t)):
        k = 0 if i < block else (i - block) // stride + 1  # first window whose end passes i
        context = [BOS] + t[k * stride : i + 1]
        nats -= backend.logprobs([(context, 1)])[0][0]
    return nats


@pytest.mark.parametrize(
    ("block", "stride"),
    [(16, 16), (16, 5), (7, 1), (1900, 512)],
    ids=["disjoint", "overlap", "stride-1", "paper-defaults"],
)
@pytest.mark.parametrize("batch_tokens", [1, 64, 4096], ids=["batch-1", "batch-64", "batch-4096"])
def test_engine_equals_naive_loop(block: int, stride: int, batch_tokens: int) -> None:
    backend = ByteBackend()
    tokens = [backend.encode(t) for t in TEXTS]
    bounds = list(np.cumsum([0] + [len(t) for t in tokens]))
    calls = exact_calls(tokens, BOS, block, stride)
    scores = [s for group in score_calls(backend, calls, bounds, set(), batch_tokens, group_tokens=50) for s in group]
    assert [s.index for s in scores] == list(range(len(TEXTS)))  # each document once, in order
    assert [s.tokens for s in scores] == [len(t) for t in tokens]
    for s, text in zip(scores, TEXTS):
        assert math.isclose(s.nats, naive_exact(backend, text, block, stride), rel_tol=1e-9, abs_tol=1e-9)


def test_batches_pack_by_length_within_budget() -> None:
    calls = [Call([0] * n, 1, 0) for n in (6, 3, 4, 3)]
    assert [[len(c.tokens) for c in b] for b in batches(calls, 10)] == [[3, 3], [4], [6]]
    assert [[len(c.tokens) for c in b] for b in batches(calls, 1)] == [[3], [3], [4], [6]]


def corpus() -> Corpus:
    return Corpus("test", [Document(t, "a" if i % 2 else "b") for i, t in enumerate(TEXTS * 4)])


class Interrupt(Exception):
    pass


class DyingBackend(ByteBackend):
    """Raises on its n-th call, like a run killed half way."""

    def __init__(self, die_at: int) -> None:
        super().__init__()
        self.die_at = die_at

    def logprobs(self, windows):  # type: ignore[no-untyped-def]
        if self.calls + 1 == self.die_at:
            raise Interrupt
        return super().logprobs(windows)


def test_resume_after_interruption_gives_same_totals(tmp_path: Path) -> None:
    config = ScoreConfig(block=16, stride=5)
    full = ByteBackend()
    whole = score(full, corpus(), config, tmp_path / "whole", batch_tokens=64)
    with pytest.raises(Interrupt):
        score(DyingBackend(die_at=full.calls // 2), corpus(), config, tmp_path / "cut", batch_tokens=64)
    store = Store(tmp_path / "cut")
    (cut,) = store.runs()
    store.close()
    assert 0 < cut.totals.documents < len(corpus().documents) and not cut.complete  # groups before the kill kept
    again = ByteBackend()
    resumed = score(again, corpus(), config, tmp_path / "cut", batch_tokens=64)
    assert resumed.totals == whole.totals
    assert resumed.subsets == whole.subsets and resumed.complete
    assert 0 < again.calls < full.calls  # it ran only for what was missing
    assert math.isclose(resumed.totals.bpc, whole.totals.bpc)
    rerun = ByteBackend()
    score(rerun, corpus(), config, tmp_path / "cut")
    assert rerun.calls == 0  # nothing left: the model is not called at all


def test_empty_documents_are_recorded_with_zero_characters(tmp_path: Path) -> None:
    run = score(ByteBackend(), Corpus("e", [Document(""), Document("abc")]), ScoreConfig(), tmp_path)
    assert run.totals.documents == 2 and run.totals.characters == 3 and run.totals.tokens == 3


def test_paper_protocol_matches_its_definition(tmp_path: Path) -> None:
    """Concatenated stream with BOS per document, windows of block+1, unscored first token and tail."""
    backend = ByteBackend()
    docs = [Document(t) for t in TEXTS]
    run = score(backend, Corpus("p", docs), ScoreConfig(protocol="paper", block=8, stride=3), tmp_path)
    stream = [i for d in docs for i in backend.encode(d.content, special=True)]
    # The original script's loop, written out: prev_end bookkeeping and a mask over the targets.
    nats, prev_end, begin = 0.0, 0, 0
    for _ in range((len(stream) - 9) // 3 + 1):
        end = begin + 9
        trg = end - prev_end
        window = stream[begin:end]
        n_scored = min(trg, 8)  # the first window's first position has no prediction
        nats -= float(np.sum(backend.logprobs([(window, n_scored)])[0]))
        prev_end, begin = end, begin + 3
    assert math.isclose(run.totals.nats, nats, rel_tol=1e-12)
    assert run.totals.characters == sum(len(t) for t in TEXTS)
    assert run.totals.tokens == prev_end - 1


def test_progress_is_reported_inside_a_long_document() -> None:
    """One long document completes only at the end, but every group reports the tokens it scored."""
    tokens = [list(range(3, 250)) * 8]
    calls = exact_calls(tokens, 1, 64, 32)
    heard: list[int] = []
    groups = list(score_calls(ByteBackend(), calls, [0, len(tokens[0])], set(), 256, 512, heard.append))
    assert len(heard) > 3 and sum(heard) == len(tokens[0])  # every token once, in several reports
    assert [len(g) for g in groups[:-2]] == [0] * (len(groups) - 2)  # the document itself only at the end
