"""A minimal GGUF header reader: the key/value metadata and tensor shapes, no weights.

`/api/show` answers `model_info` from exactly this metadata (Ollama's `ggml.KV`), so reading
the header ourselves gives the real types (integers stay integers, arrays stay arrays)
without loading the model into llama.cpp.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["FILE_TYPES", "GGUFHeader", "read_header"]

# llama.cpp's LLAMA_FTYPE_* names for general.file_type, as Ollama prints them.
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
              10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S",
              15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16"}

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
FLOAT32, FLOAT64, STRING, ARRAY = 6, 12, 8, 9


@dataclass(frozen=True)
class Float:
    """A float with its GGUF width, so it can be printed as Go prints float32 or float64."""

    value: float
    bits: int


@dataclass
class GGUFHeader:
    """Metadata of one GGUF file."""

    version: int
    kv: dict[str, Any]
    parameter_count: int
    tensors: dict[str, list[int]] = field(default_factory=dict)
    """Tensor name → shape."""


def _read(f: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    return struct.unpack(fmt, f.read(size))[0]


def _string(f: BinaryIO) -> str:
    return f.read(_read(f, "<Q")).decode("utf-8", errors="replace")


def _value(f: BinaryIO, vtype: int) -> Any:
    if vtype == STRING:
        return _string(f)
    if vtype == ARRAY:
        item_type, count = _read(f, "<I"), _read(f, "<Q")
        return [_value(f, item_type) for _ in range(count)]
    value = _read(f, _SCALARS[vtype])
    if vtype in (FLOAT32, FLOAT64):
        return Float(value, 32 if vtype == FLOAT32 else 64)
    return value


def read_header(path: Path) -> GGUFHeader:
    """Parse the header of a GGUF (v2 or v3) file."""
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        version = _read(f, "<I")
        n_tensors, n_kv = _read(f, "<Q"), _read(f, "<Q")
        kv: dict[str, Any] = {}
        for _ in range(n_kv):
            key = _string(f)
            kv[key] = _value(f, _read(f, "<I"))
        params = 0
        tensors: dict[str, list[int]] = {}
        for _ in range(n_tensors):
            tensor = _string(f)
            dims = [_read(f, "<Q") for _ in range(_read(f, "<I"))]
            _read(f, "<I")  # ggml type
            _read(f, "<Q")  # data offset
            count = 1
            for d in dims:
                count *= d
            params += count
            tensors[tensor] = dims
    return GGUFHeader(version=version, kv=kv, parameter_count=params, tensors=tensors)
