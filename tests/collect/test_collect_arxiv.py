"""The arxiv_math subset on real TeX Live papers packed as arXiv sources: kept and dropped, each with its reason."""

from __future__ import annotations

import datetime as dt
import gzip
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from datatrove.data import Document

from compressiq.collect.arxiv_math import arxiv_api, latex
from compressiq.collect.arxiv_math import eprints as arxiv
from compressiq.collect.blocks import DateWindow, run_steps
from compressiq.collect.config import CollectConfig
from compressiq.errors import CompressiqError
from tests.collect.test_archives import LATEX, counts, member, texlive, write_tar

PUBLISHERS = "texlive-publishers-doc/usr/share/doc/texlive-doc/latex"
JAN_10 = 1736500000  # 2025-01-10 09:06 UTC
DEC_10 = 1733821200  # 2024-12-10
SINCE, UNTIL = dt.date(2025, 1, 1), dt.date(2025, 1, 31)


def publisher(root: Path, name: str) -> bytes:
    return gzip.decompress((root / PUBLISHERS / name).read_bytes())


def split_testmath(root: Path) -> tuple[bytes, bytes]:
    """amsmath's testmath.tex as an arXiv-style pair: main.tex ``\\input``s sections/application.tex."""
    text = texlive(root, "amsmath/testmath.tex.gz")
    cut, end = text.index(b"\\section{Application}"), text.index(b"\\end{document}")
    main = text[:cut] + b"\\input{sections/application}\n\\end{document}\n"
    return main, text[cut:end]


def arsclassica(root: Path) -> list[tuple[Any, bytes]]:
    """The ArsClassica manual as its real source tree: main, settings, chapters (Latin-1), front matter, images."""
    folder = root / PUBLISHERS / "arsclassica"
    members = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data, name = path.read_bytes(), str(path.relative_to(folder))
        if name.endswith(".gz"):
            data, name = gzip.decompress(data), name.removesuffix(".gz")
        members.append(member(name, data))
    return members


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory, offline_inputs: Path) -> Path:
    """A folder of arXiv-like sources from real documents, named like arXiv ids."""
    root, folder = offline_inputs, tmp_path_factory.mktemp("arxiv")
    main, application = split_testmath(root)
    figure = texlive(root, "psnfss/test/mathtest.tex")  # a complete small document: the figure-like decoy
    write_tar(
        folder / "2501.00001.tar.gz",
        [member("main.tex", main), member("sections/application.tex", application), member("mathtest.tex", figure)]
        + [member("fig.png", b"\x89PNG\r\n\x1a\n" + bytes(64))],
    )
    (folder / "2501.00002.gz").write_bytes(gzip.compress(publisher(root, "aomart/aomsample.tex.gz"), mtime=0))
    (folder / "2501.00003").write_bytes(publisher(root, "ijmart/ijmsample.tex.gz"))
    subeqn = member("subeqn.tex", texlive(root, "amsmath/subeqn.tex.gz"))
    subeqn[0].mtime = DEC_10
    write_tar(folder / "2412.00004.tar.gz", [subeqn])
    write_tar(folder / "2501.00005.tar.gz", arsclassica(root))
    (folder / "2501.00006.gz").write_bytes(gzip.compress(texlive(root, "psnfss/psnfss2e.tex.gz")))
    (folder / "2501.00007").write_bytes((root / LATEX / "amsmath/testmath.pdf").read_bytes())
    (folder / "2501.00008.tex").write_bytes(next(root.glob("python3.11-doc/**/*.png")).read_bytes())
    (folder / "math0501009.gz").write_bytes(gzip.compress(texlive(root, "psnfss/test/mathtest.tex")))
    (folder / "2501.00011.gz").write_bytes(gzip.compress(texlive(root, "url/url.tex.gz")))
    write_tar(folder / "2501.00012.tar.gz", [member("sections/application.tex", application)])
    return folder


