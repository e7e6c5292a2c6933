"""arXiv online: list papers by category and submission date (OAI-PMH), fetch their sources to the cache.

OAI-PMH rather than the search API because its ``arXiv`` records carry each paper's licence, which the
dataset card reports. It cannot select by submission date, only by last change (``from``): records
changed since ``--since`` are listed and those whose first version (``created``) falls in the window
kept, so listing an old window pages through every later update (about 1,000 records per request).

Polite by arXiv's terms of use: one request per ``REQUEST_INTERVAL_S`` per process, ``Retry-After``
honoured, a User-Agent that names us, and every source cached as ``<cache>/arxiv/<id>`` (mtime set to
the submission date) so a rerun downloads nothing twice and reads the same bytes offline.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from compressiq.cache import cache_dir, write_atomic_bytes
from compressiq.collect.arxiv_math.archives import MAX_UNPACKED_BYTES, ArchiveError
from compressiq.errors import CompressiqError

OAI_URL = "https://oaipmh.arxiv.org/oai"
EPRINT_URL = "https://arxiv.org/e-print/{}"
REQUEST_INTERVAL_S = 3.0  # arXiv's terms of use: no more than one request every three seconds
RETRIES = 4  # answers 429/503 ("come back in Retry-After seconds") before giving up
TIMEOUT_S = 60.0
USER_AGENT = "compressiq-collect/1 (corpus builder; one request per 3 s)"
TOP_SETS = ("cs", "econ", "eess", "math", "q-bio", "q-fin", "stat")  # other archives sit under physics:

_OAI = "{http://www.openarchives.org/OAI/2.0/}"
_ARXIV = "{http://arxiv.org/OAI/arXiv/}"
_ID = re.compile(r"^(?P<id>\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")
_CATEGORY = re.compile(r"^(?P<archive>[a-z-]+)(?:\.[A-Za-z-]+)?$")
_last_request = [0.0]  # monotonic time of this process's last request


@dataclass(frozen=True)
class Listed:
    """One paper as OAI-PMH lists it: ``created`` is the ISO date of its first version."""

    arxiv_id: str
    created: str
    license: str | None
    categories: tuple[str, ...]


def listing(spec: str, since: dt.date | None, until: dt.date | None) -> list[Listed]:
    """The papers an ``arxiv:`` input names, in arXiv's order.

    ``arxiv:math`` is every paper with a math category (cross-lists included), ``arxiv:math.NT`` one
    category, both limited to first versions created in [since, until]; ``arxiv:2501.00001`` is one
    paper, whatever its date. Raises ``CompressiqError`` (one line) when arXiv is out of reach.
    """
    target = spec.removeprefix("arxiv:")
    if paper := _ID.match(target):
        params = {"verb": "GetRecord", "metadataPrefix": "arXiv", "identifier": f"oai:arXiv.org:{paper['id']}"}
        return _harvest(params, spec)
    category = _CATEGORY.match(target)
    if category is None:
        raise CompressiqError(f"{spec}: not an arXiv category (arxiv:math, arxiv:math.NT) or id (arxiv:2501.00001)")
    if since is None or until is None:
        raise CompressiqError(f"{spec} lists papers by submission date: give both --since and --until")
    archive = category["archive"]
    oai_set = archive if archive in TOP_SETS else f"physics:{archive}"
    params = {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": oai_set, "from": since.isoformat()}
    return [
        paper
        for paper in _harvest(params, spec)
        if since.isoformat() <= paper.created <= until.isoformat()
        and any(c == target or c.startswith(f"{target}.") for c in paper.categories)
    ]


def _harvest(params: dict[str, str], spec: str) -> list[Listed]:
    """Every record of an OAI-PMH request, following resumption tokens."""
    papers: list[Listed] = []
    while True:
        page, token = parse_oai(_get(f"{OAI_URL}?{urllib.parse.urlencode(params)}", spec, 64 * 2**20))
        papers += page
        if not token:
            return papers
        params = {"verb": params["verb"], "resumptionToken": token}


def parse_oai(xml: bytes) -> tuple[list[Listed], str | None]:
    """The papers of one OAI-PMH answer (``arXiv`` metadata) and the resumption token, if more follow.

    ``noRecordsMatch`` is an empty list; any other OAI error (``idDoesNotExist``, ``badArgument``) and an
    answer that is not XML raise ``CompressiqError``. Deleted records carry no metadata and are skipped.
    """
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        raise CompressiqError(f"arXiv OAI-PMH answered with no XML: {xml[:80]!r}") from None
    error = root.find(f"{_OAI}error")
    if error is not None:
        if error.get("code") == "noRecordsMatch":
            return [], None
        raise CompressiqError(f"arXiv OAI-PMH refused the request: {error.get('code')}: {(error.text or '').strip()}")
    papers = [
        Listed(
            arxiv_id=(meta.findtext(f"{_ARXIV}id") or "").strip(),
            created=(meta.findtext(f"{_ARXIV}created") or "").strip(),
            license=(meta.findtext(f"{_ARXIV}license") or "").strip() or None,
            categories=tuple((meta.findtext(f"{_ARXIV}categories") or "").split()),
        )
        for meta in root.iter(f"{_ARXIV}arXiv")
    ]
    return papers, (root.findtext(f".//{_OAI}resumptionToken") or "").strip() or None


def cache_path(arxiv_id: str) -> Path:
    """Where the source of ``arxiv_id`` is cached; old-style ids lose their slash (``math0501001``)."""
    return cache_dir() / "arxiv" / arxiv_id.replace("/", "")


def fetch(arxiv_id: str, path: Path, created: str) -> None:
    """Download the source of ``arxiv_id`` to ``path`` unless it is there; its mtime becomes ``created``.

    Raises :class:`ArchiveError` (reason ``download_failed``): one paper is lost, not the run.
    """
    if path.is_file():
        return
    try:
        data = _get(EPRINT_URL.format(arxiv_id), arxiv_id, MAX_UNPACKED_BYTES)
    except CompressiqError as error:
        raise ArchiveError(path, "download_failed", str(error)) from None
    write_atomic_bytes(path, data)
    stamp = dt.datetime.combine(dt.date.fromisoformat(created[:10]), dt.time(), dt.UTC).timestamp()
    os.utime(path, (stamp, stamp))


def _get(url: str, what: str, limit: int) -> bytes:
    """The body at ``url`` (at most ``limit`` bytes) by polite requests; ``CompressiqError`` on failure."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    for attempt in range(RETRIES):
        time.sleep(max(0.0, _last_request[0] + REQUEST_INTERVAL_S - time.monotonic()))
        _last_request[0] = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                body: bytes = answer.read(limit + 1)
        except urllib.error.HTTPError as error:
            if error.code in (429, 503) and attempt + 1 < RETRIES:
                time.sleep(_retry_after(error.headers.get("Retry-After")))
                continue
            raise CompressiqError(f"{what}: arXiv answered HTTP {error.code} {error.reason}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise CompressiqError(f"{what}: cannot reach arXiv ({reason}); offline, pass source files") from None
        if len(body) > limit:
            raise CompressiqError(f"{what}: the answer is over {limit >> 20} MiB")
        return body
    raise AssertionError("unreachable: the last attempt returns or raises")


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a ``Retry-After`` header (seconds; an HTTP date or nothing means 10), at most 60."""
    try:
        return min(float(value or 10), 60.0)
    except ValueError:
        return 10.0
