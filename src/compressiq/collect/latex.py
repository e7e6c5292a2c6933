"""Pure functions on LaTeX sources and the Markdown pandoc makes of them: no I/O, no pandoc, no globals.

An arXiv source is a handful of files; :func:`find_main` picks the one LaTeX would compile and
:func:`inline` pastes in what it ``\\input``s, so the rest of the pipeline sees one text per paper.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping

MAX_INPUT_DEPTH = 8  # \input nesting deeper than this is dropped (real papers nest 2-3 levels)
MAX_CONTROL_SHARE = 0.01  # more C0 control bytes than this share (or any NUL) means binary, not TeX

_CONTROL = frozenset(range(32)) - {9, 10, 12, 13}  # tab, newline, form feed, carriage return are text
_COMMENT = re.compile(r"(?<!\\)((?:\\\\)*)%[^\n]*(?:\n[ \t]*)?")
_COMMENT_ENV = re.compile(r"\\begin\{comment\}.*?\\end\{comment\}", re.DOTALL)
# \input{a}, \include{a}, or TeX's bare \input a (the space that ends the name is part of the command)
_INPUT = re.compile(r"\\(?:input|include)(?![A-Za-z@])\s*(?:\{([^{}]*)\}|([^\s{}\\%]+) ?)")
_DOCUMENTCLASS = re.compile(r"\\document(?:class|style)(?![A-Za-z@])")
_BEGIN_DOCUMENT = re.compile(r"\\begin\s*\{document\}")
_END_DOCUMENT = re.compile(r"\\end\s*\{document\}")
_ENDINPUT = re.compile(r"\\endinput(?![A-Za-z@])")
_BIBLIOGRAPHY = re.compile(
    r"\\begin\{thebibliography\}.*?\\end\{thebibliography\}"
    r"|\\(?:bibliography|bibliographystyle|addbibresource|nocite)\s*(?:\[[^\]]*\])?\{[^{}]*\}"
    r"|\\printbibliography(?![A-Za-z@])(?:\[[^\]]*\])?",
    re.DOTALL,
)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*$", re.MULTILINE)
_REFERENCES_TITLE = re.compile(r"^(?:[\dA-Z]+\.?\s+)?(?:references?|bibliography|literature|works cited)\W*$", re.I)
_MATH = re.compile(r"(?<!\\)\$\$.+?(?<!\\)\$\$|(?<!\\)\$[^$\n]+?(?<!\\)\$", re.DOTALL)


def decode(data: bytes) -> tuple[str, str] | None:
    """The text of a TeX file and its encoding, or ``None`` when the bytes are binary (not TeX at all).

    UTF-8 first (a BOM is dropped); otherwise Latin-1, the encoding of most pre-UTF-8 arXiv sources
    (``\\usepackage[latin1]{inputenc}``). Latin-1 decodes any bytes, so binary is ruled out first: any
    NUL byte, or more than 1% C0 control bytes in the first 64 KiB (a PNG or a PDF stream has ~10%).
    """
    head = data[:65536]
    if b"\0" in head or sum(b in _CONTROL for b in head) > MAX_CONTROL_SHARE * max(len(head), 1):
        return None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def strip_comments(tex: str) -> str:
    """``tex`` without ``%`` comments, ``comment`` environments and anything after ``\\endinput``.

    As in TeX, a comment also eats its newline and the next line's indentation (``a%\\n  b`` is ``ab``);
    ``\\%`` is a percent sign, ``\\\\%`` a line break then a comment. Verbatim text is not special-cased.
    """
    tex = _COMMENT.sub(r"\1", tex.replace("\r\n", "\n"))
    tex = _COMMENT_ENV.sub("", tex)
    end = _ENDINPUT.search(tex)
    return tex[: end.start()] if end else tex


def input_targets(tex: str) -> list[str]:
    """The file names in ``\\input{a}``, ``\\input a`` and ``\\include{a}``, in order, as written."""
    return [(m.group(1) or m.group(2)).strip() for m in _INPUT.finditer(tex)]


def resolve(target: str, including: str, main: str, files: Mapping[str, object]) -> str | None:
    """The member an ``\\input{target}`` in file ``including`` reads, or ``None`` if the source lacks it.

    LaTeX looks relative to the main file's folder (its working directory), with or without ``.tex``;
    the including file's own folder is tried next, as many authors write paths that way. Names never
    leave the archive: ``../x`` that climbs above its root resolves to nothing.
    """
    for folder in dict.fromkeys((posixpath.dirname(main), posixpath.dirname(including))):
        for name in (target, f"{target}.tex"):
            path = posixpath.normpath(posixpath.join(folder, name))
            if not path.startswith(("../", "/")) and path in files:
                return path
    return None


def find_main(files: Mapping[str, str]) -> str | None:
    """The file LaTeX would compile: it has ``\\documentclass`` (or 2.09's ``\\documentstyle``).

    Among several: not ``\\input`` by another file (a chapter quoting ``\\documentclass`` in a listing),
    then one with ``\\begin{document}`` (a class file or a figure preamble lacks it), then the largest,
    then the first name. ``files`` holds comment-stripped text, so a commented-out class is no match.
    """
    candidates = [name for name, tex in files.items() if _DOCUMENTCLASS.search(tex)]
    included = {resolve(target, name, name, files) for name in files for target in input_targets(files[name])}

    def rank(name: str) -> tuple[bool, bool, int]:
        return name not in included, bool(_BEGIN_DOCUMENT.search(files[name])), len(files[name])

    return max(sorted(candidates), key=rank, default=None)


def inline(main: str, files: Mapping[str, str], max_depth: int = MAX_INPUT_DEPTH) -> tuple[str, list[str]]:
    """The main file with every ``\\input``/``\\include`` replaced by the file's text, recursively.

    Returns the text and the targets that were dropped: missing from the source, a cycle (``a`` inputs
    ``b`` inputs ``a``) or deeper than ``max_depth``. The main file is cut after its ``\\end{document}``
    (LaTeX ignores the rest). Nothing is read from disk: unresolved commands vanish, pandoc sees none.
    """
    missing: list[str] = []

    def expand(name: str, stack: tuple[str, ...]) -> str:
        def replace(match: re.Match[str]) -> str:
            target = (match.group(1) or match.group(2)).strip()
            path = resolve(target, name, main, files)
            if path is None or path in stack or len(stack) > max_depth:
                missing.append(target)
                return ""
            return expand(path, (*stack, path))

        text = files[name]
        end = _END_DOCUMENT.search(text) if name == main else None
        return _INPUT.sub(replace, text[: end.end()] if end else text)

    return expand(main, (main,)), missing


def strip_bibliography(tex: str) -> str:
    """``tex`` without its bibliography: ``thebibliography`` and the BibTeX/biblatex commands."""
    return _BIBLIOGRAPHY.sub("", tex)


def strip_references_section(markdown: str) -> str:
    """``markdown`` without a section titled References/Bibliography (a hand-made reference list).

    The section runs to the next heading of the same or a higher level, or to the end.
    """
    headings = list(_HEADING.finditer(markdown))
    for i, heading in enumerate(headings):
        if _REFERENCES_TITLE.match(heading.group(2).strip("*_ ")):
            level = len(heading.group(1))
            after = (h for h in headings[i + 1 :] if len(h.group(1)) <= level)
            end = next((h.start() for h in after), len(markdown))
            return strip_references_section(markdown[: heading.start()] + markdown[end:])
    return markdown


def math_share(markdown: str) -> float:
    """The share of characters inside ``$…$`` or ``$$…$$`` math, delimiters included.

    Worked example: ``"Let $x^2$ be."`` has 5 math characters out of 13, a share of 0.38.
    Pandoc writes literal dollars as ``\\$``, which open no math.
    """
    if not markdown:
        return 0.0
    return sum(len(m.group()) for m in _MATH.finditer(markdown)) / len(markdown)
