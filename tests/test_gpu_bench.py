"""``bench/gpu.py --device cpu --tiny``: all three parts of the GPU bench run here, on tiny models."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_bench_runs_on_the_cpu(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    cmd = [sys.executable, str(ROOT / "bench" / "gpu.py"), "--device", "cpu", "--tiny", "--json", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["device"] == "cpu" and figures["tiny"]
    for shape in ("llama-7b", "llama3-8b-128k"):
        a = figures[f"a {shape}"]
        # The engine and the seed-style loop ran the same windows: the same nats, up to bf16 batch rounding.
        assert a["nats_relative_difference"] < 1e-3
        assert a["processed"] > a["scored"] > 0 and a["windows"] > 8
        assert a["engine_tokens_s"] > 0 and a["seed_tokens_s"] > 0 and a["floor_tokens_s"] > 0 and a["mfu"] > 0
    b = figures["b agreement"]
    assert b["device float32 vs cpu float32"] == 0.0  # the "device" is this CPU: the same arithmetic
    assert 0 < b["device bfloat16 vs cpu float32"] < 5e-3  # bf16 moves the last digits, not the measure
    assert b["characters"] > 0 and all(v > 0 for v in b["bpc"].values())
    for dtype in ("bfloat16", "float32"):  # bf16: what compress steps in on a GPU, packed attention included
        c = figures[f"c codec, device {dtype}"]
        assert c["bit_exact"] and c["bytes"] >= 1900 and c["payload_bytes"] > 0
        assert c["kernels"].endswith(f"{dtype} on cpu")  # the header records where the probabilities came from
