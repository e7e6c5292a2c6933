"""Git repositories as documents: the files at HEAD of local clones, bare repositories or GitHub search hits.

Everything is read through the ``git`` command (``ls-tree`` lists HEAD, ``cat-file --batch`` streams the
blobs), so a bare repository reads like a working copy and uncommitted edits are never collected. Each
document carries ``metadata``: ``date`` (the repository's creation, ISO 8601 UTC), ``repo``, ``path``,
``license`` (SPDX id or ``None``) and ``commit`` (HEAD).

A repository's creation date is GitHub's ``created_at`` for a search hit; offline it is the earliest
author or committer date of its root commit(s) — the first code it holds. A repository pushed to GitHub
long after its first commit so counts as old: the conservative side when the date window guards against
training-set contamination. A shallow local clone has no root commit: its files get no date.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.readers.base import BaseReader

from compressiq.collect.blocks import warn
from compressiq.collect.python import github_api
from compressiq.collect.python.licences import is_licence_file, spdx_id
from compressiq.errors import CompressiqError

GITHUB_REMOTE = re.compile(r"github\.com[:/]+([\w.\-]+/[\w.\-]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class Repository:
    """A repository to walk: a local ``path``, or a search ``hit`` cloned when its task reaches it."""

    path: Path | None = None
    hit: github_api.Hit | None = None


@dataclass(frozen=True)
class Entry:
    """A file of HEAD's tree: its blob id and path."""

    blob: str
    path: str


class RepositoryReader(BaseReader):
    """The files ending in ``suffix`` at HEAD of every repository in ``inputs``, repositories split over tasks.

    An input is a repository (working copy or bare), a folder searched for repositories, or ``github``
    (see ``collect.github_api``: needs ``since`` and ``until``). Empty, binary and non-UTF-8 files are dropped
    here with a reason (``dropped_empty``, ``dropped_binary``, ``dropped_non_utf8``); a repository git cannot
    read (or clone) is warned about on the terminal, counted as ``dropped_unreadable_repository`` (one
    per repository: its files are unknown) and skipped.
    """

    name = "🐙 Git repositories"

    def __init__(self, inputs: tuple[str, ...], since: dt.date | None, until: dt.date | None, suffix: str) -> None:
        super().__init__()
        self.inputs, self.since, self.until, self.suffix = tuple(inputs), since, until, suffix

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        for repository in self.repositories()[rank::world_size]:
            try:
                path, entries, meta = self.open(repository)
            except CompressiqError as e:
                warn(str(e))
                self.stat_update("dropped_unreadable_repository")
                continue
            count = 0
            for document in self.documents(path, entries, meta):
                count += 1
                self.update_doc_stats(document)
                yield document
            self.stat_update("documents", value=count, unit="repository")

    def repositories(self) -> list[Repository]:
        """Every input's repositories, in input order (each task takes every ``world_size``-th)."""
        found: list[Repository] = []
        for spec in self.inputs:
            if github_api.is_github(spec):
                found += [Repository(hit=hit) for hit in github_api.search(spec, self.since, self.until)]
            else:
                found += [Repository(path=path) for path in local_repositories(Path(spec))]
        return found

    def open(self, repository: Repository) -> tuple[Path, list[Entry], dict[str, str | None]]:
        """Where the repository is (cloning a search hit), HEAD's files, and the metadata of them all."""
        hit = repository.hit
        path = github_api.clone(hit) if hit else repository.path
        assert path is not None
        entries = tree(path)
        meta = {
            "date": hit.created if hit else creation_date(path),
            "repo": hit.name if hit else repository_name(path),
            "license": hit.licence if hit and hit.licence else detect_licence(path, entries),
            "commit": git(path, "rev-parse", "HEAD").strip(),
        }
        return path, entries, meta

    def documents(self, path: Path, entries: list[Entry], meta: dict[str, str | None]) -> Iterator[Document]:
        """A document for each file ending in ``suffix`` that is UTF-8 text."""
        with BlobReader(path) as blobs:
            for entry in (entry for entry in entries if entry.path.endswith(self.suffix)):
                text = self.decode(blobs.read(entry.blob))
                if text is not None:
                    metadata = {**meta, "path": entry.path}
                    yield Document(text=text, id=f"{meta['repo']}/{entry.path}", metadata=metadata)

    def decode(self, data: bytes) -> str | None:
        """The file's text; ``None`` (counted) for an empty, binary (NUL bytes) or non-UTF-8 file."""
        if not data.strip():
            self.stat_update("dropped_empty")
            return None
        if b"\0" in data:
            self.stat_update("dropped_binary")
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.stat_update("dropped_non_utf8")
            return None


