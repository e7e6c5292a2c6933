"""The arxiv_math Markdown, by real pandoc: citations as plain "[key]" text, math without \\label and \\qedhere."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from datatrove.data import Document

from compressiq.collect.arxiv_math import eprints as arxiv
from compressiq.collect.arxiv_math import latex
from tests.collect.test_archives import texlive

PAPER = r"""\documentclass{amsart}
\usepackage{amsmath,amsthm,natbib}
\newtheorem{theorem}{Theorem}[section]
\newtheorem{lemma}[theorem]{Lemma}
\title{Sums of squares in short intervals}
\begin{document}
\maketitle
\section{Introduction}\label{sec:intro}
Sums of two squares were counted by Landau \cite{landau08}; see also \cite{hooley71,iwaniec76}
and the survey \citep{friedlander10}. \citet{hooley71} sharpened the error term, and the bound
\cite[p.~3]{iwaniec76} is the best known. Compare \cite[see][Thm.~2]{friedlander10} and \citep[Ch.~4]{iwaniec76}.
\begin{theorem}\label{thm:main}
For $x \ge 2$ and $h = x^{\theta}\label{eq:h}$ we have
\begin{equation}\label{eq:main}
  N(x + h) - N(x) = \frac{B h}{\sqrt{\log x}} \bigl(1 + o(1)\bigr).
\end{equation}
\end{theorem}
\begin{proof}
By Lemma~\ref{lem:sieve},
\begin{align}
  S(x) &= \sum_{n \le x} r(n) \label{eq:s}\\
  &= \pi x + O(x^{1/3}) \nonumber\\
  &\le 4x. \qedhere
\end{align}
\end{proof}
\begin{lemma}\label{lem:sieve}
Every prime $p \equiv 1 \pmod 4$ is a sum of two squares.
\end{lemma}
\begin{proof}
Let $p = a^2 + b^2$ be minimal; then \[ p \mid (a + bi)(a - bi). \qedhere \]
\end{proof}
\end{document}
"""

ALIGN = r"""\begin{align}
  S(x) &= \sum_{n \le x} r(n)\\
  &= \pi x + O(x^{1/3}) \nonumber\\
  &\le 4x.
\end{align}"""
LABEL = re.compile(r"[ \t]*\\label\{[^{}]*\}|[ \t]*\\qedhere(?![A-Za-z@])")
CITE = re.compile(r"\\cite[a-z]*\*?(?:\[[^\]]*\])*\{([^{}]*)\}")


@pytest.fixture(scope="module")
def paper() -> str:
    return arxiv.to_markdown(PAPER, 30)


@pytest.mark.parametrize(
    "expected",
    [
        "Sums of two squares were counted by Landau [landau08]; see also [hooley71, iwaniec76] and the survey"
        " [friedlander10]. [hooley71] sharpened the error term, and the bound [iwaniec76, p.\u00a03] is the best"
        " known. Compare [see friedlander10, Thm.\u00a02] and [iwaniec76, Ch.\u00a04].",
        "For $x \\ge 2$ and $h = x^{\\theta}$ we have",
        "$$\\begin{equation}\n  N(x + h) - N(x) = \\frac{B h}{\\sqrt{\\log x}} \\bigl(1 + o(1)\\bigr)."
        "\n\\end{equation}$$",
        f"$${ALIGN}$$",
        "then $$p \\mid (a + bi)(a - bi).$$",
    ],
    ids=["citations", "inline-label", "equation-label", "align-labels-and-qedhere", "display-qedhere"],
)
def test_citations_read_as_text_and_math_loses_labels(paper: str, expected: str) -> None:
    assert expected in paper


def test_the_paper_keeps_its_shape(paper: str) -> None:
    assert paper.startswith("# Sums of squares in short intervals\n\n# Introduction\n")
    assert "\\label" not in paper and "qedhere" not in paper and "@" not in paper
    assert "\\[" not in paper and "\\]" not in paper  # the citations' brackets are not escaped as Markdown
    assert paper.count("$$") == 2 * 3 and "\\nonumber" in paper  # three displays; other TeX left alone


def test_the_independent_rewrite_of_the_source_matches() -> None:
    """The align environment as written, minus its labels and \\qedhere by a separate regex, is pandoc's math."""
    source = PAPER[PAPER.index("\\begin{align}") : PAPER.index("\\end{align}") + len("\\end{align}")]
    assert LABEL.sub("", source) == ALIGN


