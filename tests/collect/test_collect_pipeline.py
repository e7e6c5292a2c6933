"""The shared stages of ``collect`` on real fresh text: dates, exact and near duplicates, decontamination,
the card's counts, and resume after a failed task. The subset here is a JSON Lines reader, so what is
tested is the orchestration; each real subset has its own end-to-end test."""

import datetime as dt
import json
import types
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from datatrove.pipeline.readers import JsonlReader

from compressiq.collect.config import CollectConfig
from compressiq.collect.pipeline import collect, minhash_bands
from compressiq.core.corpus import load_corpus
from compressiq.errors import CompressiqError
from tests.conftest import fresh_text

WINDOW = {"since": dt.date(2025, 1, 1), "until": dt.date(2025, 1, 15)}


def _adapter(self: Any, data: dict[str, Any], path: str, id_in_file: int) -> dict[str, Any]:
    if data.get("explode"):
        raise RuntimeError("reader broke on purpose")
    return {"text": data["content"], "id": f"{path}/{id_in_file}", "metadata": data["meta"]}


def _subset(adapter: Any = _adapter) -> types.ModuleType:
    module = types.ModuleType("jsonl_subset")
    module.reader = lambda config: JsonlReader(config.inputs[0], adapter=adapter, compression=None)  # type: ignore[attr-defined]
    module.cleaners = lambda config: []  # type: ignore[attr-defined]
    return module


def _inputs(folder: Path, explode: bool = False) -> dict[str, int]:
    """Two shards of 30 real pages with dates every day from 2024-12-27, one exact copy, one near copy
    (one word changed), and one 13-word quotation of a page that the reference corpus holds."""
    docs = [d.content for d in fresh_text("cc", 60)]
    rows = [
        {"content": text, "meta": {"date": str(dt.date(2024, 12, 27) + dt.timedelta(i % 25))}}
        for i, text in enumerate(docs)
    ]
    words = docs[10].split(" ")
    words[20] = "changed"
    rows.append({"content": docs[7], "meta": {"date": "2025-01-05"}})  # exact copy of an in-window page
    rows.append({"content": " ".join(words), "meta": {"date": "2025-01-06"}})  # near copy of page 10
    rows.append({"content": docs[12] + "\n" + " ".join(docs[45].split()[50:63]), "meta": {"date": "2025-01-07"}})
    rows[12]["meta"]["date"] = "2025-01-30"  # its source page falls outside the window
    if explode:
        rows[45]["explode"] = True
    folder.mkdir(parents=True, exist_ok=True)
    for shard, part in enumerate((rows[:30], rows[30:])):
        with (folder / f"{shard}.jsonl").open("w") as f:
            f.writelines(json.dumps(r) + "\n" for r in part)
    (folder.parent / "reference.jsonl").write_text(json.dumps({"content": docs[45]}) + "\n")  # dated 2025-01-16
    dates = [dt.date.fromisoformat(r["meta"]["date"]) for r in rows]
    before, after = sum(d < WINDOW["since"] for d in dates), sum(d > WINDOW["until"] for d in dates)
    return {"rows": len(rows), "before": before, "after": after, "in_window": len(rows) - before - after}


def _config(tmp_path: Path, **kw: Any) -> CollectConfig:
    return CollectConfig("cc", (str(tmp_path / "in"),), tmp_path / "out", tasks=2, min_chars=200, **WINDOW, **kw)


def test_dates_duplicates_and_contamination_are_dropped_with_reasons(tmp_path: Path) -> None:
    counts = _inputs(tmp_path / "in")
    config = _config(tmp_path, decontaminate=(str(tmp_path / "reference.jsonl"),))
    card = collect(config, log=lambda _: None, subset=_subset())
    drops = {reason: n for step in card["steps"] for reason, n in step["dropped"].items()}
    # The quoted page 45 lies outside the window; page 10 and its near copy are both inside.
    assert counts == {"rows": 63, "before": 15, "after": 11, "in_window": 37}
    assert drops == {
        "before_since": 15,
        "after_until": 11,
        "exact_duplicate": 1,
        "near_duplicate": 1,
        "contaminated": 1,
    }
    assert card["documents_in"] == counts["rows"] == 63
    assert card["documents_out"] == counts["in_window"] - 3
    corpus = load_corpus(str(config.out))
    assert len(corpus.documents) == card["documents_out"]
    assert card["characters_out"] == sum(len(d.content) for d in corpus.documents)
    assert {d.subset for d in corpus.documents} == {"cc"}
    assert all(WINDOW["since"].isoformat() <= d.meta["date"] <= WINDOW["until"].isoformat() for d in corpus.documents)
    assert "| Date window | 63 |" in (config.out / "README.md").read_text()


def test_a_failed_task_loses_nothing_and_the_rerun_matches_a_clean_build(tmp_path: Path) -> None:
    _inputs(tmp_path / "clean" / "in")
    reference = collect(_config(tmp_path / "clean"), log=lambda _: None, subset=_subset())
    _inputs(tmp_path / "in", explode=True)
    with pytest.raises(CompressiqError, match="reader broke on purpose"):
        collect(_config(tmp_path), log=lambda _: None, subset=_subset())
    assert (tmp_path / "out/.work/logs/clean/completions/00000").is_file()  # the first shard is kept
    assert not (tmp_path / "out/card.json").exists()
    _inputs(tmp_path / "in")  # the bad record fixed; the rerun only redoes the failed shard
    lines: list[str] = []
    card = collect(_config(tmp_path), log=lines.append, subset=_subset())
    assert card["documents_out"] == reference["documents_out"]
    assert card["steps"] == reference["steps"]
    for shard in ("00000.jsonl", "00001.jsonl"):
        assert (tmp_path / "out/cc" / shard).read_bytes() == (tmp_path / "clean/out/cc" / shard).read_bytes()
    lines.clear()
    collect(_config(tmp_path), log=lines.append, subset=_subset())
    assert all("skipped" in line for line in lines)  # a third run has nothing to do


# Expected values: datasketch 2.0 `lsh._optimal_param(threshold, 256, 0.5, 0.5)`, computed independently.
def test_a_build_with_other_settings_is_not_resumed_into(tmp_path: Path) -> None:
    _inputs(tmp_path / "in")
    collect(_config(tmp_path), log=lambda _: None, subset=_subset())
    with pytest.raises(CompressiqError, match="holds a build with other settings"):
        collect(replace(_config(tmp_path), min_chars=500), log=lambda _: None, subset=_subset())
    collect(replace(_config(tmp_path), workers=2), log=lambda _: None, subset=_subset())  # same output


@pytest.mark.parametrize(("threshold", "bands"), [(0.85, (13, 19)), (0.7, (25, 10))], ids=["0.85", "0.7"])
def test_minhash_bands_put_the_lsh_step_at_the_threshold(threshold: float, bands: tuple[int, int]) -> None:
    b, r = minhash_bands(threshold)
    assert (b, r) == bands and b * r <= 256
    assert 0.3 < 1 - (1 - threshold**r) ** b < 0.7  # the S-curve crosses one half near the threshold
