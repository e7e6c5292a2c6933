"""The leaderboard: models x subsets BPC with the average, best first, stored runs beside the paper's.

Rows come from stored runs or from reference data shipped in the package (the paper's published
table, measured with the paper protocol). The ``source`` column says which, with which protocol,
and with which kernels, dtype and device kind when not transformers in float32 on a CPU, because
each of them moves BPC slightly and such numbers must not pass for each other.
A missing value is shown as a dash (empty in CSV), never as NaN.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from compressiq.analysis import tables
from compressiq.core.store import RunRow, Store
from compressiq.errors import CompressiqError

REFERENCES = {"paper": "paper_bpc.csv"}
PAPER_SUBSETS = ("cc", "python", "arxiv_math")


@dataclass(frozen=True)
class Entry:
    """One leaderboard row: a model's BPC per subset and where the numbers come from."""

    model: str
    source: str
    corpus: str
    bpc: dict[str, float]
    tokens: str = ""
    run: RunRow | None = field(default=None, compare=False)


def from_run(run: RunRow) -> Entry:
    """One leaderboard row from a stored run; its source names the protocol and the backend."""
    protocol = run.settings.get("protocol", "exact")
    kind = "paper protocol" if protocol == "paper" else protocol
    backend = run.settings.get("backend", "transformers")
    kind += "" if backend == "transformers" else f", {backend}"  # other kernels: not the same number
    dtype, device = run.settings.get("dtype", "float32"), run.settings.get("device", "cpu")
    kind += "" if dtype == "float32" else f", {dtype}"  # precision and device kind move digits too
    kind += "" if device == "cpu" else f", {device}"
    source = f"stored ({kind})" if run.complete else f"stored ({kind}, incomplete)"
    tokens = f"{run.block}/{run.stride}" if run.block is not None else ""
    return Entry(run.model, source, run.corpus, {s: t.bpc for s, t in run.subsets.items() if t.characters}, tokens, run)


def reference(name: str = "paper") -> list[Entry]:
    """The published rows shipped in ``compressiq/data/reference`` (the paper's README table)."""
    if name not in REFERENCES:
        raise CompressiqError(f"unknown reference {name!r}; known: {', '.join(REFERENCES)}")
    text = resources.files("compressiq").joinpath("data/reference", REFERENCES[name]).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    subsets = [c for c in rows[0] if c not in ("model", "average")]
    return [
        Entry(r["model"], f"{name} (paper protocol)", "hkust-nlp/llm-compression", {s: float(r[s]) for s in subsets})
        for r in rows
    ]


def stored_runs(results: Path) -> list[RunRow]:
    """The runs in ``results/results.sqlite``; none if there is no store (and none is created)."""
    if not (results / "results.sqlite").is_file():
        return []
    store = Store(results, readonly=True)
    try:
        return store.runs()
    finally:
        store.close()


def gather(results: Path, ref: str | None) -> list[Entry]:
    """Stored runs and, if asked, the reference rows; an error if there is nothing to show."""
    entries = [from_run(r) for r in stored_runs(results)] + (reference(ref) if ref else [])
    if not entries:
        raise CompressiqError(f"no results in {results}; score a model first, or add --reference paper")
    return entries


def subsets_of(entries: Sequence[Entry]) -> list[str]:
    """Every subset shown: the paper's three in its order, then any others alphabetically."""
    seen = {s for e in entries for s in e.bpc}
    return [s for s in PAPER_SUBSETS if s in seen] + sorted(seen - set(PAPER_SUBSETS))


def averaged(entries: Sequence[Entry]) -> tuple[str, list[tuple[Entry, float]]]:
    """The average column's title and each entry's mean BPC over the subsets every entry has.

    Averages over different subsets are not comparable, so only the common ones count (the
    title names them when some subset is left out); with none in common, each row's own.
    """
    shown = subsets_of(entries)
    common = [s for s in shown if all(s in e.bpc for e in entries)]
    title = "average" if common == shown else f"average ({', '.join(common)})" if common else "average (own subsets)"
    means = [(e, sum(e.bpc[s] for s in common or e.bpc) / len(common or e.bpc)) for e in entries if e.bpc]
    return title, sorted(means, key=lambda pair: pair[1])


def records(entries: Sequence[Entry]) -> list[dict[str, str]]:
    """Rows as text cells, best (lowest) average first; four decimals; "" where a value is missing."""
    shown = subsets_of(entries)
    title, means = averaged(entries)
    return [
        {
            "model": e.model,
            "source": e.source,
            "corpus": e.corpus,
            **{s: f"{e.bpc[s]:.4f}" if s in e.bpc else "" for s in shown},
            title: f"{mean:.4f}",
            "tokens": e.tokens,
        }
        for e, mean in means
    ]


def render(entries: Sequence[Entry], fmt: str = "table") -> str:
    """The leaderboard as an aligned text table, CSV, or a Markdown table."""
    return tables.render(records(entries), fmt)


def leaderboard(runs: list[RunRow]) -> str:
    """Models x subsets BPC of stored runs, with the average, best first (the paper's README table)."""
    return render([from_run(r) for r in runs])
