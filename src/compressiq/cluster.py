"""Ray scale-out: documents spread over model replicas, per-document results streamed into one store.

The driver never loads the model. Each Ray actor holds one replica and scores whole documents
(exact protocol: a document's cost depends on its own windows only, so where it is scored does
not change it). A replica that dies is restarted by Ray and its unfinished task rerun; a task's
documents are stored once, when its result arrives, and the store's primary key (run, document)
forbids a second row in any case. Resume is the local rule: stored documents are not sent.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from compressiq.backend import Backend
from compressiq.corpus import Corpus
from compressiq.engine import score_calls
from compressiq.errors import CompressiqError, missing_extra
from compressiq.store import Store
from compressiq.totals import document_totals
from compressiq.windows import exact_calls


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


class Replica:
    """One model on one worker. ``model`` is a backend object or (source, name, config, endpoint)."""

    def __init__(self, model: Any) -> None:
        from compressiq import runner

        self.backend: Backend = model if isinstance(model, Backend) else runner.load(*model)

    def plan(self, config: Any, texts: list[str]) -> tuple[int, int]:
        """Token block and stride, as the local run derives them (texts only for character units)."""
        from compressiq.runner import token_windows

        return token_windows(config, texts, [self.backend.encode(t) for t in texts], self.backend.max_context)

    def score(
        self, config: Any, texts: list[str], block: int, stride: int, batch_tokens: int
    ) -> list[tuple[float, int]]:
        return score_documents(self.backend, config, texts, block, stride, batch_tokens)


def score_documents(
    backend: Backend, config: Any, texts: Sequence[str], block: int, stride: int, batch_tokens: int
) -> list[tuple[float, int]]:
    """(nats, tokens) per text, exact protocol, the local engine's batching."""
    from compressiq.runner import prefix_id

    tokens = [backend.encode(t) for t in texts]
    calls = exact_calls(tokens, prefix_id(backend, config), block, stride, config.prefix_every_window)
    bounds = [0]
    for t in tokens:
        bounds.append(bounds[-1] + len(t))
    out = [(0.0, 0)] * len(texts)
    for group in score_calls(backend, calls, bounds, set(), batch_tokens, group_tokens=4 * batch_tokens):
        for s in group:
            out[s.index] = (s.nats, s.tokens)
    return out


def run_on_ray(
    model: Any,
    corpus: Corpus,
    config: Any,
    store: Store,
    rid: str,
    done: set[int],
    batch_tokens: int,
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
    config: Any,
    store: Store,
    rid: str,
    done: set[int],
    batch_tokens: int,
    per_task: int,
) -> None:
    """Shards of ``per_task`` documents, round robin over replicas; store each shard as it returns."""
    texts = [d.content for d in corpus.documents]
    block, stride = ray.get(replicas[0].plan.remote(config, texts if config.unit == "chars" else []))
    store.set_windows(rid, block, stride)
    todo = [i for i in range(len(texts)) if i not in done]
    shards = [todo[i : i + per_task] for i in range(0, len(todo), per_task)]
    pending = {
        replicas[k % len(replicas)].score.remote(config, [texts[i] for i in shard], block, stride, batch_tokens): shard
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
