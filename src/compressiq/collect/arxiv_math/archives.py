"""Safe reading of one arXiv source file: format sniffed from the bytes, unpacked in memory, size bounded.

arXiv serves a paper's source as a gzipped tarball, a gzipped single file or (rarely) a plain file or a
PDF, under one name with no telling suffix, so the format comes from the magic bytes. Nothing is ever
extracted to disk: regular tar members are read into a dict, so ``../`` names, absolute paths, links,
device files and sparse members have nowhere to go (they are skipped, by name, unread). Every byte
unpacked counts against ``limit`` (``MAX_UNPACKED_BYTES``), which stops a decompression bomb before it
fills memory or burns minutes; a cut-off gzip or tar stream is reported, never half-read in silence.
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_UNPACKED_BYTES = 64 * 2**20  # per paper: arXiv's own source size cap is 50 MB; a bomb stops here


class ArchiveError(Exception):
    """A source file that cannot be read, in one line naming the file; ``reason`` is the drop reason."""

    def __init__(self, path: Path, reason: str, detail: str) -> None:
        super().__init__(f"{path.name}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class Source:
    """What one source file holds: ``files`` maps a member name to its bytes (a single file: its name).

    ``mtime`` is the newest tar member's modification time, else the gzip header's, else ``None``;
    ``skipped`` names the tar members left unread because they are unsafe or not regular files.
    """

    files: dict[str, bytes]
    kind: str  # "tar.gz", "tar", "gz" or "plain"
    mtime: float | None
    skipped: tuple[str, ...]


class _Bounded(io.RawIOBase):
    """A read-only stream that raises :class:`ArchiveError` once more than ``limit`` bytes came out."""

    def __init__(self, inner: BinaryIO | gzip.GzipFile, path: Path, limit: int) -> None:
        self.inner, self.path, self.limit, self.left = inner, path, limit, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self.inner.read(min(len(view), self.left + 1))
        self.left -= len(data)
        if self.left < 0:
            raise ArchiveError(self.path, "too_large", f"unpacks past {self.limit >> 20} MiB, stopped there")
        view[: len(data)] = data
        return len(data)


def sniff(head: bytes) -> str:
    """The format of a file from its first 512 bytes: ``"gzip"``, ``"tar"``, ``"pdf"`` or ``"other"``."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:5] == b"%PDF-":
        return "pdf"
    try:
        tarfile.TarInfo.frombuf(head[:512], tarfile.ENCODING, "surrogateescape")  # checksum-verified header
    except tarfile.HeaderError:
        return "other"
    return "tar"


def safe_name(name: str) -> str | None:
    """A member name as a relative path inside the archive, or ``None`` if it is absolute or climbs out."""
    path = posixpath.normpath(name)
    if path.startswith("/") or path == "." or ".." in path.split("/"):
        return None
    return path


def read_source(path: Path, wanted: Callable[[str], bool] = bool, limit: int = MAX_UNPACKED_BYTES) -> Source:
    """The files in an arXiv source file, read in memory; tar members only where ``wanted(name)``.

    Raises :class:`ArchiveError` with reason ``too_large`` (past ``limit`` unpacked), ``truncated``
    (the stream ends early), ``corrupt`` (bad gzip/tar data) or ``pdf_only`` (a PDF, no source).
    """
    try:
        with path.open("rb") as raw:
            kind = sniff(raw.read(512))
            gzipped = kind == "gzip"
            if gzipped:
                raw.seek(0)
                kind = sniff(gzip.GzipFile(fileobj=raw).read(512))
            if kind == "pdf":
                raise ArchiveError(path, "pdf_only", "is a PDF, not a TeX source")
            raw.seek(0)
            return _read(raw, gzipped, kind == "tar", path, wanted, limit)
    except (EOFError, tarfile.ReadError) as error:
        if isinstance(error, EOFError) or "unexpected end" in str(error):
            raise ArchiveError(path, "truncated", f"truncated ({error})") from error
        raise ArchiveError(path, "corrupt", f"corrupt tar data ({error})") from error
    except (OSError, zlib.error, tarfile.TarError) as error:  # gzip.BadGzipFile is an OSError
        raise ArchiveError(path, "corrupt", f"corrupt data ({error})") from error


def _read(raw: BinaryIO, gzipped: bool, tar: bool, path: Path, wanted: Callable[[str], bool], limit: int) -> Source:
    """Unpack an opened file: a tar stream or one file, either possibly gzipped."""
    gz = gzip.GzipFile(fileobj=raw) if gzipped else None
    stream = io.BufferedReader(_Bounded(gz or raw, path, limit))
    if tar:
        files, mtime, skipped = _read_tar(stream, wanted, path, limit)
        return Source(files, "tar.gz" if gz else "tar", mtime, skipped)
    name = path.name.removesuffix(".gz") if gz else path.name
    data = stream.read()
    return Source({name: data}, "gz" if gz else "plain", (gz.mtime or None) if gz else None, ())


def _read_tar(
    stream: BinaryIO, wanted: Callable[[str], bool], path: Path, limit: int
) -> tuple[dict[str, bytes], float | None, tuple[str, ...]]:
    """Regular, safely named members of a tar stream read in one pass (``r|``: no seeking back)."""
    files: dict[str, bytes] = {}
    mtimes: list[float] = []
    skipped: list[str] = []
    left = limit  # member bytes kept: a sparse or lying header cannot make more than the stream holds
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            name = safe_name(member.name)
            if name is None or not member.isreg() or member.issparse():
                skipped.append(member.name)
                continue
            mtimes.append(member.mtime)
            if not wanted(name):
                continue
            source = tar.extractfile(member)
            data = source.read(left + 1) if source else b""
            left -= len(data)
            if left < 0:
                raise ArchiveError(path, "too_large", f"unpacks past {limit >> 20} MiB, stopped there")
            files[name] = data
    return files, max(mtimes, default=None), tuple(skipped)
