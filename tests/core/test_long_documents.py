"""Long documents are tokenized in slices cut at whitespace, and the ids equal one-shot tokenization."""

from collections.abc import Sequence
from typing import Any

from compressiq.backends.testing import ByteBackend
from compressiq.core.corpus import load_corpus
from compressiq.core.scoring import ScoreConfig, tokenize


class Recording:
    """A backend whose ``encode`` calls are recorded (text lengths), everything else passed through."""

    def __init__(self, backend: Any) -> None:
        self.backend, self.lengths = backend, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def encode(self, text: str, special: bool = False) -> list[int]:
        self.lengths.append(len(text))
        return list(self.backend.encode(text, special=special))


def long_text(chars: int) -> str:
    """Fresh Wikipedia and GitHub Python text, documents joined by newlines, cut to ``chars``."""
    docs: Sequence[str] = [d.content for d in load_corpus("sample").documents]
    return "\n".join(docs)[:chars]


def test_sliced_ids_equal_one_shot_on_real_tokenizers(real_model: Any) -> None:
    """Both built-in tokenizers (byte-level BPE with a regex pre-tokenizer; SentencePiece-style BPE),
    on 300,000 characters of prose and code cut into slices of 20,000: the same ids, in pieces."""
    text = long_text(300_000)
    whole = real_model.encode(text)
    recording = Recording(real_model)
    (sliced,) = tokenize(recording, ScoreConfig(), [text], slice_chars=20_000)
    assert sliced == whole and len(whole) > 50_000
    assert max(recording.lengths) < 25_000  # no piece near the whole text: the slices were used


def test_paper_protocol_and_texts_without_spaces_are_one_piece() -> None:
    backend = Recording(ByteBackend())
    text = "x" * 50_000
    assert tokenize(backend, ScoreConfig(), [text, "a b"], slice_chars=1000) == [list(text.encode()), [97, 32, 98]]
    assert backend.lengths == [50_000, 3]
    paper = ScoreConfig(protocol="paper")
    words = "word " * 10_000
    assert tokenize(backend, paper, [words], slice_chars=1000) == [ByteBackend().encode(words, special=True)]
    assert tokenize(backend, ScoreConfig(), [words], slice_chars=1000) == [list(words.encode())]
