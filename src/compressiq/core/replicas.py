"""Data-parallel replicas on one machine (``--gpus N``): one process and one model per device, one store.

Each replica is a spawned process that loads its own model on its own device (``cuda:0`` ..
``cuda:N-1``; on a CPU-only machine, N CPU processes, which is how the tests run it) and scores every
N-th document not yet stored, the exact protocol's rule that a document's cost depends on its own
windows only. Each stores its documents as they complete, into the one SQLite store (WAL, a busy
timeout, and a primary key on (run, document)), so a killed run resumes like a local one: a rerun
sends only the documents not stored. Each replica asks the kernel to kill it when the driver dies.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

from compressiq import lifetime
from compressiq.core import scoring
from compressiq.core.backend import Backend
from compressiq.core.cluster import ReplicaSpec
from compressiq.core.corpus import Corpus
from compressiq.core.scoring import ScoreConfig
from compressiq.core.store import Store
from compressiq.core.totals import document_totals
from compressiq.errors import CompressiqError


def shards(todo: list[int], count: int) -> list[list[int]]:
    """Documents dealt round robin: ``shards([0, 2, 3, 5, 6], 2) == [[0, 3, 6], [2, 5]]``."""
    return [todo[k::count] for k in range(count)]


def run_replicas(
    model: ReplicaSpec | Backend,
    devices: list[str],
    corpus: Corpus,
    config: ScoreConfig,
    results: Path,
    rid: str,
    done: set[int],
    batch_tokens: int | None,
) -> None:
    """Score the documents not in ``done`` on one replica per device; each stores its own as they finish."""
    if config.protocol != "exact":
        raise CompressiqError("--gpus scores documents independently: it needs the exact protocol")
    todo = [i for i in range(len(corpus.documents)) if i not in done]
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: CUDA cannot cross a fork
    procs = [
        context.Process(
            target=_replica, args=(model, target, corpus, config, results, rid, shard, batch_tokens, os.getpid())
        )
        for target, shard in zip(devices, shards(todo, len(devices)))
        if shard
    ]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    finally:
        for p in procs:  # an interrupted driver takes its replicas with it
            if p.is_alive():
                p.kill()
                p.join()
    failed = [(target, p.exitcode) for target, p in zip(devices, procs) if p.exitcode != 0]
    if failed:
        where = ", ".join(f"{t} (exit code {code})" for t, code in failed)
        raise CompressiqError(f"replica on {where} failed; the stored documents are kept: rerun to continue")


def _replica(
    model: ReplicaSpec | Backend,
    target: str,
    corpus: Corpus,
    config: ScoreConfig,
    results: Path,
    rid: str,
    shard: list[int],
    batch_tokens: int | None,
    parent: int,
) -> None:
    """One replica's process: load on ``target``, score ``shard``, store each group of finished documents.

    A ``CompressiqError`` is its one line on stderr and exit code 2, never a traceback."""
    lifetime.die_with_parent(parent)
    try:
        _score_shard(model, target, corpus, config, results, rid, shard, batch_tokens)
    except CompressiqError as e:
        print(f"compressiq: error: replica on {target}: {e}", file=sys.stderr, flush=True)
        sys.exit(2)


def _score_shard(
    model: ReplicaSpec | Backend,
    target: str,
    corpus: Corpus,
    config: ScoreConfig,
    results: Path,
    rid: str,
    shard: list[int],
    batch_tokens: int | None,
) -> None:
    backend = model.load(target) if isinstance(model, ReplicaSpec) else model
    texts = [d.content for d in corpus.documents]
    mine = [texts[i] for i in shard]
    tokens = scoring.tokenize(backend, config, mine)
    every = scoring.tokenize(backend, config, texts) if config.unit == "chars" else tokens
    windows = scoring.token_windows(config, texts, every, backend.max_context)
    store = Store(results)
    try:
        store.set_windows(rid, *windows)
        clock = time.perf_counter()
        budget = scoring.budget(backend, batch_tokens)
        for scores in scoring.score_tokens(backend, config, tokens, windows, set(), budget):
            rows = [(shard[s.index], corpus.documents[shard[s.index]].subset,
                     document_totals(mine[s.index], s.nats, s.tokens)) for s in scores]  # fmt: skip
            now = time.perf_counter()
            store.add(rid, rows, now - clock)
            clock = now
    finally:
        store.close()
