"""Speed of the corpus pipelines, in one run: compressiq's cc blocks against a plain datatrove pipeline
with the same blocks on the same WARC file, and the arxiv_math cleaner in MB/s.

The WARC file is written here from real pages of the fixture cache (``scripts/fixtures.sh``): English
Python docs and Debian handbook pages in several languages, so the language filter has work to do. Both
pipelines read the same file with the same extractor settings, the same language-id model and the
same quality filters; compressiq adds its own reader (many inputs, damaged-file recovery), the date
window and the length limits. Rounds alternate between the two; the best round of each counts.
Target: compressiq at least 0.9x the plain pipeline's documents per second.

    .venv/bin/python bench/collect_speed.py [--pages 300] [--rounds 3] [--papers 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.pipeline.readers import WarcReader
from loguru import logger
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from compressiq.collect.arxiv_math import eprints as arxiv
from compressiq.collect.blocks import DateWindow, LengthLimits, run_steps
from compressiq.collect.cc import warc as cc
from compressiq.collect.cc.langid import LanguageId, lid_model
from compressiq.collect.config import CollectConfig

FIXTURES = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "compressiq" / "fixtures"
HANDBOOK = FIXTURES / "debian-handbook/usr/share/doc/debian-handbook/html"
PYDOC = FIXTURES / "python3.11-doc/usr/share/doc/python3.11/html"
TEXLIVE = [FIXTURES / f"texlive-{p}-doc/usr/share/doc/texlive-doc/latex" for p in ("latex-base", "science")]


def pages(n: int) -> list[Path]:
    """``n`` pages: three in four English Python docs, the rest handbook pages in four languages."""
    english = sorted(PYDOC.rglob("*.html"))
    other = sorted(p for lang in ("en-US", "fr-FR", "de-DE", "es-ES") for p in (HANDBOOK / lang).glob("*.html"))
    return (english[: n - n // 4] + other[: n // 4])[:n]


def write_warc(files: list[Path], folder: Path) -> Path:
    path = folder / "pages.warc.gz"
    with path.open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        for i, page in enumerate(files):
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            headers = {"WARC-Date": "2025-01-05T10:00:00Z", "WARC-Identified-Payload-Type": "text/html"}
            record = writer.create_warc_record(f"https://bench.test/{i}", "response", payload=io.BytesIO(
                page.read_bytes()), http_headers=http, warc_headers_dict=headers)  # fmt: skip
            writer.write_record(record)
    return path


def compressiq_steps(warc: Path) -> list[Any]:
    config = CollectConfig(
        "cc", (str(warc),), Path("unused"), since=dt.date(2025, 1, 1), until=dt.date(2025, 1, 31), quality="fineweb"
    )
    return [cc.reader(config), DateWindow(config.since, config.until), *cc.cleaners(config), LengthLimits(200, 10**6)]


def plain_steps(warc: Path) -> list[Any]:
    """datatrove's own reader and blocks, with the settings compressiq uses (model file, timeout, C4 rule)."""
    return [
        WarcReader(str(warc.parent), glob_pattern="*.warc.gz"),
        Trafilatura(favour_precision=True, timeout=CollectConfig.extract_timeout, deduplicate=True),
        LanguageId(lid_model(None), ("en",)),
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
    ]


def docs_per_second(steps: list[Any], n_in: int) -> tuple[float, int]:
    start = time.perf_counter()
    kept = sum(1 for _ in run_steps(steps))
    return n_in / (time.perf_counter() - start), kept


def arxiv_mb_per_second(n: int, folder: Path) -> tuple[float, int, int]:
    """The arxiv_math cleaners (pandoc, bibliography, math share) on ``n`` real TeX Live documents."""
    sources = [p for root in TEXLIVE for p in sorted(root.rglob("*.tex")) if b"\\documentclass" in p.read_bytes()]
    inputs = folder / "tex"
    inputs.mkdir()
    for i, src in enumerate(sources[:n]):
        (inputs / f"2501.{i:05d}.tex").write_bytes(src.read_bytes())
    config = CollectConfig("arxiv_math", (str(inputs),), Path("unused"))
    docs = list(run_steps([arxiv.reader(config)]))
    size = sum(len(d.text.encode()) for d in docs)
    start = time.perf_counter()
    kept = sum(1 for _ in run_steps(arxiv.cleaners(config), data=iter(docs)))
    return size / 1e6 / (time.perf_counter() - start), len(docs), kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--papers", type=int, default=20)
    args = ap.parse_args()
    logger.remove()  # datatrove logs every step at INFO
    with tempfile.TemporaryDirectory() as tmp:
        files = pages(args.pages)
        warc = write_warc(files, Path(tmp))
        print(f"cc: {len(files)} real pages, {warc.stat().st_size / 1e6:.1f} MB gzipped WARC")
        best = {"compressiq": 0.0, "datatrove": 0.0}
        for r in range(args.rounds):
            for name, make in (("compressiq", compressiq_steps), ("datatrove", plain_steps)):
                rate, kept = docs_per_second(make(warc), len(files))
                best[name] = max(best[name], rate)
                print(f"  round {r + 1} {name:10s} {rate:7.1f} documents/s  ({kept} kept)")
        ratio = best["compressiq"] / best["datatrove"]
        print(f"cc: compressiq {best['compressiq']:.1f} vs plain datatrove {best['datatrove']:.1f} documents/s")
        print(f"cc ratio: {ratio:.2f}x (target >= 0.90x): {'met' if ratio >= 0.9 else 'NOT met'}")
        mbs, n_docs, kept = arxiv_mb_per_second(args.papers, Path(tmp))
        print(f"arxiv_math cleaner: {mbs:.3f} MB/s of LaTeX ({n_docs} documents, {kept} kept)")


if __name__ == "__main__":
    main()
