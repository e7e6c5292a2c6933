"""Every record accounted for: a hostile WARC (bad headers, bad lengths, a truncated last member, a corrupt
file) is read to the end, each bad record is a named drop, and the card's identity in = out + drops holds.
Small results (one document, none) still get a card. Real pages from the fixture cache; members written here.
"""

import collections
import datetime as dt
import gzip
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from compressiq.collect.cc import warc as cc
from compressiq.collect.config import CollectConfig
from compressiq.collect.pipeline import collect
from tests.collect.test_collect_cc import PYDOC, reasons
from tests.collect.test_collect_pipeline import _subset

PAGES = ["bugs.html", "tutorial/appetite.html", "tutorial/interpreter.html", "faq/general.html", "about.html"]
WINDOW = {"since": dt.date(2025, 1, 1), "until": dt.date(2025, 1, 31)}


def record(url: str, body: bytes, date: str | None = "2025-01-05T10:00:00Z", kind: str = "text/html") -> bytes:
    """One uncompressed WARC response record, as Common Crawl writes it; ``date=None`` leaves WARC-Date out."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    http = StatusAndHeaders("200 OK", [("Content-Type", kind)], protocol="HTTP/1.1")
    headers = {"WARC-Date": date or "2025-01-05T10:00:00Z", "WARC-Identified-Payload-Type": kind}
    rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                    warc_headers_dict=headers)  # fmt: skip
    writer.write_record(rec)
    raw = out.getvalue()
    return raw if date else re.sub(rb"WARC-Date: [^\r]*\r\n", b"", raw, count=1)


def without(raw: bytes, header: bytes) -> bytes:
    return re.sub(header + rb": [^\r]*\r\n", b"", raw, count=1)


def relength(raw: bytes, delta: int) -> bytes:
    """The record with its WARC Content-Length off by ``delta`` bytes (the payload unchanged)."""
    match = re.search(rb"Content-Length: (\d+)", raw)
    assert match
    return raw[: match.start(1)] + str(int(match[1]) + delta).encode() + raw[match.end(1) :]


def hostile(folder: Path, pages: Path) -> dict[str, Any]:
    """Three files: a per-record gzip WARC with one of each damage and a truncated last member, a ``.gz``
    that is not gzip, and an uncompressed WARC whose first record's length runs into the second.
    Returns the expected documents and drops of the reader."""
    html = [(pages / name).read_bytes() for name in PAGES]
    req = io.BytesIO()
    writer = WARCWriter(req, gzip=False)
    writer.write_record(writer.create_warc_record("https://x.test/", "request", payload=io.BytesIO(b"GET /")))
    members = [
        record("https://x.test/0", html[0]),  # kept
        req.getvalue(),  # a request: not a content record, not counted
        record("https://x.test/png", b"\x89PNG\r\n\x1a\n" + bytes(100), kind="image/png"),  # not_html
        record("https://x.test/nodate", html[1], date=None),  # no_date
        without(record("https://x.test/nourl", html[1]), b"WARC-Target-URI"),  # malformed_record (warcio fails)
        re.sub(
            rb"WARC-Target-URI: [^\r]*", b"WARC-Target-URI: ", record("https://x.test/e", html[1]), count=1
        ),  # no_url
        record("https://x.test/baddate", html[1], date="the fifth of January"),  # bad_date
        relength(record("https://x.test/long", html[1]), +500),  # bad_length: the member ends first
        relength(record("https://x.test/short", html[1]), -500),  # bad_length: bytes left over
        b"WARC/1.0\r\nWARC-Type: response\r\nthis line is no header\r\n\r\n",  # malformed_record
        record("https://x.test/east", html[2], date="2025-01-01T01:30:00+02:00"),  # kept, dated 2024-12-31Z
        record("https://x.test/1", html[3]),  # kept
    ]
    last = gzip.compress(record("https://x.test/cut", html[4]))
    with (folder / "a-hostile.warc.gz").open("wb") as f:
        f.writelines(gzip.compress(m) for m in members)
        f.write(last[: len(last) // 2])  # truncated_record; the complete members before it are all kept
    (folder / "b-corrupt.warc.gz").write_bytes(b"this is not gzip at all" * 100)  # corrupt_file
    first, second = record("https://x.test/merged", html[0]), record("https://x.test/absorbed", html[1])
    (folder / "c-plain.warc").write_bytes(relength(first, 200) + second)  # runs 200 bytes into the next record
    kept = ["https://x.test/0", "https://x.test/east", "https://x.test/1"]
    drops = {"not_html": 1, "no_date": 1, "no_url": 1, "bad_date": 1, "bad_length": 3, "malformed_record": 3}
    return {"kept": kept, "drops": drops | {"truncated_record": 1, "corrupt_file": 1}}


def config(folder: Path, **fields: Any) -> CollectConfig:
    return CollectConfig("cc", (str(folder),), folder.parent / "out", **fields)


@pytest.fixture
def inputs(offline_inputs: Path, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    (tmp_path / "in").mkdir()
    return tmp_path / "in", hostile(tmp_path / "in", offline_inputs / PYDOC)


def test_the_reader_names_every_bad_record_and_keeps_every_good_one(inputs, capfd) -> None:
    folder, expected = inputs
    reader = cc.reader(config(folder))
    docs = list(reader.run())
    assert [d.metadata["url"] for d in docs] == expected["kept"]
    assert reasons(reader) == expected["drops"]
    assert [d.metadata["date"] for d in docs] == [
        "2025-01-05T10:00:00Z",
        "2024-12-31T23:30:00Z",
        "2025-01-05T10:00:00Z",
    ]
    assert not any("WARC/1.0" in d.text for d in docs)  # no record holds another
    warned = capfd.readouterr().err
    for name, reason in [("a-hostile", "truncated record"), ("a-hostile", "no date"), ("b-corrupt", "corrupt")]:
        assert re.search(rf"warning: \S*{name}\.warc\.gz: .*{reason}", warned), (name, reason)


def test_a_build_on_a_hostile_warc_accounts_for_every_record(inputs, capfd) -> None:
    folder, expected = inputs
    card = collect(config(folder, **WINDOW), log=lambda _: None)
    content_records = len(expected["kept"]) + sum(expected["drops"].values())
    drops = collections.Counter()
    for step in card["steps"]:
        drops.update(step["dropped"])
    assert card["documents_in"] == content_records == 15
    assert (
        card["documents_in"]
        == card["documents_out"] + card["documents_dropped"]
        == card["documents_out"] + sum(drops.values())
    )
    assert card["unaccounted"] == 0
    assert card["steps"][0]["step"] == "WARC records" and card["steps"][0]["dropped"] == expected["drops"]
    assert drops["before_since"] == 1  # the page dated 2025-01-01T01:30+02:00 is 2024-12-31 in UTC
    readme = (folder.parent / "out/README.md").read_text()
    assert "truncated_record: 1" in readme and "corrupt_file: 1" in readme and "malformed_record: 3" in readme
    assert json.loads((folder.parent / "out/card.json").read_text()) == card
    assert "a-hostile.warc.gz" in capfd.readouterr().err


def jsonl_rows(folder: Path, dates: list[str]) -> None:
    folder.mkdir(parents=True)
    from tests.conftest import fresh_text

    texts = [d.content for d in fresh_text("cc", len(dates))]
    with (folder / "0.jsonl").open("w") as f:
        f.writelines(json.dumps({"content": t, "meta": {"date": d}}) + "\n" for t, d in zip(texts, dates))


@pytest.mark.parametrize(
    ("dates", "out", "emptied_by"),
    [
        (["2025-01-05T10:00:00+01:00", "2024-06-01", "2025-03-01"], 1, None),
        (["2024-06-01", "2025-03-01"], 0, "Date window"),
    ],
    ids=["one-survivor", "no-survivor"],
)
def test_small_results_get_a_card(tmp_path: Path, dates: list[str], out: int, emptied_by: str | None) -> None:
    jsonl_rows(tmp_path / "in", dates)
    conf = CollectConfig("cc", (str(tmp_path / "in"),), tmp_path / "out", **WINDOW)
    card = collect(conf, log=lambda _: None, subset=_subset())
    assert card["documents_in"] == len(dates) and card["documents_out"] == out and card["unaccounted"] == 0
    assert card["emptied_by"] == emptied_by
    assert card["dates_seen"]["first"] == ("2025-01-05T09:00:00Z" if out else None)  # UTC
    assert (tmp_path / "out/card.json").is_file()
    if emptied_by:
        assert f"the step '{emptied_by}' removed the last ones" in (tmp_path / "out/README.md").read_text()


def test_one_eprint_makes_a_corpus_of_one(offline_inputs: Path, tmp_path: Path) -> None:
    """The arXiv reader counts documents only by their lengths in datatrove's stats: a single one was a crash."""
    from tests.collect.test_collect_cli import offline_corpora

    source = offline_corpora().arxiv_inputs(tmp_path / "in", 1)
    card = collect(CollectConfig("arxiv_math", (str(source),), tmp_path / "out"), log=lambda _: None)
    assert card["documents_in"] == card["documents_out"] == 1 and card["dates_seen"]["first"] == "2025-01-01"
    assert collect(CollectConfig("arxiv_math", (str(source),), tmp_path / "out"), log=lambda _: None) == card
