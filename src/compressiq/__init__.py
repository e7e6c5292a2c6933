"""compressiq: measure language models by how well they compress fresh text (bits per character)."""

from compressiq.backend import Backend
from compressiq.corpus import Corpus, Document, load_corpus
from compressiq.errors import CompressiqError
from compressiq.runner import ScoreConfig, score
from compressiq.store import RunRow, Store
from compressiq.totals import Totals
from compressiq.windows import Window, paper_windows, rolling_windows

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
