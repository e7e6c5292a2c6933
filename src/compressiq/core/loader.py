"""The one model loader: a name, file, folder or hub id → where its weights are, what they hash to, a backend.

The runner, Ray replicas, the codec, the CLI and ``serve`` all load models here, so a name means
the same weights everywhere and the fingerprint that identifies a stored run is computed one way.
Backends are imported by name, when used: a missing extra costs nothing until it is asked for.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from compressiq.core import device as device_lib
from compressiq.core import registry, weights
from compressiq.core.backend import Backend

if TYPE_CHECKING:
    from compressiq.backends.openai import Endpoint

LOADERS = {
    "transformers": "compressiq.backends.hf:load_transformers",
    "llamacpp": "compressiq.backends.llamacpp:load_llamacpp",
    "openai": "compressiq.backends.openai:load_server",
}


@dataclass(frozen=True)
class Hardware:
    """How a transformers model is placed beyond its device and dtype: ``device_map="auto"`` shards it over
    the visible GPUs (accelerate); ``attn``: ``sdpa`` or ``flash_attention_2``; ``gpus``: data-parallel
    replicas, one per GPU (``None``: one process). None of it changes which run the numbers belong to."""

    device_map: str | None = None
    attn: str = "sdpa"
    gpus: int | None = None


@dataclass(frozen=True)
class Model:
    """A resolved model: its registry name (or the path/id given), weights location, fingerprint, prefix."""

    name: str
    source: str
    fingerprint: str
    prefix_token: str | None = None


def resolve(model: str) -> Model:
    """A registry name, or else a path / hub id used as is; the weights are located and fingerprinted."""
    entry = registry.resolve(model)
    source = registry.locate(entry)
    return Model(entry.name, source, weights.fingerprint(source), entry.prefix_token)


def load(
    source: str,
    name: str,
    backend: str = "transformers",
    dtype: str = "float32",
    trust_remote_code: bool = False,
    endpoint: Endpoint | None = None,
    device: str = "cpu",
    hardware: Hardware | None = None,
) -> Backend:
    """The backend ``backend`` names, on ``source``; its module is imported only now (its extra may be missing).

    ``trust_remote_code``: run the Python code a model folder ships (``auto_map``); only when the user
    asked for it with ``--trust-remote-code``. ``endpoint``: the server of the ``openai`` backend.
    ``device`` (``auto``, ``cpu``, ``cuda:N``, ``mps``), ``dtype`` ``auto`` and ``hardware`` (device map,
    attention) place a transformers model (see ``core.device``); the other backends run where they run.
    """
    module, func = LOADERS[backend].split(":")
    options: dict[str, Any] = {}
    if backend != "llamacpp":
        options["trust_remote_code"] = trust_remote_code
    if backend == "openai":
        options["endpoint"] = endpoint
    if backend == "transformers":
        hardware = hardware or Hardware()
        placed = device_lib.resolve(device, dtype) if "auto" in (device, dtype) else None
        device, dtype = (placed.device, placed.dtype) if placed else (device, dtype)
        options |= {"device": device, "device_map": hardware.device_map, "attn": hardware.attn}
    elif dtype == "auto":  # llama.cpp computes in the file's own types; a server in its own
        dtype = "float32"
    loaded: Backend = getattr(importlib.import_module(module), func)(source, name, dtype, **options)
    return loaded
