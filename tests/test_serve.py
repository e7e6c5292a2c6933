"""``compressiq serve`` under hostile requests: every one gets a JSON 4xx, and the server still answers.

Two servers: ``CompletionsServer`` in this process on the byte-level test double (fast, every case,
limits lowered where sending the real limit would cost seconds), and the real ``compressiq serve``
process on SmolLM2 with llama.cpp kernels, behind an API key, whose good answer is checked against the
same kernels loaded here. Requests go over raw sockets on 127.0.0.1, so malformed HTTP reaches the
server as sent; every server is stopped in a ``finally``, whatever the test did.
"""

import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from compressiq import serve
from compressiq.backends.testing import VOCAB, ByteBackend
from compressiq.core import registry
from compressiq.serve import CompletionsServer

KEY = "s3cret-key"


class Answer(NamedTuple):
    status: int
    body: dict[str, Any]
    seconds: float


def request(port: int, raw: bytes, hold: bool = False, timeout: float = 20) -> Answer:
    """Send ``raw`` bytes as they are, read the whole answer (the server closes after one).

    ``hold``: keep our side open after sending (a client that promised more body than it sent)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        if not hold:
            s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1."), f"no HTTP answer: {data[:200]!r}"
    return Answer(int(head.split()[1]), json.loads(body), time.monotonic() - start)


def post(body: bytes, length: str | None = "auto", key: str | None = KEY, path: str = "/v1/completions") -> bytes:
    """A POST as raw bytes; ``length``: the Content-Length header as written ("auto": the true one, None: none)."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {len(body) if length == 'auto' else length}")
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def prompt(tokens: list[int], **fields: Any) -> bytes:
    return json.dumps({"prompt": tokens, "echo": True, "logprobs": 1} | fields).encode()


