"""Fresh corpora: the cc, python and arxiv_math pipelines on datatrove (``compressiq collect``).

    from compressiq.collect import CollectConfig, collect
    card = collect(CollectConfig("cc", ("crawl/",), Path("corpora/cc"), since=date(2025, 1, 1)))

Importing this package is cheap; datatrove is imported when a build starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compressiq.collect.config import SUBSETS, CollectConfig

__all__ = ["SUBSETS", "CollectConfig", "collect"]


def collect(config: CollectConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Build the corpus ``config`` describes; returns its dataset card (see ``pipeline.collect``)."""
    from compressiq.collect.pipeline import collect as build

    return build(config, log)
