"""A float32 copy of a GGUF file: every tensor dequantised with the ``gguf`` library, metadata kept.

With it, llama.cpp and transformers compute with the same weights, so any difference left between the
two backends is their arithmetic, not llama.cpp's quantised kernels.
"""

from pathlib import Path
from typing import Any

import numpy as np


def write_float32_copy(src: Path, dst: Path) -> Path:
    import gguf
    from gguf.quants import dequantize

    reader = gguf.GGUFReader(src)
    writer = gguf.GGUFWriter(dst, _value(reader.fields["general.architecture"]))
    for key, field in reader.fields.items():
        if not key.startswith("GGUF.") and key != "general.architecture":
            sub = field.types[1] if len(field.types) > 1 else None
            writer.add_key_value(key, _value(field), field.types[0], sub_type=sub)
    for t in reader.tensors:
        data = dequantize(t.data, t.tensor_type).astype(np.float32)
        shape = [int(n) for n in reversed(t.shape.tolist())]
        writer.add_tensor(t.name, data.reshape(shape), raw_dtype=gguf.GGMLQuantizationType.F32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst


def _value(field: Any) -> Any:
    import gguf

    def one(i: int, kind: Any) -> Any:
        part = field.parts[i]
        return bytes(part).decode("utf-8", "surrogateescape") if kind == gguf.GGUFValueType.STRING else part.tolist()[0]

    if field.types[0] == gguf.GGUFValueType.ARRAY:
        return [one(i, field.types[1]) for i in field.data]
    return one(field.data[0], field.types[0])
