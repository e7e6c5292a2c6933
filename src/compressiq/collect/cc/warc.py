"""The cc subset: web pages from Common Crawl WARC/WET files, cleaned the way FineWeb cleans them.

``reader`` yields one datatrove ``Document`` per HTML response (or WET text record), and drops every
other content record with a named reason (see :mod:`compressiq.collect.cc.records`). ``cleaners`` are,
in the paper's order: main-text extraction, language id, Gopher repetition and quality, C4 and FineWeb
quality rules, and CCNet's perplexity filter when a KenLM model is given. Each drop is counted under a named reason.
"""

from __future__ import annotations

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.extractors.base import ExtractorSandbox
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.utils.typeshelper import StatHints

from compressiq.collect.cc.langid import LanguageId, lid_model
from compressiq.collect.cc.perplexity import CCNetPerplexity, kenlm_files
from compressiq.collect.cc.records import WarcRecords, iso_date, warc_files
from compressiq.collect.config import CollectConfig

__all__ = ["MainText", "cleaners", "iso_date", "reader", "warc_files"]


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
