"""Blocks every subset shares: the date window and the length limits. Each drops with a named reason.

A datatrove filter returns ``True`` to keep a document or ``(False, reason)`` to drop it; the base class
counts ``dropped_<reason>`` in the step's stats, which the dataset card reports.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Iterator

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.utils.logging import logger


def parse_date(value: str) -> dt.date:
    """The calendar date (UTC) of an ISO 8601 date or timestamp: ``"2025-01-03T23:10:00Z"`` → 2025-01-03."""
    stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else None
    if stamp is None:
        return dt.date.fromisoformat(value[:10])
    return stamp.astimezone(dt.UTC).date() if stamp.tzinfo else stamp.date()


def warn(message: str) -> None:
    """A warning about damaged input, on the terminal and in datatrove's log. While a stage runs,
    ``sys.stderr`` goes to a log file, so this writes to the terminal's own stderr (as ``Progress`` does)."""
    logger.warning(message)
    if sys.__stderr__ is not None:
        print(f"compressiq: warning: {message}", file=sys.__stderr__, flush=True)


class DateWindow(BaseFilter):
    """Keeps documents whose ``metadata["date"]`` falls in [since, until], both inclusive; drops those
    with no date (``no_date``) or one that is not ISO 8601 (``bad_date``)."""

    name = "📅 Date window"

    def __init__(self, since: dt.date | None, until: dt.date | None) -> None:
        super().__init__()
        self.since, self.until = since, until

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self.since is None and self.until is None:
            return True
        value = doc.metadata.get("date")
        if not value:
            return False, "no_date"
        try:
            day = parse_date(str(value))
        except ValueError:
            return False, "bad_date"
        if self.since and day < self.since:
            return False, "before_since"
        if self.until and day > self.until:
            return False, "after_until"
        return True


class LengthLimits(BaseFilter):
    """Keeps documents of ``min_chars`` to ``max_chars`` characters (after cleaning)."""

    name = "📏 Length limits"

    def __init__(self, min_chars: int, max_chars: int) -> None:
        super().__init__()
        self.min_chars, self.max_chars = min_chars, max_chars

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if len(doc.text) < self.min_chars:
            return False, "too_short"
        if len(doc.text) > self.max_chars:
            return False, "too_long"
        return True


class Progress(PipelineStep):
    """A progress bar of the documents passing by, on the terminal's stderr (datatrove's own log is
    redirected to a file while a stage runs). Passes every document on unchanged."""

    name = "Progress"

    def __init__(self, description: str) -> None:
        super().__init__()
        self.description = description

    def run(self, data: Iterator[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        from tqdm import tqdm

        label = f"{self.description} (task {rank + 1}/{world_size})" if world_size > 1 else self.description
        with tqdm(desc=label, unit=" docs", file=sys.__stderr__, leave=False, mininterval=1.0) as bar:
            for doc in data:
                bar.update()
                yield doc


def run_steps(
    steps: Iterable[PipelineStep], rank: int = 0, world_size: int = 1, data: Iterator[Document] | None = None
) -> Iterator[Document]:
    """The documents out of a chain of steps, in this process (what an executor does for one task)."""
    data = data if data is not None else iter(())
    for step in steps:
        data = step.run(data, rank, world_size)
    return data
