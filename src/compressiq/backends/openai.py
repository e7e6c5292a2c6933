"""The OpenAI-compatible server backend: prompt log-probabilities from a ``/v1/completions`` endpoint.

For models too big to load here: ``vllm serve``, llama.cpp's server, or any service that answers
``echo`` + ``logprobs`` (or vLLM's ``prompt_logprobs``). Windows are built here with the served
model's tokenizer (``--model`` names it: the same weights the server holds) and sent as token ids,
so the server never re-tokenizes. A probe at load time checks that the server answers, returns
prompt log-probabilities, and tokenizes like the local tokenizer; each failure is one clear error
before any document is scored. Standard library only: no client package to install.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from compressiq.backends import hf
from compressiq.core import weights
from compressiq.core.backend import FloatArray
from compressiq.errors import CompressiqError

PROBE = "Compression is prediction; prediction is understanding. Zürich, 1 234,5 km², naïve café.\n\tdef f(x):"
RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Endpoint:
    """Where and how to ask. ``model`` is the served model's name (default: the first the server lists)."""

    base_url: str
    api_key: str | None = None
    model: str | None = None
    concurrency: int = 4
    timeout: float = 120.0
    retries: int = 5
    backoff: float = 0.5

    @staticmethod
    def from_env(base_url: str | None = None, api_key: str | None = None, **fields: Any) -> Endpoint:
        """Flags first, then ``COMPRESSIQ_BASE_URL`` / ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``."""
        url = base_url or os.environ.get("COMPRESSIQ_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        if not url:
            raise CompressiqError("the openai backend needs a server: pass --base-url or set OPENAI_BASE_URL")
        key = api_key or os.environ.get("COMPRESSIQ_API_KEY") or os.environ.get("OPENAI_API_KEY")
        return Endpoint(url.rstrip("/"), key, **fields)


def request(endpoint: Endpoint, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """GET (no body) or POST JSON; retry 429/5xx and refused connections with doubling waits."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    url = endpoint.base_url + path
    for attempt in range(endpoint.retries + 1):
        try:
            req = urllib.request.Request(url, data=data, headers=headers)
            with urllib.request.urlopen(req, timeout=endpoint.timeout) as r:
                answer: dict[str, Any] = json.loads(r.read())
                return answer
        except urllib.error.HTTPError as e:
            if e.code not in RETRY_STATUS or attempt == endpoint.retries:
                detail = e.read()[:300].decode(errors="replace")
                raise CompressiqError(f"server {url} answered {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            if attempt == endpoint.retries:
                reason = getattr(e, "reason", e)
                raise CompressiqError(f"cannot reach server {url}: {reason}") from None
        time.sleep(min(endpoint.backoff * 2**attempt, 30.0))
    raise AssertionError("unreachable")


def prompt_logprobs(answer: dict[str, Any], n: int) -> list[float | None]:
    """The log-probabilities of the first ``n`` prompt tokens from a completions answer.

    Accepts the OpenAI shape (``echo``: ``choices[0].logprobs.token_logprobs``, prompt first,
    the first token ``null``) and vLLM's ``choices[0].prompt_logprobs`` (a dict per token, keyed
    by token id, or ``null``). Fewer than ``n`` values means the server tokenized differently.
    """
    choice = (answer.get("choices") or [{}])[0]
    if choice.get("prompt_logprobs"):
        values = [None if d is None else _chosen(d) for d in choice["prompt_logprobs"]]
    elif (choice.get("logprobs") or {}).get("token_logprobs"):
        values = list(choice["logprobs"]["token_logprobs"])
    else:
        raise CompressiqError(
            "the server returned no prompt log-probabilities (it must support echo + logprobs, or prompt_logprobs;"
            " llama.cpp's server needs --logits_all true)"
        )
    if len(values) < n:
        raise CompressiqError(f"tokenizer/server mismatch: sent {n} prompt tokens, the server scored {len(values)}")
    return values[:n]


def _chosen(entry: dict[str, Any]) -> float:
    """vLLM lists the prompt token first among its top entries; its ``logprob`` is the value."""
    first = next(iter(entry.values()))
    return float(first["logprob"] if isinstance(first, dict) else first)


class ServerBackend:
    """Scores windows on a remote server; encodes with the local (Hugging Face) tokenizer."""

    kind = "openai"

    def __init__(self, endpoint: Endpoint, tokenizer: Any, name: str, fingerprint: str, max_context: int) -> None:
        self.endpoint = endpoint
        self.tok = tokenizer
        self.name = name
        self.fingerprint = fingerprint
        self.max_context = max_context
        self.bos_id = tokenizer.bos_token_id
        self.served = endpoint.model or str(request(endpoint, "/models")["data"][0]["id"])
        self._probe()

    def encode(self, text: str, special: bool = False) -> list[int]:
        return hf.encode(self.tok, text, special)

    def token_id(self, token: str) -> int:
        return hf.token_id(self.tok, token, self.name)

    def logprobs(self, windows: Sequence[tuple[Sequence[int], int]]) -> list[FloatArray]:
        with ThreadPoolExecutor(max(1, self.endpoint.concurrency)) as pool:
            return list(pool.map(lambda w: self._window(list(w[0]), w[1]), windows))

    def _complete(self, prompt: str | list[int]) -> dict[str, Any]:
        body = {"model": self.served, "prompt": prompt, "max_tokens": 1, "echo": True, "logprobs": 1}
        return request(self.endpoint, "/completions", body | {"temperature": 0.0})

    def _window(self, tokens: list[int], scored: int) -> FloatArray:
        values = prompt_logprobs(self._complete(tokens), len(tokens))[len(tokens) - scored :]
        if any(v is None for v in values):
            raise CompressiqError("the server left scored prompt tokens without a log-probability")
        return np.asarray(values, dtype=np.float64)

    def _probe(self) -> None:
        """Let the server tokenize a probe text: its count must be ours, plus at most its BOS and
        the one generated token (a different tokenizer misses by far more)."""
        ours = len(self.encode(PROBE))
        choice = (self._complete(PROBE).get("choices") or [{}])[0]
        prompt_logprobs({"choices": [choice]}, 0)  # no prompt log-probabilities: one clear error
        theirs = len(choice.get("prompt_logprobs") or (choice.get("logprobs") or {}).get("token_logprobs") or [])
        if not ours <= theirs <= ours + 2:
            raise CompressiqError(
                f"tokenizer/server mismatch: the server makes {theirs} tokens of a probe text, "
                f"the tokenizer of {self.name} makes {ours}; --model must name the served model"
            )


def load_server(
    source: str,
    name: str | None = None,
    dtype: str = "float32",
    trust_remote_code: bool = False,
    endpoint: Endpoint | None = None,
) -> ServerBackend:
    """The local tokenizer of ``source`` (a .gguf file, a folder or a hub id) and the endpoint."""
    tok, context = hf.load_tokenizer(source, trust_remote_code)
    endpoint = endpoint or Endpoint.from_env()
    return ServerBackend(endpoint, tok, name or source, weights.fingerprint(source), context)
