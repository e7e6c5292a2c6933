"""GitHub online: the Python repositories created in a date window (search API), shallow-cloned into the cache.

The search API answers at most 1,000 hits a query, so the window is searched one day at a time (the
``sort=stars`` first 1,000 of each day). Hits keep GitHub's own ``created_at`` and licence id: a shallow
clone has no root commit to date it by. The hit list is cached by query, so the tasks of one run (and a
rerun) walk the same repositories; a clone is written beside its final folder and renamed when complete.
Only the standard library is used; ``GITHUB_TOKEN``, when set, raises the rate limit (30 searches a minute
instead of 10).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from compressiq.cache import cache_dir, write_atomic
from compressiq.errors import CompressiqError

SEARCH = "https://api.github.com/search/repositories"
PER_PAGE, MAX_PAGES = 100, 10  # the API's ceiling: 1,000 hits a query
CLONE_TIMEOUT_S = 600


@dataclass(frozen=True)
class Hit:
    """One repository found by the search: ``owner/name``, where to clone it, and what GitHub says of it."""

    name: str
    url: str
    created: str  # ISO 8601, GitHub's created_at
    licence: str | None  # SPDX id, None when GitHub does not know it


def is_github(spec: str) -> bool:
    """``github`` or ``github:QUALIFIERS`` (extra search qualifiers, e.g. ``github:stars:>5``)."""
    return spec == "github" or spec.startswith("github:")


def search(spec: str, since: dt.date | None, until: dt.date | None) -> list[Hit]:
    """The Python repositories created from ``since`` to ``until`` (inclusive), cached by query."""
    if since is None or until is None:
        raise CompressiqError("the github input searches by creation date: give both --since and --until")
    memo = search_file(spec, since, until)
    if memo.is_file():
        return [Hit(**row) for row in json.loads(memo.read_text(encoding="utf-8"))]
    extra = spec.partition(":")[2].strip()
    hits = [hit for day in _days(since, until) for hit in _search_day(day, extra)]
    write_atomic(memo, json.dumps([asdict(hit) for hit in hits]))
    return hits


def search_file(spec: str, since: dt.date, until: dt.date) -> Path:
    """Where the hits of one search are kept (JSON, a list of ``Hit`` fields), written once complete."""
    key = hashlib.sha256(f"{spec.partition(':')[2].strip()}|{since}|{until}".encode()).hexdigest()[:16]
    return cache_dir() / "github" / "search" / f"{key}.json"


def clone(hit: Hit) -> Path:
    """A shallow clone of ``hit`` in the cache (reused when present); raises ``CompressiqError`` on failure."""
    target = cache_dir() / "github" / "repos" / hit.name.replace("/", "__")
    if target.is_dir():
        return target
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    command = ["git", "clone", "--quiet", "--depth", "1", "--single-branch", "--no-tags", hit.url, str(partial)]
    env = os.environ | {"GIT_TERMINAL_PROMPT": "0"}
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=CLONE_TIMEOUT_S, env=env)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        shutil.rmtree(partial, ignore_errors=True)
        detail = e.stderr.strip().splitlines()[-1:] if isinstance(e, subprocess.CalledProcessError) else ["timed out"]
        raise CompressiqError(f"git clone {hit.url} failed: {' '.join(detail) or 'no message'}") from None
    partial.rename(target)
    return target


def _days(since: dt.date, until: dt.date) -> list[dt.date]:
    return [since + dt.timedelta(days=i) for i in range((until - since).days + 1)]


def _search_day(day: dt.date, extra: str) -> list[Hit]:
    query = " ".join(filter(None, [f"created:{day.isoformat()}", "language:Python", extra]))
    hits: list[Hit] = []
    for page in range(1, MAX_PAGES + 1):
        params = {"q": query, "sort": "stars", "order": "desc", "per_page": PER_PAGE, "page": page}
        items = _get(f"{SEARCH}?{urllib.parse.urlencode(params)}").get("items", [])
        hits += [_hit(item) for item in items]
        if len(items) < PER_PAGE:
            break
    return hits


def _hit(item: dict[str, Any]) -> Hit:
    licence = (item.get("license") or {}).get("spdx_id")
    known = licence if licence and licence != "NOASSERTION" else None
    return Hit(name=item["full_name"], url=item["clone_url"], created=item["created_at"], licence=known)


def _get(url: str, retries: int = 3) -> dict[str, Any]:
    """One API answer, waiting out the rate limit (up to a minute, ``retries`` times)."""
    headers = {"Accept": "application/vnd.github+json", "User-Agent": "compressiq"}
    if token := os.environ.get("GITHUB_TOKEN"):
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as answer:
            return dict(json.load(answer))
    except urllib.error.HTTPError as e:
        if e.code in (403, 429) and retries > 0:
            reset = float(e.headers.get("X-RateLimit-Reset") or time.time() + 10)
            time.sleep(min(max(reset - time.time(), 1.0), 60.0))
            return _get(url, retries - 1)
        hint = " (set GITHUB_TOKEN for a higher rate limit)" if e.code in (401, 403, 429) else ""
        raise CompressiqError(f"GitHub search failed: HTTP {e.code} {e.reason}{hint}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise CompressiqError(f"GitHub search failed ({reason}): the github input needs the network") from None