@pytest.fixture(scope="module")
def run(sources: Path) -> dict[str, Any]:
    """The reader, the date window and the cleaners over ``sources``: documents out and every step's stats."""
    config = CollectConfig("arxiv_math", (str(sources),), sources / "out", since=SINCE, until=UNTIL)
    steps = [arxiv.reader(config), DateWindow(config.since, config.until), *arxiv.cleaners(config)]
    start = time.perf_counter()
    docs = {doc.id: doc for doc in run_steps(steps)}
    return {"docs": docs, "stats": [counts(step) for step in steps], "seconds": time.perf_counter() - start}


def test_every_source_is_kept_or_dropped_with_its_reason(run: dict[str, Any]) -> None:
    reader, window, pandoc, math = run["stats"]
    assert sorted(run["docs"]) == ["2501.00001", "2501.00002", "2501.00003", "2501.00005"]
    assert {k: v for k, v in reader.items() if k.startswith("dropped_")} == {
        "dropped_pdf_only": 1,
        "dropped_binary": 1,
        "dropped_no_main_tex": 1,
    }
    assert window["dropped_before_since"] == 2  # 2412.00004 (December 2024), math0501009 (January 2005)
    assert pandoc["dropped_pandoc_failed"] == 1  # url.tex: shortverb syntax pandoc cannot parse
    assert math["dropped_too_little_math"] == 1  # psnfss2e: a font manual
    assert run["seconds"] < 30


def test_main_file_inputs_and_dates(run: dict[str, Any]) -> None:
    docs: dict[str, Document] = run["docs"]
    meta = {doc_id: {k: doc.metadata[k] for k in ("date", "main_tex", "encoding")} for doc_id, doc in docs.items()}
    assert meta == {
        "2501.00001": {"date": "2025-01-10", "main_tex": "main.tex", "encoding": "utf-8"},  # member mtimes
        "2501.00002": {"date": "2025-01-01", "main_tex": "2501.00002", "encoding": "utf-8"},  # id month
        "2501.00003": {"date": "2025-01-01", "main_tex": "2501.00003", "encoding": "utf-8"},
        "2501.00005": {"date": "2025-01-10", "main_tex": "ArsClassica.tex", "encoding": "latin-1"},
    }
    assert all(
        doc.metadata["arxiv_id"] == doc.id and doc.metadata["source"].startswith(doc.id) for doc in docs.values()
    )
    assert "# Application" in docs["2501.00001"].text  # the \input section, inlined and converted
    assert "Chapter 2" not in docs["2501.00005"].text and "# Fundamentals" in docs["2501.00005"].text


def test_markdown_keeps_tex_math_and_drops_the_bibliography(run: dict[str, Any]) -> None:
    for doc in run["docs"].values():
        assert doc.metadata["math_share"] >= arxiv.MIN_MATH_SHARE
        assert "thebibliography" not in doc.text and "\\bibitem" not in doc.text and ":::" not in doc.text
    testmath = run["docs"]["2501.00001"].text
    assert "$\\mathbf{A}=(a_{ij})$" in testmath and "$$\\begin{equation}" in testmath
    assert "Liu and Yutze Chow" not in testmath  # a \bibitem of testmath's thebibliography
    assert testmath.startswith("# Sample Paper for the")  # the title, kept by the template


def test_the_near_duplicate_trio_is_all_there_for_dedup(run: dict[str, Any]) -> None:
    """testmath, aomsample and ijmsample are one text in three classes: the reader keeps all three."""
    texts = [run["docs"][doc_id].text for doc_id in ("2501.00001", "2501.00002", "2501.00003")]
    assert all("Hamiltonian" in text for text in texts)


def test_pandoc_timeout_drops_with_its_reason(offline_inputs: Path) -> None:
    doc = Document(text=texlive(offline_inputs, "amsmath/testmath.tex.gz").decode(), id="slow", metadata={})
    step = arxiv.LatexToMarkdown(timeout=0.001)
    assert list(step.run(iter([doc]))) == []
    assert counts(step)["dropped_pandoc_timeout"] == 1


