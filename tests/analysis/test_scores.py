"""Benchmark scores in: tidy tables, lm-evaluation-harness files, and every way a row can be wrong."""

import json
from pathlib import Path

import numpy as np
import pytest

from compressiq.analysis.scores import Score, area_means, fit_areas, join, read_scores
from compressiq.errors import CompressiqError

HARNESS = Path(__file__).parents[1] / "fixtures" / "harness"
TIDY = "model,benchmark,score,area\n"


def write(tmp_path: Path, text: str, name: str = "scores.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_tidy_csv_and_json_read_the_same(tmp_path: Path) -> None:
    rows = [
        ("m1", "hellaswag", 0.5, "knowledge"),
        ("m1", "humaneval", 0.1, "Coding"),
        ("m1", "gsm8k", 0.2, "arxiv_math"),
    ]
    csv_path = write(tmp_path, TIDY + "".join(f"{m},{b},{s},{a}\n" for m, b, s, a in rows))
    json_path = write(tmp_path, json.dumps([dict(zip(TIDY.strip().split(","), r)) for r in rows]), "scores.json")
    strip = [(s.model, s.benchmark, s.score, s.area) for s in read_scores(csv_path)]
    assert strip == [
        ("m1", "hellaswag", 0.5, "knowledge"),
        ("m1", "humaneval", 0.1, "coding"),
        ("m1", "gsm8k", 0.2, "math"),
    ]
    assert [(s.model, s.benchmark, s.score, s.area) for s in read_scores(json_path)] == strip


def test_harness_results_folder() -> None:
    scores = {(s.model, s.benchmark): (s.score, s.area) for s in read_scores(HARNESS)}
    assert scores == {
        ("org/model-a", "hellaswag"): (0.53, "knowledge"),  # acc_norm before acc
        ("org/model-a", "arc_challenge"): (0.31, "knowledge"),
        ("org/model-a", "mmlu"): (0.30, "knowledge"),  # the group, not its subtasks
        ("org/model-a", "gsm8k"): (0.05, "math"),  # strict-match before flexible-extract
        ("model-b", "hellaswag"): (0.60, "knowledge"),  # model_name before model_args
        ("model-b", "arc_challenge"): (0.36, "knowledge"),
        ("model-b", "mmlu"): (0.35, "knowledge"),
        ("model-b", "gsm8k"): (0.10, "math"),
    }


def test_harness_unknown_task_is_named(tmp_path: Path) -> None:
    doc = {"results": {"hellaswag": {"acc,none": 0.5}, "my_task": {"acc,none": 0.1}}, "model_name": "m"}
    with pytest.raises(CompressiqError, match="no known area: my_task"):
        read_scores(write(tmp_path, json.dumps(doc), "r.json"))


BAD = {
    "duplicate": (
        TIDY + "m1,hellaswag,0.5,knowledge\nm2,hellaswag,0.4,knowledge\nm1,hellaswag,0.6,knowledge\n",
        r"duplicate scores: m1 / hellaswag \(.*row 2 and .*row 4\)",
    ),
    "non-numeric": (
        TIDY + "m1,hellaswag,0.5,knowledge\nm2,hellaswag,high,knowledge\n",
        r"row 3 \(m2, hellaswag, score='high'",
    ),
    "nan": (TIDY + "m1,hellaswag,nan,knowledge\n", r"row 2 \(m1, hellaswag, score='nan'"),
    "empty score": (TIDY + "m1,hellaswag,,knowledge\n", r"row 2 \(m1"),
    "unknown area": (TIDY + "m1,hellaswag,0.5,vibes\n", r"row 2 .*area='vibes'"),
    "missing column": ("model,benchmark,score\nm1,hellaswag,0.5\n", "missing columns: area"),
    "empty table": (TIDY, "no rows"),
}


@pytest.mark.parametrize(("text", "message"), BAD.values(), ids=BAD.keys())
def test_bad_tables_name_the_rows(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CompressiqError, match=message):
        read_scores(write(tmp_path, text))


def scores(*rows: tuple[str, str, float, str]) -> list[Score]:
    return [Score(*r) for r in rows]


def test_area_means_average_benchmarks() -> None:
    s = scores(("a", "x", 0.2, "knowledge"), ("a", "y", 0.4, "knowledge"), ("b", "x", 0.5, "knowledge"))
    with pytest.raises(CompressiqError, match="b lacks y"):
        area_means(s)
    assert area_means(s + scores(("b", "y", 0.7, "knowledge")))["knowledge"] == pytest.approx({"a": 0.3, "b": 0.6})


BPC = [("a", {"cc": 0.9, "python": 0.5}), ("b", {"cc": 0.7, "python": 0.4}), ("c", {"cc": 0.8})]
KNOWLEDGE = scores(("a", "x", 0.2, "knowledge"), ("b", "x", 0.6, "knowledge"), ("c", "x", 0.4, "knowledge"))


def test_join_pairs_area_with_subset() -> None:
    (data,) = join(KNOWLEDGE, BPC)
    assert (data.area, data.subset, data.models) == ("knowledge", "cc", ("b", "c", "a"))  # best BPC first
    assert data.bpc.tolist() == [0.7, 0.8, 0.9] and data.score.tolist() == [0.6, 0.4, 0.2]
    ((_, f),) = fit_areas(KNOWLEDGE, BPC, resamples=200)
    assert f.pearson.value == pytest.approx(-1.0) and f.linear.slope == pytest.approx(-2.0)


JOIN_ERRORS = {
    "scores without bpc": (
        KNOWLEDGE + scores(("d", "x", 0.1, "knowledge")),
        BPC,
        "scores for models with no cc BPC: d",
    ),
    "bpc without scores": (KNOWLEDGE[:2], BPC, "cc BPC for models with no scores: c"),
    "no subset": (scores(("a", "h", 0.1, "coding"), ("c", "h", 0.2, "coding")), BPC, "no python BPC: c"),
    "model twice": (KNOWLEDGE, BPC + [("a", {"cc": 1.0})], "more than one run or source: a"),
    "two models": (KNOWLEDGE[:2], BPC[:2], "at least 3 models"),
}


@pytest.mark.parametrize(("given", "bpc", "message"), JOIN_ERRORS.values(), ids=JOIN_ERRORS.keys())
def test_join_errors_name_the_models(given: list[Score], bpc: list, message: str) -> None:
    with pytest.raises(CompressiqError, match=message):
        fit_areas(given, bpc, resamples=100)


def test_no_nan_reaches_a_fit() -> None:
    ((_, f),) = fit_areas(KNOWLEDGE, BPC, resamples=200)
    assert all(np.isfinite([f.pearson.low, f.pearson.high, f.spearman.value, f.linear.rmse, f.logarithmic.rmse]))
