"""``compressiq serve``: any backend behind an OpenAI-compatible ``/v1/completions`` endpoint that
returns prompt log-probabilities, so that a model loaded on one machine (a GPU box) can be scored from
another with ``--backend openai``.

It answers what scoring needs and nothing more: ``prompt`` as token ids (or text, tokenized here with
the tokenizer's special tokens), ``echo`` + ``logprobs`` in the OpenAI shape (the first prompt token
``null``) and vLLM's ``prompt_logprobs``. It generates no text: ``max_tokens`` is ignored and no
completion token is returned. Model calls are serialised (one model, many connections); standard
library only. Why not llama-cpp-python's server: its schema takes no token ids, and its echo
log-probabilities are one position off unless the model adds BOS (see tests/backends/test_server.py).

Every bad request is answered, never dropped: a JSON error with a 4xx status (400 bad JSON, fields
or token ids; 401 without the key; 408 a client silent mid-request; 411 no Content-Length; 413 a body
over ``MAX_BODY_BYTES``). Bounds come first: the declared length before reading, the nesting depth
before walking, the token ids before the model sees them.
"""

from __future__ import annotations

import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from compressiq.core.backend import Backend

MAX_BODY_BYTES = 16 << 20  # a full 128k-token prompt as JSON ids is about 1 MB
MAX_DEPTH = 16  # the deepest real body, {"prompt": [[ids]]}, nests 3 levels
MAX_LOGPROBS = 20  # vLLM's default ``max_logprobs``; OpenAI allows 5
REQUEST_TIMEOUT_S = 30.0  # a client silent this long mid-request gets 408 and is closed
DRAIN_BYTES = 1 << 20  # unread body discarded after an early answer, so the answer is not reset away
DRAIN_TIMEOUT_S = 1.0


class Served(Backend, Protocol):
    """A backend that can be served: it knows its vocabulary, so token ids can be checked first."""

    def vocab_size(self) -> int: ...


class BadRequest(ValueError):
    """A request the server answers with ``status`` and ``message`` (a 4xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class CompletionsServer(ThreadingHTTPServer):
    """One model behind ``/v1/completions``; ``api_key``: if set, every request needs ``Bearer <key>``."""

    daemon_threads = True

    def __init__(
        self,
        backend: Served,
        served: str,
        host: str = "127.0.0.1",
        port: int = 8000,
        api_key: str | None = None,
        timeout: float = REQUEST_TIMEOUT_S,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.backend, self.served = backend, served
        self.api_key, self.request_timeout = api_key, timeout
        self.lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, not a traceback, for a connection that failed outside the handler's answers."""
        error = sys.exc_info()[1]
        print(f"compressiq serve: {client_address[0]}: {type(error).__name__}: {error}", file=sys.stderr)


