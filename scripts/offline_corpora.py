"""Build the three subsets from the real offline inputs with ``compressiq collect`` and print their cards.

The inputs are made here from the fixture cache (``scripts/fixtures.sh``), never committed:
  cc:          one WARC per source of real pages (Python docs, the Debian handbook in 26 languages,
               newspaper4k's news pages) with WARC-Dates over Dec 2024 to Feb 2025, plus the genuine
               Common Crawl WARC and WET files of the warc npm package;
  python:      git repositories with dated commits: standard-library modules (created 2025-01-10),
               the transformers 5.x files headed "Copyright 2026" (2025-01-20), and an older one (2024-06-01);
  arxiv_math:  TeX Live documentation sources packed as arXiv e-prints (gzipped .tex, dated by their
               arXiv-style names 2412.*, 2501.*, 2502.*).
Window: 2025-01-01 to 2025-01-31.

    .venv/bin/python scripts/offline_corpora.py OUT [--pages-per-language 10] [--tex 120]
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import subprocess
import sys
from itertools import cycle, zip_longest
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from compressiq.cli import main as compressiq

FIXTURES = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "compressiq" / "fixtures"
DAYS = ["2024-12-20", "2025-01-03", "2025-01-09", "2025-01-15", "2025-01-21", "2025-01-27", "2025-02-10"]
WINDOW = ["--since", "2025-01-01", "--until", "2025-01-31"]


def write_warc(path: Path, pages: list[Path]) -> None:
    with path.open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        for i, (page, day) in enumerate(zip(pages, cycle(DAYS))):
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            headers = {"WARC-Date": f"{day}T12:00:00Z", "WARC-Identified-Payload-Type": "text/html"}
            url = f"https://offline.test/{i}/{page.relative_to(FIXTURES)}"
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(page.read_bytes()),
                                                          http_headers=http, warc_headers_dict=headers))  # fmt: skip


def cc_inputs(folder: Path, per_language: int, pydoc_pages: int | None = None) -> Path:
    folder.mkdir(parents=True)
    handbook = FIXTURES / "debian-handbook/usr/share/doc/debian-handbook/html"
    languages = sorted(p for p in handbook.iterdir() if p.is_dir())
    write_warc(
        folder / "handbook.warc.gz", [p for lang in languages for p in sorted(lang.glob("*.html"))[:per_language]]
    )
    write_warc(folder / "pydoc.warc.gz", sorted((FIXTURES / "python3.11-doc").rglob("*.html"))[:pydoc_pages])
    write_warc(folder / "news.warc.gz", sorted((FIXTURES / "newspaper4k/tests/data/html").glob("*.html")))
    for genuine in sorted((FIXTURES / "warc/package/test/fixtures").glob("*.war[ct]*")):
        if not genuine.name.endswith(".wat"):
            (folder / genuine.name).write_bytes(genuine.read_bytes())
    return folder


def git_repo(repo: Path, files: dict[str, bytes], date: str) -> None:
    env = os.environ | {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "GIT_CONFIG_GLOBAL": os.devnull}
    env |= {"GIT_AUTHOR_NAME": "offline", "GIT_COMMITTER_NAME": "offline", "GIT_AUTHOR_EMAIL": "o@example.org"}
    env |= {"GIT_COMMITTER_EMAIL": "o@example.org", "GIT_CONFIG_NOSYSTEM": "1"}
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "import"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def python_inputs(folder: Path) -> Path:
    stdlib = Path(os.__file__).parent
    transformers = Path(sys.prefix).glob("lib/python3*/site-packages/transformers")
    dated = [
        p for root in transformers for p in sorted(root.rglob("*.py")) if b"Copyright 2026" in p.read_bytes()[:300]
    ]
    licence = Path("/usr/share/common-licenses/Apache-2.0")
    git_repo(folder / "stdlib", {p.name: p.read_bytes() for p in sorted(stdlib.glob("*.py"))}, "2025-01-10T09:00:00Z")
    files = {str(p.name): p.read_bytes() for p in dated} | {"LICENSE": licence.read_bytes()}
    git_repo(folder / "transformers-2026", files, "2025-01-20T09:00:00Z")
    old = {p.name: p.read_bytes() for p in sorted((stdlib / "json").glob("*.py"))}
    git_repo(folder / "older", old, "2024-06-01T09:00:00Z")
    return folder


def arxiv_inputs(folder: Path, n: int) -> Path:
    """``n`` TeX Live sources as gzipped e-prints; amsmath's testmath.tex and its two copies in other
    classes (aomsample.tex, ijmsample.tex: the same paper) come first, a ready near-duplicate cluster."""
    folder.mkdir(parents=True)
    roots = [
        FIXTURES / f"texlive-{p}-doc/usr/share/doc/texlive-doc/latex" for p in ("latex-base", "science", "publishers")
    ]
    trio = ("testmath.tex", "aomsample.tex", "ijmsample.tex")
    per_root = [sorted(root.rglob("*.tex*")) for root in roots]
    interleaved = [p for group in zip_longest(*per_root) for p in group if p is not None]  # all three packages
    paths = sorted(interleaved, key=lambda p: p.name.removesuffix(".gz") not in trio)  # stable: trio first
    sources = []
    for path in paths:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        if path.name.endswith((".tex", ".tex.gz")) and b"\\documentclass" in data:
            sources.append(data)
    months = cycle(["2501", "2501", "2501", "2412", "2502"])
    for i, (data, month) in enumerate(zip(sources[:n], months)):
        (folder / f"{month}.{i:05d}.gz").write_bytes(gzip.compress(data, mtime=0))
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--pages-per-language", type=int, default=10)
    ap.add_argument("--tex", type=int, default=120, help="TeX Live documents packed as e-prints")
    ap.add_argument("--subset", action="append", choices=["cc", "python", "arxiv_math"])
    args = ap.parse_args()
    inputs = args.out / "inputs"
    build = {
        "cc": lambda: cc_inputs(inputs / "cc", args.pages_per_language),
        "python": lambda: python_inputs(inputs / "python"),
        "arxiv_math": lambda: arxiv_inputs(inputs / "arxiv_math", args.tex),
    }
    for subset in args.subset or build:
        source = inputs / subset if (inputs / subset).exists() else build[subset]()
        code = compressiq(["collect", subset, str(source), "--out", str(args.out / subset), *WINDOW])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
