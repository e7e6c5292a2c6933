"""``compressiq reproduce paper``: the published coefficients from the shipped tables, and stored runs placed."""

import csv
import io
import json
import math
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from compressiq import cli
from compressiq.analysis import paper, plots
from compressiq.analysis.predict import place, prediction
from compressiq.analysis.stats import band, fit_line
from compressiq.backends.testing import ByteBackend
from compressiq.core.corpus import Corpus, Document
from compressiq.core.runner import ScoreConfig, score
from compressiq.core.store import Store
from tests.analysis.test_report import chromium

PUBLISHED = {(p.area, p.benchmark): p for p in paper.published()}
EXCEPTION = ("math", "MMLU-Math")  # printed -0.916; -0.912 without the Qwen models, -0.915 with them
VARIANT = ("overall", paper.ALL_BENCHMARKS)  # Appendix A.3's recipe: not the one that gives Figure 1
TEXTS = ["hello, world " * 9, "def f(x):\n    return x * 2\n" * 4, "$x^2 + y^2 = z^2$ holds " * 5]
SUBSETS = ("cc", "python", "arxiv_math")


def reference(name: str) -> list[dict[str, str]]:
    text = resources.files("compressiq").joinpath("data/reference", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli.main(list(argv)) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two stored runs of the test double: one on the paper's corpus with --protocol paper, one not."""
    out = tmp_path_factory.mktemp("results")
    docs = [Document(t, s) for _ in range(3) for t, s in zip(TEXTS, SUBSETS)]
    score(
        ByteBackend(), Corpus("hkust-nlp/llm-compression", docs), ScoreConfig(protocol="paper", block=16, stride=5), out
    )
    score(ByteBackend(), Corpus("demo", docs), ScoreConfig(block=16, stride=5), out)
    return out


# --- the shipped tables ---------------------------------------------------------------------------


def test_shipped_tables_are_the_papers() -> None:
    rows = reference("paper_scores.csv")
    assert len({r["model"] for r in rows}) == 31
    assert len({r["benchmark"] for r in rows} - {"Average"}) == 12
    by = {(r["model"], r["area"], r["benchmark"]): float(r["score"]) for r in rows}
    for (model, area, bench), average in by.items():  # the printed average is the mean of the printed scores
        if bench == "Average":
            mine = [v for (m, a, b), v in by.items() if m == model and a == area and b != "Average"]
            assert average == pytest.approx(sum(mine) / len(mine), abs=0.051), (model, area)
    bpc = {(r["model"], r["subset"]): float(r["bpc"]) for r in reference("paper_bpc_appendix.csv")}
    shared = [r for r in reference("paper_bpc.csv") if (r["model"], "cc") in bpc]
    assert len(shared) == 18 and all(bpc[(r["model"], s)] == float(r[s]) for r in shared for s in SUBSETS)
    assert len(paper.general_models()) == 19 and "Jamba-52b" in paper.general_models()


# --- every coefficient against the print ----------------------------------------------------------


@pytest.mark.parametrize("key", [k for k in PUBLISHED if k not in (EXCEPTION, VARIANT)], ids=" ".join)
def test_coefficient_matches_the_print(key: tuple[str, str]) -> None:
    row = next(r for r in paper.reproduce() if (r.area, r.benchmark) == key)
    assert abs(row.recomputed - row.published) <= paper.TOLERANCE
    assert abs(row.rmse_recomputed - row.rmse_published) <= paper.TOLERANCE
    assert row.note == "" and row.models == {"knowledge": 19, "coding": 28, "math": 19, "overall": 19}[key[0]]


def test_mmlu_math_is_the_documented_exception() -> None:
    row = next(r for r in paper.reproduce() if (r.area, r.benchmark) == EXCEPTION)
    assert round(row.recomputed, 3) == -0.912 and row.published == -0.916
    kept = paper.series(*EXCEPTION, exclude=False)
    assert len(kept.models) == 22 and round(scipy_stats.pearsonr(kept.bpc, kept.score)[0], 3) == -0.915
    assert "differs by +0.004" in row.note and "kept: ρ -0.915, nearer the print" in row.note


def test_overall_figure_against_an_independent_computation() -> None:
    """Figure 1 from the raw CSV rows with scipy: -0.931, RMSE 0.031; the mean of 12 benchmarks gives -0.942."""
    scores: dict[str, dict[tuple[str, str], float]] = {}
    for r in reference("paper_scores.csv"):
        scores.setdefault(r["model"], {})[(r["area"], r["benchmark"])] = float(r["score"]) / 100
    bpc: dict[str, list[float]] = {}
    for r in reference("paper_bpc_appendix.csv"):
        bpc.setdefault(r["model"], []).append(float(r["bpc"]))
    general = [m for m, s in scores.items() if {a for a, _ in s} == {"knowledge", "coding", "math"}]
    x = np.array([sum(bpc[m]) / 3 for m in general])
    for recipe, y, rho, rmse in [
        ("Average", [sum(v for (a, b), v in scores[m].items() if b == "Average") / 3 for m in general], -0.931, 0.031),
        (paper.ALL_BENCHMARKS, [np.mean([v for (a, b), v in scores[m].items() if b != "Average"]) for m in general],
         -0.942, 0.027),
    ]:  # fmt: skip
        fit = scipy_stats.linregress(x, y)
        residual_rmse = math.sqrt(np.mean((np.array(y) - (fit.slope * x + fit.intercept)) ** 2))
        row = next(r for r in paper.reproduce() if (r.area, r.benchmark) == ("overall", recipe))
        assert row.models == len(general) == 19
        assert row.recomputed == pytest.approx(fit.rvalue, abs=1e-12) and round(row.recomputed, 3) == rho
        assert row.rmse_recomputed == pytest.approx(residual_rmse, abs=1e-12) and round(residual_rmse, 3) == rmse
    assert "does not give Figure 1's value" in next(r for r in paper.reproduce() if r.benchmark == recipe).note


def test_cli_prints_every_row_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(capsys, "reproduce", "paper")
    assert "math without Qwen-7b, Qwen-14b, Qwen-72b" in out and "knowledge ↔ cc" in out
    lines = out.splitlines()
    assert sum(line.startswith(("knowledge ", "coding ", "math ", "overall ")) for line in lines) == 17
    doc = json.loads(run_cli(capsys, "reproduce", "paper", "--format", "json"))
    assert len(doc["rows"]) == 17 and doc["placed"] == []
    keys = ["area", "benchmark", "published", "recomputed", "rmse_published", "rmse_recomputed", "models"]
    assert all(set(keys) <= set(r) for r in doc["rows"])
    overall = next(r for r in doc["rows"] if (r["area"], r["benchmark"]) == ("overall", "Average"))
    assert overall["published"] == -0.931 and abs(overall["recomputed"] + 0.931) < 0.0005
    csv_rows = list(csv.DictReader(io.StringIO(run_cli(capsys, "reproduce", "paper", "--format", "csv"))))
    assert [(r["area"], r["benchmark"]) for r in csv_rows] == [(r["area"], r["benchmark"]) for r in doc["rows"]]


# --- the prediction interval ----------------------------------------------------------------------


def test_prediction_interval_by_hand() -> None:
    """bpc [1, 2, 3, 4], score [2, 3, 5, 6]: line 1.4 x + 0.5, s² = 0.2 / 2; at 5 the spread is sqrt(2.5)."""
    x, y = np.array([1.0, 2, 3, 4]), np.array([2.0, 3, 5, 6])
    line = fit_line(x, y)
    assert (line.slope, line.intercept) == pytest.approx((1.4, 0.5))
    se = math.sqrt(0.2 / 2) * math.sqrt(1 + 1 / 4 + (5 - 2.5) ** 2 / 5)  # = 0.5
    t = (2 * 0.975 - 1) / math.sqrt(2 * 0.975 * 0.025)  # Student's t with 2 degrees of freedom, in closed form
    got = prediction(x, y, line, 5.0)
    assert se == pytest.approx(0.5) and t == pytest.approx(4.3027, abs=1e-4)
    assert (got.value, got.low, got.high) == pytest.approx((7.5, 7.5 - t * se, 7.5 + t * se), abs=1e-9)
    low, high = band(x, y, line, np.array([5.0]))  # the line's confidence band is narrower: no "1 +"
    assert got.low < low[0] < high[0] < got.high


def test_prediction_interval_covers_new_models() -> None:
    """On simulated lines, 95 % of new points fall inside their interval (a confidence band would not)."""
    rng = np.random.default_rng(0)
    x = np.linspace(0.4, 0.7, 19)
    hits = 0
    for _ in range(1000):
        y = 1.5 - 2 * x + rng.normal(0, 0.03, len(x))
        at = rng.uniform(0.3, 0.8)
        got = prediction(x, y, fit_line(x, y), at)
        hits += got.low <= 1.5 - 2 * at + rng.normal(0, 0.03) <= got.high
    assert 0.93 <= hits / 1000 <= 0.97


# --- stored runs on the lines ---------------------------------------------------------------------


def test_non_comparable_run_is_refused(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["reproduce", "paper", "--with-stored", "--results", str(results)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1
    assert "not comparable to the published BPC" in err[0] and "corpus demo is not the paper's" in err[0]
    assert "protocol exact, not --protocol paper" in err[0] and "--allow-other-corpus" in err[0]


def test_no_stored_runs_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["reproduce", "paper", "--with-stored", "--results", str(tmp_path / "none")]) == 2
    assert "no stored runs in" in capsys.readouterr().err and not (tmp_path / "none").exists()


def test_runs_placed_with_predictions_and_residuals(
    results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scores_csv = tmp_path / "scores.csv"
    scores_csv.write_text("model,benchmark,score,area\nbyte-test-model,hellaswag,0.25,knowledge\n", encoding="utf-8")
    argv = ["reproduce", "paper", "--with-stored", "--allow-other-corpus", "--results", str(results)]
    doc = json.loads(run_cli(capsys, *argv, "--scores", str(scores_csv), "--format", "json"))
    store = Store(results, readonly=True)
    runs = {r.corpus: r for r in store.runs()}
    store.close()
    lines = {f.series.area: f for f in paper.lines()}
    placed = doc["placed"]
    assert len(placed) == 2 * 4  # two runs, each on the three areas and Figure 1
    for p in placed:
        run = next(r for r in runs.values() if r.run_id == p["run"])
        fit = lines[p["area"]]
        x = np.mean([run.subsets[s].bpc for s in SUBSETS]) if p["area"] == "overall" else run.subsets[p["subset"]].bpc
        expected = prediction(fit.series.bpc, fit.series.score, fit.linear, float(x))
        want = (x, expected.value, expected.low, expected.high)
        assert (p["bpc"], p["predicted"], p["low"], p["high"]) == pytest.approx(want)
        assert p["predicted_log"] == pytest.approx(float(fit.logarithmic(np.array([x]))[0]))
        assert p["comparable"] == (run.corpus == "hkust-nlp/llm-compression")
        assert ("not comparable: corpus demo" in p["note"]) == (not p["comparable"])
        has_actual = p["area"] == "knowledge"
        assert p["residual"] == (pytest.approx(0.25 - p["predicted"]) if has_actual else None)
    text = run_cli(capsys, *argv)
    assert "Stored runs on the lines" in text and "not comparable: corpus demo" in text


def test_comparable_run_placed_without_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = [Document(t, s) for t, s in zip(TEXTS, SUBSETS)]
    corpus = Corpus("hkust-nlp/llm-compression:cc", docs)
    score(ByteBackend(), corpus, ScoreConfig(protocol="paper", block=16, stride=5), tmp_path)
    doc = json.loads(
        run_cli(capsys, "reproduce", "paper", "--with-stored", "--results", str(tmp_path), "--format", "json")
    )
    assert [p["area"] for p in doc["placed"]] == ["knowledge", "coding", "math", "overall"]
    assert all(p["comparable"] and p["note"].startswith("extrapolated: BPC outside") for p in doc["placed"])


def test_percent_scores_are_refused(results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scores_csv = tmp_path / "scores.csv"
    scores_csv.write_text("model,benchmark,score,area\nbyte-test-model,hellaswag,25,knowledge\n", encoding="utf-8")
    argv = ["reproduce", "paper", "--with-stored", "--allow-other-corpus", "--results", str(results)]
    assert cli.main([*argv, "--scores", str(scores_csv)]) == 2
    assert "0–1 scale" in capsys.readouterr().err


# --- the figures ----------------------------------------------------------------------------------


def test_panels_png_and_svg(results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(results, readonly=True)
    runs = store.runs()
    store.close()
    fits = paper.lines()
    placed = place(runs, fits, {})
    for fit in fits:
        mine = [p for p in placed if p.area == fit.series.area]
        assert plots.line_panel(fit, mine, "png").startswith(b"\x89PNG\r\n\x1a\n")
        svg = plots.line_panel(fit, mine, "svg")
        assert ET.fromstring(svg).tag.endswith("svg") and svg == plots.line_panel(fit, mine, "svg")
    run_cli(capsys, "reproduce", "paper", "--plots", str(tmp_path / "fig"), "--plot-format", "svg")
    assert sorted(p.name for p in (tmp_path / "fig").iterdir()) == [
        "coding.svg", "figure1.svg", "knowledge.svg", "math.svg"
    ]  # fmt: skip


PAGE_FACTS = """const rows = id => [...document.querySelectorAll(`#${id} tbody tr`)]
  .map(r => r.cells[0].textContent + ' ' + r.cells[1].textContent);
Promise.all([...document.images].map(i => i.decode())).then(() => JSON.stringify({
  paper: rows('paper'),
  placed: rows('placed'),
  images: [...document.images].map(i => [i.alt, i.naturalWidth]),
  text: document.body.innerText,
}))"""


def test_report_shows_figure1_and_the_panels(results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    run_cli(capsys, "report", "--results", str(results), "--reference", "paper", "--out", str(out))
    with chromium(tmp_path / "profile") as browser:
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session)
        browser.send("Page.navigate", session, url=out.as_uri())
        browser.wait_for("Page.loadEventFired")
        value = browser.send("Runtime.evaluate", session, expression=PAGE_FACTS, awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in value, value
        facts = json.loads(value["result"]["value"])
        browser.send("Target.closeTarget", targetId=target)
    errors = [e for e in browser.events if e.get("method") in ("Runtime.exceptionThrown", "Log.entryAdded")]
    assert [e for e in errors if e["params"].get("entry", {}).get("level", "error") == "error"] == []
    assert len(facts["paper"]) == 17 and facts["paper"][-2] == "overall Average"
    assert all(width > 0 for _, width in facts["images"])
    assert [alt for alt, _ in facts["images"] if "score against BPC" in alt] == [
        "Knowledge & commonsense: average score against BPC",
        "Coding: average score against BPC",
        "Mathematical reasoning: average score against BPC",
        "Figure 1: overall score against BPC",
    ]
    assert facts["placed"] == ["byte-test-model knowledge", "byte-test-model coding", "byte-test-model math",
                               "byte-test-model overall"]  # fmt: skip
    assert "Not placed, not comparable to the published BPC: byte-test-model (corpus demo" in facts["text"]
