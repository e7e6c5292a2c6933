"""Score one model on one corpus into the store: resolve, plan windows, run, resume.

This is the library's main verb, ``score``; the CLI only parses arguments and prints its result.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from compressiq import hf, models
from compressiq.backend import Backend
from compressiq.corpus import Corpus
from compressiq.engine import score_calls
from compressiq.errors import CompressiqError
from compressiq.store import RunRow, Store
from compressiq.totals import document_totals
from compressiq.windows import check_block_stride, exact_calls, paper_calls, tokens_for_chars

if TYPE_CHECKING:
    from compressiq.cluster import RayOptions
    from compressiq.server import Endpoint


@dataclass(frozen=True)
class ScoreConfig:
    """What decides the numbers; stored beside every result and part of its identity.

    ``block`` and ``stride`` are tokens, or characters when ``unit == "chars"`` (then each model's
    token block is derived from its own characters per token on the corpus). ``prefix_token``:
    the token each document's first token is predicted from; ``None`` means the registry's choice,
    else the model's BOS. ``protocol="paper"`` reproduces the original script's accounting.
    ``backend`` picks the kernels (``transformers``, ``llamacpp``, or ``openai``: a compatible
    server); they move the last digits, so the backend is part of a run's identity.
    """

    protocol: Literal["exact", "paper"] = "exact"
    block: int = 1900
    stride: int = 512
    unit: Literal["tokens", "chars"] = "tokens"
    prefix_token: str | None = None
    prefix_every_window: bool = True
    dtype: str = "float32"
    backend: Literal["transformers", "llamacpp", "openai"] = "transformers"


LOADERS = {
    "transformers": "compressiq.hf:load_transformers",
    "llamacpp": "compressiq.llamacpp:load_llamacpp",
    "openai": "compressiq.server:load_server",
}


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
) -> RunRow:
    """Score ``model`` (a name, path, hub id, or a loaded backend) on ``corpus``; return the run.

    Finished documents are stored as each group completes. If the run was stored before, only
    the missing documents are scored; if none is missing, the model is not even loaded.
    ``endpoint``: the server of the ``openai`` backend (default: from the environment). ``ray``:
    spread the documents over Ray workers, one model replica each (see ``cluster``).
    """
    if config.unit == "tokens":
        _check(config.block, config.stride, config)
    name, source, fingerprint, config = _identify(model, config)
    rid = run_id(fingerprint, corpus.fingerprint, config)
    store = Store(results)
    try:
        store.begin_run(
            rid,
            {
                "model": name,
                "model_fingerprint": fingerprint,
                "corpus": corpus.name,
                "corpus_fingerprint": corpus.fingerprint,
                "settings": asdict(config),
                "documents": len(corpus.documents),
                "versions": versions(),
            },
        )
        done = store.done(rid)
        if len(done) < len(corpus.documents) and ray is not None:
            from compressiq.cluster import run_on_ray

            spec = model if not isinstance(model, str) else (source, name, config, endpoint)
            run_on_ray(spec, corpus, config, store, rid, done, batch_tokens, ray)
        elif len(done) < len(corpus.documents):
            backend = model if not isinstance(model, str) else load(source, name, config, endpoint)
            _run(backend, corpus, config, store, rid, done, batch_tokens, progress)
        store.finish(rid)
        return store.runs(rid)[0]
    finally:
        store.close()


def load(source: str, name: str, config: ScoreConfig, endpoint: Endpoint | None = None) -> Backend:
    """The backend ``config.backend`` names, imported only when used (its extra may be missing)."""
    module, func = LOADERS[config.backend].split(":")
    extra = {"endpoint": endpoint} if config.backend == "openai" else {}
    loaded: Backend = getattr(importlib.import_module(module), func)(source, name, config.dtype, **extra)
    return loaded


def _identify(model: str | Backend, config: ScoreConfig) -> tuple[str, str, str, ScoreConfig]:
    """Name, weights location, fingerprint, and the config with the registry's prefix filled in."""
    if not isinstance(model, str):  # a loaded backend says which kernels it runs, if not transformers
        return model.name, "", model.fingerprint, replace(config, backend=getattr(model, "kind", config.backend))
    entry = models.resolve(model)
    source = models.locate(entry)
    if config.prefix_token is None and entry.prefix_token:
        config = replace(config, prefix_token=entry.prefix_token)
    return entry.name, source, hf.fingerprint(source), config


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
    special = config.protocol == "paper"
    tokens = [backend.encode(t, special=special) for t in texts]
    block, stride = token_windows(config, texts, tokens, backend.max_context)
    store.set_windows(rid, block, stride)
    bounds = [0]
    for t in tokens:
        bounds.append(bounds[-1] + len(t))
    if special:
        calls = paper_calls([i for t in tokens for i in t], block, stride)
    else:
        calls = exact_calls(tokens, prefix_id(backend, config), block, stride, config.prefix_every_window)
    bar = _bar(len(corpus.documents), len(done), progress)
    start = clock = time.perf_counter()
    scored = 0
    for scores in score_calls(backend, calls, bounds, done, batch_tokens, group_tokens=4 * batch_tokens):
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


def prefix_id(backend: Backend, config: ScoreConfig) -> int:
    """The token each document's first token is predicted from: the configured one, else BOS."""
    prefix = backend.token_id(config.prefix_token) if config.prefix_token else backend.bos_id
    if prefix is None:
        raise CompressiqError(f"{backend.name} has no BOS token: pass --prefix-token")
    return prefix


def token_windows(config: ScoreConfig, texts: list[str], tokens: list[list[int]], max_context: int) -> tuple[int, int]:
    """The token block and stride: as given, or derived from this model's characters per token."""
    block, stride = config.block, config.stride
    if config.unit == "chars":
        per_token = sum(map(len, texts)) / max(1, sum(map(len, tokens)))
        block, stride = tokens_for_chars(block, per_token), tokens_for_chars(stride, per_token)
    _check(block, stride, config)
    if block + 1 > max_context:
        raise CompressiqError(f"block {block} + 1 prefix token exceeds the model's context of {max_context} tokens")
    return block, stride


def _check(block: int, stride: int, config: ScoreConfig) -> None:
    try:
        check_block_stride(block, stride)
    except ValueError as e:
        given = f" (from {config.block}/{config.stride} characters)" if config.unit == "chars" else ""
        raise CompressiqError(f"{e}{given}") from None


def _bar(total: int, done: int, enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="doc", dynamic_ncols=True)
