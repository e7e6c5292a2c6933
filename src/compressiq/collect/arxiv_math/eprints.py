"""The arxiv_math subset: one Markdown document per arXiv LaTeX source, math kept as TeX (``$…$``).

Inputs are arXiv source files as distributed (a gzipped tarball, a gzipped single file or plain TeX,
told apart by their bytes, see :mod:`compressiq.collect.arxiv_math.archives`) or folders of them; online,
``arxiv:math`` (any math.* listing), ``arxiv:math.NT`` or ``arxiv:2501.00001`` lists papers through arXiv's
OAI-PMH and downloads their sources into the cache (:mod:`compressiq.collect.arxiv_math.arxiv_api`); such papers
are dated by their listing (first version) and carry ``metadata["license"]``.

The date of a paper (``metadata["date"]``, what the date window filters on) is its listing's when
arXiv listed it; for a local file:

1. its arXiv id, from the file name, gives the month of the first version: ``2501.00001`` → 2025-01,
   old style ``math0501001`` (``math/0501001``) → 2005-01;
2. the day is the newest member's mtime in the tarball (arXiv keeps submission times), else the
   gzip header's time, else the file's mtime (the cache sets it to the submission date), when that
   time falls in the id's month; otherwise the 1st of that month;
3. without an id in the name, that time alone dates the paper.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.utils.logging import logger

from compressiq.collect.arxiv_math import arxiv_api, latex
from compressiq.collect.arxiv_math.archives import ArchiveError, Source, read_source
from compressiq.collect.blocks import warn
from compressiq.collect.config import CollectConfig
from compressiq.errors import CompressiqError, missing_extra

MIN_MATH_SHARE = 0.05  # ≥ 1 character in 20 inside $…$: math papers have 0.1-0.6, class manuals < 0.02
TEX_SUFFIXES = (".tex", ".ltx", ".latex")
PANDOC_HEAP = "2g"  # pandoc's own memory cap (+RTS -M): a pathological macro fails instead of swapping
# Pandoc's Markdown without its attribute syntax ({#id .class}, ::: divs, [x]{.span}): plain prose and $math$.
MARKDOWN = "markdown-fenced_divs-bracketed_spans-link_attributes-header_attributes-native_divs-native_spans"
MARKDOWN += "-raw_attribute-raw_html"
# --standalone with this template keeps the title and the abstract, which pandoc files as metadata.
TEMPLATE = "$if(title)$# $title$\n\n$endif$$if(abstract)$$abstract$\n\n$endif$$body$\n"
# A Lua filter on pandoc's document tree, so it sees exactly what pandoc parsed: every citation macro
# (\cite, natbib's \citep/\citet, biblatex's \parencite/\textcite, …) is one Cite, and math is Math.
# A citation becomes its keys as plain text, "[a, b]" (prefix and note kept: "[see a, p. 3]"), not "[@a; @b]";
# math loses \label{…} and \qedhere, which only number and place marks, and any line or edge space they leave.
PLAIN_FILTER = r"""
local function text(inlines)
  return (pandoc.utils.stringify(inlines):gsub("^%s+", ""):gsub("%s+$", ""))
end

function Cite(cite)
  local parts = {}
  for _, c in ipairs(cite.citations) do
    local prefix, suffix = text(c.prefix), text(c.suffix)
    local part = (prefix ~= "" and prefix .. " " or "") .. c.id
    if suffix ~= "" then part = part .. (suffix:find("^[,;]") and "" or ", ") .. suffix end
    if c.id ~= "" then table.insert(parts, part) end
  end
  if #parts == 0 then return {} end
  return pandoc.RawInline("markdown", "[" .. table.concat(parts, ", ") .. "]")  -- raw: no "\\[" escapes
end

function Math(elem)
  local tex, labels = elem.text:gsub("[ \t]*\\label%s*%b{}", "")
  local qeds
  tex, qeds = tex:gsub("[ \t]*\\qedhere%f[^%a@]", "")
  if labels + qeds == 0 then return nil end  -- math without them is left exactly as pandoc read it
  local blank
  repeat tex, blank = tex:gsub("\n[ \t]*\n", "\n") until blank == 0
  if elem.mathtype == "InlineMath" then tex = tex:gsub("^%s+", ""):gsub("%s+$", "") end
  if not tex:find("%S") then return {} end
  elem.text = tex
  return elem
