"""Devices and dtypes resolved against injected machine facts; the out-of-memory back-off; identity."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from compressiq.analysis.leaderboard import from_run
from compressiq.backends import hf
from compressiq.backends.testing import ByteBackend
from compressiq.cli import main
from compressiq.core.backend import FloatArray
from compressiq.core.corpus import Corpus, Document
from compressiq.core.device import (
    CPU_DTYPE,
    Facts,
    Placement,
    auto_batch_tokens,
    ray_device,
    replica_devices,
    resolve,
)
from compressiq.core.engine import out_of_memory
from compressiq.core.runner import ScoreConfig, run_id, score
from compressiq.core.store import Store
from compressiq.errors import CompressiqError
from tests.conftest import fresh_text

CPU_ONLY = Facts(cpu_bf16=True)
CPU_NO_BF16 = Facts(cpu_bf16=False)
H200 = Facts(cuda_devices=1, cuda_bf16=True, cpu_bf16=True)
TWO_V100 = Facts(cuda_devices=2, cuda_bf16=False)
MAC = Facts(mps=True)


@pytest.mark.parametrize(
    ("device", "dtype", "machine", "expected"),
    [
        ("auto", "auto", CPU_ONLY, Placement("cpu", "cpu", CPU_DTYPE)),
        ("auto", "auto", CPU_NO_BF16, Placement("cpu", "cpu", CPU_DTYPE)),
        ("cpu", "bfloat16", CPU_NO_BF16, Placement("cpu", "cpu", "bfloat16")),  # asked for: emulated, allowed
        ("auto", "auto", H200, Placement("cuda:0", "cuda", "bfloat16")),
        ("cpu", "auto", H200, Placement("cpu", "cpu", CPU_DTYPE)),
        ("cuda", "float32", H200, Placement("cuda:0", "cuda", "float32")),
        ("cuda:1", "auto", TWO_V100, Placement("cuda:1", "cuda", "float16")),
        ("auto", "auto", MAC, Placement("mps", "mps", "float16")),
        ("mps", "float32", MAC, Placement("mps", "mps", "float32")),
    ],
    ids=["cpu", "cpu-no-bf16", "cpu-bf16-asked", "h200", "cpu-on-gpu-box", "cuda-fp32", "v100-fp16", "mac", "mps-fp32"],
)
def test_resolve(device: str, dtype: str, machine: Facts, expected: Placement) -> None:
    assert resolve(device, dtype, machine) == expected


@pytest.mark.parametrize(
    ("machine", "expected"), [(CPU_ONLY, "bfloat16"), (CPU_NO_BF16, "float32"), (H200, "bfloat16"), (MAC, "float16")]
)
def test_the_codec_asks_for_native_bf16_on_a_cpu(machine: Facts, expected: str) -> None:
    """Any dtype decodes bit-exact, so the codec's ``auto`` takes the CPU's bf16 units when they exist."""
    assert resolve("auto", "auto", machine, fast_cpu=True).dtype == expected
    assert resolve("cpu", "float32", machine, fast_cpu=True).dtype == "float32"  # asked for: kept


@pytest.mark.parametrize(
    ("device", "dtype", "machine", "message"),
    [
        ("cuda", "auto", CPU_ONLY, "no CUDA device visible"),
        ("cuda:2", "auto", TWO_V100, "2 CUDA device(s) visible"),
        ("cuda", "bfloat16", TWO_V100, "no bfloat16"),
        ("mps", "auto", CPU_ONLY, "no Apple GPU"),
        ("gpu", "auto", H200, "unknown --device 'gpu'"),
        ("cuda:x", "auto", H200, "unknown --device"),
        ("cpu", "int8", H200, "unknown --dtype"),
    ],
    ids=["no-cuda", "index-past-end", "bf16-unsupported", "no-mps", "bad-name", "bad-index", "bad-dtype"],
)
def test_impossible_requests_are_one_line(device: str, dtype: str, machine: Facts, message: str) -> None:
    with pytest.raises(CompressiqError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve(device, dtype, machine)


def test_replicas_get_one_gpu_each_or_share_the_cpu() -> None:
    assert replica_devices(3, "cuda", Facts(cuda_devices=4)) == ["cuda:0", "cuda:1", "cuda:2"]
    assert replica_devices(2, "cpu") == ["cpu", "cpu"]
    with pytest.raises(CompressiqError, match="only 1 CUDA"):
        replica_devices(2, "cuda", H200)
    with pytest.raises(CompressiqError, match="at least 1"):
        replica_devices(0, "cpu")


@pytest.mark.parametrize(
    ("ids", "visible", "expected"),
    [([], None, None), (["3"], "3", "cuda:0"), (["5"], "4,5", "cuda:1"), (["2"], None, "cuda:2")],
    ids=["no-gpu", "ray-masks-one", "second-visible", "unmasked"],
)
def test_a_ray_replica_loads_on_the_gpu_ray_gave_it(ids: list[str], visible: str | None, expected: str | None) -> None:
    assert ray_device(ids, visible) == expected


def test_auto_batch_tokens_worked_example() -> None:
    assert auto_batch_tokens(20 * 10**9, 512 * 1024) == 18432  # 0.5 x 20e9 / 524288 = 19073, in steps of 1024
    assert auto_batch_tokens(140 * 10**9, 512 * 1024) == 65536  # a ceiling: the GPU is saturated long before
    assert auto_batch_tokens(10**6, 512 * 1024) == 1024  # never below one CPU-sized call


def test_batch_tokens_auto_is_the_cpu_default_off_a_gpu(tmp_path: Path) -> None:
    config = ScoreConfig(block=64, stride=24)
    auto, fixed = ByteBackend(), ByteBackend()
    a = score(auto, corpus(), config, tmp_path / "auto", batch_tokens=None)
    b = score(fixed, corpus(), config, tmp_path / "fixed", batch_tokens=1024)
    assert a.totals == b.totals and auto.calls == fixed.calls  # the same batches: 1024 padded tokens


def test_this_machine_resolves_without_error() -> None:
    placed = resolve("auto", "auto")
    assert placed.kind in ("cpu", "cuda", "mps") and placed.dtype in ("float32", "bfloat16", "float16")


# --- out-of-memory back-off -------------------------------------------------------------------------


class OomBackend(ByteBackend):
    """A ``ByteBackend`` with a memory limit: a batch over ``limit`` padded tokens raises ``error``."""

    def __init__(self, limit: int, error: Exception) -> None:
        super().__init__()
        self.limit, self.error, self.ooms = limit, error, 0
        self.windows_run: list[int] = []

    def logprobs(self, windows: Sequence[tuple[Sequence[int], int]]) -> list[FloatArray]:
        if max(len(t) for t, _ in windows) * len(windows) > self.limit:
            self.ooms += 1
            raise self.error
        self.windows_run += [len(t) for t, _ in windows]
        return super().logprobs(windows)


def corpus() -> Corpus:
    docs = [Document(d.content[:2000], d.subset) for s in ("cc", "python") for d in fresh_text(s, 5)]
    return Corpus("fresh", docs + [Document("", "cc")])


OOMS = [
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB)"),
    RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 1234 bytes. Out of memory"),
]


@pytest.mark.parametrize("error", OOMS, ids=["cuda", "mps", "cpu-allocator"])
def test_out_of_memory_halves_the_batch_and_loses_nothing(tmp_path: Path, error: Exception) -> None:
    config = ScoreConfig(block=64, stride=24)
    whole = score(ByteBackend(), corpus(), config, tmp_path / "whole", batch_tokens=4096)
    tight = OomBackend(limit=300, error=error)
    backed_off = score(tight, corpus(), config, tmp_path / "oom", batch_tokens=4096)
    assert tight.ooms > 0  # the injected error really happened
    assert backed_off.totals == whole.totals and backed_off.subsets == whole.subsets
    free = ByteBackend()
    score(free, corpus(), config, tmp_path / "free", batch_tokens=4096)
    unbroken = OomBackend(limit=10**9, error=error)
    score(unbroken, corpus(), config, tmp_path / "unbroken", batch_tokens=4096)
    assert sorted(tight.windows_run) == sorted(unbroken.windows_run)  # every window run once, none twice
    store = Store(tmp_path / "oom")
    assert [r[0] for r in store.document_rows(backed_off.run_id)] == list(range(len(corpus().documents)))
    store.close()


def test_a_window_that_alone_does_not_fit_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CompressiqError, match="out of memory on one window of 65 tokens: lower --block"):
        score(OomBackend(limit=10, error=OOMS[0]), corpus(), ScoreConfig(block=64, stride=24), tmp_path)


def test_other_errors_are_not_taken_for_memory(tmp_path: Path) -> None:
    assert out_of_memory(OOMS[0]) and not out_of_memory(RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        score(OomBackend(limit=10, error=RuntimeError("shape mismatch")), corpus(), ScoreConfig(), tmp_path)


# --- identity and the leaderboard -------------------------------------------------------------------


def old_run_id(model: str, corpus_fp: str, settings: dict[str, object]) -> str:
    """The id as computed before devices (and backends) were a choice: settings without those fields."""
    key = json.dumps([model, corpus_fp, settings], sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def test_cpu_float32_runs_keep_their_ids() -> None:
    config = ScoreConfig(device="cpu")
    before = {k: v for k, v in asdict(config).items() if k not in ("device", "backend")}
    assert run_id("m", "c", config) == old_run_id("m", "c", before)
    assert run_id("m", "c", ScoreConfig(device="cuda")) != run_id("m", "c", config)
    assert run_id("m", "c", ScoreConfig(device="cpu", dtype="bfloat16")) != run_id("m", "c", config)


class GpuByteBackend(ByteBackend):
    """A test double that says it runs on a GPU in bf16, as ``hf.TransformersBackend`` does."""

    device_kind = "cuda"
    dtype = "bfloat16"


def test_device_kind_and_dtype_are_stored_and_shown(tmp_path: Path) -> None:
    small = Corpus("fresh", corpus().documents[:2])
    cpu = score(ByteBackend(), small, ScoreConfig(block=64, stride=24), tmp_path)
    gpu = score(GpuByteBackend(), small, ScoreConfig(block=64, stride=24), tmp_path)
    assert cpu.settings["device"] == "cpu" and cpu.settings["dtype"] == "float32"
    assert gpu.settings["device"] == "cuda" and gpu.settings["dtype"] == "bfloat16"
    assert gpu.run_id != cpu.run_id and gpu.totals == cpu.totals  # the same arithmetic, another run
    shown = from_run(cpu).source  # "stored (exact)", plus the backend when it is not transformers
    assert shown.startswith("stored (exact") and "float32" not in shown and "cpu" not in shown
    assert from_run(gpu).source == shown.removesuffix(")") + ", bfloat16, cuda)"


# --- loading options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device", "device_map", "attn", "dtype", "expected"),
    [
        ("cpu", None, "sdpa", "float32", {"attn_implementation": "sdpa"}),
        ("cuda:1", None, "sdpa", "bfloat16", {"attn_implementation": "sdpa", "device_map": "cuda:1"}),
        ("cuda:0", "auto", "sdpa", "bfloat16", {"attn_implementation": "sdpa", "device_map": "auto"}),
    ],
    ids=["cpu-as-before", "one-gpu", "sharded"],
)
def test_placement_arguments(
    device: str, device_map: str | None, attn: str, dtype: str, expected: dict[str, str]
) -> None:
    assert hf._placement(device, device_map, attn, dtype) == expected


def test_flash_attention_without_its_package_is_one_line() -> None:
    pytest.importorskip("torch")
    import importlib.util

    if importlib.util.find_spec("flash_attn") is not None:  # then the other refusals apply
        with pytest.raises(CompressiqError, match="CUDA GPU in bfloat16"):
            hf._placement("cpu", None, "flash_attention_2", "float32")
        return
    with pytest.raises(CompressiqError, match="pip install flash-attn"):
        hf._placement("cuda:0", None, "flash_attention_2", "bfloat16")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--device", "cuda:7"], "--device cuda:7"),
        (["--device", "tpu"], "unknown --device 'tpu'"),
        (["--batch-tokens", "lots"], "expected a positive number of tokens or auto"),
        (["--gpus", "2", "--protocol", "paper", "--device", "cpu"], "needs the exact protocol"),
    ],
    ids=["absent-gpu", "unknown-device", "bad-batch-tokens", "replicas-paper"],
)
def test_bad_device_options_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    if argv[:2] == ["--device", "cuda:7"] and torch.cuda.device_count() > 7:
        pytest.skip("this machine has eight GPUs")
    base = ["score", "--model", "smollm2-135m", "--corpus", "sample:cc", "--limit", "1", "--quiet"]
    try:
        code = main([*base, "--results", str(tmp_path), *argv])
    except SystemExit as e:  # argparse's own refusal
        code = int(e.code or 0)
    err = capsys.readouterr().err
    assert code == 2 and message in err.strip().splitlines()[-1] and "Traceback" not in err
    if not err.startswith("usage:"):  # argparse prints its usage first; ours is the one line
        assert len(err.strip().splitlines()) == 1


# --- the codec header -------------------------------------------------------------------------------


class H200Stepper(ByteBackend):
    """The test double's arithmetic, stamped as a GPU's kernels (as ``hf`` stamps a CUDA model's)."""

    def kernels(self) -> str:
        return "numpy float64, exact on cuda (NVIDIA H200, CUDA 12.8)"


def test_a_file_coded_on_a_gpu_is_refused_on_the_cpu_with_one_line() -> None:
    from compressiq.codec import coding, container

    data = b"On the device it was coded on, and nowhere else."
    gpu = H200Stepper()
    stamp, payload = coding.encode(gpu.encode(data.decode()), gpu, 16, 4, 256)
    blob = container.pack(container.Header(container.Mode.MODEL, len(data), container.sha256(data), stamp), payload)
    assert coding.decompress(blob, lambda _: H200Stepper()) == data  # the same kind decodes bit-exactly
    with pytest.raises(CompressiqError, match=r"compressed with .* on cuda \(NVIDIA H200, CUDA 12.8\); this is "):
        coding.decompress(blob, lambda _: ByteBackend())
