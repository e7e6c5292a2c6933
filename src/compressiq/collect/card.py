"""The dataset card of a collected corpus: sources, dates, counts in and out, and every drop with its reason.

Counts come from datatrove's per-task stats files (``.work/logs/<stage>/stats/NNNNN.json``), summed
over tasks, so a resumed build reports the same figures as an uninterrupted one. ``card.json`` is
written last, after ``README.md``: its presence means the corpus is complete.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from datatrove.utils.stats import MetricStats

from compressiq.cache import write_atomic
from compressiq.collect.config import CollectConfig

# datatrove's dedup steps count plain "dropped"; the card names why.
REASONS = {"exact-deduplication": "exact_duplicate", "MinHash stage 4": "near_duplicate"}
LICENCES = {
    "cc": "each page's publisher holds its rights; Common Crawl terms of use",
    "python": "each file its repository's licence (meta.license, SPDX id, null when not recognised)",
    "arxiv_math": "each paper's arXiv licence (meta.license when known)",
}


class DateSpan(TypedDict):
    """Inclusive calendar dates (``since``/``until``) or UTC timestamps (``first``/``last``); None: open or none."""

    since: NotRequired[str | None]
    until: NotRequired[str | None]
    first: NotRequired[str | None]
    last: NotRequired[str | None]


class Card(TypedDict):
    """The dataset card of one build, as ``card.json`` holds it: what went in, what came out, and why not.

    ``documents_in == documents_out + documents_dropped + unaccounted``; ``unaccounted`` is 0 when every
    record is accounted for. ``steps`` lists each counted step with its in/out counts and named drops.
    """

    subset: str
    sources: list[str]
    date_window: DateSpan
    dates_seen: DateSpan
    documents_in: int
    characters_in: int
    documents_out: int
    characters_out: int
    documents_dropped: int
    unaccounted: int
    emptied_by: str | None
    steps: list[dict[str, Any]]
    licences: str
    licence_counts: dict[str, int]
    config: dict[str, Any]
    files: list[str]


def stage_steps(work: Path, stage: str) -> list[dict[str, Any]]:
    """Per step of ``stage``: name, kind (``READER``, ``FILTER``, ``WRITER``…), documents in and out,
    characters out, and drops by reason. Steps are matched across tasks by their full datatrove name."""
    steps: dict[str, dict[str, Any]] = {}
    for path in sorted((work / "logs" / stage / "stats").glob("*.json")):
        for step in json.loads(path.read_text(encoding="utf-8")):
            name = step["name"]
            if name not in steps:
                steps[name] = {"step": _clean_name(name), "kind": _kind(name), "in": 0, "out": 0, "characters": 0}
                steps[name]["dropped"] = {}
            _add(steps[name], step.get("stats", {}))
    return list(steps.values())


def write_card(config: CollectConfig, work: Path, stages: tuple[str, ...] = ("clean", "write")) -> Card:
    """Write ``README.md`` then ``card.json`` for the build in ``work``; returns the card.

    The documents in are what the subset's reader read (kept or dropped by it), the documents out what
    reached the writers; every step between names its drops, so ``documents_in = documents_out +
    documents_dropped`` (``unaccounted`` is the difference, 0 when every record is accounted for). With
    no document out, ``emptied_by`` names the step that removed the last ones.
    """
    shown = [s for stage in stages for s in _counted(stage_steps(work, stage), first=stage == stages[0])]
    reader = next((s for s in stage_steps(work, stages[0]) if s["kind"] == "READER"), None)
    writer = next((s for s in stage_steps(work, "write") if s["kind"] == "WRITER"), None)
    metas = _output_meta(config)  # read the written corpus once
    dates = sorted(filter(None, (utc_iso(str(m["date"])) for m in metas if m.get("date"))))
    n_in, n_out = (reader["in"] if reader else 0), (writer["in"] if writer else 0)
    dropped = sum(n for s in shown for n in s["dropped"].values())
    card: Card = {
        "subset": config.subset,
        "sources": list(config.inputs),
        "date_window": {"since": _iso(config.since), "until": _iso(config.until)},
        "dates_seen": {"first": dates[0] if dates else None, "last": dates[-1] if dates else None},
        "documents_in": n_in,
        "characters_in": reader["characters"] if reader else 0,
        "documents_out": n_out,
        "characters_out": writer["characters"] if writer else 0,
        "documents_dropped": dropped,
        "unaccounted": n_in - n_out - dropped,
        "emptied_by": None if n_out else _emptied_by(shown),
        "steps": [{k: v for k, v in s.items() if k != "kind"} for s in shown],
        "licences": LICENCES[config.subset],
        "licence_counts": dict(Counter(str(m.get("license")) for m in metas if "license" in m)),
        "config": settings(config),
        "files": sorted(p.name for p in (config.out / config.subset).glob("*") if p.is_file()),
    }
    write_atomic(config.out / "README.md", render(card))
    write_atomic(config.out / "card.json", json.dumps(card, indent=1) + "\n")
    return card


def utc_iso(value: str) -> str | None:
    """An ISO 8601 date or timestamp in UTC: ``"2025-01-05T10:00:00+02:00"`` → ``"2025-01-05T08:00:00Z"``;
    a plain date stays a date, a timestamp without a zone is taken as UTC; ``None`` when not ISO 8601."""
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if "T" not in value and " " not in value.strip():
        return stamp.date().isoformat()
    stamp = stamp.astimezone(dt.UTC) if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _counted(steps: list[dict[str, Any]], first: bool) -> list[dict[str, Any]]:
    """The steps a card lists: the subset's reader and every filter. Writers, progress bars and the
    readers of cleaned shards (later stages) drop nothing."""
    return [s for s in steps if s["kind"] != "WRITER" and s["step"] != "Progress" and (first or s["kind"] != "READER")]


def _emptied_by(steps: list[dict[str, Any]]) -> str:
    """The first step that let no document through (the reader itself when the inputs hold none)."""
    return next((s["step"] for s in steps if s["out"] == 0), steps[0]["step"] if steps else "no step ran")


def settings(config: CollectConfig, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The config as JSON values (paths and dates as text)."""
    return {k: _jsonable(v) for k, v in dataclasses.asdict(config).items() if k not in exclude}