def test_the_pandoc_sandbox_reads_no_local_file() -> None:
    tex = "\\documentclass{article}\\begin{document}$x$ \\input{/etc/passwd} \\include{/etc/hostname}\\end{document}"
    assert latex.strip_references_section(arxiv.to_markdown(tex, 30)).strip() == "$x$"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2501.00001.tar.gz", ("2501.00001", 2025, 1)),
        ("2501.00001v2", ("2501.00001", 2025, 1)),
        ("0704.0001.gz", ("0704.0001", 2007, 4)),
        ("math0501001.gz", ("math/0501001", 2005, 1)),
        ("hep-th_9901001v3.tar.gz", ("hep-th/9901001", 1999, 1)),
        ("math.AG0311012", ("math.AG/0311012", 2003, 11)),
        ("2513.00001", None),
        ("testmath.tex", None),
        ("25010.00001", None),
    ],
)
def test_parse_id(name: str, expected: tuple[str, int, int] | None) -> None:
    assert arxiv.parse_id(name) == expected


@pytest.mark.parametrize(
    ("month", "stamp", "date"),
    [
        ((2025, 1), JAN_10, "2025-01-10"),  # the time falls in the id's month: its day
        ((2025, 2), JAN_10, "2025-02-01"),  # it does not (a re-packed file): the 1st of the id's month
        (None, DEC_10, "2024-12-10"),  # no id: the time alone
    ],
)
def test_paper_date(month: tuple[int, int] | None, stamp: float, date: str) -> None:
    assert arxiv.paper_date(month, stamp) == date


@pytest.mark.parametrize(
    ("tex", "stripped"),
    [
        ("a%comment\n  b", "ab"),
        ("% a whole line\nb", "b"),
        ("50\\% off", "50\\% off"),
        ("line\\\\% comment\nnext", "line\\\\next"),
        ("x\\begin{comment}\nhidden\n\\end{comment}y", "xy"),
        ("kept\n\\endinput\nignored", "kept\n"),
        ("\\endinputs", "\\endinputs"),
    ],
    ids=["eats-newline", "full-line", "escaped", "after-linebreak", "comment-env", "endinput", "not-endinput"],
)
def test_strip_comments(tex: str, stripped: str) -> None:
    assert latex.strip_comments(tex) == stripped


DOC = "\\documentclass{article}\\begin{document}"


@pytest.mark.parametrize(
    ("files", "main"),
    [
        ({"a.tex": DOC, "b.tex": DOC + " longer"}, "b.tex"),  # largest
        ({"a.tex": DOC, "b.tex": "\\documentclass{standalone} much longer preamble"}, "a.tex"),  # \begin{document}
        ({"a.tex": DOC + "\\input{ch}", "ch.tex": DOC + " a listing quoting a whole document"}, "a.tex"),  # input
        ({"a.tex": DOC, "b.tex": DOC}, "a.tex"),  # first name
        ({"sec.tex": "\\section{A}"}, None),
        ({"a.tex": "\\documentclassx"}, None),
        ({"a.tex": DOC + "\\input{}"}, "a.tex"),  # class manuals write \input{} literally
    ],
    ids=["largest", "begin-document", "not-included", "tie", "none", "not-the-command", "empty-input"],
)
def test_find_main(files: dict[str, str], main: str | None) -> None:
    assert latex.find_main(files) == main


def test_inline_resolves_recursively_and_survives_cycles_and_missing_files() -> None:
    files = {
        "paper/main.tex": "M[\\input{sec/a}][\\include{sec/b.tex}][\\input c ][\\input{gone}]\\end{document} junk",
        "paper/sec/a.tex": "A(\\input{sec/a})",  # cycle
        "paper/sec/b.tex": "B(\\input{../../../etc})",  # climbs out of the archive
        "paper/c": "C",
        "etc": "ETC",
    }
    text, missing = latex.inline("paper/main.tex", files)
    assert text == "M[A()][B()][C][]\\end{document}"
    assert missing == ["sec/a", "../../../etc", "gone"]
    assert latex.inline("a.tex", {"a.tex": "x\\input{}y"}) == ("xy", [""])
    deep = {f"{i}.tex": f"{i}\\input{{{i + 1}}}" for i in range(20)}
    assert latex.inline("0.tex", deep, max_depth=3)[0] == "0123"


