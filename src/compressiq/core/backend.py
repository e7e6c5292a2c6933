"""The backend interface: the few verbs a model must offer to be scored.

A backend encodes text and returns log-probabilities for a batch of token windows. Windows,
prefix tokens, batching policy and sums live once, above every backend (in ``engine``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@runtime_checkable
class Backend(Protocol):
    """A causal language model, as the scorer sees it.

    ``logprobs`` takes windows ``(tokens, scored)`` and returns, for each, the natural-log
    probabilities of its last ``scored`` tokens, each conditioned on every token before it in the
    window; ``scored`` is at most ``len(tokens) - 1``. Values are computed with a float32
    log-softmax whatever the model's dtype.
    """

    name: str
    fingerprint: str
    max_context: int
    bos_id: int | None

    def encode(self, text: str, special: bool = False) -> list[int]:
        """Token ids of ``text``. ``special=False``: no special token, even if the text spells one.
        ``special=True``: the tokenizer's own default (BOS and friends), as the paper's script used."""
        ...

    def token_id(self, token: str) -> int:
        """The id of one token given by its text (for a configured prefix token)."""
        ...

    def logprobs(self, windows: Sequence[tuple[Sequence[int], int]]) -> list[FloatArray]: ...
