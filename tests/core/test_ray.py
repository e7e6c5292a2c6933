"""Ray scale-out on a local two-worker cluster: the same totals as one process, a dying worker, resume."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from compressiq.backends.testing import ByteBackend, ExitingBackend
from compressiq.core.cluster import RayOptions
from compressiq.core.corpus import Corpus, Document
from compressiq.core.runner import ScoreConfig, score
from compressiq.core.store import Store
from tests.conftest import fresh_text
from tests.core.test_engine import DyingBackend, Interrupt

CONFIG = ScoreConfig(block=64, stride=24)
OPTIONS = RayOptions(workers=2, cpus=1, documents_per_task=3)


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def corpus() -> Corpus:
    docs = [Document(d.content[:1500], d.subset) for s in ("cc", "python") for d in fresh_text(s, 6)]
    return Corpus("fresh", docs + [Document("", "cc")])


def test_two_workers_give_the_single_process_totals(tmp_path: Path) -> None:
    local = score(ByteBackend(), corpus(), CONFIG, tmp_path / "local")
    spread = score(ByteBackend(), corpus(), CONFIG, tmp_path / "ray", ray=OPTIONS)
    assert spread.complete and spread.run_id == local.run_id
    assert spread.totals == local.totals and spread.subsets == local.subsets
    t = spread.totals
    print(f"\nray, 2 workers: {t.documents} documents, {t.tokens} tokens, {t.nats!r} nats, bpc {t.bpc!r}")


def test_a_worker_dies_and_its_documents_are_rescored_once(tmp_path: Path) -> None:
    local = score(ByteBackend(), corpus(), CONFIG, tmp_path / "local")
    marker = tmp_path / "died"
    spread = score(ExitingBackend(str(marker)), corpus(), CONFIG, tmp_path / "ray", ray=OPTIONS)
    assert marker.exists()  # a worker process really exited mid-run
    assert spread.totals == local.totals
    store = Store(tmp_path / "ray")
    assert [r[0] for r in store.document_rows(spread.run_id)] == list(range(len(corpus().documents)))
    store.close()


def test_resume_a_killed_local_run_on_ray(tmp_path: Path) -> None:
    whole = score(ByteBackend(), corpus(), CONFIG, tmp_path / "whole", batch_tokens=64)
    with pytest.raises(Interrupt):
        score(DyingBackend(die_at=40), corpus(), CONFIG, tmp_path / "cut", batch_tokens=64)
    resumed = score(ByteBackend(), corpus(), CONFIG, tmp_path / "cut", ray=OPTIONS)
    assert resumed.totals == whole.totals and resumed.complete
