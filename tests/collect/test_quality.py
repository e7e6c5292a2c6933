"""The cc quality presets and the main-text extraction, on the Debian handbook's English pages.

The pages are clean documentation prose written for people, so a quality filter should keep them and an
extractor should return their paragraphs verbatim. Source paragraphs are read from the HTML here with lxml,
independently of the extractor.
"""

import dataclasses
from pathlib import Path

import lxml.html
import pytest
from datatrove.data import Document
from datatrove.pipeline.filters import GopherQualityFilter

from compressiq.collect.blocks import LengthLimits, run_steps
from compressiq.collect.cc import quality
from compressiq.collect.cc.extract import MainText, prepare_html, tidy_text
from compressiq.collect.config import CollectConfig
from compressiq.errors import CompressiqError

HANDBOOK = "debian-handbook/usr/share/doc/debian-handbook/html/en-US"
BLOCKS = {"p", "div", "pre", "ul", "ol", "dl", "table", "blockquote"}


def normal(text: str) -> str:
    return " ".join(text.split())


def source_paragraphs(html: str, min_words: int = 12) -> list[str]:
    """Leaf paragraphs (``<p>``, DocBook's ``<div class="para">``) of at least ``min_words`` words."""
    root = lxml.html.fromstring(html.encode(), parser=lxml.html.HTMLParser(encoding="utf-8"))
    found = []
    for element in root.iter("p", "div"):
        if element.tag == "div" and element.get("class") != "para":
            continue
        if any(inner.tag in BLOCKS for inner in element.iterdescendants()):
            continue
        text = normal(element.text_content())
        if len(text.split()) >= min_words:
            found.append(text)
    return found


@pytest.fixture(scope="module")
def pages(offline_inputs: Path) -> dict[str, str]:
    """Every English handbook page with prose (at least one paragraph of 12 words): 117 of 128 pages."""
    htmls = {p.name: p.read_text(encoding="utf-8") for p in sorted((offline_inputs / HANDBOOK).glob("*.html"))}
    return {name: html for name, html in htmls.items() if source_paragraphs(html)}


@pytest.fixture(scope="module")
def extracted(pages: dict[str, str]) -> dict[str, Document]:
    docs = [Document(html, name, metadata={"date": "2025-01-05"}) for name, html in pages.items()]
    return {d.id: d for d in MainText(timeout=30).run(iter(docs))}


def config(preset: str) -> CollectConfig:
    return CollectConfig("cc", ("unused",), Path("unused"), quality=preset)


@pytest.mark.parametrize("preset, least", [("paper", 0.9), ("fineweb", 0.0)], ids=["paper", "fineweb"])
def test_keep_rate_of_clean_documentation(extracted: dict[str, Document], pages, preset: str, least: float) -> None:
    steps = [*quality.cleaners(config(preset))[1:], LengthLimits(200, 10**6)]
    copies = [dataclasses.replace(d, metadata=dict(d.metadata)) for d in extracted.values()]
    kept = list(run_steps(steps, data=iter(copies)))
    rate = len(kept) / len(pages)
    reasons = {k: v.n for s in steps for k, v in s.stats.stats.items() if k.startswith("dropped_")}
    print(f"\n{preset}: kept {len(kept)}/{len(pages)} handbook pages ({rate:.1%}); drops {reasons}")
    assert rate >= least
    assert len(pages) == 117


def test_extraction_keeps_the_paragraphs_verbatim(extracted: dict[str, Document], pages: dict[str, str]) -> None:
    assert set(extracted) == set(pages)  # every page has main text
    found = total = 0
    for name, html in pages.items():
        text = normal(extracted[name].text)
        paragraphs = source_paragraphs(html)
        found += sum(p in text for p in paragraphs)
        total += len(paragraphs)
    print(f"\nverbatim paragraphs (>= 12 words): {found}/{total} = {found / total:.2%}")
    assert found / total >= 0.97


def test_no_anchor_marks_or_contents_lines(extracted: dict[str, Document]) -> None:
    for doc in extracted.values():
        lines = doc.text.splitlines()
        assert "¶" not in doc.text and not any(line.strip().lower() == "table of contents" for line in lines)


PAGE = """<html><head><title>t</title></head><body><nav><a href="/">Home</a> <a href="/docs">Docs</a></nav>
<div class="toc"><p>Table of Contents</p><dl><dt><a href="#a">1. Installing packages</a></dt></dl></div>
<div class="body"><h1 id="a">1. Installing packages<a class="headerlink" href="#a">¶</a></h1>
<p>If the download stops half way, try just running the <code class="option">--fix-missing</code> option
a second time, and press the <span class="guilabel">Apply</span> button in the window that opens.</p>
<dl><dt>apt-get</dt><dd><p>The first command-line front end to the package library of the distribution.</p></dd></dl>
<p>Each package lists the packages it depends on, and the package manager installs them in the right order.</p>
</div></body></html>"""


def test_inline_code_labels_headings_and_terms_stay_in_place() -> None:
    text = MainText(timeout=30).extract(PAGE)
    assert text.splitlines() == [
        "1. Installing packages",
        "If the download stops half way, try just running the --fix-missing option a second time, and press the "
        "Apply button in the window that opens.",
        "apt-get",
        "The first command-line front end to the package library of the distribution.",
        "Each package lists the packages it depends on, and the package manager installs them in the right order.",
    ]


def test_prepare_html_drops_anchors_and_contents() -> None:
    html = prepare_html(PAGE)
    assert "¶" not in html and "Table of Contents" not in html and "<code" not in html and "guilabel" not in html
    assert prepare_html("") == ""  # nothing to parse: handed on as it is
    assert tidy_text("Contents\nA line ¶\n\nOn this page:\nB") == "A line\nB"


def test_alpha_words_are_whitespace_words() -> None:
    assert quality.alpha_word_share("run apt-get -- , then 42") == 0.5  # run, apt-get, then: 3 of 6
    assert quality.alpha_word_share("") == 0.0
    rich = " ".join(["Run apt-get install foo, then check /etc/apt/sources.list (and the keys)."] * 8)
    assert quality.alpha_word_share(rich) == 1.0  # every whitespace word holds a letter
    assert GopherQualityFilter().filter(Document(rich, "r")) == (False, "gopher_below_alpha_threshold")
    assert quality.GopherQuality().filter(Document(rich, "r")) is True
    digits = " ".join(["the sizes and the sums are " + " ".join(str(1000 + 7 * i) for i in range(20))] * 4)
    assert quality.GopherQuality().filter(Document(digits, "d")) == (False, "gopher_below_alpha_threshold")


def test_presets(tmp_path: Path) -> None:
    names = [type(s).__name__ for s in quality.cleaners(config("paper"))]
    assert names == ["MainText", "LanguageId"]
    names = [type(s).__name__ for s in quality.cleaners(config("fineweb"))]
    assert names == ["MainText", "LanguageId", "GopherRepetitionFilter", "GopherQuality", "C4QualityFilter",
                     "FineWebQualityFilter"]  # fmt: skip
    with pytest.raises(CompressiqError, match="--quality must be one of paper, fineweb"):
        config("c4")
