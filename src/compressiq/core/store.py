"""The results store: one SQLite file, one row per (run, document), run metadata beside it.

A run is identified by its model fingerprint, corpus fingerprint and settings, so the same model
on the same text with the same settings always lands in the same rows. Document rows are inserted
in transactions; the primary key makes counting a document twice impossible, and a rerun reads
which documents are done and skips them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compressiq.core.totals import Totals
from compressiq.errors import CompressiqError

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
class RunRecord:
    """What a run is, recorded once when it begins: the identity behind ``run_id`` and the versions used."""

    run_id: str
    model: str
    model_fingerprint: str
    corpus: str
    corpus_fingerprint: str
    settings: dict[str, Any]
    documents: int
    versions: dict[str, str]


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
    """``results.sqlite`` inside the results directory the user chose.

    Writers share the file in WAL mode and wait up to ``BUSY_S`` for each other's transactions;
    ``readonly`` opens it for reading only (``results``, ``leaderboard``, ``report``), so a store on a
    read-only disk can be read, and a missing one reads as empty. A file that is not a SQLite
    database, or not ours, is one error line naming it.
    """

    BUSY_S = 60.0

    def __init__(self, directory: Path, readonly: bool = False) -> None:
        self.path = directory / "results.sqlite"
        try:
            self.db = self._open_readonly() if readonly else self._open_writable(directory)
            self.db.execute("SELECT count(*) FROM runs").fetchone()
        except sqlite3.Error as e:
            raise CompressiqError(
                f"{self.path} is not a readable compressiq results store ({e}):"
                " move it away or choose another --results"
            ) from None

    def _open_writable(self, directory: Path) -> sqlite3.Connection:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CompressiqError(f"cannot create the results directory {directory}: {e.strerror}") from None
        db = sqlite3.connect(self.path, isolation_level=None, timeout=self.BUSY_S)
        deadline = time.monotonic() + self.BUSY_S
        while True:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
                return db
            except sqlite3.OperationalError as e:
                # Stores opened at once on a new file: SQLite answers "locked" without waiting where waiting
                # could deadlock (the switch to WAL, a read lock that must become a write lock). Try again.
                if "locked" not in str(e) or time.monotonic() > deadline:
                    db.close()
                    raise
                time.sleep(0.02)

    def _open_readonly(self) -> sqlite3.Connection:
        if not self.path.exists():
            db = sqlite3.connect(":memory:", isolation_level=None)
            db.executescript(SCHEMA)
            return db
        db = sqlite3.connect(
            f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=self.BUSY_S
        )
        try:
            db.execute("SELECT count(*) FROM runs").fetchone()
        except sqlite3.OperationalError:  # WAL on a read-only folder: nobody can be writing, read it as it is
            db.close()
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?immutable=1", uri=True, isolation_level=None)
        return db

    def close(self) -> None:
        self.db.close()

    def begin_run(self, run: RunRecord) -> None:
        """Record a run once; a rerun of the same run keeps the first record."""
        self.db.execute(
            "INSERT OR IGNORE INTO runs (run_id, model, model_fingerprint, corpus, corpus_fingerprint,"
            " settings, documents, versions, started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, datetime('now'))",
            (
                run.run_id,
                run.model,
                run.model_fingerprint,
                run.corpus,
                run.corpus_fingerprint,
                json.dumps(run.settings, sort_keys=True),
                run.documents,
                json.dumps(run.versions),
            ),
        )

    def done(self, run_id: str) -> set[int]:
        return {d for (d,) in self.db.execute("SELECT doc FROM documents WHERE run_id = ?", (run_id,))}

    def add(self, run_id: str, docs: Iterable[tuple[int, str, Totals]], seconds: float) -> None:
        """Store finished documents (index, subset, totals) and the time they took, in one transaction."""
        rows = [(run_id, i, subset, t.nats, t.characters, t.bytes, t.tokens) for i, subset, t in docs]
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            # OR IGNORE: an identical run in another process stored this document first, with the same numbers
            self.db.executemany("INSERT OR IGNORE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
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
