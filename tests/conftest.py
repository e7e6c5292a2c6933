"""Shared fixtures: the two built-in real models (loaded once per session) and the fresh text."""

import json
import os
from pathlib import Path

import pytest

from compressiq.backends import hf
from compressiq.core import registry as models
from compressiq.core.corpus import Document

# No hub here: the hub code paths must fail cleanly, never hang on the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"
PACKAGED = Path(__file__).resolve().parents[1] / "src" / "compressiq" / "data" / "corpora"


def fresh_text(subset: str, n: int) -> list[Document]:
    """The first ``n`` documents of the shared fresh text (the packaged sample is its prefix)."""
    shared = {"cc": "wikipedia_en_2025-01-01_2025-01-15.jsonl", "python": "github_python_2025-01-01_2025-01-15.jsonl"}
    path = SHARED / shared[subset]
    path = path if path.is_file() else PACKAGED / f"{subset}.jsonl"
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(n), f)]
    return [Document(r["content"], subset, r.get("meta") or {}) for r in rows]


def _load(name: str) -> hf.TransformersBackend:
    entry = models.resolve(name)
    return hf.load_transformers(models.locate(entry), name)


@pytest.fixture(scope="session")
def smollm2() -> hf.TransformersBackend:
    return _load("smollm2-135m")


@pytest.fixture(scope="session")
def gemma3() -> hf.TransformersBackend:
    return _load("gemma3-270m")


@pytest.fixture(params=["smollm2", "gemma3"], scope="session")
def real_model(request: pytest.FixtureRequest) -> hf.TransformersBackend:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def offline_inputs() -> Path:
    """The real offline inputs of the corpus pipelines, fetched by scripts/fixtures.sh (the test command runs it)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "compressiq" / "fixtures"
    assert (cache / ".complete").is_file(), "run `bash scripts/fixtures.sh` (scripts/test.sh does) to fetch them"
    return cache
