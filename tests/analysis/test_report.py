"""Leaderboard with the paper's rows, plots, and the HTML report checked in a real headless Chromium."""

import csv
import io
import json
import math
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import websocket

from compressiq import cli
from compressiq.analysis import report
from compressiq.analysis.leaderboard import gather, reference
from compressiq.analysis.plots import bars, scatter
from compressiq.analysis.scores import fit_areas
from compressiq.backends.testing import ByteBackend
from compressiq.core.corpus import Corpus, Document
from compressiq.core.runner import ScoreConfig, score

TEXTS = ["hello, world " * 9, "def f(x):\n    return x * 2\n" * 4, "Ünïcödé – text " * 5, "x = [1, 2, 3]\n" * 6]


class OtherByteBackend(ByteBackend):
    name = "byte-test-model-b"
    fingerprint = "b" * 64


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real stored runs (test-double models) on a corpus with cc and python documents."""
    out = tmp_path_factory.mktemp("results")
    corpus = Corpus("tiny", [Document(t, "python" if i % 2 else "cc") for i, t in enumerate(TEXTS * 3)])
    for backend in (ByteBackend(), OtherByteBackend()):
        score(backend, corpus, ScoreConfig(block=16, stride=5), out, batch_tokens=64)
    return out


@pytest.fixture(scope="module")
def scores_csv(results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic scores, falling with BPC, for every row of the leaderboard (stored and paper)."""
    path = tmp_path_factory.mktemp("scores") / "scores.csv"
    rows = ["model,benchmark,score,area"]
    for i, e in enumerate(gather(results, "paper")):
        rows.append(f"{e.model},hellaswag,{0.95 - 0.6 * e.bpc['cc'] + 0.01 * math.sin(i):.4f},knowledge")
        rows.append(f"{e.model},humaneval,{0.70 - 1.1 * e.bpc['python'] + 0.01 * math.cos(i):.4f},coding")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli.main(list(argv)) == 0
    return capsys.readouterr().out


def test_reference_rows_are_the_published_table() -> None:
    rows = reference("paper")
    assert len(rows) == 28 and rows[0].model == "Llama-3-70b"
    assert rows[0].bpc == {"cc": 0.496, "python": 0.204, "arxiv_math": 0.376}
    text = resources.files("compressiq").joinpath("data/reference/paper_bpc.csv").read_text(encoding="utf-8")
    published = {r["model"]: float(r["average"]) for r in csv.DictReader(io.StringIO(text))}
    for e in rows:  # inputs and average are rounded to 3 decimals: the mean of the three is within 1e-3
        assert sum(e.bpc.values()) / 3 == pytest.approx(published[e.model], abs=1e-3)