def test_inline_stops_an_input_bomb() -> None:
    """Eight files, each \\input-ing the next 100 times: 100^7 pastes unbounded, a handful with a budget."""
    files = {f"{i}.tex": f"<{i}>" + f"\\input{{{i + 1}}}" * 100 for i in range(8)}
    text, missing = latex.inline("0.tex", files, max_chars=10_000)
    assert text.startswith("<0><1><2><3><4><5><6><7>") and len(text) < 10_000 and len(missing) > 100


def test_hostile_environments_are_cut_in_linear_time() -> None:
    start = time.perf_counter()
    assert latex.strip_bibliography("Kept." + "\\begin{thebibliography}" * 200_000) == "Kept."
    assert latex.strip_comments("\\begin{comment}" * 200_000 + "\\\\" * 200_000) == ""
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize(
    ("data", "decoded"),
    [
        ("Gödel $x$".encode(), ("Gödel $x$", "utf-8")),
        ("\ufeff\\section{A}".encode(), ("\\section{A}", "utf-8")),
        ("Gödel $x$".encode("latin-1"), ("Gödel $x$", "latin-1")),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", None),
        (bytes(range(1, 32)) * 10 + b"text" * 100, None),
    ],
    ids=["utf-8", "bom", "latin-1", "nul", "control-bytes"],
)
def test_decode(data: bytes, decoded: tuple[str, str] | None) -> None:
    assert latex.decode(data) == decoded


def test_math_share_worked_example() -> None:
    assert latex.math_share("Let $x^2$ be.") == pytest.approx(5 / 13)
    assert latex.math_share("costs \\$5 and \\$6") == 0.0
    assert latex.math_share("$$\na\n$$ and $b$") == pytest.approx(10 / 15)


def test_bibliography_stripping() -> None:
    tex = "Text.\\bibliographystyle{plain}\\bibliography{refs}"
    tex += "\\begin{thebibliography}{9}\\bibitem{k} X\\end{thebibliography}"
    assert latex.strip_bibliography(tex) == "Text."
    markdown = "# Intro\n\nA.\n\n# References\n\n1. X, *Y*.\n\n## Sub\n\nrefs\n\n# Appendix\n\nB.\n"
    assert latex.strip_references_section(markdown) == "# Intro\n\nA.\n\n# Appendix\n\nB.\n"


OAI_PAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">
  <responseDate>2025-02-01T00:00:00Z</responseDate>
  <ListRecords>
    <record><header><identifier>oai:arXiv.org:2501.00001</identifier><datestamp>2025-01-03</datestamp></header>
      <metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>2501.00001</id><created>2025-01-01</created>
        <categories>math.NT cs.IT</categories><license>http://creativecommons.org/licenses/by/4.0/</license>
      </arXiv></metadata></record>
    <record><header status="deleted"><identifier>oai:arXiv.org:2501.00002</identifier></header></record>
    <record><header><identifier>oai:arXiv.org:math/0501001</identifier></header>
      <metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>math/0501001</id><created>2005-01-03</created>
        <categories>math.AG</categories></arXiv></metadata></record>
    <resumptionToken cursor="0" completeListSize="2500">6960524|1001</resumptionToken>
  </ListRecords>