end
"""

_NEW_ID = re.compile(r"^(?P<id>(?P<yy>\d\d)(?P<mm>\d\d)\.\d{4,5})(?:v\d+)?(?!\d)")
_OLD_ID = re.compile(
    r"^(?P<archive>[a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?)[_/]?(?P<num>(?P<yy>\d\d)(?P<mm>\d\d)\d{3})(?:v\d+)?(?!\d)"
)


def reader(config: CollectConfig) -> PipelineStep:
    """The arXiv sources of ``config.inputs`` as documents; lists ``arxiv:`` inputs online right here."""
    return SourceReader(papers(config))


def cleaners(config: CollectConfig) -> list[PipelineStep]:
    """LaTeX → Markdown by pandoc without the bibliography, then keep papers with enough math."""
    return [LatexToMarkdown(config.pandoc_timeout), EnoughMath(MIN_MATH_SHARE)]


@dataclass(frozen=True)
class Paper:
    """One source file to read; ``arxiv_id``, ``date`` and ``license`` are set when arXiv listed it."""

    path: Path
    arxiv_id: str | None = None
    date: str | None = None
    license: str | None = None


def papers(config: CollectConfig) -> list[Paper]:
    """Every input as papers: files, the files under folders (sorted), and ``arxiv:`` listings."""
    found: list[Paper] = []
    for item in config.inputs:
        path = Path(item)
        if item.startswith("arxiv:"):
            for listed in arxiv_api.listing(item, config.since, config.until):
                path = arxiv_api.cache_path(listed.arxiv_id)
                found.append(Paper(path, listed.arxiv_id, listed.created, listed.license))
        elif path.is_dir():
            found += [Paper(p) for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith(".")]
        elif path.is_file():
            found.append(Paper(path))
        else:
            raise CompressiqError(f"{item}: no such file or folder (arxiv_math reads arXiv sources or arxiv:math)")
    if not config.inputs:
        raise CompressiqError("arxiv_math needs inputs: arXiv source files, folders of them, or arxiv:math")
    return found


def parse_id(name: str) -> tuple[str, int, int] | None:
    """The arXiv id in a file name and its (year, month): ``"2501.00001v2.tar.gz"`` → ``("2501.00001", 2025, 1)``.

    Old-style ids lose their slash in file names: ``"math0501001.gz"`` → ``("math/0501001", 2005, 1)``;
    two-digit years from 91 are 19xx (arXiv opened in 1991).
    """
    if new := _NEW_ID.match(name):
        year, month, arxiv_id = 2000 + int(new["yy"]), int(new["mm"]), new["id"]
    elif old := _OLD_ID.match(name):
        yy = int(old["yy"])
        year, month, arxiv_id = (1900 if yy >= 91 else 2000) + yy, int(old["mm"]), f"{old['archive']}/{old['num']}"
    else:
        return None
    return (arxiv_id, year, month) if 1 <= month <= 12 else None


def paper_date(month: tuple[int, int] | None, stamp: float) -> str:
    """The ISO date of a paper from its id's (year, month) and a POSIX time (rule in the module docstring)."""
    day = dt.datetime.fromtimestamp(stamp, dt.UTC).date()
    if month is None or (day.year, day.month) == month:
        return day.isoformat()
    return dt.date(*month, 1).isoformat()


def is_tex_name(name: str) -> bool:
    """Members worth reading: TeX files, and suffix-less ones (``\\input{intro}`` may name such a file)."""
    base = name.rsplit("/", 1)[-1]
    return base.lower().endswith(TEX_SUFFIXES) or "." not in base


def describe(paper: Paper, source: Source, main: str, encoding: str) -> dict[str, str]:
    """The metadata of a paper: date, source (file name), main_tex, encoding; arxiv_id and license if known."""
    known = parse_id(paper.path.name)
    stamp = source.mtime if source.mtime is not None else paper.path.stat().st_mtime
    date = paper.date[:10] if paper.date else paper_date(known[1:] if known else None, stamp)
    metadata = {"date": date, "source": paper.path.name, "main_tex": main, "encoding": encoding}
    if arxiv_id := paper.arxiv_id or (known[0] if known else None):
        metadata["arxiv_id"] = arxiv_id
    if paper.license:
        metadata["license"] = paper.license
    return metadata


class SourceReader(PipelineStep):
    """One document per source file: the main ``.tex`` with its ``\\input``s inlined and comments dropped.

    Unreadable sources are skipped, warned about on the terminal by name and counted as ``dropped_<reason>``:
    the :class:`~compressiq.collect.arxiv_math.archives.ArchiveError` reasons, ``download_failed``,
    ``unreadable`` (an OS error), ``binary`` (no text member), ``no_tex`` (no TeX member) and
    ``no_main_tex`` (no ``\\documentclass``). ``documents`` counts those read.
    """

    name = "📜 arXiv sources"
    type = "📖 - READER"

    def __init__(self, papers: list[Paper]) -> None:
        super().__init__()
        self.papers = papers

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        for paper in self.papers[rank::world_size]:
            with self.track_time():
                doc = self.read(paper)
            if doc is not None:
                self.stat_update("documents")
                self.update_doc_stats(doc)
                yield doc

    def read(self, paper: Paper) -> Document | None:
        """The document of one paper, or ``None`` when it is dropped (counted and logged)."""
        try:
            if paper.arxiv_id and paper.date:  # listed online: download once into the cache
                arxiv_api.fetch(paper.arxiv_id, paper.path, paper.date)
            source = read_source(paper.path, wanted=is_tex_name)
        except ArchiveError as error:
            return self.drop(error.reason, str(error))
        except OSError as error:  # unreadable file: a permission, a vanished path
            return self.drop("unreadable", f"{paper.path.name}: {type(error).__name__}: {error}")
        texts, encodings = self.decode(source.files)
        if not texts:
            return self.drop("binary" if source.files else "no_tex", f"{paper.path.name}: no TeX text in it")
        main = latex.find_main(texts)
        if main is None:
            return self.drop("no_main_tex", f"{paper.path.name}: no file with \\documentclass")
        text, missing = latex.inline(main, texts)
        self.stat_update("inputs_missing", value=len(missing))
        metadata = describe(paper, source, main, "latin-1" if "latin-1" in encodings else "utf-8")
        return Document(text=text, id=metadata.get("arxiv_id", paper.path.name), metadata=metadata)

    def decode(self, files: dict[str, bytes]) -> tuple[dict[str, str], set[str]]:
        """Comment-stripped text of each member that is text; binary members are counted and left out."""
        texts: dict[str, str] = {}
        encodings: set[str] = set()
        for name, data in files.items():
            decoded = latex.decode(data)
            if decoded is None:
                self.stat_update("binary_members")
                continue
            texts[name] = latex.strip_comments(decoded[0])
            encodings.add(decoded[1])
        return texts, encodings

    def drop(self, reason: str, message: str) -> Document | None:
        """Count ``dropped_<reason>`` and log ``message``; no document (typed so ``return self.drop`` reads)."""
        warn(f"arxiv_math: skipped {message}")
        self.stat_update(f"dropped_{reason}")
        return None


