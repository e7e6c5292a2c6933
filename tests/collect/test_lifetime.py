"""A killed ``compressiq collect`` leaves nothing running: its pool workers and their extraction sandboxes
die with it. The build runs in a real subprocess on real pages; whatever happens, the test ends it."""

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.collect.test_collect_cli import WINDOW, offline_corpora

pytestmark = pytest.mark.slow


def tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def depth(proc: psutil.Process, root: int) -> int:
    """How many parents up ``root`` is (1 for a child); 0 when it is not an ancestor (or gone)."""
    try:
        for n, parent in enumerate(proc.parents(), 1):
            if parent.pid == root:
                return n
    except psutil.NoSuchProcess:
        pass
    return 0


@pytest.fixture
def build(offline_inputs: Path, tmp_path: Path) -> list[str]:
    """The command line of a two-task, two-worker cc build over 60 real pages."""
    oc = offline_corpora()
    pages = sorted((offline_inputs / "python3.11-doc").rglob("*.html"))[:60]
    (tmp_path / "in").mkdir()
    for shard in range(2):
        oc.write_warc(tmp_path / "in" / f"{shard}.warc.gz", pages[shard::2])
    argv = [sys.executable, "-m", "compressiq.cli", "collect", "cc", str(tmp_path / "in"), *WINDOW]
    argv += ["--tasks", "2", "--workers", "2", "--extract-timeout", "120", "--out", str(tmp_path / "out")]
    return argv


def test_a_killed_build_leaves_no_process_running(build: list[str]) -> None:
    proc = subprocess.Popen(build, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: list[psutil.Process] = []
    try:
        deadline, sandbox = time.monotonic() + 180, False
        # Wait for an extraction sandbox inside a pool worker: build → worker → sandbox. Remember that it
        # was seen: a sandbox lives for one page and may be gone a moment later.
        while proc.poll() is None and time.monotonic() < deadline and not sandbox:
            seen = tree(proc.pid)
            sandbox = any(depth(p, proc.pid) >= 2 for p in seen)
            time.sleep(0 if sandbox else 0.1)
        assert proc.poll() is None, "the build ended before its workers started extracting"
        assert sandbox, f"no extraction sandbox within 180 s; the build's processes: {[p.pid for p in seen]}"
        proc.kill()
        proc.wait()
        _, alive = psutil.wait_procs(seen, timeout=20)
        assert not alive, [(p.pid, p.name()) for p in alive]
    finally:
        proc.kill()
        for p in seen:
            if p.is_running():
                p.kill()
