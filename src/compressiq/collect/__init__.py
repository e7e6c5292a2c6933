"""Fresh corpora: the cc, python and arxiv_math pipelines on datatrove (``compressiq collect``).

    from compressiq.collect import CollectConfig, collect
    card = collect(CollectConfig("cc", ("crawl/",), Path("corpora/cc"), since=date(2025, 1, 1)))

Importing this package is cheap; datatrove is imported when a build starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from compressiq.collect.config import SUBSETS, CollectConfig

if TYPE_CHECKING:
    from compressiq.collect.card import Card

__all__ = ["SUBSETS", "CollectConfig", "collect"]


def collect(config: CollectConfig, log: Callable[[str], None] = print) -> Card:
    """Build the corpus ``config`` describes; returns its dataset card (see ``pipeline.collect``)."""
    from compressiq.collect.pipeline import collect as build

    return build(config, log)