</OAI-PMH>"""


def oai_error(code: str) -> bytes:
    return f'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><error code="{code}">why</error></OAI-PMH>'.encode()


def test_parse_oai() -> None:
    cc_by = "http://creativecommons.org/licenses/by/4.0/"
    assert arxiv_api.parse_oai(OAI_PAGE) == (
        [
            arxiv_api.Listed("2501.00001", "2025-01-01", cc_by, ("math.NT", "cs.IT")),
            arxiv_api.Listed("math/0501001", "2005-01-03", None, ("math.AG",)),
        ],
        "6960524|1001",
    )
    assert arxiv_api.parse_oai(oai_error("noRecordsMatch")) == ([], None)
    with pytest.raises(CompressiqError, match="refused the request: idDoesNotExist: why"):
        arxiv_api.parse_oai(oai_error("idDoesNotExist"))
    with pytest.raises(CompressiqError, match="no XML: b'Rate exceeded.'"):
        arxiv_api.parse_oai(b"Rate exceeded.")


@pytest.fixture
def oai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A local OAI-PMH endpoint: 503 once, then OAI_PAGE, then (for its token) a last page; yields the paths asked."""
    asked: list[str] = []
    last = OAI_PAGE.replace(b"6960524|1001", b"").replace(b"2501.00001", b"2501.09999")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            status, body = (
                (503, b"") if len(asked) == 1 else (200, last if "resumptionToken" in self.path else OAI_PAGE)
            )
            self.send_response(status)
            self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(arxiv_api, "OAI_URL", f"http://127.0.0.1:{server.server_port}/oai")
    monkeypatch.setattr(arxiv_api, "REQUEST_INTERVAL_S", 0.0)
    yield asked
    server.shutdown()


def test_listing_pages_through_and_keeps_the_window_and_category(oai_server: list[str]) -> None:
    papers = arxiv_api.listing("arxiv:math.NT", SINCE, UNTIL)
    assert [p.arxiv_id for p in papers] == ["2501.00001", "2501.09999"]  # math/0501001: 2005, and math.AG
    assert len(oai_server) == 3 and "resumptionToken=6960524%7C1001" in oai_server[2]
    assert "set=math" in oai_server[1] and "from=2025-01-01" in oai_server[1]


CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once


def test_offline_listing_fails_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(arxiv_api, "OAI_URL", f"{CLOSED}/oai")
    config = CollectConfig("arxiv_math", ("arxiv:math",), tmp_path, since=SINCE, until=UNTIL)
    with pytest.raises(CompressiqError, match=r"^arxiv:math: cannot reach arXiv \(.*\); offline, pass source files$"):
        arxiv.reader(config)
    with pytest.raises(CompressiqError, match="give both --since and --until"):
        arxiv.reader(CollectConfig("arxiv_math", ("arxiv:math",), tmp_path))
    with pytest.raises(CompressiqError, match="not an arXiv category"):
        arxiv.reader(CollectConfig("arxiv_math", ("arxiv:math NT",), tmp_path, since=SINCE, until=UNTIL))


def test_listed_papers_come_from_the_cache_or_drop_when_unreachable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, offline_inputs: Path
) -> None:
    monkeypatch.setattr(arxiv_api, "EPRINT_URL", f"{CLOSED}/e-print/{{}}")
    monkeypatch.setattr(arxiv_api, "REQUEST_INTERVAL_S", 0.0)
    cached = tmp_path / "2501.00001"
    cached.write_bytes(gzip.compress(texlive(offline_inputs, "amsmath/testmath.tex.gz")))
    cc_by = "http://creativecommons.org/licenses/by/4.0/"
    papers = [
        arxiv.Paper(cached, "2501.00001", "2025-01-03", cc_by),
        arxiv.Paper(tmp_path / "2501.00002", "2501.00002", "2025-01-04", cc_by),
    ]
    reader = arxiv.SourceReader(papers)
    docs = list(reader.run(None))
    assert [(d.id, d.metadata["date"], d.metadata["license"]) for d in docs] == [("2501.00001", "2025-01-03", cc_by)]
    assert counts(reader)["dropped_download_failed"] == 1
    assert not (tmp_path / "2501.00002").exists()
