"""Where a model runs and in which precision: ``--device`` and ``--dtype`` resolved against the machine.

The decision is a pure function of the request and of ``Facts`` (what the machine offers), so every
branch is tested without the hardware; ``facts()`` asks torch, lazily. The device *kind* (cpu, cuda,
mps) and the dtype are part of a run's identity: kernels and precision move the last digits.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

from compressiq.errors import CompressiqError, missing_extra

DEVICES = ("auto", "cpu", "cuda", "mps")  # and cuda:N
DTYPES = ("auto", "float32", "bfloat16", "float16")
# The CPU's default, chosen from a measurement (README, "GPUs"): on the built-in demo text, bf16 moved
# SmolLM2's BPC by +0.029 % and Gemma-3's by +0.042 %, three to four times the 1e-4 the engine and the
# backends are held to in float32, for 1.3-1.8x the speed on 2 busy cores. Exact stays the default.
CPU_DTYPE = "float32"
CPU_BATCH_TOKENS = 1024  # padding costs more than batching gains on a CPU
_CUDA_INDEX = re.compile(r"cuda:(\d+)")


@dataclass(frozen=True)
class Facts:
    """What the machine offers: visible CUDA devices, bf16 on them, an Apple GPU, bf16 kernels on the CPU."""

    cuda_devices: int = 0
    cuda_bf16: bool = False
    mps: bool = False
    cpu_bf16: bool = False


@dataclass(frozen=True)
class Placement:
    """A resolved request: the torch device to load on (``cuda:1``), its kind (``cuda``) and the dtype."""

    device: str
    kind: str
    dtype: str


def facts() -> Facts:
    """This machine's facts, from torch (imported only now)."""
    try:
        torch = importlib.import_module("torch")
    except ImportError as e:
        raise missing_extra("torch", "hf") from e
    cuda = int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    cpu_bf16 = bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return Facts(cuda, bool(cuda and torch.cuda.is_bf16_supported()), mps, cpu_bf16)


def resolve(
    device: str = "auto", dtype: str = "auto", machine: Facts | None = None, fast_cpu: bool = False
) -> Placement:
    """The device and dtype to use for a request, on ``machine`` (default: this one).

    ``auto`` device: the first CUDA device, else an Apple GPU, else the CPU. ``auto`` dtype: bf16 on a
    GPU that has it, else fp16 there; on a CPU, ``CPU_DTYPE``, or with ``fast_cpu`` (the codec: any
    dtype decodes bit-exact, so speed decides) bf16 when the CPU computes it natively. Example:
    ``resolve("cuda:1", "auto", Facts(2, cuda_bf16=False))`` is ``Placement("cuda:1", "cuda", "float16")``.
    A device the machine lacks, or bf16 asked of a GPU without it, is one error line.
    """
    machine = machine if machine is not None else facts()
    target = _device(device, machine)
    kind = target.split(":")[0]
    if dtype not in DTYPES:
        raise CompressiqError(f"unknown --dtype {dtype!r}; choose from {', '.join(DTYPES)}")
    if kind == "cuda" and dtype == "bfloat16" and not machine.cuda_bf16:
        raise CompressiqError("this GPU has no bfloat16: use --dtype float16 or float32 (or auto)")
    if dtype == "auto":
        cpu = "bfloat16" if fast_cpu and machine.cpu_bf16 else CPU_DTYPE
        dtype = {"cuda": "bfloat16" if machine.cuda_bf16 else "float16", "mps": "float16"}.get(kind, cpu)
    return Placement(target, kind, dtype)


def _device(device: str, machine: Facts) -> str:
    """The torch device string for a ``--device`` request."""
    if device == "auto":
        return "cuda:0" if machine.cuda_devices else "mps" if machine.mps else "cpu"
    if device == "cpu":
        return "cpu"
    if device == "mps":
        if not machine.mps:
            raise CompressiqError("--device mps: no Apple GPU is available here")
        return "mps"
    index = 0 if device == "cuda" else int(m.group(1)) if (m := _CUDA_INDEX.fullmatch(device)) else None
    if index is None:
        raise CompressiqError(f"unknown --device {device!r}; choose auto, cpu, cuda, cuda:N or mps")
    if index >= machine.cuda_devices:
        seen = f"{machine.cuda_devices} CUDA device(s) visible" if machine.cuda_devices else "no CUDA device visible"
        raise CompressiqError(f"--device {device}: {seen}")
    return f"cuda:{index}"


def replica_devices(count: int, kind: str, machine: Facts | None = None) -> list[str]:
    """The devices of ``count`` data-parallel replicas: one GPU each (``cuda:0``..), or all on the CPU
    (or the Apple GPU) when that is the device kind: two CPU processes test what GPUs run."""
    if count < 1:
        raise CompressiqError(f"--gpus must be at least 1, got {count}")
    if kind != "cuda":
        return [kind] * count
    visible = (machine if machine is not None else facts()).cuda_devices
    if count > visible:
        raise CompressiqError(f"--gpus {count}: only {visible} CUDA device(s) visible")
    return [f"cuda:{i}" for i in range(count)]


def ray_device(gpu_ids: list[str], visible: str | None) -> str | None:
    """The device of a Ray replica that Ray gave ``gpu_ids`` (``ray.get_gpu_ids()``); None without a GPU.

    Ray sets ``CUDA_VISIBLE_DEVICES`` (``visible``) to the GPUs it assigned, so the replica's first GPU is
    at that list's position, not at its Ray id: ids ["3"] with visible "3" load on ``cuda:0``.
    """
    if not gpu_ids:
        return None
    first = str(gpu_ids[0])
    order = [v.strip() for v in visible.split(",")] if visible else []
    return f"cuda:{order.index(first) if first in order else int(first)}"


def auto_batch_tokens(free_bytes: int, bytes_per_token: int, fraction: float = 0.5, ceiling: int = 1 << 16) -> int:
    """Padded tokens per model call that fill ``fraction`` of the free device memory, in steps of 1024.

    Example: 20 GB free, 512 KiB of activations a token: 0.5 x 20e9 / 524288 = 19073 -> 18432. Never
    below ``CPU_BATCH_TOKENS`` (one window still runs whole; an out-of-memory error halves it), nor above
    ``ceiling``: past some 64k tokens a call the GPU is already saturated, and memory only fragments.
    """
    tokens = int(free_bytes * fraction) // max(1, bytes_per_token)
    return min(ceiling, max(CPU_BATCH_TOKENS, tokens // 1024 * 1024))