class PandocError(Exception):
    """Pandoc could not convert a document; ``reason`` is ``pandoc_timeout`` or ``pandoc_failed``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@functools.cache
def pandoc_path() -> str:
    """The pandoc that pypandoc-binary bundles (or, failing that, finds on the PATH)."""
    try:
        import pypandoc
    except ImportError:
        raise missing_extra("pypandoc-binary", "collect") from None
    try:
        return str(pypandoc.get_pandoc_path())
    except OSError as error:
        raise CompressiqError(f"pandoc not found ({error}): pip install pypandoc-binary") from None


def to_markdown(tex: str, timeout: float) -> str:
    """Pandoc's Markdown of a LaTeX document (``--wrap=none``: one line per paragraph), math as ``$TeX$``.

    Citations read as plain text and math has no ``\\label`` or ``\\qedhere`` (:data:`PLAIN_FILTER`):
    ``\\cite[p.~3]{a}`` is ``[a, p. 3]`` and ``$$x \\label{e}$$`` is ``$$x$$``. Pandoc runs sandboxed
    (``--sandbox``: it reads no file, so ``\\input{/etc/passwd}`` stays out) in an empty folder, with a
    heap cap and a ``timeout`` in seconds; raises :class:`PandocError`.
    """
    with tempfile.TemporaryDirectory(prefix="compressiq-pandoc-") as work:
        template, plain = Path(work, "paper.template"), Path(work, "plain.lua")
        template.write_text(TEMPLATE, encoding="utf-8")
        plain.write_text(PLAIN_FILTER, encoding="utf-8")
        command = [pandoc_path(), "+RTS", f"-M{PANDOC_HEAP}", "-RTS", "--sandbox", "--standalone"]
        command += ["--template", str(template), "--lua-filter", str(plain)]
        command += ["--from=latex", f"--to={MARKDOWN}", "--wrap=none"]
        try:
            done = subprocess.run(command, input=tex.encode(), capture_output=True, timeout=timeout, cwd=work)
        except subprocess.TimeoutExpired:
            raise PandocError("pandoc_timeout", f"pandoc took over {timeout:g} s") from None
    if done.returncode != 0:
        first = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[0]
        raise PandocError("pandoc_failed", f"pandoc exit {done.returncode}: {first[:200]}")
    return done.stdout.decode("utf-8", errors="replace")


class LatexToMarkdown(BaseFilter):
    """Converts each document to Markdown in place, without its bibliography; drops it if pandoc fails.

    The bibliography goes twice: ``thebibliography`` and the BibTeX commands before pandoc, then a
    section titled References/Bibliography (a hand-made list) from the Markdown. Citations stay, as
    their keys in plain text (``[a, b]``), see :func:`to_markdown`.
    """

    name = "📐 LaTeX → Markdown"

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        tex = latex.strip_bibliography(doc.text)
        try:
            markdown = to_markdown(tex, self.timeout)
        except PandocError as error:
            logger.warning(f"arxiv_math: skipped {doc.metadata.get('source', doc.id)}: {error}")
            return False, error.reason
        text = latex.strip_references_section(markdown).strip() + "\n"
        if len(tex) < len(doc.text) or len(text) < len(markdown.strip()):
            self.stat_update("bibliography_removed")
        doc.text = text
        return True


class EnoughMath(BaseFilter):
    """Keeps documents with at least ``min_share`` of their characters in ``$…$`` math (``too_little_math``).

    The share is stored as ``metadata["math_share"]``; see :func:`~compressiq.collect.arxiv_math.latex.math_share`.
    """

    name = "∑ Enough math"

    def __init__(self, min_share: float) -> None:
        super().__init__()
        self.min_share = min_share

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        share = latex.math_share(doc.text)
        doc.metadata["math_share"] = round(share, 4)
        return True if share >= self.min_share else (False, "too_little_math")
