"""The results store: one SQLite file, one row per (run, document), run metadata beside it.

A run is identified by its model fingerprint, corpus fingerprint and settings, so the same model
on the same text with the same settings always lands in the same rows. Document rows are inserted
in transactions; the primary key makes counting a document twice impossible, and a rerun reads
which documents are done and skips them.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compressiq.totals import Totals

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    model TEXT NOT NULL, model_fingerprint TEXT NOT NULL,
    corpus TEXT NOT NULL, corpus_fingerprint TEXT NOT NULL,
    settings TEXT NOT NULL, documents INTEGER NOT NULL,
    block INTEGER, stride INTEGER, versions TEXT,
    started TEXT NOT NULL, finished TEXT, seconds REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS documents (
    run_id TEXT NOT NULL REFERENCES runs(run_id), doc INTEGER NOT NULL, subset TEXT NOT NULL,
    nats REAL NOT NULL, characters INTEGER NOT NULL, bytes INTEGER NOT NULL, tokens INTEGER NOT NULL,
    PRIMARY KEY (run_id, doc)
);
"""


@dataclass(frozen=True)
class RunRow:
    """A stored run and the sums of its finished documents, per subset."""

    run_id: str
    model: str
    corpus: str
    settings: dict[str, Any]
    documents: int
    block: int | None
    stride: int | None
    seconds: float
    finished: str | None
    versions: dict[str, str]
    subsets: dict[str, Totals]

    @property
    def totals(self) -> Totals:
        return sum(self.subsets.values(), Totals())

    @property
    def complete(self) -> bool:
        return self.finished is not None and self.totals.documents == self.documents


class Store:
    """``results.sqlite`` inside the results directory the user chose."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "results.sqlite"
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def begin_run(self, run_id: str, meta: dict[str, Any]) -> None:
        """Record a run once; a rerun of the same run keeps the first record."""
        self.db.execute(
            "INSERT OR IGNORE INTO runs (run_id, model, model_fingerprint, corpus, corpus_fingerprint,"
            " settings, documents, versions, started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, datetime('now'))",
            (
                run_id,
                meta["model"],
                meta["model_fingerprint"],
                meta["corpus"],
                meta["corpus_fingerprint"],
                json.dumps(meta["settings"], sort_keys=True),
                meta["documents"],
                json.dumps(meta["versions"]),
            ),
        )

    def done(self, run_id: str) -> set[int]:
        return {d for (d,) in self.db.execute("SELECT doc FROM documents WHERE run_id = ?", (run_id,))}

    def add(self, run_id: str, docs: Iterable[tuple[int, str, Totals]], seconds: float) -> None:
        """Store finished documents (index, subset, totals) and the time they took, in one transaction."""
        rows = [(run_id, i, subset, t.nats, t.characters, t.bytes, t.tokens) for i, subset, t in docs]
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self.db.execute("UPDATE runs SET seconds = seconds + ? WHERE run_id = ?", (seconds, run_id))

    def set_windows(self, run_id: str, block: int, stride: int) -> None:
        self.db.execute("UPDATE runs SET block = ?, stride = ? WHERE run_id = ?", (block, stride, run_id))

    def finish(self, run_id: str) -> None:
        self.db.execute("UPDATE runs SET finished = datetime('now') WHERE run_id = ?", (run_id,))

    def runs(self, run_id: str | None = None) -> list[RunRow]:
        where, args = ("WHERE run_id = ?", (run_id,)) if run_id else ("", ())
        rows = self.db.execute(
            "SELECT run_id, model, corpus, settings, documents, block, stride, seconds, finished, versions"
            f" FROM runs {where} ORDER BY started, rowid",
            args,
        ).fetchall()
        return [
            RunRow(
                r[0],
                r[1],
                r[2],
                json.loads(r[3]),
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                json.loads(r[9] or "{}"),
                self._subsets(r[0]),
            )
            for r in rows
        ]

    def _subsets(self, run_id: str) -> dict[str, Totals]:
        rows = self.db.execute(
            "SELECT subset, SUM(nats), SUM(characters), SUM(bytes), SUM(tokens), COUNT(*) FROM documents"
            " WHERE run_id = ? GROUP BY subset ORDER BY subset",
            (run_id,),
        )
        return {r[0]: Totals(r[1], r[2], r[3], r[4], r[5]) for r in rows}

    def document_rows(self, run_id: str) -> list[tuple[int, str, float, int, int, int]]:
        return self.db.execute(
            "SELECT doc, subset, nats, characters, bytes, tokens FROM documents WHERE run_id = ? ORDER BY doc",
            (run_id,),
        ).fetchall()


def summary(run: RunRow) -> list[dict[str, Any]]:
    """One flat record per subset of a run, plus ``all``: what ``results`` prints and exports."""
    parts = dict(run.subsets)
    if len(parts) > 1:
        parts["all"] = run.totals
    return [record(run, name, t) for name, t in parts.items()]


def record(run: RunRow, subset: str, t: Totals) -> dict[str, Any]:
    """The flat record of one subset's totals (or ``all``) of a run."""
    return {
        "model": run.model,
        "corpus": run.corpus,
        "subset": subset,
        "protocol": run.settings.get("protocol"),
        "bpc": t.bpc,
        "bits_per_byte": t.bits_per_byte,
        "bits": t.bits,
        "characters": t.characters,
        "bytes": t.bytes,
        "tokens": t.tokens,
        "documents": t.documents,
        "block": run.block,
        "stride": run.stride,
        "seconds": run.seconds,
        "complete": run.complete,
        "run_id": run.run_id,
    }


def to_csv(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if records:
        writer = csv.DictWriter(out, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return out.getvalue()
