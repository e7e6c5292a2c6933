"""compressiq: measure language models by how well they compress fresh text (bits per character)."""

from compressiq.core.backend import Backend
from compressiq.core.corpus import Corpus, Document, load_corpus
from compressiq.core.runner import ScoreConfig, score
from compressiq.core.store import RunRow, Store
from compressiq.core.totals import Totals
from compressiq.core.windows import Window, paper_windows, rolling_windows
from compressiq.errors import CompressiqError

__all__ = [
    "Backend",
    "CompressiqError",
    "Corpus",
    "Document",
    "RunRow",
    "ScoreConfig",
    "Store",
    "Totals",
    "Window",
    "load_corpus",
    "paper_windows",
    "rolling_windows",
    "score",
]