def completion(server: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The answer to one ``/v1/completions`` request body (raises ``ValueError`` for a bad request).

    ``server`` has ``backend`` (a ``Served``), ``served`` (the model's name) and ``lock``. For prompt
    tokens t0..tn the log-probabilities are [null, log p(t1 | t0), ..., log p(tn | t0..tn-1)].
    """
    check_fields(body)
    tokens = prompt_tokens(server.backend, body.get("prompt"))
    values: list[float | None] = [None]
    if len(tokens) > 1:
        with server.lock:
            values += [float(v) for v in server.backend.logprobs([(tokens, len(tokens) - 1)])[0]]
    choice: dict[str, Any] = {"index": 0, "text": "", "finish_reason": "length"}
    if body.get("echo") and body.get("logprobs") is not None:
        names = [f"token_id:{t}" for t in tokens]
        choice["logprobs"] = {"tokens": names, "token_logprobs": values, "top_logprobs": None, "text_offset": None}
    if body.get("prompt_logprobs") is not None:
        choice["prompt_logprobs"] = [None if v is None else {str(t): {"logprob": v}} for t, v in zip(tokens, values)]
    usage = {"prompt_tokens": len(tokens), "completion_tokens": 0, "total_tokens": len(tokens)}
    model = body.get("model") or server.served
    return {"id": f"cmpl-{time.time_ns()}", "object": "text_completion", "created": int(time.time()),
            "model": model, "choices": [choice], "usage": usage}  # fmt: skip


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_fields(body: dict[str, Any]) -> None:
    """The optional fields this server reads, in their OpenAI/vLLM types and ranges."""
    for name in ("logprobs", "prompt_logprobs"):
        value = body.get(name)
        if value is not None and not (_is_int(value) and 0 <= value <= MAX_LOGPROBS):
            raise BadRequest(400, f"{name} must be an integer from 0 to {MAX_LOGPROBS}, got {value!r}")
    if body.get("echo") is not None and not isinstance(body["echo"], bool):
        raise BadRequest(400, f"echo must be true or false, got {body['echo']!r}")
    if body.get("model") is not None and not isinstance(body["model"], str):
        raise BadRequest(400, "model must be a string")
    tokens = body.get("max_tokens")
    if tokens is not None and not (_is_int(tokens) and tokens >= 0):
        raise BadRequest(400, f"max_tokens must be a non-negative integer, got {tokens!r}")


def prompt_tokens(backend: Served, prompt: Any) -> list[int]:
    """The prompt's token ids, each in ``[0, vocabulary)``, 1 to ``max_context`` of them."""
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
        prompt = prompt[0]  # a batch of one
    if isinstance(prompt, str):
        tokens = backend.encode(prompt, special=True)
    elif isinstance(prompt, list) and all(_is_int(t) for t in prompt):
        tokens = list(prompt)
    else:
        raise BadRequest(400, "prompt must be a string or a list of token ids (one prompt per request)")
    if not 1 <= len(tokens) <= backend.max_context:
        raise BadRequest(400, f"prompt has {len(tokens)} tokens; this model takes 1 to {backend.max_context}")
    vocab = backend.vocab_size()
    if not 0 <= min(tokens) <= max(tokens) < vocab:
        bad = next(t for t in tokens if not 0 <= t < vocab)
        raise BadRequest(400, f"token id {bad} is out of range: this model's ids are 0 to {vocab - 1}")
    return tokens


def parse_body(data: bytes) -> dict[str, Any]:
    """A request body as a JSON object nested at most ``MAX_DEPTH`` levels."""
    try:
        body = json.loads(data)
    except RecursionError:  # the decoder's own guard, far below a 100k-deep body's depth
        raise BadRequest(400, f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as e:  # JSONDecodeError, or bytes that are no Unicode text
        raise BadRequest(400, f"body is not JSON ({e})") from None
    if nesting(body) > MAX_DEPTH:
        raise BadRequest(400, f"JSON nested deeper than {MAX_DEPTH} levels")
    if not isinstance(body, dict):
        raise BadRequest(400, "body must be a JSON object")
    return body


def nesting(value: Any) -> int:
    """How many arrays/objects deep ``value`` goes; iterative, so no input can exhaust the stack.

    Example: ``{"prompt": [[1, 2]]}`` is 3 deep, ``[]`` 1, ``5`` 0.
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children if isinstance(c, (list, dict)))
    return deepest


def declared_length(values: list[str]) -> int:
    """The body length a request declares in its ``Content-Length`` header(s), bounded."""
    if not values:
        raise BadRequest(411, "Content-Length is required (chunked bodies are not accepted)")
    if len(set(values)) > 1 or not (values[0].isascii() and values[0].strip().isdigit()):
        raise BadRequest(400, f"Content-Length must be one non-negative integer, got {', '.join(values)}")
    length = int(values[0]) if len(values[0].strip()) <= 18 else MAX_BODY_BYTES + 1  # int() of 5,000 digits raises
    if length > MAX_BODY_BYTES:
        raise BadRequest(413, f"the declared body is over the limit of {MAX_BODY_BYTES} bytes")
    return length


class _Handler(BaseHTTPRequestHandler):
    server: CompletionsServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.request_timeout)  # no client holds a thread forever

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [{"id": self.server.served, "object": "model"}]})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        if not self._authorised():
            return
        if self.path.rstrip("/") not in ("/v1/completions", "/completions"):
            return self._error(404, f"no route {self.path}")
        try:
            answer = completion(self.server, parse_body(self._read_body()))
        except BadRequest as e:
            return self._error(e.status, str(e))
        except TimeoutError:
            return self._error(408, f"no data for {self.server.request_timeout:g} s: the body is shorter than declared")
        except ValueError as e:  # the backend refusing an input
            return self._error(400, str(e))
        except Exception as e:  # never a dropped connection: the client learns what happened
            return self._error(500, f"{type(e).__name__}: {e}")
        self._send(200, answer)

    def _read_body(self) -> bytes:
        self.unread = -1  # unknown until the length is parsed: drain up to the bound
        length = declared_length(self.headers.get_all("Content-Length") or [])
        self.unread = length
        data = self.rfile.read(length)
        self.unread = 0
        if len(data) < length:
            raise BadRequest(400, f"the body ended after {len(data)} of {length} declared bytes")
        return data

    def _authorised(self) -> bool:
        """True without a key; else the ``Authorization: Bearer`` key, compared in constant time."""
        key = self.server.api_key
        if key is None:
            return True
        given = self.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        if hmac.compare_digest(given, f"Bearer {key}".encode()):
            return True
        self._error(401, "a valid API key is required: Authorization: Bearer <key>")
        return False

    def _error(self, status: int, message: str) -> None:
        kind = "authentication_error" if status == 401 else "invalid_request_error" if status < 500 else "server_error"
        self._send(status, {"error": {"message": message, "type": kind, "code": status}})
        self._drain()

    def _drain(self) -> None:
        """Discard a body not read (at most ``DRAIN_BYTES``, briefly): closing on unread bytes resets the
        connection, and the client could lose the answer just sent."""
        unread = getattr(self, "unread", -1 if self.command == "POST" else 0)
        budget = DRAIN_BYTES if unread < 0 else min(unread, DRAIN_BYTES)
        self.close_connection = True
        try:
            self.connection.settimeout(DRAIN_TIMEOUT_S)
            while budget > 0 and (chunk := self.rfile.read1(min(budget, 65536))):
                budget -= len(chunk)
        except OSError:  # a timeout or a client gone: nothing more to save
            pass

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", "Bearer")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # one line a request is noise here
        pass
