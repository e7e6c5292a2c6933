"""The Hugging Face transformers backend: a local directory, a hub id, or a GGUF file.

A GGUF file is converted once into a cached safetensors directory: loading from GGUF dequantises
every tensor (16-45 s here), loading the converted copy takes 2-3 s.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from compressiq.backend import FloatArray
from compressiq.cache import cache_dir, sha256_file
from compressiq.errors import CompressiqError, missing_extra

LOGIT_CHUNK = 256  # positions per vocabulary projection: 256 x 262k floats = 268 MB at most


def _libs() -> tuple[Any, Any]:
    try:
        torch = importlib.import_module("torch")
        transformers = importlib.import_module("transformers")
    except ImportError as e:
        raise missing_extra(e.name or "transformers", "hf") from e
    if int(transformers.__version__.split(".")[0]) < 5:
        raise CompressiqError(
            f"transformers {transformers.__version__} mis-tokenizes Gemma-3 GGUF: pip install 'transformers>=5'"
        )
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return torch, transformers


def converted_gguf(gguf: Path) -> Path:
    """The cached safetensors copy of ``gguf``, converting it on first use (rename marks it done)."""
    if not gguf.is_file():
        raise CompressiqError(f"model file not found: {gguf}")
    target = cache_dir() / "converted" / sha256_file(gguf)[:20]
    if target.is_dir():
        return target
    _, transformers = _libs()
    try:
        tok = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except Exception as e:  # the GGUF reader raises anything from struct errors to KeyError
        raise CompressiqError(f"cannot read GGUF model {gguf}: {type(e).__name__}: {e}") from e
    # The tensors are dequantised to float32; drop the GGUF marker so they save as plain weights.
    model.hf_quantizer = None
    del model.config.quantization_config
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(target)
    return target


def _weights_fingerprint(directory: Path) -> str:
    files = sorted(p for p in directory.iterdir() if p.suffix in {".safetensors", ".json", ".model"})
    digest = hashlib.sha256()
    for p in files:
        digest.update(f"{p.name}:{sha256_file(p)}\n".encode())
    return digest.hexdigest()


def fingerprint(source: str) -> str:
    """What identifies the weights: the GGUF file's hash, or the hashes of a folder's files."""
    path = Path(source).expanduser()
    if source.endswith(".gguf"):
        if not path.is_file():
            raise CompressiqError(f"model file not found: {path}")
        return sha256_file(path)
    if path.is_dir():
        return _weights_fingerprint(path)
    return _weights_fingerprint(Path(_snapshot(source)))


def load_transformers(source: str, name: str | None = None, dtype: str = "float32") -> TransformersBackend:
    """Load ``source``: a ``.gguf`` file, a local model directory, or a hub id (when online)."""
    torch, transformers = _libs()
    path = Path(source).expanduser()
    if source.endswith(".gguf"):
        path = converted_gguf(path)
    elif not path.exists():
        path = Path(_snapshot(source))
    if not (path / "config.json").is_file():
        raise CompressiqError(f"not a model directory (no config.json): {path}")
    try:
        tok = transformers.AutoTokenizer.from_pretrained(path)
        model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    except (OSError, ValueError) as e:
        raise CompressiqError(f"cannot load model {source}: {e}") from e
    return TransformersBackend(model, tok, name or source, fingerprint(source))


def _snapshot(repo_id: str) -> str:
    hub = importlib.import_module("huggingface_hub")
    try:
        return str(hub.snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"]))
    except Exception as e:
        offline = (
            " (offline: HF_HUB_OFFLINE is set and it is not in the cache)" if os.environ.get("HF_HUB_OFFLINE") else ""
        )
        raise CompressiqError(
            f"unknown model {repo_id!r}: not a registered name, a file, a folder, or a reachable hub id{offline}"
        ) from e


def encode(tok: Any, text: str, special: bool) -> list[int]:
    """A Hugging Face tokenizer's ids; without ``special``, text that spells a special token stays text."""
    out = tok(text, add_special_tokens=special, split_special_tokens=not special, verbose=False)
    return list(out["input_ids"])


