"""One corpus build as datatrove stages: clean, exact dedup, MinHash near-dedup, decontaminate, write.

Layout of ``config.out``::

    <subset>/00000.jsonl   the corpus, {content, subset, meta} per line (one shard per task)
    README.md, card.json   the dataset card; card.json is written last: its presence means "complete"
    .work/                 intermediate files and datatrove's logs; a rerun skips finished tasks

Every stage is a plain list of datatrove steps run by a ``LocalPipelineExecutor``; the same lists run
unchanged on datatrove's Slurm or Ray executors. Dedup filters address documents by their position in
a task's stream, so every stage after ``clean`` re-reads the cleaned shards in the same order.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from compressiq import lifetime
from compressiq.collect.blocks import DateWindow, LengthLimits, Progress
from compressiq.collect.config import CollectConfig
from compressiq.collect.decontam import Decontaminate
from compressiq.errors import CompressiqError, missing_extra

if TYPE_CHECKING:
    from compressiq.collect.card import Card

# Pool workers forked from the build itself inherit ``lifetime``'s hook and die with it; datatrove's default,
# a forkserver, would be their parent instead, and it outlives a killed build (with its workers).
START_METHOD = "fork" if sys.platform.startswith("linux") else "forkserver"
NUM_PERMUTATIONS = 256  # MinHash hashes per document (BigCode's choice), split into buckets x rows by the threshold


@dataclass(frozen=True)
class Stage:
    """One datatrove pipeline run over ``tasks`` shards; a stage finishes before the next starts."""

    name: str
    steps: list[Any]  # datatrove PipelineSteps
    tasks: int


def collect(config: CollectConfig, log: Callable[[str], None] = print, subset: ModuleType | None = None) -> Card:
    """Build the corpus of ``config`` and return its card (also written to ``out/card.json``).

    ``subset`` is the module with ``reader(config)`` and ``cleaners(config)``; by default the built-in one.
    """
    from compressiq.collect.card import write_card

    lifetime.install()
    subset = subset or _subset_module(config.subset)
    work = config.out / ".work"
    _claim(config, work)
    clean, *rest = stages(config, subset, work)
    _run(clean, work, log, min(config.workers, clean.tasks))
    if not any((work / "cleaned").glob("*.jsonl")):  # nothing survived cleaning: no dedup to run
        log("nothing survived cleaning; the card says which step removed the last documents")
        return write_card(config, work, stages=("clean",))
    for stage in rest:
        _run(stage, work, log, min(config.workers, stage.tasks))
    return write_card(config, work)


def _claim(config: CollectConfig, work: Path) -> None:
    """Record the settings of the build in ``work``; refuse to resume a build made with other settings,
    whose finished shards would otherwise be mixed into this one. ``workers`` changes no output."""
    from compressiq.cache import write_atomic
    from compressiq.collect.card import settings

    path, mine = work / "settings.json", json.dumps(settings(config, exclude=("workers",)), sort_keys=True)
    if not path.is_file():
        work.mkdir(parents=True, exist_ok=True)
        write_atomic(path, mine + "\n")
    elif json.loads(path.read_text(encoding="utf-8")) != json.loads(mine):
        raise CompressiqError(f"{config.out} holds a build with other settings ({path}); choose another --out")


def stages(config: CollectConfig, subset: ModuleType, work: Path) -> list[Stage]:
    """The build's stages in order; each reads what the previous ones wrote under ``work``."""
    from datatrove.pipeline.dedup.exact_dedup import ExactDedupFilter, ExactDedupSignature, ExactFindDedups
    from datatrove.pipeline.dedup.minhash import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.writers import JsonlWriter

    exact, near = _exact_config(), _minhash_config(config.near_dup_jaccard)
    cleaned, sigs, dups = str(work / "cleaned"), str(work / "exact/sigs"), str(work / "exact/dups")
    near_sigs, buckets, remove = (str(work / f"minhash/{name}") for name in ("sigs", "buckets", "remove"))

    def deduped() -> list[Any]:
        return [_reader(cleaned), ExactDedupFilter(dups, exact)]

    clean = [subset.reader(config), Progress(f"{config.subset}: cleaning"), DateWindow(config.since, config.until)]
    clean += subset.cleaners(config)
    clean += [LengthLimits(config.min_chars, config.max_chars), JsonlWriter(cleaned, "${rank}.jsonl", None)]
    final = [*deduped(), MinhashDedupFilter(remove), Progress(f"{config.subset}: writing")]
    if config.decontaminate:
        final.append(Decontaminate(config.decontaminate, config.decontam_ngram))
    return [
        Stage("clean", clean, config.tasks),
        Stage("exact-signatures", [_reader(cleaned), ExactDedupSignature(sigs, exact)], config.tasks),
        Stage("exact-find", [ExactFindDedups(sigs, dups, exact)], 1),
        Stage("near-signatures", [*deduped(), MinhashDedupSignature(near_sigs, near)], config.tasks),
        Stage("near-buckets", [MinhashDedupBuckets(near_sigs, buckets, config=near)], near.num_buckets),
        Stage("near-clusters", [MinhashDedupCluster(buckets, remove, config=near)], 1),
        Stage("write", final + _writers(config), config.tasks),
    ]


