"""The Hugging Face transformers backend: a local directory, a hub id, or a GGUF file.

A GGUF file is converted once into a cached safetensors directory: loading from GGUF dequantises
every tensor (16-45 s here), loading the converted copy takes 2-3 s.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from compressiq.cache import cache_dir, sha256_file
from compressiq.core import weights
from compressiq.core.backend import FloatArray
from compressiq.errors import CompressiqError, missing_extra

LOGIT_CHUNK = 256  # positions per vocabulary projection: 256 x 262k floats = 268 MB at most


def libs() -> tuple[Any, Any]:
    """torch and transformers, imported when first needed; a missing extra or a transformers before 5 is one
    error line."""
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
    _, transformers = libs()
    try:
        tok = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, trust_remote_code=False)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, trust_remote_code=False
        )
    except Exception as e:  # the GGUF reader raises anything from struct errors to KeyError
        raise CompressiqError(f"cannot read GGUF model {gguf}: {type(e).__name__}: {e}") from e
    # The tensors are dequantised to float32; drop the GGUF marker so they save as plain weights.
    model.hf_quantizer = None
    del model.config.quantization_config
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process converted it first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _first_line(error: Exception) -> str:
    """The cause in one line; a folder that ships code says how to allow it, on purpose."""
    if "trust_remote_code" in str(error):
        return "the model folder ships its own Python code, which runs only with --trust-remote-code"
    return (str(error).strip().splitlines() or [""])[0]


def load_transformers(
    source: str,
    name: str | None = None,
    dtype: str = "float32",
    trust_remote_code: bool = False,
    device: str = "cpu",
    device_map: str | None = None,
    attn: str = "sdpa",
) -> TransformersBackend:
    """Load ``source``: a ``.gguf`` file, a local model directory, or a hub id (when online).

    The weights go to ``device`` (``cpu``, ``cuda:N``, ``mps``; see ``core.device``) in ``dtype``, or with
    ``device_map="auto"`` are sharded over the visible GPUs by accelerate. ``attn``: ``sdpa`` (PyTorch's
    fused attention) or ``flash_attention_2`` (needs the flash-attn package and a GPU).
    A folder's own code (``auto_map``) runs only with ``trust_remote_code``; pickled ``.bin`` weights are
    read by transformers with ``torch.load(weights_only=True)``, which refuses anything but tensors.
    """
    torch, transformers = libs()
    placement = _placement(device, device_map, attn, dtype)
    path = Path(source).expanduser()
    if source.endswith(".gguf"):
        path = converted_gguf(path)
    elif not path.exists():
        path = Path(weights.snapshot(source))
    if not (path / "config.json").is_file():
        raise CompressiqError(f"not a model directory (no config.json): {path}")
    fingerprint = weights.fingerprint(source)
    trust = {"trust_remote_code": trust_remote_code}
    try:
        tok = transformers.AutoTokenizer.from_pretrained(path, **trust)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            path, dtype=getattr(torch, dtype), **placement, **trust
        )
    except torch.cuda.OutOfMemoryError as e:
        raise CompressiqError(f"the weights of {source} do not fit on {device}: try --device-map auto") from e
    except Exception as e:  # a forged or foreign folder fails anywhere in transformers: one line, with the cause
        raise CompressiqError(f"cannot load model {source}: {type(e).__name__}: {_first_line(e)}") from e
    return TransformersBackend(model, tok, name or source, fingerprint)


def _placement(device: str, device_map: str | None, attn: str, dtype: str) -> dict[str, Any]:
    """``from_pretrained``'s placement arguments; an impossible request is one error line.

    On the CPU no ``device_map`` is passed, as before devices were a choice (the same loading path).
    """
    if attn not in ("sdpa", "flash_attention_2"):
        raise CompressiqError(f"unknown --attn {attn!r}; choose sdpa or flash_attention_2")
    if attn == "flash_attention_2":
        if importlib.util.find_spec("flash_attn") is None:
            raise CompressiqError("--attn flash_attention_2 needs the flash-attn package: pip install flash-attn")
        if not device.startswith("cuda") or dtype == "float32":
            raise CompressiqError("--attn flash_attention_2 runs on a CUDA GPU in bfloat16 or float16 only")
    if device_map not in (None, "auto"):
        raise CompressiqError(f"unknown --device-map {device_map!r}; the choice is auto (accelerate)")
    out: dict[str, Any] = {"attn_implementation": attn}
    if device_map is not None or device != "cpu":
        out["device_map"] = device_map or device
    return out


def load_tokenizer(source: str, trust_remote_code: bool = False) -> tuple[Any, int]:
    """The tokenizer of ``source`` (a .gguf file, a folder or a hub id) and the model's context length."""
    _, transformers = libs()
    path = converted_gguf(Path(source).expanduser()) if source.endswith(".gguf") else source
    trust = {"trust_remote_code": trust_remote_code}
    try:
        tok = transformers.AutoTokenizer.from_pretrained(path, **trust)
        config = transformers.AutoConfig.from_pretrained(path, **trust)
    except Exception as e:
        raise CompressiqError(f"cannot load the tokenizer of {source}: {type(e).__name__}: {_first_line(e)}") from e
    return tok, int(getattr(config, "max_position_embeddings", 2048))