def token_id(tok: Any, token: str, model: str) -> int:
    tid = tok.convert_tokens_to_ids(token)
    if tid is None or (tid == tok.unk_token_id and token != tok.unk_token):
        raise CompressiqError(f"token {token!r} is not in the vocabulary of {model}")
    return int(tid)


class TransformersBackend:
    """An ``AutoModelForCausalLM`` scored on the positions a window asks for, and no others."""

    def __init__(self, model: Any, tokenizer: Any, name: str, fingerprint: str) -> None:
        self.torch, _ = _libs()
        self.model = model.eval()
        self.tok = tokenizer
        self.name = name
        self.fingerprint = fingerprint
        self.max_context = int(getattr(model.config, "max_position_embeddings", 2048))
        self.bos_id = tokenizer.bos_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        self.split_head = self._head_matches_model()

    def encode(self, text: str, special: bool = False) -> list[int]:
        return encode(self.tok, text, special)

    def token_id(self, token: str) -> int:
        return token_id(self.tok, token, self.name)

    def logprobs(self, windows: Sequence[tuple[Sequence[int], int]]) -> list[FloatArray]:
        torch = self.torch
        lengths = [len(t) - 1 for t, _ in windows]  # inputs are tokens[:-1], targets tokens[1:]
        ids = torch.full((len(windows), max(lengths)), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, (tokens, _) in enumerate(windows):
            ids[row, : lengths[row]] = torch.tensor(tokens[:-1])
            mask[row, : lengths[row]] = 1
        rows = [(row, n - k, n) for row, ((_, k), n) in enumerate(zip(windows, lengths))]
        targets = torch.tensor([t for tokens, k in windows for t in tokens[len(tokens) - k :]])
        with torch.inference_mode():
            # No padding, no mask: attention then takes its causal fast path.
            lp = self._scored_logprobs(ids, None if bool(mask.all()) else mask, rows, targets)
        sizes = [k for _, k in windows]
        return [a.astype(np.float64) for a in np.split(lp.numpy(), np.cumsum(sizes)[:-1])]

    def _scored_logprobs(self, ids: Any, mask: Any | None, rows: list[tuple[int, int, int]], targets: Any) -> Any:
        """Log-probabilities of ``targets`` at positions ``rows`` = (row, from, to), float32."""
        torch = self.torch
        if self.split_head:
            hidden = self.model.get_decoder()(input_ids=ids, attention_mask=mask).last_hidden_state
            picked = torch.cat([hidden[r, a:b] for r, a, b in rows])
            out = [self._head(picked[i : i + LOGIT_CHUNK]) for i in range(0, len(picked), LOGIT_CHUNK)]
            logits = torch.cat(out) if len(out) > 1 else out[0]
        else:  # a model whose head we cannot reproduce: its own forward, all positions
            full = self.model(input_ids=ids, attention_mask=mask).logits
            logits = torch.cat([full[r, a:b].float().log_softmax(-1) for r, a, b in rows])
        return logits.gather(1, targets[:, None])[:, 0]

    def _head(self, hidden: Any) -> Any:
        logits = self.model.get_output_embeddings()(hidden).float()
        if self.softcap:
            logits = self.torch.tanh(logits / self.softcap) * self.softcap
        return logits.log_softmax(-1)

    def _head_matches_model(self) -> bool:
        """Check once that decoder + output head reproduce the model's own logits."""
        torch = self.torch
        ids = torch.tensor([self.encode("Compression is prediction; prediction is understanding.")])
        with torch.inference_mode():
            ref = self.model(input_ids=ids).logits[0].float().log_softmax(-1)
            hidden = self.model.get_decoder()(input_ids=ids).last_hidden_state[0]
            mine = self._head(hidden)
        return bool(torch.allclose(ref, mine, atol=1e-4))
