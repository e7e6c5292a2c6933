"""The dataset card of a collected corpus: sources, dates, counts in and out, and every drop with its reason.

Counts come from datatrove's per-task stats files (``.work/logs/<stage>/stats/NNNNN.json``), summed
over tasks, so a resumed build reports the same figures as an uninterrupted one. ``card.json`` is
written last, after ``README.md``: its presence means the corpus is complete.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

from compressiq.cache import write_atomic
from compressiq.collect.config import CollectConfig

# datatrove's dedup steps count plain "dropped"; the card names why.
REASONS = {"exact-deduplication": "exact_duplicate", "MinHash stage 4": "near_duplicate"}
LICENCES = {
    "cc": "each page's publisher holds its rights; Common Crawl terms of use",
    "python": "each file its repository's licence (meta.license, SPDX id, null when not recognised)",
    "arxiv_math": "each paper's arXiv licence (meta.license when known)",
}


def stage_steps(work: Path, stage: str) -> list[dict[str, Any]]:
    """Per step of ``stage``: name, documents in and out, characters out, and drops by reason."""
    steps: list[dict[str, Any]] = []
    for path in sorted((work / "logs" / stage / "stats").glob("*.json")):
        for i, step in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            if i == len(steps):
                steps.append({"step": _clean_name(step["name"]), "in": 0, "out": 0, "characters": 0, "dropped": {}})
            _add(steps[i], step.get("stats", {}))
    return steps


def write_card(config: CollectConfig, work: Path) -> dict[str, Any]:
    clean, final = stage_steps(work, "clean"), stage_steps(work, "write")
    metas = _output_meta(config)  # read the written corpus once
    dates = [str(m["date"]) for m in metas if m.get("date")]
    card = {
        "subset": config.subset,
        "sources": list(config.inputs),
        "date_window": {"since": _iso(config.since), "until": _iso(config.until)},
        "dates_seen": {"first": min(dates, default=None), "last": max(dates, default=None)},
        "documents_in": clean[0]["out"] if clean else 0,
        "characters_in": clean[0]["characters"] if clean else 0,
        "documents_out": final[-1]["out"] if final else 0,
        "characters_out": final[-1]["characters"] if final else 0,
        # The readers of cleaned shards, the writers and the progress bars drop nothing: not listed.
        "steps": [s for s in clean[:-1] + final[1 : -1 - config.parquet] if s["step"] != "Progress"],
        "licences": LICENCES[config.subset],
        "licence_counts": dict(Counter(str(m.get("license")) for m in metas if "license" in m)),
        "config": settings(config),
        "files": sorted(p.name for p in (config.out / config.subset).glob("*") if p.is_file()),
    }
    write_atomic(config.out / "README.md", render(card))
    write_atomic(config.out / "card.json", json.dumps(card, indent=1) + "\n")
    return card


def settings(config: CollectConfig, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The config as JSON values (paths and dates as text)."""
    return {k: _jsonable(v) for k, v in dataclasses.asdict(config).items() if k not in exclude}


def render(card: dict[str, Any]) -> str:
    """The card as Markdown: a summary, then one row per step with what it dropped and why."""
    window = card["date_window"]
    lines = [
        f"# compressiq corpus: {card['subset']}",
        "",
        f"- sources: {', '.join(card['sources'])}",
        f"- date window: {window['since'] or 'open'} … {window['until'] or 'open'} "
        f"(dates seen: {card['dates_seen']['first']} … {card['dates_seen']['last']})",
        f"- documents: {card['documents_in']:,} in, {card['documents_out']:,} out",
        f"- characters: {card['characters_in']:,} in (raw), {card['characters_out']:,} out",
        f"- licences: {card['licences']}",
        "- schema: one JSON object a line, `{content, subset, meta}`",
        "",
        "| step | in | out | dropped (reason: documents) |",
        "|---|---|---|---|",
    ]
    for s in card["steps"]:
        drops = ", ".join(f"{r}: {n:,}" for r, n in sorted(s["dropped"].items(), key=lambda x: -x[1])) or "–"
        lines.append(f"| {s['step']} | {s['in']:,} | {s['out']:,} | {drops} |")
    return "\n".join(lines) + "\n"


def _add(acc: dict[str, Any], stats: dict[str, Any]) -> None:
    """Add one task's stats of a step. Readers count what they yield as ``documents`` and may drop with a
    ``dropped_<reason>``; filters count ``total`` in and ``dropped`` (plus ``dropped_<reason>``) out."""
    reasons = {k.removeprefix("dropped_"): v for k, v in stats.items() if k.startswith("dropped_")}
    reasons = {k: v for k, v in reasons.items() if isinstance(v, int)}
    dropped = max(stats.get("dropped", 0), sum(reasons.values()))
    if unnamed := dropped - sum(reasons.values()):
        reasons[next((r for key, r in REASONS.items() if key in acc["step"]), "dropped")] = unnamed
    documents = stats.get("documents")  # a reader's count: a dict of stats, or a bare number
    if isinstance(documents, dict):
        documents = documents["total"]
    elif documents is None and "total" not in stats and isinstance(stats.get("doc_len"), dict):
        documents = stats["doc_len"]["n"]  # a reader that only records each document's length
    n_in = documents + dropped if isinstance(documents, int) else stats.get("total", 0)
    acc["in"] += n_in
    acc["out"] += n_in - dropped
    acc["characters"] += stats.get("doc_len", {}).get("total", 0)
    for reason, n in reasons.items():
        acc["dropped"][reason] = acc["dropped"].get(reason, 0) + n


def _clean_name(name: str) -> str:
    """``"🔻 - FILTER: 📅 Date window"`` → ``"Date window"``."""
    tail = name.split(":", 1)[-1]
    return " ".join("".join(ch for ch in tail if ch.isascii()).split()) or name


def _output_meta(config: CollectConfig) -> list[dict[str, Any]]:
    metas = []
    for path in sorted((config.out / config.subset).glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            metas += [json.loads(line).get("meta") or {} for line in f if line.strip()]
    return metas


def _iso(day: Any) -> str | None:
    return day.isoformat() if day else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
