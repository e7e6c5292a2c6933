"""Hostile and broken arXiv source files: nothing escapes, bombs stop, damage is reported by name."""

from __future__ import annotations

import gzip
import io
import tarfile
import time
from pathlib import Path

import pytest

from compressiq.collect.arxiv_math import eprints as arxiv
from compressiq.collect.arxiv_math.archives import ArchiveError, read_source, safe_name, sniff
from compressiq.collect.blocks import run_steps
from compressiq.collect.config import CollectConfig

LATEX = "texlive-latex-base-doc/usr/share/doc/texlive-doc/latex"
BOMB_BYTES = 200 * 2**20


def texlive(root: Path, name: str) -> bytes:
    """A real TeX Live document, un-gzipped: ``name`` is ``<package>/<file>.tex[.gz]`` under LATEX."""
    data = (root / LATEX / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


def member(
    name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size, info.mtime = kind, link, len(data), 1736500000  # 2025-01-10
    return info, data


def write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], mode: str = "w:gz") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def counts(step: object) -> dict[str, float]:
    return {key: value.total for key, value in step.stats.stats.items()}  # type: ignore[attr-defined]


def read_folder(folder: Path) -> tuple[list[str], dict[str, float]]:
    """The document ids the arxiv_math reader makes of a folder, and its stats."""
    reader = arxiv.reader(CollectConfig("arxiv_math", (str(folder),), folder / "out"))
    return [doc.id for doc in run_steps([reader])], counts(reader)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (gzip.compress(b"\\documentclass{article}"), "gzip"),
        (b"%PDF-1.5\n%\xe2\xe3", "pdf"),
        (b"\\documentclass{article}\n" * 30, "other"),
        (member("main.tex", b"x")[0].tobuf(), "tar"),
        (b"", "other"),
    ],
    ids=["gzip", "pdf", "tex", "tar", "empty"],
)
def test_sniff_reads_the_magic_not_the_name(head: bytes, kind: str) -> None:
    assert sniff(head) == kind


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("main.tex", "main.tex"),
        ("./sec/intro.tex", "sec/intro.tex"),
        ("sec/../main.tex", "main.tex"),
        ("../evil.tex", None),
        ("sec/../../evil.tex", None),
        ("/etc/passwd", None),
        (".", None),
    ],
)
def test_safe_name(name: str, safe: str | None) -> None:
    assert safe_name(name) == safe


def test_hostile_members_are_neither_read_nor_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``../``, absolute, symlink, hardlink, device and fifo members: skipped unread, nothing lands on disk."""
    main = b"\\documentclass{article}\\begin{document}\nSafe.\n" + b"".join(
        b"\\input{%s}\n" % name for name in (b"../evil", b"/abs/evil", b"link", b"hard", b"dev", b"fifo")
    )
    hostile = [
        member("../evil.tex", b"EVIL dotdot"),
        member("/abs/evil.tex", b"EVIL absolute"),
        member("link.tex", kind=tarfile.SYMTYPE, link="/etc/passwd"),
        member("hard.tex", kind=tarfile.LNKTYPE, link="../evil.tex"),
        member("dev.tex", kind=tarfile.CHRTYPE),
        member("fifo.tex", kind=tarfile.FIFOTYPE),
    ]
    box = tmp_path / "box"
    archive = write_tar(box / "2501.00010.tar.gz", [member("main.tex", main), *hostile])
    monkeypatch.chdir(box)  # where an extracting reader would write
    before = tree(tmp_path)

    source = read_source(archive)
    ids, stats = read_folder(box)

    assert tree(tmp_path) == before == ["box", "box/2501.00010.tar.gz"]
    assert list(source.files) == ["main.tex"]
    assert source.skipped == tuple(info.name for info, _ in hostile)
    doc = next(run_steps([arxiv.reader(CollectConfig("arxiv_math", (str(archive),), tmp_path))]))
    assert "Safe." in doc.text and "EVIL" not in doc.text and "root:" not in doc.text and "\\input" not in doc.text
    assert ids == ["2501.00010"] and stats["inputs_missing"] == 6


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """200 MiB of zeros as a gzipped single file (~200 kB) and as a gzipped tarball member."""
    folder = tmp_path_factory.mktemp("bombs")
    with gzip.open(folder / "2501.66666.gz", "wb", compresslevel=9) as f:
        for _ in range(BOMB_BYTES >> 20):
            f.write(bytes(2**20))
    info, _ = member("main.tex")
    info.size = BOMB_BYTES
    with tarfile.open(folder / "2501.77777.tar.gz", "w:gz") as tar, open("/dev/zero", "rb") as zeros:
        tar.addfile(info, zeros)
    return {"gz": folder / "2501.66666.gz", "tar.gz": folder / "2501.77777.tar.gz"}


@pytest.mark.parametrize("kind", ["gz", "tar.gz"])
def test_decompression_bomb_stops_at_the_limit_naming_the_file(bombs: dict[str, Path], kind: str) -> None:
    assert bombs[kind].stat().st_size < 300_000
    start = time.perf_counter()
    with pytest.raises(ArchiveError, match=rf"^{bombs[kind].name}: unpacks past 64 MiB") as error:
        read_source(bombs[kind])
    assert error.value.reason == "too_large"
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize("kind", ["tar.gz", "gz"])
def test_truncated_source_is_reported_and_the_next_file_read(tmp_path: Path, offline_inputs: Path, kind: str) -> None:
    testmath = texlive(offline_inputs, "amsmath/testmath.tex.gz")
    whole = tmp_path / f"2501.00001.{kind}"
    if kind == "tar.gz":
        write_tar(whole, [member("testmath.tex", testmath)])
    else:
        whole.write_bytes(gzip.compress(testmath))
    cut = tmp_path / f"2501.00000.{kind}"  # sorts first: the reader meets the damage before the good file
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    with pytest.raises(ArchiveError, match=rf"^{cut.name}: truncated") as error:
        read_source(cut)
    assert error.value.reason == "truncated"
    ids, stats = read_folder(tmp_path)
    assert ids == ["2501.00001"] and stats["dropped_truncated"] == 1


def test_corrupt_gzip_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "2501.00002"
    path.write_bytes(gzip.compress(b"\\documentclass{article}" * 100)[:20] + bytes(range(256)) * 4)
    with pytest.raises(ArchiveError, match=r"^2501\.00002: corrupt") as error:
        read_source(path)
    assert error.value.reason == "corrupt"


def test_formats_are_told_by_bytes(tmp_path: Path, offline_inputs: Path) -> None:
    """The same real paper as a plain tarball, a gzipped file and plain TeX, none with a telling suffix."""
    testmath = texlive(offline_inputs, "amsmath/testmath.tex.gz")
    write_tar(tmp_path / "a", [member("sub/testmath.tex", testmath), member("fig.png", b"\x89PNG")], mode="w")
    (tmp_path / "b").write_bytes(gzip.compress(testmath, mtime=1736500000))
    (tmp_path / "c").write_bytes(testmath)

    sources = [read_source(tmp_path / name, wanted=arxiv.is_tex_name) for name in "abc"]

    assert [s.kind for s in sources] == ["tar", "gz", "plain"]
    assert [list(s.files) for s in sources] == [["sub/testmath.tex"], ["b"], ["c"]]
    assert all(next(iter(s.files.values())) == testmath for s in sources)
    assert [s.mtime for s in sources] == [1736500000, 1736500000, None]
