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

from compressiq.core import loader, scoring
from compressiq.core.backend import Backend
from compressiq.core.corpus import Corpus
from compressiq.core.scoring import ScoreConfig
from compressiq.core.store import RunRecord, RunRow, Store
from compressiq.core.totals import document_totals

if TYPE_CHECKING:
    from compressiq.backends.openai import Endpoint
    from compressiq.core.cluster import RayOptions

__all__ = ["ScoreConfig", "load", "run_id", "score", "versions"]


def run_id(model_fingerprint: str, corpus_fingerprint: str, config: ScoreConfig) -> str:
    settings = asdict(config)
    if settings["backend"] == "transformers":
        del settings["backend"]  # runs stored before the backend was a choice keep their ids
    key = json.dumps([model_fingerprint, corpus_fingerprint, settings], sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def versions() -> dict[str, str]:
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
    batch_tokens: int = 1024,
    progress: bool = False,
    endpoint: Endpoint | None = None,
    ray: RayOptions | None = None,
    trust_remote_code: bool = False,
) -> RunRow:
    """Score ``model`` (a name, path, hub id, or a loaded backend) on ``corpus``; return the run.

    Finished documents are stored as each group completes. If the run was stored before, only
    the missing documents are scored; if none is missing, the model is not even loaded.
    ``endpoint``: the server of the ``openai`` backend (default: from the environment). ``ray``:
    spread the documents over Ray workers, one model replica each (see ``cluster``).
    ``trust_remote_code``: let a model folder's own Python code run (off unless the user asks).
    """
    if config.unit == "tokens":
        scoring.check(config.block, config.stride, config)
    name, source, fingerprint, config = _identify(model, config)
    rid = run_id(fingerprint, corpus.fingerprint, config)
    record = RunRecord(rid, name, fingerprint, corpus.name, corpus.fingerprint, asdict(config),
                       len(corpus.documents), versions())  # fmt: skip
    store = Store(results)
    try:
        store.begin_run(record)
        done = store.done(rid)
        if len(done) < len(corpus.documents) and ray is not None:
            from compressiq.core.cluster import ReplicaSpec, run_on_ray

            spec = (
                model if not isinstance(model, str) else ReplicaSpec(source, name, config, endpoint, trust_remote_code)
            )
            run_on_ray(spec, corpus, config, store, rid, done, batch_tokens, ray)
        elif len(done) < len(corpus.documents):
            backend = model if not isinstance(model, str) else load(source, name, config, endpoint, trust_remote_code)
            _run(backend, corpus, config, store, rid, done, batch_tokens, progress)
        store.finish(rid)
        return store.runs(rid)[0]
    finally:
        store.close()


def load(
    source: str, name: str, config: ScoreConfig, endpoint: Endpoint | None = None, trust_remote_code: bool = False
) -> Backend:
    """The backend ``config.backend`` names, with the config's dtype (and the server, for ``openai``)."""
    return loader.load(source, name, config.backend, config.dtype, trust_remote_code, endpoint)


def _identify(model: str | Backend, config: ScoreConfig) -> tuple[str, str, str, ScoreConfig]:
    """Name, weights location, fingerprint, and the config with the registry's prefix filled in."""
    if not isinstance(model, str):  # a loaded backend says which kernels it runs, if not transformers
        return model.name, "", model.fingerprint, replace(config, backend=getattr(model, "kind", config.backend))
    resolved = loader.resolve(model)
    if config.prefix_token is None and resolved.prefix_token:
        config = replace(config, prefix_token=resolved.prefix_token)
    return resolved.name, resolved.source, resolved.fingerprint, config


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
    bar = _bar(len(corpus.documents), len(done), progress)
    start = clock = time.perf_counter()
    scored = 0
    for scores in scoring.score_tokens(backend, config, tokens, windows, done, batch_tokens):
        now = time.perf_counter()
        subsets = [corpus.documents[s.index].subset for s in scores]
        rows = [(s.index, sub, document_totals(texts[s.index], s.nats, s.tokens)) for s, sub in zip(scores, subsets)]
        store.add(rid, rows, now - clock)
        clock, scored = now, scored + sum(s.tokens for s in scores)
        if bar is not None:
            bar.update(len(scores))
            bar.set_postfix_str(f"{scored / max(now - start, 1e-9):.0f} tokens/s")
    if bar is not None:
        bar.close()


def _bar(total: int, done: int, enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="doc", dynamic_ncols=True)
