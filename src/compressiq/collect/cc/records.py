"""WARC/WET/ARC records as documents, one gzip member at a time: every content record kept or dropped by name.

``WarcRecords`` yields one datatrove ``Document`` per HTML response (or WET text record): ``text`` is the
raw HTML, ``metadata["url"]`` the target URI and ``metadata["date"]`` the record's date in UTC ISO 8601
(``2025-01-05T08:00:00Z``), so the shared date window applies before any costly step.

A record is a *content record* (``response`` or ``conversion``); requests, metadata and warcinfo records
are not documents and are not counted. Every content record read is either yielded or dropped here with
one of these reasons, so that records in = documents out + drops:

=====================  ==============================================================================
reason                 the record
=====================  ==============================================================================
``not_html``           is not HTML (nor WET text), or its bytes decode in no charset
``empty``              has an empty payload
``no_date``            has no WARC-Date (nor an ARC archive-date)
``bad_date``           has a date that is not ISO 8601 (nor an ARC 14-digit stamp)
``no_url``             has an empty WARC-Target-URI (none at all is ``malformed_record``: warcio fails)
``bad_length``         disagrees with its Content-Length: shorter within a complete gzip member, longer
                       (bytes left before the next record), or holding the next record's header
``malformed_record``   cannot be parsed (its header block, its HTTP headers)
``truncated_record``   is cut off by the end of the file (its gzip member or its bytes end early)
``corrupt_file``       (once per file) the rest of a file that does not decompress: a non-gzip ``.gz``
=====================  ==============================================================================

Each gzip member (Common Crawl writes one record per member) is decompressed and parsed on its own, so a
damaged record costs that record only: a truncated last member loses the record it holds, never the
complete records before it, and a record never runs into the next member. Damage is warned about on the
terminal, with the file's name. An uncompressed or ``.zst`` file is one stream: a record whose length
runs over the next one is dropped (``bad_length``), and a parse failure ends that file there.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.io import url_to_fs
from datatrove.pipeline.readers.base import BaseReader
from datatrove.pipeline.readers.warc import WarcReader, process_record
from warcio.archiveiterator import ArchiveIterator

from compressiq.collect.blocks import warn
from compressiq.errors import CompressiqError

WARC_NAME = re.compile(r"\.(warc|wet|arc)(\.gz|\.zst)?$")  # in folders; WAT files (metadata only) are skipped
HTML_TYPES = ("text/html", "application/xhtml+xml")
CONTENT_TYPES = ("response", "conversion")
CHUNK = 1 << 16  # compressed bytes read at a time
SPOOL = 32 << 20  # a member's decompressed bytes kept in memory up to this, then in a temporary file
NEXT_HEADER = re.compile(r"\r?\nWARC/1\.[01]\r?\nWARC-[A-Za-z-]+: ")  # a record's header inside a payload


def warc_files(inputs: tuple[str, ...]) -> list[str]:
    """The files a run reads, in order: a URL or a file as given, a folder's WARC/WET files sorted (recursive)."""
    files: list[str] = []
    for item in inputs:
        path = Path(item)
        if "://" in item or path.is_file():
            files.append(item)
        elif path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and WARC_NAME.search(p.name))
            if not found:
                raise CompressiqError(f"{item}: no .warc, .wet or .arc files (optionally .gz/.zst) in this folder")
            files += found
        else:
            raise CompressiqError(f"{item}: no such file or folder (cc reads WARC/WET files, their folders, or URLs)")
    if not files:
        raise CompressiqError("cc needs inputs: WARC/WET files, folders of them, or Common Crawl URLs")
    return files


