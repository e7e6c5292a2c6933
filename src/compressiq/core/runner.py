"""Score one model on one corpus into the store: resolve, plan windows, run, resume.

This is the library's main verb, ``score``; the CLI only parses arguments and prints its result.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from compressiq.core import device, loader, scoring
from compressiq.core.backend import Backend
from compressiq.core.cluster import ReplicaSpec
from compressiq.core.corpus import Corpus
from compressiq.core.loader import Hardware
from compressiq.core.scoring import ScoreConfig
from compressiq.core.store import RunRecord, RunRow, Store
from compressiq.core.totals import document_totals

if TYPE_CHECKING:
    from compressiq.backends.openai import Endpoint
    from compressiq.core.cluster import RayOptions

__all__ = ["ScoreConfig", "load", "run_id", "score", "versions"]


def run_id(model_fingerprint: str, corpus_fingerprint: str, config: ScoreConfig) -> str:
    """The identity of a run: the weights, the corpus and the settings (transformers runs keep their old ids)."""
    settings = asdict(config)
    if settings["backend"] == "transformers":
        del settings["backend"]  # runs stored before the backend was a choice keep their ids
    if settings["device"] == "cpu":
        del settings["device"]  # and so do the CPU runs stored before the device was a choice
    key = json.dumps([model_fingerprint, corpus_fingerprint, settings], sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def versions() -> dict[str, str]:
    """Versions of the libraries that move the numbers, stored beside every run."""
    out = {}
    for dist in ("compressiq", "torch", "transformers", "tokenizers", "llama_cpp_python"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def score(
    model: str | Backend,
    corpus: Corpus,
    config: ScoreConfig,
    results: Path,
    batch_tokens: int | None = 1024,
    progress: bool = False,
    endpoint: Endpoint | None = None,
    ray: RayOptions | None = None,
    trust_remote_code: bool = False,
    hardware: Hardware | None = None,
) -> RunRow:
    """Score ``model`` (a name, path, hub id, or a loaded backend) on ``corpus``; return the run.

    Finished documents are stored as each group completes. If the run was stored before, only
    the missing documents are scored; if none is missing, the model is not even loaded.
    ``endpoint``: the server of the ``openai`` backend (default: from the environment). ``ray``:
    spread the documents over Ray workers, one model replica each (see ``cluster``).
    ``trust_remote_code``: let a model folder's own Python code run (off unless the user asks).
    ``config.device``/``config.dtype`` ``auto`` are resolved first: the run stores the device kind and
    dtype it ran with. ``hardware``: device map, attention kernel, and ``gpus`` data-parallel replicas
    (one process a GPU, see ``replicas``). ``batch_tokens=None``: sized from free device memory.
    """
    if config.unit == "tokens":
        scoring.check(config.block, config.stride, config)
    hardware = hardware or Hardware()
    name, source, fingerprint, config = _identify(model, config)
    config, target = _placed(model, config, ray)
    rid = run_id(fingerprint, corpus.fingerprint, config)
    record = RunRecord(rid, name, fingerprint, corpus.name, corpus.fingerprint, asdict(config),
                       len(corpus.documents), versions())  # fmt: skip
    store = Store(results)
    try:
        store.begin_run(record)
        done = store.done(rid)
        spec = model if not isinstance(model, str) else ReplicaSpec(
            source, name, config, endpoint, trust_remote_code, hardware
        )  # fmt: skip
        if len(done) < len(corpus.documents) and ray is not None:
            from compressiq.core.cluster import run_on_ray

            run_on_ray(spec, corpus, config, store, rid, done, batch_tokens, ray)
        elif len(done) < len(corpus.documents) and (hardware.gpus or 1) > 1:
            from compressiq.core.replicas import run_replicas

            devices = device.replica_devices(hardware.gpus or 1, config.device)
            run_replicas(spec, devices, corpus, config, results, rid, done, batch_tokens)
        elif len(done) < len(corpus.documents):
            backend = spec.load(target) if isinstance(spec, ReplicaSpec) else spec
            _run(backend, corpus, config, store, rid, done, scoring.budget(backend, batch_tokens), progress)
        store.finish(rid)
        return store.runs(rid)[0]
    finally:
        store.close()


def load(
    source: str,
    name: str,
    config: ScoreConfig,
    endpoint: Endpoint | None = None,
    trust_remote_code: bool = False,
    target: str | None = None,
    hardware: Hardware | None = None,
) -> Backend:
    """The backend ``config.backend`` names, with the config's dtype (and the server, for ``openai``),
    on ``target`` (a torch device such as ``cuda:1``; default: the config's device)."""
    where = target or config.device
    return loader.load(source, name, config.backend, config.dtype, trust_remote_code, endpoint, where, hardware)


def _identify(model: str | Backend, config: ScoreConfig) -> tuple[str, str, str, ScoreConfig]:
    """Name, weights location, fingerprint, and the config with the registry's prefix filled in."""
    if not isinstance(model, str):  # a loaded backend says which kernels it runs, if not transformers
        return model.name, "", model.fingerprint, replace(config, backend=getattr(model, "kind", config.backend))
    resolved = loader.resolve(model)
    if config.prefix_token is None and resolved.prefix_token:
        config = replace(config, prefix_token=resolved.prefix_token)
    return resolved.name, resolved.source, resolved.fingerprint, config


def _placed(model: str | Backend, config: ScoreConfig, ray: RayOptions | None) -> tuple[ScoreConfig, str]:
    """The config with the device kind and dtype the run will have, and the torch device to load on.

    A loaded backend says where it runs; llama.cpp and servers count as the CPU in float32 (their own
    types). On Ray the workers' hardware decides, not the driver's: GPUs when ``--worker-gpus`` is set.
    """
    if not isinstance(model, str):
        kind = str(getattr(model, "device_kind", "cpu"))
        dtype = str(getattr(model, "dtype", "float32" if config.dtype == "auto" else config.dtype))
        return replace(config, device=kind, dtype=dtype), kind
    if config.backend != "transformers":
        return replace(config, device="cpu", dtype="float32" if config.dtype == "auto" else config.dtype), "cpu"
    machine = None if ray is None else device.Facts(int(ray.gpus > 0), cuda_bf16=ray.gpus > 0)
    placed = device.resolve(config.device, config.dtype, machine)
    return replace(config, device=placed.kind, dtype=placed.dtype), placed.device


def _run(
    backend: Backend,
    corpus: Corpus,
    config: ScoreConfig,
    store: Store,
    rid: str,
    done: set[int],
    batch_tokens: int,
    progress: bool,
) -> None:
    texts = [d.content for d in corpus.documents]
    tokens = scoring.tokenize(backend, config, texts)
    windows = scoring.token_windows(config, texts, tokens, backend.max_context)
    store.set_windows(rid, *windows)
    todo = sum(len(t) for i, t in enumerate(tokens) if i not in done)
    bar = _bar(todo, progress)
    clock = time.perf_counter()
    stored = len(done)
    for scores in scoring.score_tokens(backend, config, tokens, windows, done, batch_tokens, bar and bar.update):
        now = time.perf_counter()
        subsets = [corpus.documents[s.index].subset for s in scores]
        rows = [(s.index, sub, document_totals(texts[s.index], s.nats, s.tokens)) for s, sub in zip(scores, subsets)]
        store.add(rid, rows, now - clock)
        clock, stored = now, stored + len(scores)
        if bar is not None:
            bar.set_postfix_str(f"{stored}/{len(texts)} documents stored")
    if bar is not None:
        bar.close()


def _bar(tokens: int, enabled: bool):  # type: ignore[no-untyped-def]
    """A progress bar over the tokens still to score, so a long document shows progress too."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=tokens, unit="token", unit_scale=True, dynamic_ncols=True)
