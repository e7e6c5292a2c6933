"""``--gpus N`` replicas as N CPU processes over one store: the single-process totals, a kill, a resume."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psutil
import pytest

from compressiq.backends.testing import ByteBackend
from compressiq.core.backend import FloatArray
from compressiq.core.corpus import Corpus, Document
from compressiq.core.loader import Hardware
from compressiq.core.replicas import shards
from compressiq.core.runner import ScoreConfig, score
from compressiq.core.store import Store
from compressiq.errors import CompressiqError
from tests.conftest import fresh_text

CONFIG = ScoreConfig(block=64, stride=24, device="cpu")
TWO = Hardware(gpus=2)
ROOT = Path(__file__).resolve().parents[2]


class SlowBackend(ByteBackend):
    """A ``ByteBackend`` that takes its time, so that a kill lands half way; it records its process."""

    def __init__(self, pids: str = "") -> None:
        super().__init__()
        self.pids = pids

    def logprobs(self, windows: Sequence[tuple[Sequence[int], int]]) -> list[FloatArray]:
        if self.pids:
            with open(self.pids, "a") as f:
                f.write(f"{os.getpid()}\n")
        time.sleep(0.15)
        return super().logprobs(windows)


def corpus() -> Corpus:
    docs = [Document(d.content[:1500], d.subset) for s in ("cc", "python") for d in fresh_text(s, 6)]
    return Corpus("fresh", docs + [Document("", "cc")])


def stored(results: Path) -> int:
    try:
        with sqlite3.connect(results / "results.sqlite") as db:
            return int(db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_shards_deal_documents_round_robin() -> None:
    assert shards([0, 2, 3, 5, 6], 2) == [[0, 3, 6], [2, 5]]
    assert shards([4], 3) == [[4], [], []]


def test_two_replicas_give_the_single_process_totals(tmp_path: Path) -> None:
    local = score(ByteBackend(), corpus(), CONFIG, tmp_path / "local")
    pids = tmp_path / "pids"
    spread = score(SlowBackend(str(pids)), corpus(), CONFIG, tmp_path / "two", hardware=TWO)
    assert spread.complete and spread.run_id == local.run_id
    assert spread.totals == local.totals and spread.subsets == local.subsets
    workers = set(pids.read_text().split())
    assert len(workers) == 2 and str(os.getpid()) not in workers  # two processes did the scoring
    store = Store(tmp_path / "two")
    assert [r[0] for r in store.document_rows(spread.run_id)] == list(range(len(corpus().documents)))
    store.close()


DRIVER = """
import sys
from tests.core.test_replicas import CONFIG, TWO, SlowBackend, corpus
from compressiq.core.runner import score
from pathlib import Path
score(SlowBackend(sys.argv[2]), corpus(), CONFIG, Path(sys.argv[1]), hardware=TWO)
"""


def test_a_killed_run_leaves_no_replica_and_resumes_to_the_same_totals(tmp_path: Path) -> None:
    whole = score(ByteBackend(), corpus(), CONFIG, tmp_path / "whole")
    cut, pids = tmp_path / "cut", tmp_path / "pids"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(cut), str(pids)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while stored(cut) < 3 and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.1)
        replicas = psutil.Process(driver.pid).children(recursive=True)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    finally:
        if driver.poll() is None:
            driver.kill()
    _, alive = psutil.wait_procs(replicas, timeout=20)
    assert replicas and not alive, "the replicas die with their driver"
    done_before = stored(cut)
    assert 3 <= done_before < len(corpus().documents), "the kill should land half way"
    resumed = score(ByteBackend(), corpus(), CONFIG, cut, hardware=TWO)
    assert resumed.complete and resumed.totals == whole.totals and resumed.subsets == whole.subsets
    store = Store(cut)
    assert [r[0] for r in store.document_rows(resumed.run_id)] == list(range(len(corpus().documents)))
    store.close()


class FailingBackend(ByteBackend):
    def logprobs(self, windows: Sequence[tuple[Sequence[int], int]]) -> list[FloatArray]:
        raise CompressiqError("this replica cannot score")


def test_a_failing_replica_is_one_line_and_keeps_what_was_stored(tmp_path: Path) -> None:
    with pytest.raises(CompressiqError, match=r"replica on cpu \(exit code 2\).*rerun to continue"):
        score(FailingBackend(), corpus(), CONFIG, tmp_path, hardware=TWO)
