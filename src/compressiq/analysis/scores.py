"""Benchmark scores in: a tidy table, or lm-evaluation-harness result files; joined to BPC by area.

The paper pairs three areas of benchmarks with three subsets of text: knowledge & commonsense
with ``cc``, coding with ``python``, mathematical reasoning with ``arxiv_math``. A model's score
in an area is the mean of its benchmarks there. Every row is accounted for: a duplicate, a
non-number, an unknown area or task, or a model on one side of the join only is an error that
names the rows, never a silent drop.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compressiq.analysis.stats import RESAMPLES, Array, Fit, fit
from compressiq.errors import CompressiqError

AREAS = {"knowledge": "cc", "coding": "python", "math": "arxiv_math"}
AREA_TITLES = {"knowledge": "Knowledge & commonsense", "coding": "Coding", "math": "Mathematical reasoning"}
ALIASES = {
    "knowledge & commonsense": "knowledge",
    "knowledge and commonsense": "knowledge",
    "commonsense": "knowledge",
    "code": "coding",
    "mathematical reasoning": "math",
    "mathematics": "math",
    "reasoning": "math",
    **{subset: area for area, subset in AREAS.items()},
}
# lm-evaluation-harness task (or group) -> area, after the paper's choice of benchmarks.
HARNESS_TASKS = {
    **dict.fromkeys(
        ["hellaswag", "winogrande", "piqa", "siqa", "social_iqa", "arc_easy", "arc_challenge", "openbookqa"],
        "knowledge",
    ),
    **dict.fromkeys(["boolq", "nq_open", "triviaqa", "mmlu", "commonsense_qa"], "knowledge"),
    **dict.fromkeys(["humaneval", "humaneval_instruct", "mbpp", "mbpp_plus", "ds1000"], "coding"),
    **dict.fromkeys(["gsm8k", "gsm8k_cot", "minerva_math", "hendrycks_math", "math", "theoremqa"], "math"),
}
METRICS = ("acc_norm,none", "acc,none", "exact_match,strict-match", "exact_match,none", "pass@1,none")
METRIC_PREFIXES = ("acc_norm,", "acc,", "exact_match,", "pass@1,", "pass_at_1,")
COLUMNS = ("model", "benchmark", "score", "area")


@dataclass(frozen=True)
class Score:
    """One model's score on one benchmark; ``area`` is one of ``AREAS``; ``where`` locates the row."""

    model: str
    benchmark: str
    score: float
    area: str
    where: str = ""


@dataclass(frozen=True)
class AreaData:
    """The models of one area, each with its BPC on the area's subset and its mean score there."""

    area: str
    subset: str
    models: tuple[str, ...]
    bpc: Array
    score: Array


def read_scores(path: Path) -> list[Score]:
    """Scores from a tidy CSV/JSON table (model, benchmark, score, area) or harness result JSON.

    A folder is read as harness result files (``*.json``, recursively). Duplicates are refused.
    """
    if path.is_dir():
        files = sorted(path.rglob("*.json"))
        if not files:
            raise CompressiqError(f"no .json result files in {path}")
        scores = [s for f in files for s in from_harness(_load_json(f), str(f))]
    elif not path.is_file():
        raise CompressiqError(f"no such scores file: {path}")
    elif path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            scores = tidy(list(csv.DictReader(f)), str(path), first_line=2)
    else:
        doc = _load_json(path)
        scores = from_harness(doc, str(path)) if isinstance(doc, dict) and "results" in doc else tidy(doc, str(path))
    check_unique(scores)
    return scores


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CompressiqError(f"{path} is not valid JSON: {e}") from e


def tidy(records: Any, where: str, first_line: int = 1) -> list[Score]:
    """Validate tidy rows; every bad row is named (CSV line numbers count the header as line 1)."""
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise CompressiqError(f"{where}: expected a table of rows with columns {', '.join(COLUMNS)}")
    missing = [c for c in COLUMNS if records and c not in records[0]]
    if missing or not records:
        raise CompressiqError(f"{where}: no rows, or missing columns: {', '.join(missing) or '(empty table)'}")
    scores, bad = [], []
    for i, r in enumerate(records, first_line):
        label = f"row {i} ({r.get('model')}, {r.get('benchmark')}, score={r.get('score')!r}, area={r.get('area')!r})"
        value, area = _number(r.get("score")), _area(r.get("area"))
        if value is None or area is None or not str(r.get("model") or "").strip() or not r.get("benchmark"):
            bad.append(label)
            continue
        scores.append(Score(str(r["model"]).strip(), str(r["benchmark"]).strip(), value, area, f"{where} row {i}"))
    if bad:
        areas = ", ".join(AREAS)
        raise CompressiqError(
            f"{where}: rows need a model, a benchmark, a finite score and an area ({areas}): " + "; ".join(bad)
        )
    return scores


def _number(value: object) -> float | None:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and not isinstance(value, bool) else None


def _area(value: object) -> str | None:
    name = str(value or "").strip().lower()
    return name if name in AREAS else ALIASES.get(name)


