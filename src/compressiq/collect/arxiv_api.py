"""arXiv online: list papers by category and submission date (the arXiv API), fetch sources to the cache.

Polite by arXiv's terms of use: one request per ``REQUEST_INTERVAL_S`` per process, a User-Agent that
names us, and every source cached as ``<cache>/arxiv/<id>`` (its mtime set to the submission time) so
a rerun downloads nothing twice and reads the same bytes offline.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

from compressiq.cache import cache_dir, write_atomic_bytes
from compressiq.collect.archives import MAX_UNPACKED_BYTES, ArchiveError
from compressiq.errors import CompressiqError

API_URL = "https://export.arxiv.org/api/query"
EPRINT_URL = "https://arxiv.org/e-print/{}"
PAGE_SIZE = 500  # entries per API request (the API allows up to 2000; smaller pages fail less)
REQUEST_INTERVAL_S = 3.0  # arXiv's terms of use: no more than one request every three seconds
TIMEOUT_S = 60.0
USER_AGENT = "compressiq-collect/1 (corpus builder; one request per 3 s)"

_ATOM = "{http://www.w3.org/2005/Atom}"
_OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
_ID = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")
_CATEGORY = re.compile(r"^[a-z-]+(?:\.[A-Za-z-]+)?$")
_last_request = [0.0]  # monotonic time of this process's last request


def listing(spec: str, since: dt.date | None, until: dt.date | None) -> list[tuple[str, str]]:
    """(id, ISO time of the first version) of each paper an ``arxiv:`` input names.

    ``arxiv:math`` is every math.* listing (cross-lists included), ``arxiv:math.NT`` one category, both
    limited to first versions submitted in [since, until]; ``arxiv:2501.00001`` is one paper.
    Raises ``CompressiqError`` (one line) when arXiv cannot be reached or refuses the query.
    """
    target = spec.removeprefix("arxiv:")
    if _ID.match(target):
        params = {"id_list": target}
    elif not _CATEGORY.match(target):
        raise CompressiqError(f"{spec}: not an arXiv category (arxiv:math, arxiv:math.NT) or id (arxiv:2501.00001)")
    elif since is None or until is None:
        raise CompressiqError(f"{spec} lists papers by submission date: give both --since and --until")
    else:
        category = target if "." in target else f"{target}.*"
        window = f"submittedDate:[{since:%Y%m%d}0000 TO {until:%Y%m%d}2359]"
        params = {"search_query": f"cat:{category} AND {window}", "sortBy": "submittedDate", "sortOrder": "ascending"}
    papers: list[tuple[str, str]] = []
    while True:
        query = urllib.parse.urlencode({**params, "start": len(papers), "max_results": PAGE_SIZE})
        total, page = parse_feed(_get(f"{API_URL}?{query}", spec, limit=64 * 2**20))
        papers += page
        if not page or len(papers) >= total:
            return papers


def parse_feed(xml: bytes) -> tuple[int, list[tuple[str, str]]]:
    """The total hits and the (id without version, published time) entries of one arXiv API answer.

    The API reports a bad query as an entry whose id is an ``/api/errors`` link, and throttling as a
    plain-text body: both raise ``CompressiqError``.
    """
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        raise CompressiqError(f"the arXiv API answered with no feed: {xml[:80]!r}") from None
    entries: list[tuple[str, str]] = []
    for entry in root.iter(f"{_ATOM}entry"):
        link = entry.findtext(f"{_ATOM}id", "").strip()
        if "/api/errors" in link:
            raise CompressiqError(f"the arXiv API refused the query: {entry.findtext(f'{_ATOM}summary', '')}")
        arxiv_id = re.sub(r"v\d+$", "", link.rsplit("/abs/", 1)[-1])
        entries.append((arxiv_id, entry.findtext(f"{_ATOM}published", "").strip()))
    return int(root.findtext(f"{_OPENSEARCH}totalResults", "0")), entries


def cache_path(arxiv_id: str) -> Path:
    """Where the source of ``arxiv_id`` is cached; old-style ids lose their slash (``math0501001``)."""
    return cache_dir() / "arxiv" / arxiv_id.replace("/", "")


def fetch(arxiv_id: str, path: Path, published: str) -> None:
    """Download the source of ``arxiv_id`` to ``path`` unless it is there; its mtime becomes ``published``.

    Raises :class:`ArchiveError` (reason ``download_failed`` or ``too_large``): one paper is lost, not the run.
    """
    if path.is_file():
        return
    try:
        data = _get(EPRINT_URL.format(arxiv_id), arxiv_id, limit=MAX_UNPACKED_BYTES)
    except CompressiqError as error:
        raise ArchiveError(path, "download_failed", str(error)) from None
    write_atomic_bytes(path, data)
    stamp = dt.datetime.fromisoformat(published.replace("Z", "+00:00")).timestamp()
    os.utime(path, (stamp, stamp))


def _get(url: str, what: str, limit: int) -> bytes:
    """The body at ``url`` (at most ``limit`` bytes), one polite request; ``CompressiqError`` on failure."""
    time.sleep(max(0.0, _last_request[0] + REQUEST_INTERVAL_S - time.monotonic()))
    _last_request[0] = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            body: bytes = answer.read(limit + 1)
    except urllib.error.HTTPError as error:
        raise CompressiqError(f"{what}: arXiv answered HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CompressiqError(f"{what}: cannot reach arXiv ({reason}); offline, pass source files") from None
    if len(body) > limit:
        raise CompressiqError(f"{what}: the answer is over {limit >> 20} MiB")
    return body