class WarcRecords(BaseReader):
    """Reads WARC/WET/ARC files (local, folders, fsspec URLs), sharded by file: file ``i`` goes to task
    ``i % world_size``. Each content record is yielded or dropped with a reason (see the module docstring);
    ``documents`` counts those yielded. A file that cannot be opened (offline URL) stops the run with one line.
    """

    name = "🕷 WARC records"
    _requires_dependencies = WarcReader._requires_dependencies

    def __init__(self, files: list[str]) -> None:
        super().__init__()
        self.files = files

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        for path in self.files[rank::world_size]:
            self.stat_update("input_files")
            for outcome in self.read_file(path):
                if isinstance(outcome, str):
                    self.stat_update(f"dropped_{outcome}")
                    continue
                self.stat_update("documents")
                self.update_doc_stats(outcome)
                yield outcome

    def read_file(self, path: str) -> Iterator[Document | str]:
        """Each content record of ``path`` as a document or a drop reason, member by member."""
        index = 0
        with _open(path) as (stream, gzipped):
            members = gzip_members(stream) if gzipped else iter([(stream, True)])
            try:
                for member, complete in members:
                    for outcome in self.read_member(member, complete, path, index, gzipped):
                        index += 1
                        yield outcome
            except (OSError, EOFError, zlib.error) as err:  # the rest does not decompress
                warn(f"{path}: corrupt after {index} records ({type(err).__name__}: {err}); the rest is skipped")
                yield "corrupt_file"

    def read_member(
        self, member: IO[bytes], complete: bool, path: str, index: int, gzipped: bool = True
    ) -> Iterator[Document | str]:
        """The content records of one gzip member (or of a whole uncompressed file). After a record whose
        length is wrong, the rest of a gzip member is that record's bytes: the member ends there."""
        records = ArchiveIterator(member)
        try:
            for record in records:
                if record.rec_type not in CONTENT_TYPES:
                    continue
                errors = records.err_count
                with self.track_time():
                    try:
                        outcome = self.document(record, path, index)
                    except Exception:  # a header or payload that datatrove's parsing chokes on
                        outcome = "malformed_record"
                    records.read_to_end()  # counts a Content-Length that leaves bytes before the next record
                if record.raw_stream.limit > 0:  # the payload ended before its Content-Length
                    outcome = "bad_length" if complete else "truncated_record"
                elif records.err_count > errors:
                    outcome = "bad_length"
                if isinstance(outcome, str) and outcome not in ("not_html", "empty"):
                    warn(f"{path}: record {index} dropped ({outcome.replace('_', ' ')})")
                yield outcome
                index += 1
                if outcome == "bad_length" and gzipped:
                    return
        except Exception as err:  # warcio raises many types on a damaged header block; never abort the build
            reason = "malformed_record" if complete else "truncated_record"
            warn(f"{path}: record {index} dropped ({reason.replace('_', ' ')}: {type(err).__name__}: {err})")
            yield reason
        finally:
            member.close()

    def document(self, record: Any, path: str, index: int) -> Document | str:
        """The document of one content record, or the reason it is dropped."""
        headers = dict(record.rec_headers.headers)
        date, url = headers.get("WARC-Date") or headers.get("archive-date"), headers.get("WARC-Target-URI")
        url = url or headers.get("uri")
        if not date:
            return "no_date"
        if not url:
            return "no_url"
        if (stamp := iso_date(date)) is None:
            return "bad_date"
        fields = process_record(_declare_payload_type(record))
        if not fields:
            return "not_html"
        if "WARC/1." in fields["text"] and NEXT_HEADER.search(fields["text"]):  # the substring test is fast
            return "bad_length"
        fields |= {"date": stamp, "url": url, "extracted": record.rec_type == "conversion"}
        return self.get_document_from_dict(fields, path, index) or "empty"


def gzip_members(raw: IO[bytes]) -> Iterator[tuple[IO[bytes], bool]]:
    """The decompressed bytes of each gzip member of ``raw``, and whether the member is complete.

    A member cut off by the end of the file is the last one, marked incomplete; bytes that are not gzip
    raise ``zlib.error`` (the file is corrupt from there). Each member is read before it is handed on, so
    a damaged member never disturbs its neighbours.
    """
    pending = b""
    while data := pending or raw.read(CHUNK):
        unzip = zlib.decompressobj(wbits=31)
        out = tempfile.SpooledTemporaryFile(SPOOL)  # closed by the consumer
        while True:
            out.write(unzip.decompress(data))
            if unzip.eof or not (data := raw.read(CHUNK)):
                break
        out.write(unzip.flush())
        out.seek(0)
        pending = unzip.unused_data
        yield out, unzip.eof
        if not unzip.eof:
            return


@contextmanager
def _open(path: str) -> Iterator[tuple[IO[bytes], bool]]:
    """``path`` opened for reading, and whether it is gzip (then read raw, member by member); other
    compressions are decompressed by suffix. A failure to open is one error line."""
    gzipped = path.endswith(".gz")
    try:
        filesystem, inner = url_to_fs(path)
        stream = filesystem.open(inner, "rb", compression=None if gzipped else "infer")
    except OSError as err:
        hint = ": not there, or no network (offline, pass local WARC files)" if "://" in path else ""
        raise CompressiqError(f"cannot read {path} ({type(err).__name__}){hint}") from err
    with stream:
        yield stream, gzipped


def _declare_payload_type(record: Any) -> Any:
    """Fill a missing WARC-Identified-Payload-Type: ``text/plain`` for a WET record, the server's HTTP
    Content-Type for a response when it says HTML.

    Crawls before 2017 lack the header; datatrove then sniffs the payload with libmagic, which calls XHTML
    pages (``<?xml ...?>`` first) ``text/xml`` and drops them, as it does two of the four pages in the
    genuine CC-MAIN-2014-35 sample, and may call extracted text a script. The declarations are the better
    evidence.
    """
    headers = record.rec_headers
    if headers.get_header("WARC-Identified-Payload-Type"):
        return record
    if record.rec_type == "conversion":
        headers.add_header("WARC-Identified-Payload-Type", "text/plain")
    elif record.http_headers:
        declared = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
        if declared in HTML_TYPES:
            headers.add_header("WARC-Identified-Payload-Type", declared)
    return record


def iso_date(value: str) -> str | None:
    """A record's date in UTC, ISO 8601 to the second; ``None`` when it is not a date.

    ``"2025-01-05T10:00:00+02:00"`` → ``"2025-01-05T08:00:00Z"``; a date without a zone is UTC (WARC 1.1
    says so); an ARC file's 14-digit archive-date ``20140821042114`` → ``"2014-08-21T04:21:14Z"``.
    """
    text = value.strip()
    try:
        if re.fullmatch(r"\d{14}", text):
            stamp = dt.datetime.strptime(text, "%Y%m%d%H%M%S")
        else:
            stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    stamp = stamp.astimezone(dt.UTC) if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
