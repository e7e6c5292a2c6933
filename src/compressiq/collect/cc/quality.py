"""The cc quality presets: which cleaners follow the main text, by ``CollectConfig.quality``.

- ``paper`` (the default): the paper's own recipe, CCNet's: fastText language id, then the KenLM
  perplexity filter when a model is given. Dedup and the date window are the pipeline's, in every preset.
- ``fineweb``: FineWeb's rules after language id: Gopher repetition and quality, C4 and FineWeb quality,
  then the perplexity filter when a model is given. Gopher's "80 % of words contain a letter" rule counts
  whitespace-separated words here (:class:`GopherQuality`), as the Gopher paper states it.

Measured on the 117 Debian handbook pages (en-US) with prose: ``paper`` keeps all 117 (100 %),
``fineweb`` 100 (85 %: 15 hold a ``{``, 2 repeat 5-grams); tests/collect/test_quality.py prints them.
"""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)

from compressiq.collect.cc.extract import MainText
from compressiq.collect.cc.langid import LanguageId, lid_model
from compressiq.collect.cc.perplexity import CCNetPerplexity, kenlm_files
from compressiq.collect.config import CollectConfig

MIN_ALPHA_WORDS = 0.8  # Gopher: at least 80 % of words contain an alphabetic character


def cleaners(config: CollectConfig) -> list[PipelineStep]:
    """Main text, language id, the preset's rules, and CCNet's perplexity filter when a KenLM model is given.

    Raises ``CompressiqError`` here, before any work, when the language-id or KenLM model is missing.
    """
    language = LanguageId(lid_model(config.lid_model), config.languages)
    steps: list[PipelineStep] = [MainText(config.extract_timeout), language]
    if config.quality == "fineweb":
        steps += fineweb_rules()
    if config.kenlm_model is not None:
        steps.append(CCNetPerplexity(*kenlm_files(config.kenlm_model)))
    return steps


def fineweb_rules() -> list[PipelineStep]:
    """FineWeb's quality rules with datatrove's default thresholds, English stop words and tokenizer.

    One exception, FineWeb's: C4's terminal-punctuation line rule is off (it removed about 30 % of tokens in
    FineWeb's ablations; FineWeb's own ``line_punct_ratio`` rule replaces it).
    """
    return [
        GopherRepetitionFilter(),
        GopherQuality(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
    ]


def alpha_word_share(text: str) -> float:
    """The share of whitespace-separated words with at least one letter; 0 for a text without words.

    Worked example: ``"run apt-get -- , then 42"`` has 6 words, of which 3 (run, apt-get, then) hold a
    letter: 0.5. datatrove's tokenizer would also count ``-`` and ``,`` as words.
    """
    words = text.split()
    return sum(any(c.isalpha() for c in w) for w in words) / len(words) if words else 0.0


class GopherQuality(GopherQualityFilter):
    """datatrove's Gopher quality rules, with the alphabetic-word rule on whitespace-separated words.

    datatrove splits text with a word tokenizer that makes every punctuation mark a word, so prose rich in
    commands and paths (``apt-get install -y foo``) falls under 80 % although its words hold letters. The
    rule is checked after datatrove's other rules (the stop-word rule among them); its drop reason stays
    ``gopher_below_alpha_threshold``.
    """

    def __init__(self) -> None:
        super().__init__(max_non_alpha_words_ratio=None)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        verdict: bool | tuple[bool, str] = super().filter(doc)
        if verdict is not True:
            return verdict
        return True if alpha_word_share(doc.text) >= MIN_ALPHA_WORDS else (False, "gopher_below_alpha_threshold")
