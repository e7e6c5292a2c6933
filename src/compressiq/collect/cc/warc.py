"""The cc subset's entry points: ``reader`` and ``cleaners``, as every subset module has them.

``reader`` yields one datatrove ``Document`` per HTML response (or WET text record), and drops every
other content record with a named reason (see :mod:`compressiq.collect.cc.records`). ``cleaners`` are the
main-text extraction (:mod:`compressiq.collect.cc.extract`), language id, and the quality preset's rules
(:mod:`compressiq.collect.cc.quality`): ``paper`` (CCNet's) or ``fineweb``. Each drop is counted under a
named reason.
"""

from __future__ import annotations

from datatrove.pipeline.base import PipelineStep

from compressiq.collect.cc.extract import MainText
from compressiq.collect.cc.quality import cleaners
from compressiq.collect.cc.records import WarcRecords, iso_date, warc_files
from compressiq.collect.config import CollectConfig

__all__ = ["MainText", "cleaners", "iso_date", "reader", "warc_files"]


def reader(config: CollectConfig) -> PipelineStep:
    """The WARC reader over ``config.inputs``: local files, folders of them, or fsspec URLs (read lazily)."""
    return WarcRecords(warc_files(config.inputs))
