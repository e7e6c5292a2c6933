"""The cc subset: web pages from Common Crawl WARC/WET files, cleaned the way FineWeb cleans them.

``reader`` yields one datatrove ``Document`` per HTML response (or WET text record): ``text`` is the raw
HTML, ``metadata["url"]`` the target URI and ``metadata["date"]`` the record's WARC-Date (ISO 8601), so
the shared date window applies before any costly step. ``cleaners`` are, in the paper's order: main-text
extraction, language id, Gopher repetition and quality, C4 and FineWeb quality rules, and CCNet's
perplexity filter when a KenLM model is given. Each drop is counted under a named reason.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.io import url_to_fs
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.extractors.base import ExtractorSandbox
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.pipeline.readers.base import BaseReader
from datatrove.pipeline.readers.warc import WarcReader, process_record
from datatrove.utils.logging import logger
from datatrove.utils.typeshelper import StatHints
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from compressiq.collect.config import CollectConfig
from compressiq.collect.langid import LanguageId, lid_model
from compressiq.collect.perplexity import CCNetPerplexity, kenlm_files
from compressiq.errors import CompressiqError

WARC_NAME = re.compile(r"\.(warc|wet|arc)(\.gz|\.zst)?$")  # in folders; WAT files (metadata only) are skipped
HTML_TYPES = ("text/html", "application/xhtml+xml")


def reader(config: CollectConfig) -> PipelineStep:
    """The WARC reader over ``config.inputs``: local files, folders of them, or fsspec URLs (read lazily)."""
    return WarcRecords(warc_files(config.inputs))


def cleaners(config: CollectConfig) -> list[PipelineStep]:
    """Extraction, language and quality filters (no dedup, no writer), with datatrove's default thresholds.

    One exception, FineWeb's: C4's terminal-punctuation line rule is off (it removed about 30% of tokens in
    FineWeb's ablations; FineWeb's own ``line_punct_ratio`` rule replaces it). The quality rules are the
    English ones (stop words, tokenizer). Raises ``CompressiqError`` here, before any work, when the
    language-id or KenLM model is missing.
    """
    steps: list[PipelineStep] = [
        MainText(config.extract_timeout),
        LanguageId(lid_model(config.lid_model), config.languages),
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
    ]
    if config.kenlm_model is not None:
        steps.append(CCNetPerplexity(*kenlm_files(config.kenlm_model)))
    return steps


def warc_files(inputs: tuple[str, ...]) -> list[str]:
    """The files a run reads, in order: a URL or a file as given, a folder's WARC/WET files sorted (recursive)."""
    files: list[str] = []
    for item in inputs:
        path = Path(item)
        if "://" in item or path.is_file():
            files.append(item)
        elif path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and WARC_NAME.search(p.name))
            if not found:
                raise CompressiqError(f"{item}: no .warc, .wet or .arc files (optionally .gz/.zst) in this folder")
            files += found
        else:
            raise CompressiqError(f"{item}: no such file or folder (cc reads WARC/WET files, their folders, or URLs)")
    if not files:
        raise CompressiqError("cc needs inputs: WARC/WET files, folders of them, or Common Crawl URLs")
    return files


class WarcRecords(BaseReader):
    """Reads WARC/WET files with datatrove's WarcReader record parsing (``process_record``), over many inputs.

    WarcReader itself reads one folder; a run takes any mix of files, folders and URLs, so this reader
    lists them itself and shards the list by rank (file ``i`` goes to task ``i % world_size``). A truncated
    or corrupt file is logged by name and counted (``corrupt_files``), and the next file is read; its records
    before the damage are kept, less those in the last read-ahead (gzip is checked as it is decompressed,
    tens of KB ahead of the record parser). A file that cannot be opened (offline URL) stops the run with
    one line.
    """

    name = "🕷 WARC records"
    _requires_dependencies = WarcReader._requires_dependencies

    def __init__(self, files: list[str]) -> None:
        super().__init__()
        self.files = files

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        for path in self.files[rank::world_size]:
            self.stat_update("input_files")
            for doc in self.read_file(path):
                self.update_doc_stats(doc)
                yield doc

    def read_file(self, path: str) -> Iterator[Document]:
        with _open(path) as stream:
            try:
                yield from self._documents(stream, path)
            except (EOFError, zlib.error, gzip.BadGzipFile, ArchiveLoadFailed) as err:
                self.stat_update("corrupt_files")
                logger.warning(f"truncated or corrupt WARC {path} ({type(err).__name__}: {err}); next file")

    def _documents(self, stream: IO[bytes], path: str) -> Iterator[Document]:
        for index, record in enumerate(ArchiveIterator(stream)):
            if record.rec_type not in ("response", "conversion"):
                continue
            with self.track_time():
                fields = process_record(_declare_payload_type(record))
                if not fields:
                    self.stat_update("skipped_not_html")
                    continue
                fields |= {"date": iso_date(fields["date"]), "extracted": record.rec_type == "conversion"}
                doc = self.get_document_from_dict(fields, path, index)
            if doc:
                yield doc