def from_harness(doc: Any, where: str) -> list[Score]:
    """Scores from one lm-evaluation-harness results JSON: its ``results`` (task -> metrics).

    Subtasks of a group that has its own result (``group_subtasks``) are represented by the group.
    The metric is the first of ``acc_norm``, ``acc``, ``exact_match``, ``pass@1`` a task reports.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise CompressiqError(f"{where}: not an lm-evaluation-harness results file (no 'results' object)")
    model, results = _harness_model(doc, where), doc["results"]
    members = {t for group, subs in (doc.get("group_subtasks") or {}).items() if group in results for t in subs}
    tasks = [t for t in results if t not in members]
    unknown = [t for t in tasks if t not in HARNESS_TASKS]
    if unknown:
        raise CompressiqError(
            f"{where}: tasks with no known area: {', '.join(unknown)};"
            " give scores as a tidy table (model, benchmark, score, area)"
        )
    return [Score(model, t, _metric(results[t], f"{where} task {t}"), HARNESS_TASKS[t], f"{where} {t}") for t in tasks]


def _harness_model(doc: dict[str, Any], where: str) -> str:
    if doc.get("model_name"):
        return str(doc["model_name"])
    args = (doc.get("config") or {}).get("model_args")
    if isinstance(args, str):
        args = dict(part.split("=", 1) for part in args.split(",") if "=" in part)
    if isinstance(args, dict) and args.get("pretrained"):
        return str(args["pretrained"])
    raise CompressiqError(f"{where}: no model name (neither model_name nor config.model_args pretrained=...)")


def _metric(metrics: Any, where: str) -> float:
    keys = [k for k in METRICS if k in metrics]
    keys += sorted(k for k in metrics if k.startswith(METRIC_PREFIXES) and "stderr" not in k)
    for key in keys:
        value = _number(metrics[key])
        if value is not None:
            return value
    raise CompressiqError(f"{where}: no numeric acc_norm, acc, exact_match or pass@1 metric")


def check_unique(scores: Sequence[Score]) -> None:
    """One score per (model, benchmark): a second one is ambiguous, so both rows are named."""
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    for s in scores:
        seen[(s.model, s.benchmark)].append(s.where)
    dups = [f"{m} / {b} ({' and '.join(w)})" for (m, b), w in seen.items() if len(w) > 1]
    if dups:
        raise CompressiqError("duplicate scores: " + "; ".join(dups))


def area_means(scores: Sequence[Score]) -> dict[str, dict[str, float]]:
    """Area -> model -> mean score over the area's benchmarks; every model must have them all."""
    by_area: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for s in scores:
        by_area[s.area][s.model][s.benchmark] = s.score
    out = {}
    for area, models in by_area.items():
        benchmarks = set().union(*models.values())
        gaps = [
            f"{m} lacks {', '.join(sorted(benchmarks - set(b)))}" for m, b in models.items() if set(b) != benchmarks
        ]
        if gaps:
            raise CompressiqError(f"area {area}: models must share the same benchmarks: " + "; ".join(gaps))
        out[area] = {m: sum(b.values()) / len(b) for m, b in models.items()}
    return out


def join(scores: Sequence[Score], bpc: Sequence[tuple[str, Mapping[str, float]]]) -> list[AreaData]:
    """Pair each scored area with the BPC of the area's subset; models must match one to one.

    ``bpc`` lists (model, subset -> BPC) as the leaderboard shows them. A model listed twice, a
    model with scores but no BPC on the subset, or a model with BPC but no scores is an error.
    """
    names = [m for m, _ in bpc]
    twice = sorted({m for m in names if names.count(m) > 1})
    if twice:
        raise CompressiqError(f"models with BPC from more than one run or source: {', '.join(twice)}")
    table = dict(bpc)
    out = []
    for area, means in sorted(area_means(scores).items()):
        subset = AREAS[area]
        have = {m for m, v in table.items() if subset in v}
        if set(means) - have:
            raise CompressiqError(
                f"area {area}: scores for models with no {subset} BPC: {', '.join(sorted(set(means) - have))}"
            )
        if have - set(means):
            raise CompressiqError(
                f"area {area}: {subset} BPC for models with no scores: {', '.join(sorted(have - set(means)))}"
            )
        models = tuple(sorted(means, key=lambda m: table[m][subset]))
        bpcs = np.array([table[m][subset] for m in models], dtype=np.float64)
        out.append(AreaData(area, subset, models, bpcs, np.array([means[m] for m in models], dtype=np.float64)))
    return out


def fit_areas(
    scores: Sequence[Score], bpc: Sequence[tuple[str, Mapping[str, float]]], resamples: int = RESAMPLES, seed: int = 0
) -> list[tuple[AreaData, Fit]]:
    """Join, then fit each scored area: the numbers behind the leaderboard's and the report's fits."""
    return [(d, fit(d.bpc, d.score, resamples, seed)) for d in join(scores, bpc)]