def test_leaderboard_with_reference_rows(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(capsys, "leaderboard", "--results", str(results), "--reference", "paper", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 30
    assert list(rows[0]) == [
        "model",
        "source",
        "corpus",
        "cc",
        "python",
        "arxiv_math",
        "average (cc, python)",
        "tokens",
    ]
    averages = [float(r["average (cc, python)"]) for r in rows]
    assert averages == sorted(averages)
    sources = {r["model"]: r["source"] for r in rows}
    assert sources["Llama-3-70b"] == "paper (paper protocol)"
    assert sources["byte-test-model"] == sources["byte-test-model-b"] == "stored (exact, testing)"
    stored = next(r for r in rows if r["model"] == "byte-test-model")
    assert stored["arxiv_math"] == "" and stored["tokens"] == "16/5"
    assert "nan" not in out.lower()


def test_leaderboard_reference_only_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(
        capsys, "leaderboard", "--results", str(tmp_path / "none"), "--reference", "paper", "--format", "markdown"
    )
    lines = out.strip().splitlines()
    assert lines[0] == "| model | source | corpus | cc | python | arxiv_math | average | tokens |"
    assert len(lines) == 2 + 28 and lines[2].startswith("| Llama-3-70b | paper (paper protocol) |")
    assert not (tmp_path / "none").exists()  # reading creates no store


def test_leaderboard_with_nothing_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["leaderboard", "--results", str(tmp_path)]) == 2
    assert "no results in" in capsys.readouterr().err


def test_leaderboard_prints_the_fit(results: Path, scores_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(capsys, "leaderboard", "--results", str(results), "--reference", "paper", "--scores", str(scores_csv))
    fit_lines = out.split("\n\n")[1].splitlines()
    assert fit_lines[0].split()[:4] == ["area", "subset", "models", "pearson"]
    assert [line.split()[:3] for line in fit_lines[1:]] == [["coding", "python", "30"], ["knowledge", "cc", "30"]]


def test_demo_leaderboard_still_in_cli(results: Path) -> None:
    from compressiq.analysis.leaderboard import leaderboard
    from compressiq.core.store import Store

    store = Store(results)
    text = leaderboard(store.runs())
    store.close()
    assert text.splitlines()[0].split() == ["model", "source", "corpus", "cc", "python", "average", "tokens"]


def test_plots_are_png_and_svg(results: Path, scores_csv: Path) -> None:
    from compressiq.analysis.scores import read_scores

    entries = gather(results, "paper")
    data, fit = fit_areas(read_scores(scores_csv), [(e.model, e.bpc) for e in entries], resamples=500)[0]
    for image in (scatter(data, fit, "png"), bars(entries, "png")):
        assert image.startswith(b"\x89PNG\r\n\x1a\n")
    for image in (scatter(data, fit, "svg"), bars(entries, "svg")):
        assert ET.fromstring(image).tag.endswith("svg")
    assert scatter(data, fit, "svg") == scatter(data, fit, "svg")  # deterministic


def test_report_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.html"
    report.write(path, "old")

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        report.write(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.html"]


# --- the report in a real browser, over the Chrome DevTools protocol -------------------------------


class DevTools:
    """A minimal DevTools protocol client: commands by id, events kept for the test to read."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws, self.last, self.events = ws, 0, []  # type: ignore[var-annotated]

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.last += 1
        message = {"id": self.last, "method": method, "params": params}
        self.ws.send(json.dumps(message | ({"sessionId": session} if session else {})))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.last:
                assert "error" not in msg, f"{method}: {msg['error']}"
                return dict(msg.get("result", {}))
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            assert time.monotonic() < deadline, f"no {method} within {timeout} s"
            self.events.append(json.loads(self.ws.recv()))


@contextmanager
def chromium(profile: Path) -> Iterator[DevTools]:
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(exe).exists(), "chromium is missing: .ci/run installs it with apt-get install chromium"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    flags += ["--disable-component-update", "--no-first-run", f"--user-data-dir={profile}", "--remote-debugging-port=0"]
    proc = subprocess.Popen([exe, *flags, "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file, deadline = profile / "DevToolsActivePort", time.monotonic() + 60
        while not port_file.is_file() or len(port_file.read_text().split()) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "chromium did not start"
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=30, suppress_origin=True)
        try:
            yield DevTools(ws)
        finally:
            ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


PAGE_FACTS = """Promise.all([...document.images].map(i => i.decode())).then(() => JSON.stringify({
  leaderboard: [...document.querySelectorAll('#leaderboard tbody tr')].map(r => r.cells[0].textContent),
  fits: [...document.querySelectorAll('#fits tbody tr')].map(r => r.cells[0].textContent),
  runs: [...document.querySelectorAll('#runs tbody tr')].map(r => r.textContent),
  intervals: document.querySelectorAll('#intervals tbody tr').length,
  images: [...document.images].map(i => i.naturalWidth),
}))"""


def test_report_in_headless_chromium(
    results: Path, scores_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    args = ("report", "--results", str(results), "--reference", "paper", "--scores", str(scores_csv))
    assert f"wrote {out}" in run_cli(capsys, *args, "--out", str(out))
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left
    with chromium(tmp_path / "profile") as browser:
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session)
        browser.send("Page.navigate", session, url=out.as_uri())
        browser.wait_for("Page.loadEventFired")
        value = browser.send("Runtime.evaluate", session, expression=PAGE_FACTS, awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in value, value
        facts = json.loads(value["result"]["value"])
        browser.send("Target.closeTarget", targetId=target)
    errors = [
        e
        for e in browser.events
        if e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert errors == []
    requests = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []  # self-contained
    assert len(facts["leaderboard"]) == 30 and "Llama-3-70b" in facts["leaderboard"]
    assert {"byte-test-model", "byte-test-model-b"} <= set(facts["leaderboard"])
    assert facts["fits"] == ["coding", "knowledge"]
    assert len(facts["images"]) == 7 and all(w > 0 for w in facts["images"])  # bars, two scatters, the paper's four
    assert len(facts["runs"]) == 2 and all('"protocol": "exact"' in r and "compressiq" in r for r in facts["runs"])
    assert facts["intervals"] == 4  # two runs x two subsets
