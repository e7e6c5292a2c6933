"""Pure functions on LaTeX sources and the Markdown pandoc makes of them: no I/O, no pandoc, no globals.

An arXiv source is a handful of files; :func:`find_main` picks the one LaTeX would compile and
:func:`inline` pastes in what it ``\\input``s, so the rest of the pipeline sees one text per paper.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping

MAX_INPUT_DEPTH = 8  # \input nesting deeper than this is dropped (real papers nest 2-3 levels)
MAX_INLINED_CHARS = 16 * 2**20  # a file \input 100 times, each inputting another 100 times, stops here
MAX_CONTROL_SHARE = 0.01  # more C0 control bytes than this share (or any NUL) means binary, not TeX

_CONTROL = frozenset(range(32)) - {9, 10, 12, 13}  # tab, newline, form feed, carriage return are text
_COMMENT = re.compile(r"(?<!\\)((?:\\\\)*)%[^\n]*(?:\n[ \t]*)?")
# \input{a}, \include{a}, or TeX's bare \input a (the space that ends the name is part of the command)
_INPUT = re.compile(r"\\(?:input|include)(?![A-Za-z@])\s*(?:\{([^{}]*)\}|([^\s{}\\%]+) ?)")
_DOCUMENTCLASS = re.compile(r"\\document(?:class|style)(?![A-Za-z@])")
_BEGIN_DOCUMENT = re.compile(r"\\begin\s*\{document\}")
_END_DOCUMENT = re.compile(r"\\end\s*\{document\}")
_ENDINPUT = re.compile(r"\\endinput(?![A-Za-z@])")
_BIBLIOGRAPHY = re.compile(
    r"\\(?:bibliography|bibliographystyle|addbibresource|nocite)\s*(?:\[[^\]]*\])?\{[^{}]*\}"
    r"|\\printbibliography(?![A-Za-z@])(?:\[[^\]]*\])?"
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
    tex = cut_environment(tex, "comment")
    end = _ENDINPUT.search(tex)
    return tex[: end.start()] if end else tex


def input_targets(tex: str) -> list[str]:
    """The file names in ``\\input{a}``, ``\\input a`` and ``\\include{a}``, in order, as written."""
    return [_target(m) for m in _INPUT.finditer(tex)]


def _target(match: re.Match[str]) -> str:
    """The file an ``\\input`` names; ``\\input{}`` (seen in class manuals) names the empty string."""
    braced, bare = match.group(1), match.group(2)
    return (braced if braced is not None else bare or "").strip()


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


def inline(
    main: str, files: Mapping[str, str], max_depth: int = MAX_INPUT_DEPTH, max_chars: int = MAX_INLINED_CHARS
) -> tuple[str, list[str]]:
    """The main file with every ``\\input``/``\\include`` replaced by the file's text, recursively.

    Returns the text and the targets that were dropped: missing from the source, a cycle (``a`` inputs
    ``b`` inputs ``a``), deeper than ``max_depth`` or past ``max_chars`` pasted in all. The main file
    is cut after its ``\\end{document}`` (LaTeX ignores the rest). Nothing is read from disk:
    unresolved commands vanish, so pandoc sees none.
    """
    missing: list[str] = []
    budget = max_chars

    def expand(name: str, stack: tuple[str, ...]) -> str:
        def replace(match: re.Match[str]) -> str:
            nonlocal budget
            target = _target(match)
            path = resolve(target, name, main, files)
            if path is None or path in stack or len(stack) > max_depth or len(files[path]) > budget:
                missing.append(target)
                return ""
            budget -= len(files[path])
            return expand(path, (*stack, path))

        text = files[name]
        end = _END_DOCUMENT.search(text) if name == main else None
        return _INPUT.sub(replace, text[: end.end()] if end else text)

    return expand(main, (main,)), missing


def cut_environment(tex: str, name: str) -> str:
    """``tex`` without each ``\\begin{name}…\\end{name}``; an unclosed one runs to the end.

    A scan with ``str.find``, not a lazy regex: linear even on a hostile file of a million openings.
    """
    begin, end = f"\\begin{{{name}}}", f"\\end{{{name}}}"
    pieces, at = [], 0
    while (start := tex.find(begin, at)) != -1:
        pieces.append(tex[at:start])
        stop = tex.find(end, start + len(begin))
        at = len(tex) if stop == -1 else stop + len(end)
    return "".join(pieces) + tex[at:]


def strip_bibliography(tex: str) -> str:
    """``tex`` without its bibliography: ``thebibliography`` and the BibTeX/biblatex commands."""
    return _BIBLIOGRAPHY.sub("", cut_environment(tex, "thebibliography"))


def strip_references_section(markdown: str) -> str:
    """``markdown`` without a section titled References/Bibliography (a hand-made reference list).

    The section runs to the next heading of the same or a higher level, or to the end.
    """
    pieces: list[str] = []
    start, level = 0, 0  # where kept text resumes; the level of the section being cut (0: none)
    for heading in _HEADING.finditer(markdown):
        depth = len(heading.group(1))
        if level and depth > level:
            continue
        if level:
            start, level = heading.start(), 0
        if _REFERENCES_TITLE.match(heading.group(2).strip("*_ ")):
            pieces.append(markdown[start : heading.start()])
            level = depth
    return "".join(pieces) + ("" if level else markdown[start:])


def math_share(markdown: str) -> float:
    """The share of characters inside ``$…$`` or ``$$…$$`` math, delimiters included.

    Worked example: ``"Let $x^2$ be."`` has 5 math characters out of 13, a share of 0.38.
    Pandoc writes literal dollars as ``\\$``, which open no math.
    """
    if not markdown:
        return 0.0
    return sum(len(m.group()) for m in _MATH.finditer(markdown)) / len(markdown)
