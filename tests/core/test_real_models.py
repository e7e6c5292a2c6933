"""The transformers backend on the two built-in real models, against independent computations."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from compressiq.backends import hf
from compressiq.core.corpus import Corpus, Document
from compressiq.core.runner import ScoreConfig, score
from tests.conftest import fresh_text

pytestmark = pytest.mark.slow


def prefix_of(backend: hf.TransformersBackend) -> int:
    return backend.token_id("<|endoftext|>") if "smollm2" in backend.name else int(backend.bos_id)


@torch.inference_mode()
def next_token_logprob(backend: hf.TransformersBackend, context: list[int], target: int) -> float:
    """One model call, full logits, float32 log-softmax at the last position: no batching, no slicing."""
    logits = backend.model(input_ids=torch.tensor([context])).logits[0, -1].float()
    return float(logits.log_softmax(-1)[target])


def naive_nats(backend: hf.TransformersBackend, text: str, block: int, stride: int) -> float:
    t = backend.encode(text)
    nats = 0.0
    for i in range(len(t)):
        k = 0 if i < block else (i - block) // stride + 1
        nats -= next_token_logprob(backend, [prefix_of(backend)] + t[k * stride : i], t[i])
    return nats


@pytest.mark.parametrize(("block", "stride"), [(24, 8), (16, 16), (10, 1)], ids=["overlap", "disjoint", "stride-1"])
def test_engine_equals_one_token_at_a_time(
    real_model: hf.TransformersBackend, block: int, stride: int, tmp_path: Path
) -> None:
    docs = [Document(fresh_text("cc", 1)[0].content[:150]), Document(fresh_text("python", 1)[0].content[:120])]
    config = ScoreConfig(
        block=block, stride=stride, prefix_token=None if "gemma" in real_model.name else "<|endoftext|>"
    )
    run = score(real_model, Corpus("naive", docs), config, tmp_path, batch_tokens=64)
    expected = sum(naive_nats(real_model, d.content, block, stride) for d in docs)
    assert math.isclose(run.totals.nats, expected, rel_tol=1e-4)
    assert run.totals.tokens == sum(len(real_model.encode(d.content)) for d in docs)


def test_stride_1_equals_full_context_when_the_document_fits(
    real_model: hf.TransformersBackend, tmp_path: Path
) -> None:
    text = fresh_text("cc", 2)[1].content[:400]
    ids = [prefix_of(real_model)] + real_model.encode(text)
    with torch.inference_mode():
        logits = real_model.model(input_ids=torch.tensor([ids])).logits[0, :-1].float().log_softmax(-1)
    full = -float(logits.gather(1, torch.tensor(ids[1:])[:, None]).sum())
    config = ScoreConfig(
        block=len(ids) - 1, stride=1, prefix_token=None if "gemma" in real_model.name else "<|endoftext|>"
    )
    run = score(real_model, Corpus("fits", [Document(text)]), config, tmp_path)
    assert math.isclose(run.totals.nats, full, rel_tol=1e-4)


def test_paper_protocol_matches_the_original_loop(real_model: hf.TransformersBackend, tmp_path: Path) -> None:
    """The original script: concatenated encodings, windows of block+1, masked cross-entropy (float32 here)."""
    docs = [Document(d.content[:300]) for d in fresh_text("cc", 4)]
    block, stride = 40, 16
    stream = np.concatenate([real_model.tok.encode(d.content) for d in docs])
    total, prev_end, begin = 0.0, 0, 0
    with torch.inference_mode():
        for _ in range(math.floor((len(stream) - (block + 1)) / stride + 1)):
            end = min(begin + block + 1, len(stream))
            x = torch.tensor(stream[begin:end])
            mask = torch.ones(len(x), dtype=torch.bool)
            mask[: -(end - prev_end)] = False
            logits = real_model.model(input_ids=x[None, :block]).logits[0].float()
            targets = x[1 : block + 1].masked_fill(~mask[1 : block + 1], -1)
            total += float(torch.nn.functional.cross_entropy(logits, targets, ignore_index=-1, reduction="sum"))
            prev_end, begin = end, begin + stride
    run = score(real_model, Corpus("paper", docs), ScoreConfig(protocol="paper", block=block, stride=stride), tmp_path)
    assert math.isclose(run.totals.nats, total, rel_tol=1e-4)


def test_no_special_token_is_scored_even_if_the_text_spells_one(real_model: hf.TransformersBackend) -> None:
    special = {real_model.tok.bos_token_id, real_model.tok.eos_token_id, real_model.token_id(real_model.tok.bos_token)}
    ids = real_model.encode("text that spells <bos> and <|endoftext|> and <eos>")
    assert not special & set(ids)


@pytest.mark.parametrize(("subset", "low", "high"), [("cc", 3.0, 6.0), ("python", 2.2, 5.0)], ids=["cc", "python"])
def test_characters_per_token_plausible(
    real_model: hf.TransformersBackend, subset: str, low: float, high: float
) -> None:
    docs = fresh_text(subset, 40)
    ratio = sum(len(d.content) for d in docs) / sum(len(real_model.encode(d.content)) for d in docs)
    assert low < ratio < high, ratio


def test_real_integration_on_fresh_text(real_model: hf.TransformersBackend, tmp_path: Path) -> None:
    """A few whole documents of each subset, long ones windowed, via the library's own entry point."""
    docs = [d for s in ("cc", "python") for d in fresh_text(s, 3)]
    run = score(real_model, Corpus("fresh", docs), ScoreConfig(block=512, stride=256), tmp_path)
    assert run.complete and run.totals.documents == 6
    assert run.totals.characters == sum(len(d.content) for d in docs)
    for subset, t in run.subsets.items():
        assert 0.3 < t.bpc < 2.5, (subset, t.bpc)
    assert run.subsets["python"].bpc < run.subsets["cc"].bpc  # code is more predictable than prose
