"""Sums of information and text size; the ratios come out once, at the end. Pure: no I/O.

Why sums: averaging per-document BPC weights a 100-character page like a 100,000-character one.
BPC is Σbits / Σcharacters over the corpus, so we carry the sums and divide once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Totals:
    """Running sums over scored documents.

    ``nats`` is the negative log-likelihood; ``characters`` counts Unicode code points of the
    original text, ``bytes`` its UTF-8 length, ``tokens`` the tokens scored. Example: 2 documents
    of 10 and 30 characters costing 20 and 40 bits give bpc = 60 / 40 = 1.5, not (2.0 + 1.33) / 2.
    """

    nats: float = 0.0
    characters: int = 0
    bytes: int = 0
    tokens: int = 0
    documents: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.nats + other.nats,
            self.characters + other.characters,
            self.bytes + other.bytes,
            self.tokens + other.tokens,
            self.documents + other.documents,
        )

    @property
    def bits(self) -> float:
        return self.nats / math.log(2)

    @property
    def bpc(self) -> float:
        """Bits per character; NaN for an empty total, never a division error."""
        return self.bits / self.characters if self.characters else math.nan

    @property
    def bits_per_byte(self) -> float:
        return self.bits / self.bytes if self.bytes else math.nan

    @property
    def chars_per_token(self) -> float:
        return self.characters / self.tokens if self.tokens else math.nan


def document_totals(text: str, nats: float, tokens: int) -> Totals:
    """Totals of one document: its cost and its size measured on the original text."""
    return Totals(nats, len(text), len(text.encode("utf-8")), tokens, 1)


def total(parts: list[Totals]) -> Totals:
    """The sum of ``parts`` (an empty list is the empty total)."""
    return sum(parts, Totals())