def render(card: Card) -> str:
    """The card as Markdown: a summary, then one row per step with what it dropped and why."""
    window = card["date_window"]
    lines = [
        f"# compressiq corpus: {card['subset']}",
        "",
        f"- sources: {', '.join(card['sources'])}",
        f"- date window: {window['since'] or 'open'} … {window['until'] or 'open'} "
        f"(dates seen: {card['dates_seen']['first']} … {card['dates_seen']['last']})",
        f"- documents: {card['documents_in']:,} in = {card['documents_out']:,} out + "
        f"{card['documents_dropped']:,} dropped (each with its reason below)",
        f"- characters: {card['characters_in']:,} in (raw), {card['characters_out']:,} out",
        f"- licences: {card['licences']}",
        "- schema: one JSON object a line, `{content, subset, meta}`",
        "",
        "| step | in | out | dropped (reason: documents) |",
        "|---|---|---|---|",
    ]
    if card["emptied_by"]:
        lines[6:6] = [f"- no document out: the step {card['emptied_by']!r} removed the last ones"]
    if card["unaccounted"]:
        lines[6:6] = [f"- unaccounted: {card['unaccounted']:,} documents (a step that dropped without counting)"]
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
    elif documents is None and "total" not in stats and "doc_len" in stats:
        documents = MetricStats.from_dict(stats["doc_len"]).n  # a reader that only records each length
    n_in = documents + dropped if isinstance(documents, int) else stats.get("total", 0)
    acc["in"] += n_in
    acc["out"] += n_in - dropped
    acc["characters"] += MetricStats.from_dict(stats["doc_len"]).total if "doc_len" in stats else 0
    for reason, n in reasons.items():
        acc["dropped"][reason] = acc["dropped"].get(reason, 0) + n


def _kind(name: str) -> str:
    """``"🔻 - FILTER: 📅 Date window"`` → ``"FILTER"``; ``""`` for a step without a type."""
    head = name.split(":", 1)[0] if ":" in name else ""
    return "".join(ch for ch in head if ch.isascii() and ch.isalpha())


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
