"""Decontamination: drop documents that share a word n-gram with a reference corpus (e.g. a benchmark).

The reference texts are hashed once per task into a set of 64-bit n-gram hashes (xxhash of the
lower-cased words joined by spaces); a document is dropped with the reason ``contaminated`` when any of
its n-grams is in the set. 13 words is the GPT-3 paper's choice: long enough that common phrases do not
match, short enough that a copied sentence does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import xxhash
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from compressiq.core.corpus import load_corpus

WORD = re.compile(r"\w+")


def ngram_hashes(text: str, n: int) -> Iterator[int]:
    """Hashes of every run of ``n`` consecutive words; "a b c" with n=2 gives hash("a b"), hash("b c")."""
    words = WORD.findall(text.lower())
    for i in range(len(words) - n + 1):
        yield xxhash.xxh64_intdigest(" ".join(words[i : i + n]))


class Decontaminate(BaseFilter):
    """Keeps documents with no word ``n``-gram in common with the ``references`` (any ``--corpus`` spec)."""

    name = "🧹 Decontaminate"

    def __init__(self, references: Sequence[str], n: int) -> None:
        super().__init__()
        self.references, self.n = tuple(references), n
        self._index: set[int] | None = None

    def index(self) -> set[int]:
        if self._index is None:
            self._index = set()
            for spec in self.references:
                for ref in load_corpus(spec).documents:
                    self._index.update(ngram_hashes(ref.content, self.n))
        return self._index

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        index = self.index()
        if any(h in index for h in ngram_hashes(doc.text, self.n)):
            return False, "contaminated"
        return True
