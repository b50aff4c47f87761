"""Read the key/value metadata of a GGUF file without loading the model.

Only the header is parsed; arrays (the tokenizer vocabulary) are skipped, so
this takes milliseconds even for multi-gigabyte files. Used to size the
context and estimate memory before llama.cpp allocates anything.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i",
    6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}
_STRING, _ARRAY = 8, 9


class GGUFError(ValueError):
    pass


@dataclass(frozen=True)
class ModelShape:
    """What the memory estimate and context sizing need from the metadata."""

    architecture: str
    context_length: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim_k: int
    head_dim_v: int

    @property
    def kv_elements_per_token(self) -> int:
        return self.n_layer * self.n_head_kv * (self.head_dim_k + self.head_dim_v)


def read_metadata(path: Path) -> dict[str, object]:
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise GGUFError(f"{path} is not a GGUF file (bad magic bytes)")
        version, _tensors, n_kv = struct.unpack("<IQQ", f.read(20))
        if version < 2:
            raise GGUFError(f"{path} uses GGUF version {version}; convert it with a newer llama.cpp")
        meta: dict[str, object] = {}
        for _ in range(n_kv):
            key = _read_string(f)
            meta[key] = _read_value(f, struct.unpack("<I", f.read(4))[0])
        return meta


def model_shape(meta: dict[str, object]) -> ModelShape:
    arch = str(meta.get("general.architecture", ""))

    def field(name: str, default: int | None = None) -> int:
        value = meta.get(f"{arch}.{name}", default)
        if value is None:
            raise GGUFError(f"GGUF metadata lacks {arch}.{name}")
        return int(value)  # type: ignore[arg-type]

    n_head = field("attention.head_count")
    head_dim = field("embedding_length") // max(n_head, 1)
    return ModelShape(
        architecture=arch,
        context_length=field("context_length"),
        n_layer=field("block_count"),
        n_head=n_head,
        n_head_kv=field("attention.head_count_kv", n_head),
        head_dim_k=field("attention.key_length", head_dim),
        head_dim_v=field("attention.value_length", head_dim),
    )


def _read_string(f: BinaryIO) -> str:
    (n,) = struct.unpack("<Q", f.read(8))
    return f.read(n).decode("utf-8", errors="replace")


def _read_value(f: BinaryIO, vtype: int) -> object:
    if vtype in _SCALARS:
        fmt = _SCALARS[vtype]
        return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]
    if vtype == _STRING:
        return _read_string(f)
    if vtype == _ARRAY:
        itype, n = struct.unpack("<IQ", f.read(12))
        _skip_array(f, itype, n)
        return None
    raise GGUFError(f"unknown GGUF value type {vtype}")


def _skip_array(f: BinaryIO, itype: int, n: int) -> None:
    if itype in _SCALARS:
        f.seek(struct.calcsize(_SCALARS[itype]) * n, 1)
        return
    for _ in range(n):
        _read_value(f, itype)