@contextmanager
def _open(path: str) -> Iterator[IO[bytes]]:
    """``path`` opened for reading, decompressed by its suffix; a failure to open is one error line."""
    try:
        filesystem, inner = url_to_fs(path)
        stream = filesystem.open(inner, "rb", compression="infer")
    except OSError as err:
        hint = ": not there, or no network (offline, pass local WARC files)" if "://" in path else ""
        raise CompressiqError(f"cannot read {path} ({type(err).__name__}){hint}") from err
    with stream:
        yield stream


def _declare_payload_type(record: Any) -> Any:
    """Fill a missing WARC-Identified-Payload-Type: ``text/plain`` for a WET record, the server's HTTP
    Content-Type for a response when it says HTML.

    Crawls before 2017 lack the header; datatrove then sniffs the payload with libmagic, which calls XHTML
    pages (``<?xml ...?>`` first) ``text/xml`` and drops them, as it does two of the four pages in the
    genuine CC-MAIN-2014-35 sample, and may call extracted text a script. The declarations are the better
    evidence.
    """
    headers = record.rec_headers
    if headers.get_header("WARC-Identified-Payload-Type"):
        return record
    if record.rec_type == "conversion":
        headers.add_header("WARC-Identified-Payload-Type", "text/plain")
    elif record.http_headers:
        declared = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
        if declared in HTML_TYPES:
            headers.add_header("WARC-Identified-Payload-Type", declared)
    return record


def iso_date(value: str) -> str:
    """WARC-Date as ISO 8601; an ARC file's 14-digit archive-date ``20140821042114`` → ``2014-08-21T04:21:14Z``."""
    if re.fullmatch(r"\d{14}", value):
        return f"{value[:4]}-{value[4:6]}-{value[6:8]}T{value[8:10]}:{value[10:12]}:{value[12:]}Z"
    return value


class MainText(Trafilatura):
    """Trafilatura's main text of each HTML page (FineWeb's settings); WET text records pass through as they are.

    The reader marks WET records ``metadata["extracted"]`` (their text is already extracted); the mark is
    removed here. Drops: ``no_main_text`` (nothing extracted), ``extract_timeout``, ``extract_crashed``,
    ``extract_error``.
    """

    name = "⛏ Main text (Trafilatura)"

    def __init__(self, timeout: float) -> None:
        super().__init__(favour_precision=True, timeout=timeout, deduplicate=True)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with ExtractorSandbox(timeout=self.timeout, warmup_text="") as sandbox:
            for doc in data:
                self.stat_update(StatHints.total)
                reason = self._clean(doc, sandbox)
                if reason:
                    self.stat_update(StatHints.dropped, f"dropped_{reason}")
                    continue
                self.stat_update(StatHints.forwarded)
                self.update_doc_stats(doc)
                yield doc

    def _clean(self, doc: Document, sandbox: ExtractorSandbox) -> str | None:
        """Replaces ``doc.text`` by its main text; returns the drop reason, or ``None`` to keep it."""
        if doc.metadata.pop("extracted", False):
            self.stat_update("plain_text")
            return None if doc.text.strip() else "no_main_text"
        with self.track_time():
            try:
                doc.text = sandbox.process_document(doc.text, self.extract) or ""
            except TimeoutError:
                return "extract_timeout"
            except EOFError:
                return "extract_crashed"
            except Exception:
                return "extract_error"
        return None if doc.text.strip() else "no_main_text"
