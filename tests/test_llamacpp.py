"""The llama.cpp backend on the two built-in GGUF files, against the transformers backend."""

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from compressiq import hf, models
from compressiq.corpus import Corpus, Document
from compressiq.llamacpp import LlamaCppBackend, load_llamacpp, log_softmax_at
from compressiq.runner import ScoreConfig, score
from tests.conftest import fresh_text

pytestmark = pytest.mark.slow

# Windows longer than llama.cpp's 512-token batch, so a window spans several decode calls.
CONFIG = ScoreConfig(block=700, stride=256)


@pytest.fixture(params=["smollm2", "gemma3"], scope="module")
def pair(request: pytest.FixtureRequest) -> tuple[hf.TransformersBackend, LlamaCppBackend]:
    name = {"smollm2": "smollm2-135m", "gemma3": "gemma3-270m"}[request.param]
    return request.getfixturevalue(request.param), load_llamacpp(models.locate(models.resolve(name)), name)


def test_log_softmax_by_hand() -> None:
    logits = np.array([[0.0, math.log(3.0)], [1000.0, 1000.0]], dtype=np.float32)
    assert np.allclose(log_softmax_at(logits, [1, 0]), [math.log(0.75), math.log(0.5)])


def test_same_token_ids_as_transformers(pair: tuple[hf.TransformersBackend, LlamaCppBackend]) -> None:
    """Both tokenizers read the same GGUF vocabulary: the ids agree on every fresh document."""
    tf, lc = pair
    docs = fresh_text("cc", 20) + fresh_text("python", 20)
    differ = [i for i, d in enumerate(docs) if tf.encode(d.content) != lc.encode(d.content)]
    assert differ == [], f"{tf.name}: documents tokenized differently: {differ}"
    assert lc.bos_id == tf.bos_id and lc.token_id("<|endoftext|>" if "smollm2" in tf.name else "<bos>") >= 0
    spelled = lc.encode("text that spells <bos> and <|endoftext|> and <eos>")
    assert spelled == tf.encode("text that spells <bos> and <|endoftext|> and <eos>")


def test_bpc_agrees_with_transformers(pair: tuple[hf.TransformersBackend, LlamaCppBackend], tmp_path: Path) -> None:
    tf, lc = pair
    docs = [Document(d.content[:4000], d.subset) for s in ("cc", "python") for d in fresh_text(s, 2)]
    prefix = "<|endoftext|>" if "smollm2" in tf.name else None
    config = replace(CONFIG, prefix_token=prefix)
    a = score(tf, Corpus("fresh", docs), config, tmp_path)
    b = score(lc, Corpus("fresh", docs), config, tmp_path)
    assert a.totals.tokens == b.totals.tokens and a.totals.characters == b.totals.characters
    print(f"\n{tf.name}: bpc transformers {a.totals.bpc:.5f}  llama.cpp {b.totals.bpc:.5f}  tokens {a.totals.tokens}")
    assert math.isclose(a.totals.bpc, b.totals.bpc, rel_tol=5e-3)
    for subset in a.subsets:
        assert math.isclose(a.subsets[subset].bpc, b.subsets[subset].bpc, rel_tol=1e-2), subset


def test_registry_name_with_backend_flag_is_its_own_run(tmp_path: Path) -> None:
    docs = Corpus("one", [Document(fresh_text("cc", 1)[0].content[:600])])
    run = score("smollm2-135m", docs, ScoreConfig(block=128, stride=64, backend="llamacpp"), tmp_path)
    assert run.complete and run.settings["backend"] == "llamacpp" and 0.3 < run.totals.bpc < 2.5
