"""Round trip of whole corpora through compress/decompress, resumable, with the table of issue 5.

Each JSONL file's documents (their ``content``, joined by newlines) are cut into pieces of whole
documents filling one batch of chunks, so every step keeps the model busy. A piece
is compressed, decompressed, compared byte for byte, and scored by the scorer on the same chunks;
then one line is appended to ``OUT/ledger.jsonl`` and its file kept as ``OUT/<file>.<i>.ciqz``.
A rerun skips the pieces already in the ledger, so the job survives being stopped.

    .venv/bin/python bench/codec_roundtrip.py OUT FILE.jsonl ... [--chunk-tokens 512] [--batch 128]
    .venv/bin/python bench/codec_roundtrip.py OUT [FILE.jsonl ...] --report   # the table; with files, coverage
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codec_speed import scorer_bits, timed

from compressiq.codec import coding as codec
from compressiq.codec import container
from compressiq.core.corpus import load_corpus


def pieces(path: Path, backend: Any, capacity: int) -> Iterator[tuple[int, int, str]]:
    """(first document, end document, text): consecutive documents filling at most 98 % of one batch
    of chunks (a margin for tokens merging across the joins); a longer document is a piece alone."""
    docs = _contents(path)
    first, tokens = 0, 0
    for i, doc in enumerate(docs):
        n = len(backend.encode(doc)) + 1
        if tokens and tokens + n > 0.98 * capacity:
            yield first, i, "\n".join(docs[first:i])
            first, tokens = i, 0
        tokens += n
    if first < len(docs):
        yield first, len(docs), "\n".join(docs[first:])


def run(out: Path, files: list[Path], chunk: int, batch: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ledger = out / "ledger.jsonl"
    done = {(r["file"], r["piece"]) for r in _read(ledger) if r["chunk_tokens"] == chunk and r["batch"] == batch}
    backend, prefix = codec.load_model("smollm2-135m", dtype="float32")  # the ledger's runs: float32
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    plan = [(piece, path, *cut) for path in files for piece, cut in enumerate(pieces(path, backend, chunk * batch))]
    for piece, path, first, end, text in sorted(plan, key=lambda p: p[0]):  # the files take turns
        if (path.name, piece) in done:
            continue
        row, blob = round_trip(text, backend, prefix, chunk, batch)
        row.update(file=path.name, piece=piece, documents=[first, end], commit=commit)
        (out / f"{path.stem}.{piece}.ciqz").write_bytes(blob)
        with ledger.open("a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
        kb = row["bytes"] / 1024
        print(f"{path.name} #{piece}: {row['bytes']} B -> {len(blob)} B, round trip ok, "
              f"{kb / row['compress_s']:.2f} / {kb / row['decompress_s']:.2f} KB/s", flush=True)  # fmt: skip


def round_trip(text: str, backend: Any, prefix: int | None, chunk: int, batch: int) -> tuple[dict[str, Any], bytes]:
    """Compress, decompress, compare, score: the ledger row (stops the job if a byte differs)."""
    data = text.encode("utf-8")
    blob, t_c = timed(codec.compress, data, backend, chunk, batch, prefix)
    back, t_d = timed(codec.decompress, blob, lambda stamp: backend)
    if back != data:
        raise SystemExit("round trip FAILED: the decoded bytes differ")
    (bits, tokens), t_s = timed(scorer_bits, backend, text, chunk, prefix)
    header, payload = container.unpack(blob)
    xz = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
    row = {"bytes": len(data), "characters": len(text), "tokens": tokens, "mode": header.mode.name,
           "xz": len(xz), "compressed": len(blob), "payload": len(payload), "scorer_bits": bits,
           "compress_s": t_c, "decompress_s": t_d, "score_s": t_s, "chunk_tokens": chunk, "batch": batch,
           "threads": backend.torch.get_num_threads()}  # fmt: skip
    return row, blob


def report(out: Path, files: list[Path]) -> None:
    """The table from the ledger; with the corpus files, also how much of each the ledger covers."""
    rows = _read(out / "ledger.jsonl")
    corpora = {path.name: _contents(path) for path in files}
    print("| file | pieces | coverage | original B | xz -9e B | compressiq B | scorer Σbits/8 B | payload/Σbits "
          "| compress KB/s | decompress KB/s | decompress/scorer tokens/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in sorted({r["file"] for r in rows}):
        rs = [r for r in rows if r["file"] == name]
        total = {k: sum(r[k] for r in rs) for k in ("bytes", "xz", "compressed", "payload", "scorer_bits",
                                                      "compress_s", "decompress_s", "score_s", "tokens")}  # fmt: skip
        kb = total["bytes"] / 1024
        print(f"| {name} | {len(rs)} | {_coverage(rs, corpora.get(name))} "
              f"| {total['bytes']:,} | {total['xz']:,} | {total['compressed']:,} "
              f"| {total['scorer_bits'] / 8:,.0f} | {8 * total['payload'] / total['scorer_bits']:.4f} "
              f"| {kb / total['compress_s']:.2f} | {kb / total['decompress_s']:.2f} "
              f"| {total['score_s'] / total['decompress_s']:.2f} |")  # fmt: skip


def _coverage(rows: list[dict[str, Any]], docs: list[str] | None) -> str:
    """Documents, and share of the documents' UTF-8 bytes, that the pieces hold."""
    if docs is None:
        return "?"
    sizes = [len(d.encode("utf-8")) for d in docs]
    covered = {i for r in rows for i in range(*r["documents"])}
    share = sum(sizes[i] for i in covered) / sum(sizes)
    return f"{len(covered):,} of {len(docs):,} documents, {share:.2%} of {sum(sizes):,} B"


def _contents(path: Path) -> list[str]:
    return [d.content for d in load_corpus(str(path)).documents]


def _read(ledger: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ledger.read_text().splitlines()] if ledger.exists() else []


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("files", type=Path, nargs="*")
    p.add_argument("--chunk-tokens", type=int, default=512)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--report", action="store_true")
    args = p.parse_args()
    if args.report:
        report(args.out, args.files)
    else:
        run(args.out, args.files, args.chunk_tokens, args.batch)


if __name__ == "__main__":
    main()