def pandoc_tree(tex: str, lua: Path | None = None) -> Any:
    """Pandoc's document tree (JSON) of ``tex``, after the Lua filter ``lua`` if one is given."""
    command = [arxiv.pandoc_path(), "--sandbox", "--from=latex", "--to=json"]
    command += ["--lua-filter", str(lua)] if lua else []
    return json.loads(subprocess.run(command, input=tex.encode(), capture_output=True, check=True, timeout=60).stdout)


def elements(node: Any, tag: str) -> Iterator[Any]:
    """The contents of every element tagged ``tag`` in a pandoc JSON tree, in document order."""
    if isinstance(node, dict):
        if node.get("t") == tag:
            yield node["c"]
        node = list(node.values())
    if isinstance(node, list):
        for child in node:
            yield from elements(child, tag)


def unlabelled(kind: str, tex: str) -> str:
    """``tex`` without labels and \\qedhere, then (only if one went) without blank lines or inline edge spaces."""
    cut = LABEL.sub("", tex)
    if cut == tex:
        return tex
    cut = re.sub(r"\n(?:[ \t]*\n)+", "\n", cut)
    return (cut.strip() if kind == "InlineMath" else cut) if cut.strip() else ""


def test_real_paper_math_is_pandocs_minus_labels_and_every_citation_is_text(
    offline_inputs: Path, tmp_path: Path
) -> None:
    """amsmath's testmath.tex: 520 formulas (32 labels in them) and 17 cited keys. The filter cuts labels only.

    Its verbatim listings of TeX keep their ``\\label``: they are code shown in the paper, not math.
    """
    tex = latex.strip_bibliography(latex.strip_comments(texlive(offline_inputs, "amsmath/testmath.tex.gz").decode()))
    lua = tmp_path / "plain.lua"
    lua.write_text(arxiv.PLAIN_FILTER, encoding="utf-8")
    plain, filtered = pandoc_tree(tex), pandoc_tree(tex, lua)
    math = [unlabelled(kind["t"], text) for kind, text in elements(plain, "Math")]
    assert [text for _, text in elements(filtered, "Math")] == [text for text in math if text] and len(math) > 200
    assert sum(text.count("\\label") for _, text in elements(plain, "Math")) == 32
    assert not any("\\label" in text for _, text in elements(filtered, "Math"))
    cited = [c["citationId"] for citations, _ in elements(plain, "Cite") for c in citations]
    keys = [key.strip() for group in CITE.findall(tex) for key in group.split(",")]
    assert cited == keys and len(keys) == 17 and not list(elements(filtered, "Cite"))
    markdown = arxiv.to_markdown(tex, 60)
    assert "[@" not in markdown and all(key in markdown for key in keys)
    listed = [text for tag in ("Code", "CodeBlock") for _, text in elements(filtered, tag)]
    assert markdown.count("\\label") == sum(text.count("\\label") for text in listed) > 0  # listings keep theirs
    assert "[komiyo:lincomp, miyoki:lincomp]" in markdown and "[ste:sint, 2.5.16]" in markdown


def test_the_markdown_step_uses_the_filter(offline_inputs: Path) -> None:
    """LatexToMarkdown, the pipeline's step, on aomsample.tex (a real AoM sample with a multi-line \\cite)."""
    root = offline_inputs / "texlive-publishers-doc/usr/share/doc/texlive-doc/latex"
    data = (root / "aomart/aomsample.tex.gz").read_bytes()
    doc = Document(text=latex.strip_comments(gzip.decompress(data).decode()), id="aom", metadata={})
    (kept,) = arxiv.LatexToMarkdown(60).run(iter([doc]))
    assert "[@" not in kept.text and "[liuchow:formalsum] $$\\begin{equation}\n\\biggl(\\prod" in kept.text
    assert all(line.startswith("    ") for line in kept.text.splitlines() if "\\label" in line)  # listings only
    assert "It is always a pleasure to cite Knuth\u00a0[Knuth94:TheTeXbook]." in kept.text
    assert "[Lenstra74, Zarhin92, Minasyan08, Arnold89:MathMethodsMechanics" in kept.text
