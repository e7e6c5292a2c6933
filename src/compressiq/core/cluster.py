"""Ray scale-out: documents spread over model replicas, per-document results streamed into one store.

The driver never loads the model. Each Ray actor holds one replica and scores whole documents
(exact protocol: a document's cost depends on its own windows only, so where it is scored does
not change it). A replica that dies is restarted by Ray and its unfinished task rerun; a task's
documents are stored once, when its result arrives, and the store's primary key (run, document)
forbids a second row in any case. Resume is the local rule: stored documents are not sent.
"""

from __future__ import annotations

import importlib
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from compressiq.core import device, loader, scoring
from compressiq.core.backend import Backend
from compressiq.core.corpus import Corpus
from compressiq.core.loader import Hardware
from compressiq.core.scoring import ScoreConfig
from compressiq.core.store import Store
from compressiq.core.totals import document_totals
from compressiq.errors import CompressiqError, missing_extra

if TYPE_CHECKING:
    from compressiq.backends.openai import Endpoint


@dataclass(frozen=True)
class RayOptions:
    """Where the cluster is (``None``: start a local one, or ``RAY_ADDRESS``) and what a replica gets."""

    address: str | None = None
    workers: int | None = None  # default: the cluster's CPUs / cpus per worker
    cpus: float = 1.0
    gpus: float = 0.0
    documents_per_task: int = 4
    restarts: int = 3


def _ray() -> Any:
    try:
        return importlib.import_module("ray")
    except ImportError as e:
        raise missing_extra("ray", "ray") from e


@dataclass(frozen=True)
class ReplicaSpec:
    """What a worker needs to load its own replica: the weights, the name and the backend settings
    (``config.device`` is the device kind; the worker picks its own GPU)."""

    source: str
    name: str
    config: ScoreConfig
    endpoint: Endpoint | None = None
    trust_remote_code: bool = False
    hardware: Hardware | None = None

    def load(self, target: str | None = None) -> Backend:
        """This replica's model on ``target`` (a torch device; default: the config's device kind)."""
        config = self.config
        where = target or config.device
        return loader.load(self.source, self.name, config.backend, config.dtype, self.trust_remote_code,
                           self.endpoint, where, self.hardware)  # fmt: skip


class Replica:
    """One model on one worker, loaded from a spec (or a backend object, sent as it is).

    With ``--worker-gpus``, Ray assigns the worker its GPU(s) and sets ``CUDA_VISIBLE_DEVICES``; the
    model loads on the first one it was given (``device.ray_device``), so replicas never share a GPU.
    """

    def __init__(self, model: ReplicaSpec | Backend) -> None:
        if isinstance(model, ReplicaSpec):
            ids = [str(i) for i in _ray().get_gpu_ids()]
            model = model.load(device.ray_device(ids, os.environ.get("CUDA_VISIBLE_DEVICES")))
        self.backend: Backend = model

    def plan(self, config: ScoreConfig, texts: list[str]) -> tuple[int, int]:
        """Token block and stride, as the local run derives them (texts only for character units)."""
        tokens = scoring.tokenize(self.backend, config, texts)
        return scoring.token_windows(config, texts, tokens, self.backend.max_context)

    def score(
        self, config: ScoreConfig, texts: list[str], windows: tuple[int, int], batch_tokens: int | None
    ) -> list[tuple[float, int]]:
        return scoring.score_texts(self.backend, config, texts, windows, scoring.budget(self.backend, batch_tokens))


def run_on_ray(
    model: ReplicaSpec | Backend,
    corpus: Corpus,
    config: ScoreConfig,
    store: Store,
    rid: str,
    done: set[int],
    batch_tokens: int | None,
    options: RayOptions,
) -> None:
    """Score the documents not in ``done`` on Ray replicas and store each task's as it arrives."""
    if config.protocol != "exact":
        raise CompressiqError("--ray scores documents independently: it needs the exact protocol")
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=options.address, include_dashboard=False, log_to_driver=False)
    count = options.workers or max(1, int(ray.cluster_resources().get("CPU", 1) // max(options.cpus, 1e-9)))
    actor = ray.remote(num_cpus=options.cpus, num_gpus=options.gpus, max_restarts=options.restarts)(Replica)
    replicas = [actor.options(max_task_retries=options.restarts).remote(model) for _ in range(count)]
    try:
        _dispatch(ray, replicas, corpus, config, store, rid, done, batch_tokens, options.documents_per_task)
    except ray.exceptions.RayError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, CompressiqError):
            raise cause from None
        raise CompressiqError(f"a Ray worker failed for good ({type(e).__name__}); rerun to continue: {e}") from e
    finally:
        for r in replicas:
            ray.kill(r)


def _dispatch(
    ray: Any,
    replicas: list[Any],
    corpus: Corpus,
    config: ScoreConfig,
    store: Store,
    rid: str,
    done: set[int],
    batch_tokens: int | None,
    per_task: int,
) -> None:
    """Shards of ``per_task`` documents, round robin over replicas; store each shard as it returns."""
    texts = [d.content for d in corpus.documents]
    windows = ray.get(replicas[0].plan.remote(config, texts if config.unit == "chars" else []))
    store.set_windows(rid, *windows)
    todo = [i for i in range(len(texts)) if i not in done]
    shards = [todo[i : i + per_task] for i in range(0, len(todo), per_task)]
    pending = {
        replicas[k % len(replicas)].score.remote(config, [texts[i] for i in shard], windows, batch_tokens): shard
        for k, shard in enumerate(shards)
    }
    clock = time.perf_counter()
    while pending:
        (ready,), _ = ray.wait(list(pending), num_returns=1)
        shard = pending.pop(ready)
        results = ray.get(ready)
        rows = [(i, corpus.documents[i].subset, document_totals(texts[i], n, t)) for i, (n, t) in zip(shard, results)]
        now = time.perf_counter()
        store.add(rid, rows, now - clock)
        clock = now
