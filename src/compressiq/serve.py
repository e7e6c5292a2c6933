"""``compressiq serve``: any backend behind an OpenAI-compatible ``/v1/completions`` endpoint that
returns prompt log-probabilities, so that a model loaded on one machine (a GPU box) can be scored from
another with ``--backend openai``.

It answers what scoring needs and nothing more: ``prompt`` as token ids (or text, tokenized here with
the tokenizer's special tokens), ``echo`` + ``logprobs`` in the OpenAI shape (the first prompt token
``null``) and vLLM's ``prompt_logprobs``. It generates no text: ``max_tokens`` is ignored and no
completion token is returned. Model calls are serialised (one model, many connections); standard
library only. Why not llama-cpp-python's server: its schema takes no token ids, and its echo
log-probabilities are one position off unless the model adds BOS (see tests/test_server.py).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from compressiq.backend import Backend


class CompletionsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, backend: Backend, served: str, host: str = "127.0.0.1", port: int = 8000) -> None:
        super().__init__((host, port), _Handler)
        self.backend, self.served = backend, served
        self.lock = threading.Lock()


def completion(server: CompletionsServer, body: dict[str, Any]) -> dict[str, Any]:
    """The answer to one ``/v1/completions`` request body (raises ``ValueError`` for a bad request).

    For prompt tokens t0..tn the log-probabilities are [null, log p(t1 | t0), ..., log p(tn | t0..tn-1)].
    """
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
        prompt = prompt[0]  # a batch of one
    if isinstance(prompt, str):
        tokens = server.backend.encode(prompt, special=True)
    elif isinstance(prompt, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
        tokens = list(prompt)
    else:
        raise ValueError("prompt must be a string or a list of token ids (one prompt per request)")
    if not 1 <= len(tokens) <= server.backend.max_context:
        raise ValueError(f"prompt has {len(tokens)} tokens; this model takes 1 to {server.backend.max_context}")
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


class _Handler(BaseHTTPRequestHandler):
    server: CompletionsServer

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [{"id": self.server.served, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        if self.path.rstrip("/") not in ("/v1/completions", "/completions"):
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self._send(200, completion(self.server, body if isinstance(body, dict) else {}))
        except (ValueError, KeyError) as e:
            self._send(400, {"error": {"message": str(e), "type": "invalid_request_error"}})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # one line a request is noise here
        pass
