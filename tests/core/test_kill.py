"""A real kill: SIGKILL a scoring process half way, start it again, get the uninterrupted totals."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ARGS = ["score", "--model", "smollm2-135m", "--corpus", "sample:cc", "--limit", "8", "--block", "128",
        "--stride", "64", "--batch-tokens", "256", "--quiet", "--json"]  # fmt: skip


def cli(results: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "compressiq.cli", *ARGS, "--results", str(results)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stored(results: Path) -> int:
    try:
        with sqlite3.connect(results / "results.sqlite") as db:
            return int(db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def last_json(proc: subprocess.Popen[str]) -> dict[str, float]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_killed_run_resumes_to_the_same_totals(tmp_path: Path) -> None:
    whole = last_json(cli(tmp_path / "whole"))
    proc = cli(tmp_path / "cut")
    deadline = time.monotonic() + 300
    while stored(tmp_path / "cut") < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = stored(tmp_path / "cut")
    assert 3 <= done_before < 8, "the kill should land half way"
    resumed = last_json(cli(tmp_path / "cut"))
    assert stored(tmp_path / "cut") == 8
    for key in ("characters", "bytes", "tokens", "documents", "block", "stride"):
        assert resumed[key] == whole[key]
    assert resumed["bits"] == pytest.approx(whole["bits"], rel=1e-9)
