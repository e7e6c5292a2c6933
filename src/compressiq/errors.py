"""The one exception type the CLI turns into a single clear error line."""

from __future__ import annotations


class CompressiqError(Exception):
    """A problem with the user's input or environment, stated in one line, with what to do."""


def missing_extra(package: str, extra: str) -> CompressiqError:
    """The error for a missing optional dependency, with the exact ``pip install`` that fixes it."""
    return CompressiqError(f"{package} is not installed: pip install 'compressiq[{extra}]' (or pip install {package})")
