"""What the codec needs of a model: its identity, exact tokenization, and next-token probabilities step by step.

The coding logic (``coding``) is pure over this protocol: the transformers backend implements it with a
key-value cache, the llama.cpp backend with one sequence a row in its own context, the test double with
exact arithmetic, so the codec's rules are tested without a model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Probabilities = npt.NDArray[np.float32] | npt.NDArray[np.float64]
Step = Callable[[Sequence[int], int], Probabilities]


@runtime_checkable
class Stepper(Protocol):
    """A causal model that advances a batch of sequences one token a step.

    ``start(rows, capacity)`` begins ``rows`` sequences of at most ``capacity`` steps and returns
    ``step(tokens, live)``: given each row's next input token, it returns the next-token probabilities
    of at least the first ``live`` rows (``rows x vocabulary`` or ``live x vocabulary``, float32 or float64, rows
    summing to 1). Rows from ``live`` on have ended (a file's last chunk is short, and last): a backend
    may skip them, or keep stepping them as format 1 did. The same calls in the same order must give
    bit-identical probabilities: that is what lets a decoder replay the encoder. They may differ under
    another thread count, library version or number type: ``kernels()`` names what computes them, and
    the file records it with the thread count.
    """

    kind: str  # the loader's name for the backend: transformers, llamacpp
    name: str
    fingerprint: str  # the weights
    bos_id: int | None
    max_context: int

    def encode(self, text: str, special: bool = False) -> list[int]: ...

    def token_id(self, token: str) -> int: ...

    def decode(self, tokens: Sequence[int]) -> str:
        """The text of ``tokens``, special tokens spelled out and no clean-up of spaces."""
        ...

    def tokenizer_fingerprint(self) -> str:
        """SHA-256 of the tokenizer's definition: a file decodes only under the same tokenizer."""
        ...

    def vocab_size(self) -> int:
        """Number of token ids the model predicts (a decoded or header id must be below it)."""
        ...

    def kernels(self) -> str:
        """The libraries and number type behind the probabilities, e.g. ``torch 2.5.1, float32``."""
        ...

    def num_threads(self) -> int: ...

    def set_num_threads(self, threads: int) -> None: ...

    def start(self, rows: int, capacity: int) -> Step: ...
