"""CCNet's perplexity filter for the cc subset: a user-supplied KenLM model, datatrove's CCNet scoring.

CCNet (Wenzek et al., 2020) scores each document with a 5-gram KenLM model trained on Wikipedia, over
SentencePiece tokens of CCNet-normalised text, and splits a language into head / middle / tail at the
30th and 60th percentiles of its perplexities. RedPajama kept head and middle; so does this filter.
The models are CCNet's ``<lang>.arpa.bin`` with ``<lang>.sp.model`` beside it (any KenLM ARPA or binary
model with a SentencePiece model works).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.utils.perplexity import KenlmModel, SentencePiece

from compressiq.errors import CompressiqError, missing_extra

# CCNet's 60th percentile of English perplexity (cc_net/data/cutoff.csv, row 60, column en): above it is
# the tail bucket. Perplexity scales differ by language and model; this value is for CCNet's en model.
CCNET_EN_TAIL = 520.0


def kenlm_files(model: Path) -> tuple[Path, Path]:
    """The KenLM model and its SentencePiece model (``en.arpa.bin`` → ``en.sp.model``), or one error line."""
    tokenizer = model.with_name(f"{model.name.split('.')[0]}.sp.model")
    if not model.is_file():
        raise CompressiqError(f"--kenlm-model {model}: no such file (CCNet's <lang>.arpa.bin, or any KenLM model)")
    if not tokenizer.is_file():
        raise CompressiqError(f"--kenlm-model {model} needs its SentencePiece model beside it: {tokenizer} is missing")
    for package in ("kenlm", "sentencepiece"):
        if importlib.util.find_spec(package) is None:
            raise missing_extra(package, "collect")
    return model, tokenizer


class LocalSentencePiece(SentencePiece):
    """datatrove's CCNet tokenizer, loading ``path`` instead of downloading it."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path.parent), path.name)
        self.path = path
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            import sentencepiece

            self._model = sentencepiece.SentencePieceProcessor(model_file=str(self.path))
        return self._model


class LocalKenlm(KenlmModel):
    """datatrove's CCNet scorer (normalisation, tokens, per-line KenLM scores), on local model files."""

    def __init__(self, model: Path, tokenizer: Path) -> None:
        super().__init__(str(model.parent), model.name)
        self.path = model
        self._model: Any = None
        self._tokenizer = LocalSentencePiece(tokenizer)

    @property
    def model(self) -> Any:
        if self._model is None:
            import kenlm

            self._model = kenlm.Model(str(self.path))
        return self._model


class CCNetPerplexity(BaseFilter):
    """Keeps CCNet's head and middle: perplexity at most ``cutoff``; drops the tail as ``ccnet_tail``.

    Every document it sees gets ``metadata["ccnet_perplexity"]``. Perplexity is 10^(-Σlog10 p / Σtokens)
    over the document's lines, each line's tokens counted with its end-of-sentence token: a line of
    3 tokens with log10 p = -8 scores 10^(8/4) = 100.
    """

    name = "🤖 CCNet perplexity (KenLM)"

    def __init__(self, model: Path, tokenizer: Path, cutoff: float = CCNET_EN_TAIL) -> None:
        super().__init__()
        self.scorer = LocalKenlm(model, tokenizer)
        self.cutoff = cutoff

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        perplexity = float(self.scorer.get_perplexity(doc.text))
        doc.metadata["ccnet_perplexity"] = perplexity
        return True if perplexity <= self.cutoff else (False, "ccnet_tail")