def minhash_bands(threshold: float, num_perm: int = NUM_PERMUTATIONS) -> tuple[int, int]:
    """Buckets b and rows r (b·r ≤ num_perm) whose LSH curve 1-(1-s^r)^b best separates at ``threshold``.

    The same choice as datasketch's ``MinHashLSH``: minimise the area of false positives (s < threshold
    yet candidates) plus false negatives (s ≥ threshold yet missed). For 0.85 and 256 permutations this
    gives 13 buckets of 19 rows: a pair becomes a candidate with probability 0.17 at Jaccard 0.8, 0.45 at
    0.85, 0.85 at 0.9 and 0.998 at 0.95.
    """

    s = (np.arange(1000) + 0.5) / 1000  # midpoints on [0, 1]
    below, above = s < threshold, s >= threshold
    best, best_err = (1, 1), math.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            candidate = 1 - (1 - s**r) ** b
            err = float(candidate[below].sum() + (1 - candidate[above]).sum()) / len(s)
            if err < best_err:
                best, best_err = (b, r), err
    return best


def _exact_config() -> Any:
    from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig

    return ExactDedupConfig(content_getter=_content)


def _content(doc: Any) -> str:
    """What exact dedup hashes: the whole cleaned text (the paper's md5 of the content)."""
    return str(doc.text)


def _minhash_config(threshold: float) -> Any:
    from datatrove.pipeline.dedup.minhash import MinhashConfig

    buckets, rows = minhash_bands(threshold)
    return MinhashConfig(num_buckets=buckets, hashes_per_bucket=rows)


def _reader(folder: str) -> Any:
    from datatrove.pipeline.readers import JsonlReader

    return JsonlReader(folder, glob_pattern="*.jsonl", compression=None)


def _writers(config: CollectConfig) -> list[Any]:
    from datatrove.pipeline.writers import JsonlWriter, ParquetWriter

    folder = str(config.out / config.subset)
    writers = [JsonlWriter(folder, "${rank}.jsonl", None, adapter=partial(_schema, subset=config.subset))]
    if config.parquet:
        import pyarrow as pa

        schema = pa.schema([("content", pa.string()), ("subset", pa.string()), ("meta", pa.string())])
        adapter = partial(_schema, subset=config.subset, meta_as_json=True)
        writers.append(ParquetWriter(folder, "${rank}.parquet", adapter=adapter, schema=schema))
    return writers


def _schema(writer: Any, doc: Any, subset: str, meta_as_json: bool = False) -> dict[str, Any]:
    """The paper's schema: ``{content, subset, meta}``; the document id and metadata go into ``meta``.

    In Parquet ``meta`` is a JSON string: its keys differ between subsets and documents (a field that
    is null in the first batch would fix a null type), and ``--corpus`` reads it back as a dict.
    """
    meta = {"id": doc.id, **{k: v for k, v in doc.metadata.items() if k != "file_path"}}
    return {"content": doc.text, "subset": subset, "meta": json.dumps(meta) if meta_as_json else meta}


def _subset_module(subset: str) -> ModuleType:
    try:
        return importlib.import_module(f"compressiq.collect.{subset}")
    except ImportError as e:
        if e.name and e.name.split(".")[0] in ("datatrove", "warcio", "pypandoc", "spacy", "fasttext"):
            raise missing_extra(e.name, "collect") from None
        raise


def _run(stage: Stage, work: Path, log: Callable[[str], None], workers: int = 1) -> None:
    from datatrove.executor import LocalPipelineExecutor

    logs = work / "logs" / stage.name
    executor = LocalPipelineExecutor(
        stage.steps, tasks=stage.tasks, workers=workers, logging_dir=str(logs), start_method=START_METHOD
    )
    todo = executor.get_incomplete_ranks()
    if not todo:
        log(f"{stage.name}: done before, skipped")
        return
    with _quiet(logs / "console.log"):
        executor.run()
    log(f"{stage.name}: {stage.tasks - len(executor.get_incomplete_ranks())}/{stage.tasks} tasks done")


@contextlib.contextmanager
def _quiet(path: Path) -> Iterator[None]:
    """datatrove logs every step at INFO to stderr; keep that in a file beside its own task logs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f, contextlib.redirect_stderr(f):
        try:
            yield
        except CompressiqError:
            raise
        except Exception as e:
            raise CompressiqError(f"collect failed: {e} (datatrove log: {path})") from e