def local_repositories(root: Path) -> list[Path]:
    """``root`` if it is a repository, else the repositories below it (not looking inside them), sorted."""
    if not root.exists():
        raise CompressiqError(f"no such input: {root}")
    if is_repository(root):
        return [root]
    found: list[Path] = []
    for folder, subfolders, _ in os.walk(root):
        repositories = [name for name in subfolders if is_repository(Path(folder, name))]
        found += [Path(folder, name) for name in repositories]
        subfolders[:] = sorted(set(subfolders) - set(repositories))
    return sorted(found)


def is_repository(path: Path) -> bool:
    """A working copy (has ``.git``) or a bare repository (``HEAD`` and ``objects/`` at the top)."""
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def git(repository: Path, *args: str) -> str:
    """The output of one git command in ``repository``; ``CompressiqError`` with git's message on failure."""
    result = subprocess.run(["git", "-C", str(repository), *args], capture_output=True, check=False)
    if result.returncode:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CompressiqError(f"git {args[0]} failed in {repository}: {message[-1] if message else result.returncode}")
    return result.stdout.decode("utf-8", "replace")


def tree(repository: Path) -> list[Entry]:
    """HEAD's files (blobs, not links or submodules), in git's path order."""
    entries = []
    for record in git(repository, "ls-tree", "-r", "-z", "HEAD").split("\0"):
        info, _, path = record.partition("\t")
        fields = info.split()
        if len(fields) == 3 and fields[1] == "blob" and fields[0] != "120000":
            entries.append(Entry(blob=fields[2], path=path))
    return entries


def creation_date(repository: Path) -> str | None:
    """The earliest author or committer date of the root commit(s), ISO 8601 UTC; ``None`` if shallow."""
    if git(repository, "rev-parse", "--is-shallow-repository").strip() == "true":
        return None
    stamps = git(repository, "log", "--max-parents=0", "--format=%at %ct", "HEAD").split()
    first = dt.datetime.fromtimestamp(min(map(int, stamps)), dt.UTC)
    return first.strftime("%Y-%m-%dT%H:%M:%SZ")


def repository_name(repository: Path) -> str:
    """``owner/name`` of a GitHub clone (from its ``origin`` remote), else the folder name without ``.git``."""
    try:
        url = git(repository, "config", "--get", "remote.origin.url").strip()
    except CompressiqError:
        url = ""
    if match := GITHUB_REMOTE.search(url):
        return match.group(1)
    name = repository.resolve().name
    return name.removesuffix(".git") or name


def detect_licence(repository: Path, entries: list[Entry]) -> str | None:
    """The SPDX id stated by the first top-level licence file that states one (see ``collect.licences``)."""
    candidates = [entry for entry in entries if "/" not in entry.path and is_licence_file(entry.path)]
    if not candidates:
        return None
    with BlobReader(repository) as blobs:
        found = (spdx_id(blobs.read(entry.blob).decode("utf-8", "replace")) for entry in candidates)
        return next(filter(None, found), None)


class BlobReader:
    """``git cat-file --batch``: one long-lived process that answers blob ids with their bytes."""

    def __init__(self, repository: Path) -> None:
        command = ["git", "-C", str(repository), "cat-file", "--batch"]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def read(self, blob: str) -> bytes:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(f"{blob}\n".encode())
        stdin.flush()
        header = stdout.readline().split()
        if len(header) != 3:
            raise CompressiqError(f"git cat-file could not read {blob}: {b' '.join(header).decode()}")
        data = stdout.read(int(header[2]))
        stdout.read(1)  # the newline after each object
        return data

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *_: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()