def encode(tok: Any, text: str, special: bool) -> list[int]:
    """A Hugging Face tokenizer's ids; without ``special``, text that spells a special token stays text."""
    out = tok(text, add_special_tokens=special, split_special_tokens=not special, verbose=False)
    return list(out["input_ids"])


def token_id(tok: Any, token: str, model: str) -> int:
    """The id of ``token`` in ``tok``'s vocabulary; a token it does not know is an error, never the unknown id."""
    tid = tok.convert_tokens_to_ids(token)
    if tid is None or (tid == tok.unk_token_id and token != tok.unk_token):
        raise CompressiqError(f"token {token!r} is not in the vocabulary of {model}")
    return int(tid)


class TransformersBackend:
    """An ``AutoModelForCausalLM`` scored on the positions a window asks for, and no others."""

    kind = "transformers"

    def __init__(self, model: Any, tokenizer: Any, name: str, fingerprint: str) -> None:
        self.torch, _ = libs()
        self.model = model.eval()
        self.tok = tokenizer
        self.name = name
        self.fingerprint = fingerprint
        self.max_context = int(getattr(model.config, "max_position_embeddings", 2048))
        self.bos_id = tokenizer.bos_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        self.device = model.get_input_embeddings().weight.device  # the first shard's, under a device map
        self.device_kind = str(self.device.type)
        self.dtype = str(model.dtype).removeprefix("torch.")
        self.split_head = self._head_matches_model()

    def encode(self, text: str, special: bool = False) -> list[int]:
        return encode(self.tok, text, special)

    def token_id(self, token: str) -> int:
        return token_id(self.tok, token, self.name)

    def decode(self, tokens: Sequence[int]) -> str:
        return str(self.tok.decode(list(tokens), skip_special_tokens=False, clean_up_tokenization_spaces=False))

    def tokenizer_fingerprint(self) -> str:
        tok = self.tok
        fast = hasattr(tok, "backend_tokenizer")
        definition = tok.backend_tokenizer.to_str() if fast else repr(sorted(tok.get_vocab().items()))
        return hashlib.sha256(definition.encode()).hexdigest()

    def vocab_size(self) -> int:
        return int(self.model.get_output_embeddings().weight.shape[0])

    def kernels(self) -> str:
        """What computes the codec's probabilities: library versions, number type, device kind."""
        versions = f"transformers {importlib.import_module('transformers').__version__}, torch {self.torch.__version__}"
        where = self.device_kind
        if where == "cuda":  # another GPU model or CUDA build is another set of kernels
            where = f"cuda ({self.torch.cuda.get_device_name(self.device)}, CUDA {self.torch.version.cuda})"
        return f"{versions}, {self.dtype} on {where}"

    def num_threads(self) -> int:
        return int(self.torch.get_num_threads())

    def set_num_threads(self, threads: int) -> None:
        self.torch.set_num_threads(threads)

    def start(self, rows: int, capacity: int) -> Callable[[Sequence[int], int], npt.NDArray[np.floating[Any]]]:
        """The codec's stepping (see ``codec.stepping``): ``rows`` sequences through one key-value cache,
        filled in place; the input ids live in one tensor reused by every step. The softmax stays float32
        then widened in float32 models, as files of format 1 were coded: changing it would change every
        probability. A bf16 or fp16 model (new in format 2) hands over its float32 softmax, as widening 6
        million numbers a step cost more than the range coder, and packs its attention heads (see
        ``_single_query_attention``)."""
        torch = self.torch
        widen = self.dtype == "float32"  # files coded in float32 since format 1: their steps must not change
        if not widen and self.model.config._attn_implementation == "sdpa":
            self.model.set_attn_implementation(_single_query_attention())
        cache = _chunk_cache(self.model, capacity)
        # transformers 5.x renames ``past_key_values`` to ``cache``; pass whichever this version takes.
        kwarg = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        ids = torch.empty((rows, 1), dtype=torch.long, device=self.device)

        def step(tokens: Sequence[int], live: int) -> npt.NDArray[np.floating[Any]]:  # every row, as format 1 did
            with torch.inference_mode():
                ids[:, 0] = torch.as_tensor(tokens, dtype=torch.long)
                logits = self.model(input_ids=ids, use_cache=True, **{kwarg: cache}).logits[:, -1]
                if widen:
                    return np.asarray(logits.float().softmax(-1).double().cpu().numpy())
                return np.asarray(logits.softmax(-1, dtype=torch.float32).cpu().numpy())

        return step

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
            ids, mask = ids.to(self.device), None if bool(mask.all()) else mask.to(self.device)
            lp = self._scored_logprobs(ids, mask, rows, targets).cpu()  # only the scored tokens' values
        sizes = [k for _, k in windows]
        return [a.astype(np.float64) for a in np.split(lp.numpy(), np.cumsum(sizes)[:-1])]

    def _scored_logprobs(self, ids: Any, mask: Any | None, rows: list[tuple[int, int, int]], targets: Any) -> Any:
        """Log-probabilities of ``targets`` at positions ``rows`` = (row, from, to), float32, on the device.

        The decoder runs without a key-value cache (a 7B model's would hold 512 KiB a token for nothing);
        the output head then sees only the scored positions, ``LOGIT_CHUNK`` at a time.
        """
        torch = self.torch
        if self.split_head:
            hidden = self.model.get_decoder()(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
            picked = torch.cat([hidden[r, a:b] for r, a, b in rows])
            out = [self._head(picked[i : i + LOGIT_CHUNK]) for i in range(0, len(picked), LOGIT_CHUNK)]
            logits = torch.cat(out) if len(out) > 1 else out[0]
        else:  # a model whose head we cannot reproduce: its own forward, all positions
            full = self.model(input_ids=ids, attention_mask=mask, use_cache=False).logits
            logits = torch.cat([full[r, a:b].float().log_softmax(-1) for r, a, b in rows])
        return logits.gather(1, targets.to(logits.device)[:, None])[:, 0]

    def _head(self, hidden: Any) -> Any:
        """Float32 log-softmax of the output head's logits (softcapped as the model does), where ``hidden`` is."""
        logits = self.model.get_output_embeddings()(hidden).float()
        if self.softcap:
            logits = self.torch.tanh(logits / self.softcap) * self.softcap
        return logits.log_softmax(-1)

    def _head_matches_model(self) -> bool:
        """Check once that decoder + output head reproduce the model's own logits.

        In bf16/fp16 the two paths may round differently (kernels chosen by shape): 0.05 still catches a
        head we do not know (a logit scale of even 1.1 moves log-probabilities by far more).
        """
        torch = self.torch
        ids = torch.tensor([self.encode("Compression is prediction; prediction is understanding.")], device=self.device)
        with torch.inference_mode():
            ref = self.model(input_ids=ids, use_cache=False).logits[0].float().log_softmax(-1)
            hidden = self.model.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state[0]
            mine = self._head(hidden).to(ref.device)
        tolerance = 1e-4 if self.model.dtype == torch.float32 else 0.05
        return bool(torch.allclose(ref, mine, atol=tolerance))

    def auto_batch_tokens(self) -> int:
        """``--batch-tokens auto``: padded tokens per call from the device's free memory (CPU: the default).

        A token costs about (4 x hidden + 3 x intermediate) activations at once in one layer (no cache is
        kept); under a device map the first GPU's free memory decides.
        """
        from compressiq.core.device import CPU_BATCH_TOKENS, auto_batch_tokens

        if self.device_kind != "cuda":
            return CPU_BATCH_TOKENS
        config = self.model.config
        hidden = int(config.hidden_size)
        width = 4 * hidden + 3 * int(getattr(config, "intermediate_size", 4 * hidden))
        free, _ = self.torch.cuda.mem_get_info(self.device)
        return auto_batch_tokens(int(free), width * self.model.dtype.itemsize)


def _single_query_attention() -> str:
    """The name of transformers' SDPA attention with one change, registered once: for one new token a row
    under grouped-query attention and no mask, each key-value head's query heads are packed as its queries
    (transformers does so itself under a mask). With no mask transformers asks SDPA for ``enable_gqa``, whose
    CPU kernel took 8.5 ms where the packed call took 1.8 (16 rows, 400 positions, bf16): at a 512-token
    chunk's end, attention was 70 % of a step. Windows of many tokens go to transformers' SDPA unchanged."""
    torch, transformers = libs()
    sdpa = importlib.import_module("transformers.integrations.sdpa_attention").sdpa_attention_forward

    def attention(module: Any, query: Any, key: Any, value: Any, mask: Any, *args: Any, **kwargs: Any) -> Any:
        groups = getattr(module, "num_key_value_groups", 1)
        special = args or kwargs.get("dropout") or any(kwargs.get(k) is not None for k in ("softcap", "position_bias"))
        if query.shape[2] != 1 or groups == 1 or mask is not None or special:
            return sdpa(module, query, key, value, mask, *args, **kwargs)
        batch, heads, _, width = query.shape
        packed = query.reshape(batch, heads // groups, groups, width)
        out = torch.nn.functional.scaled_dot_product_attention(packed, key, value, scale=kwargs.get("scaling"))
        return out.reshape(batch, heads, 1, width).transpose(1, 2).contiguous(), None

    name = "compressiq_sdpa"
    if name not in transformers.AttentionInterface._global_mapping:
        transformers.AttentionInterface.register(name, attention)
        transformers.AttentionMaskInterface.register(name, transformers.AttentionMaskInterface._global_mapping["sdpa"])
    return name


def _chunk_cache(model: Any, capacity: int) -> Any:
    """transformers' DynamicCache with its full-attention layers written in place into buffers of
    ``capacity`` positions. DynamicCache concatenates at every step, which copies the whole cache and
    made a step 4x slower at the end of a 512-token chunk than at its start; sliding-window layers keep theirs."""
    transformers = importlib.import_module("transformers")
    cache = transformers.DynamicCache(config=model.config)

    class Buffered(transformers.DynamicLayer):  # type: ignore[misc, name-defined]
        def update(self, keys: Any, values: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            if not hasattr(self, "k_buf"):
                batch, heads, _, width = keys.shape
                self.k_buf = keys.new_empty(batch, heads, capacity, width)
                self.v_buf = values.new_empty(batch, heads, capacity, width)
                self.used, self.is_initialized = 0, True
            end = self.used + keys.shape[-2]
            self.k_buf[:, :, self.used : end] = keys
            self.v_buf[:, :, self.used : end] = values
            self.used, self.keys, self.values = end, self.k_buf[:, :, :end], self.v_buf[:, :, :end]
            return self.keys, self.values

    cache.layers = [Buffered() if type(layer) is transformers.DynamicLayer else layer for layer in cache.layers]
    return cache
