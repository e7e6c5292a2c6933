"""Main text of a web page: Trafilatura on a lightly rewritten DOM, so documentation prose comes back whole.

Trafilatura (FineWeb's extractor) removes chrome well, but on documentation pages it loses text: inline
``<code>``/``<kbd>``/GUI-label elements break a sentence across lines ("running the option\\na second time"),
headings and definition terms vanish, boxed asides (DocBook sidebars: notes, tips) are taken for page
sidebars, and Sphinx "¶" anchors and tables of contents are kept. :func:`prepare_html` rewrites the DOM
first (pure, no I/O); :func:`tidy_text` removes what is left of the anchors and contents lines after.
"""

from __future__ import annotations

import re

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.extractors.base import ExtractorSandbox
from datatrove.utils.typeshelper import StatHints

# Inline elements unwrapped into their sentence (text kept, tag dropped); GUI labels are <span>s.
INLINE_TAGS = ("code", "kbd", "samp", "tt", "var", "span", "em", "strong", "b", "i", "acronym", "abbr", "cite",
               "dfn", "sub", "sup", "u", "small", "mark", "q")  # fmt: skip
_CLASS = "contains(concat(' ', normalize-space(@class), ' '), ' {} ')"
TOC_XPATH = " | ".join(
    [f"//*[{_CLASS.format(c)}]" for c in ("toc", "contents", "toctree-wrapper")]
    + ["//*[@id='toc' or @id='table-of-contents']"]
)
ANCHOR_XPATH = "//a[normalize-space(.)='¶' or normalize-space(.)='#' and contains(@class, 'headerlink')]"
# An aside between the paragraphs of the text it belongs to (DocBook sidebar, note) is text, not a page column.
IN_TEXT_ASIDE_XPATH = "//*[contains(@class, 'sidebar')][../p or ../*[@class='para']]"
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_CONTENTS_LINE = re.compile(r"^\s*(?:table of contents|contents|on this page)\s*:?\s*$", re.IGNORECASE)


def prepare_html(html: str) -> str:
    """``html`` rewritten so that Trafilatura keeps the whole text of documentation pages.

    Drops "¶" heading anchors and tables of contents; unwraps inline code, keyboard and label elements
    (their text stays in the sentence); turns headings and ``<dt>`` terms into paragraphs (Trafilatura
    drops headings outside the frame it picks, and ``<dt>`` beside its ``<dd>``); and renames in-text
    sidebars. Unparsable HTML is returned as it is, for Trafilatura to judge.
    """
    import lxml.etree  # type: ignore[import-untyped]
    import lxml.html  # type: ignore[import-untyped]

    try:
        root = lxml.html.fromstring(html.encode("utf-8", "replace"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (lxml.etree.ParserError, ValueError):
        return html
    for element in root.xpath(f"{ANCHOR_XPATH} | {TOC_XPATH}"):
        element.drop_tree()
    for aside in root.xpath(IN_TEXT_ASIDE_XPATH):
        aside.set("class", "in-text-aside")
    for element in root.iter(*HEADINGS, "dt"):
        for empty_anchor in element.xpath("./a[not(normalize-space(.))]"):
            empty_anchor.drop_tree()
        element.attrib.clear()
        element.tag = "p"
    for element in root.iter("dd", "dl"):
        element.tag = "div"
    lxml.etree.strip_tags(root, *INLINE_TAGS)
    return str(lxml.html.tostring(root, encoding="unicode"))


def tidy_text(text: str) -> str:
    """Extracted text without "¶" marks and table-of-contents title lines (``Contents``, ``On this page``)."""
    lines = [line.replace("¶", "").rstrip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line.strip() and not _CONTENTS_LINE.match(line))


class MainText(Trafilatura):
    """Trafilatura's main text of each HTML page, on :func:`prepare_html`'s DOM, in recall mode; WET text
    records pass through as they are.

    Recall, not FineWeb's precision: on the Debian handbook precision keeps 83 % of the source paragraphs
    verbatim (it keeps one section of a chapter page), recall 99 %, with the same chrome removed on news
    pages. The reader marks WET records ``metadata["extracted"]`` (their text is already extracted); the
    mark is removed here. Drops: ``no_main_text`` (nothing extracted), ``extract_timeout``,
    ``extract_crashed``, ``extract_error``.
    """

    name = "⛏ Main text (Trafilatura)"

    def __init__(self, timeout: float) -> None:
        super().__init__(favour_precision=False, timeout=timeout, deduplicate=True)

    def extract(self, text: str) -> str:
        from trafilatura import extract  # type: ignore[import-untyped]

        found = extract(prepare_html(text), favor_recall=True, include_comments=False, deduplicate=self.deduplicate)
        return tidy_text(found or "")

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with ExtractorSandbox(timeout=self.timeout, warmup_text="") as sandbox:
            for doc in data:
                self.stat_update(StatHints.total)
                reason = self._clean(doc, sandbox)
                if reason:
                    self.stat_update(StatHints.dropped, f"dropped_{reason}")
                    continue
                self.stat_update(StatHints.forwarded)
                self.update_doc_stats(doc)
                yield doc

    def _clean(self, doc: Document, sandbox: ExtractorSandbox) -> str | None:
        """Replaces ``doc.text`` by its main text; returns the drop reason, or ``None`` to keep it."""
        if doc.metadata.pop("extracted", False):
            self.stat_update("plain_text")
            return None if doc.text.strip() else "no_main_text"
        with self.track_time():
            try:
                doc.text = sandbox.process_document(doc.text, self.extract) or ""
            except TimeoutError:
                return "extract_timeout"
            except EOFError:
                return "extract_crashed"
            except Exception:
                return "extract_error"
        return None if doc.text.strip() else "no_main_text"