def hostile(vocab: int) -> list[tuple[str, bytes, int]]:
    """(case, request, expected status): the requests the issue found dropped, hung or accepted."""
    deep = b"[" * 100_000 + b"]" * 100_000
    return [
        ("id-huge", post(prompt([1, 10**9])), 400),
        ("id-negative", post(prompt([1, -1])), 400),
        ("id-vocab", post(prompt([1, vocab])), 400),
        ("id-bool", post(prompt([1, True])), 400),
        ("deep-json", post(deep), 400),
        ("deep-prompt", post(b'{"prompt": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}"), 400),
        ("bad-json", post(b'{"prompt": [1, 2'), 400),
        ("not-utf8", post(b'{"prompt": "\xff\xfe"}'), 400),
        ("not-object", post(b"[1, 2, 3]"), 400),
        ("logprobs-negative", post(prompt([1, 2], logprobs=-1)), 400),
        ("logprobs-huge", post(prompt([1, 2], logprobs=10**6)), 400),
        ("echo-not-bool", post(prompt([1, 2], echo="yes")), 400),
        ("length-negative", post(prompt([1, 2]), length="-1"), 400),
        ("length-junk", post(prompt([1, 2]), length="12abc"), 400),
        ("length-huge", post(prompt([1, 2]), length="99999999999999"), 413),
        ("length-5000-digits", post(prompt([1, 2]), length="9" * 5000), 413),
        ("length-missing", post(prompt([1, 2]), length=None), 411),
        (
            "length-twice",
            post(prompt([1, 2])).replace(b"Content-Length:", b"Content-Length: 1\r\nContent-Length:"),
            400,
        ),
        ("body-short-closed", post(prompt([1, 2]), length="500")[:-3], 400),
        ("no-key", post(prompt([1, 2]), key=None), 401),
        ("wrong-key", post(prompt([1, 2]), key=KEY + "x"), 401),
        ("wrong-route", post(prompt([1, 2]), path="/v1/chat"), 404),
    ]


def check_hostile(port: int, vocab: int) -> None:
    for case, raw, status in hostile(vocab):
        answer = request(port, raw)
        assert answer.status == status, (case, answer)
        assert answer.body["error"]["message"], case


def check_short_body_times_out(port: int, timeout: float) -> None:
    """A client that declares 500 bytes, sends 3 and waits: 408 after the timeout, and meanwhile the
    server answers others (the waiting thread holds no lock)."""
    result: list[Answer] = []
    waiting = threading.Thread(target=lambda: result.append(request(port, post(b"{ }", "500"), hold=True)))
    waiting.start()
    try:
        assert request(port, post(prompt([1, 2]))).status == 200
    finally:
        waiting.join(timeout + 20)
    (answer,) = result
    assert answer.status == 408 and timeout * 0.8 <= answer.seconds < timeout + 10, answer


# --- in process, on the test double ---------------------------------------------------------------------


@pytest.fixture
def double() -> Iterator[CompletionsServer]:
    server = CompletionsServer(ByteBackend(max_context=64), "byte", port=0, api_key=KEY, timeout=1.0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_hostile_requests_get_4xx_and_the_server_still_answers(double: CompletionsServer) -> None:
    port = double.server_port
    check_hostile(port, VOCAB)
    check_short_body_times_out(port, 1.0)
    tokens = ByteBackend().encode("hostile, then fine")
    answer = request(port, post(prompt(tokens)))
    want = [None, *ByteBackend().logprobs([(tokens, len(tokens) - 1)])[0].tolist()]
    assert answer.status == 200 and answer.body["choices"][0]["logprobs"]["token_logprobs"] == want


def test_a_body_over_the_limit_is_413(double: CompletionsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """An honest body over ``MAX_BODY_BYTES`` (lowered here: 16 MiB is slow to send) is refused unread."""
    monkeypatch.setattr(serve, "MAX_BODY_BYTES", 1000)
    body = prompt([1] * 500)
    assert len(body) > 1000
    assert request(double.server_port, post(body)).status == 413
    assert request(double.server_port, post(prompt([1] * 10))).status == 200


def test_ids_at_the_vocabulary_edge(double: CompletionsServer) -> None:
    """The last id is a token; one past it is not, nor is a prompt over the context."""
    assert request(double.server_port, post(prompt([0, VOCAB - 1]))).status == 200
    assert (
        request(double.server_port, post(prompt([0, VOCAB])))
        .body["error"]["message"]
        .startswith(f"token id {VOCAB} is out of range: this model's ids are 0 to {VOCAB - 1}")
    )
    assert request(double.server_port, post(prompt([1] * 65))).status == 400


def test_nesting_is_counted_without_recursion() -> None:
    assert serve.nesting({"prompt": [[1, 2]]}) == 3 and serve.nesting([]) == 1 and serve.nesting(5) == 0
    deep: Any = []
    for _ in range(50_000):  # deeper than any recursion limit
        deep = [deep]
    assert serve.nesting(deep) == 50_001


def test_api_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from compressiq.cli.serve import api_key
    from compressiq.errors import CompressiqError

    monkeypatch.setenv("COMPRESSIQ_API_KEY", "from-env")
    assert api_key(None) == "from-env" and api_key("given") == "given"
    monkeypatch.setenv("COMPRESSIQ_API_KEY", "")
    assert api_key(None) is None
    with pytest.raises(CompressiqError, match="--api-key is empty"):
        api_key(" ")


# --- the real process, on SmolLM2 ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """``compressiq serve`` on SmolLM2 (llama.cpp kernels), key from the environment, 2 s request timeout."""
    port, log = free_port(), tmp_path_factory.mktemp("serve") / "log.txt"
    cmd = [sys.executable, "-m", "compressiq.cli", "serve", "--model", "smollm2-135m", "--backend", "llamacpp"]
    env = os.environ | {"COMPRESSIQ_API_KEY": KEY}
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--timeout", "2"], stdout=log.open("w"), stderr=subprocess.STDOUT, env=env
    )
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if request(port, b"GET /v1/models HTTP/1.0\r\n\r\n", timeout=5).status == 401:  # up, key required
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"compressiq serve did not start: {log.read_text()[-2000:]}")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_served_process_answers_hostile_requests_then_a_good_one(served: int) -> None:
    from compressiq.backends.llamacpp import load_llamacpp

    local = load_llamacpp(registry.locate(registry.resolve("smollm2-135m")), "smollm2-135m")
    assert local.vocab_size() == 49152
    check_hostile(served, local.vocab_size())
    check_short_body_times_out(served, 2.0)
    tokens = local.encode("The server still answers after every hostile request.")
    answer = request(served, post(prompt(tokens, model="x")))
    assert answer.status == 200, answer
    got = answer.body["choices"][0]["logprobs"]["token_logprobs"]
    want = local.logprobs([(tokens, len(tokens) - 1)])[0]
    assert got[0] is None and len(got) == len(tokens)
    assert all(math.isclose(g, w, rel_tol=1e-6, abs_tol=1e-6) for g, w in zip(got[1:], want)), (got, want)
    models = request(served, f"GET /v1/models HTTP/1.0\r\nAuthorization: Bearer {KEY}\r\n\r\n".encode())
    assert models.status == 200 and models.body["data"][0]["id"] == "smollm2-135m"


def test_serve_refuses_a_taken_port(capsys: pytest.CaptureFixture[str]) -> None:
    """A port in use is one error line (once an ``OSError`` traceback), after the model loaded."""
    from compressiq.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        code = main(["serve", "--model", "smollm2-135m", "--backend", "llamacpp", "--port", str(s.getsockname()[1])])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("compressiq: error: cannot listen on 127.0.0.1:"), err
