"""How much memory a model needs at a given context, answered before loading it.

KV cache bytes = layers x KV heads x (K + V head size) x tokens x bytes per
element (f16 = 2, q8_0 = 34/32, q4_0 = 18/32: 32-value blocks with a 2-byte
scale). Weights take about the GGUF file size. Compute buffers grow with the
vocabulary and batch; the estimate adds a fixed allowance for them. Without
flash attention llama.cpp also materialises the attention scores of a whole
batch (batch x heads x context floats): at 8192 tokens that added 68 MiB for
the bundled model, and it reaches gigabytes for 128k-token models.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from storychat.llm.gguf import ModelShape, model_shape, read_metadata

BYTES_PER_ELEMENT = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
N_UBATCH = 512
OVERHEAD = 256 * 2**20  # CUDA context, graph and scratch buffers, roughly
GiB = 2**30


@dataclass(frozen=True)
class Estimate:
    n_ctx: int
    kv_type: str
    weights: int
    kv: int
    compute: int

    @property
    def total(self) -> int:
        return self.weights + self.kv + self.compute

    def sentence(self, model: str) -> str:
        return (
            f"{model} at {self.n_ctx:,} model tokens with {self.kv_type} KV cache needs about "
            f"{self.total / GiB:.1f} GB ({self.weights / GiB:.1f} weights + {self.kv / GiB:.2f} KV + "
            f"{self.compute / GiB:.1f} compute)"
        )


def kv_bytes(shape: ModelShape, n_ctx: int, kv_type: str) -> int:
    return int(shape.kv_elements_per_token * n_ctx * BYTES_PER_ELEMENT[kv_type])


def score_bytes(shape: ModelShape, n_ctx: int, flash_attn: bool) -> int:
    """The attention scores of one batch, an upper bound; flash attention never stores them."""
    return 0 if flash_attn else N_UBATCH * shape.n_head * 4 * n_ctx


def estimate(path: Path, n_ctx: int, kv_type: str = "f16", flash_attn: bool = True) -> Estimate:
    meta = read_metadata(path)
    shape = model_shape(meta)
    vocab = int(meta.get(f"{shape.architecture}.vocab_size") or 32_000)  # type: ignore[arg-type]
    return Estimate(
        n_ctx=n_ctx,
        kv_type=kv_type,
        weights=path.stat().st_size,
        kv=kv_bytes(shape, n_ctx, kv_type),
        compute=vocab * N_UBATCH * 4 + OVERHEAD + score_bytes(shape, n_ctx, flash_attn),
    )


def largest_context(path: Path, kv_type: str, free: int, trained: int, flash_attn: bool = True) -> int:
    """The longest context (a multiple of 256, at most ``trained``) whose estimate fits ``free`` bytes."""
    fixed = estimate(path, 0, kv_type, flash_attn)
    shape = model_shape(read_metadata(path))
    per_token = kv_bytes(shape, 1, kv_type) + score_bytes(shape, 1, flash_attn)
    room = free - fixed.total
    if room <= 0:
        return 0
    return min(trained, room // per_token) // 256 * 256


@dataclass(frozen=True)
class FreeMemory:
    bytes: int
    source: str  # which memory, and how it was read


GGML_BACKEND_DEVICE_TYPE_GPU = 1


def free_memory(gpu: bool) -> FreeMemory:
    """Free memory on the first GPU when offloading (as llama.cpp's backend reports it), else available host RAM."""
    if gpu:
        found = gpu_free_memory()
        if found:
            return found
        why = "no GPU memory could be read"
    host = FreeMemory(_mem_available(), "available host memory")
    return replace(host, source=f"{host.source} ({why})") if gpu else host


def gpu_free_memory() -> FreeMemory | None:
    """The first GPU's free memory from ggml's device API (the CUDA runtime), else from nvidia-smi."""
    try:
        import llama_cpp

        lib = llama_cpp.llama_cpp._lib
        lib.ggml_backend_dev_count.restype = ctypes.c_size_t
        lib.ggml_backend_dev_get.argtypes, lib.ggml_backend_dev_get.restype = [ctypes.c_size_t], ctypes.c_void_p
        lib.ggml_backend_dev_type.argtypes, lib.ggml_backend_dev_type.restype = [ctypes.c_void_p], ctypes.c_int
        lib.ggml_backend_dev_description.argtypes, lib.ggml_backend_dev_description.restype = [ctypes.c_void_p], ctypes.c_char_p
        lib.ggml_backend_dev_memory.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_size_t)]
        for i in range(lib.ggml_backend_dev_count()):
            device = lib.ggml_backend_dev_get(i)
            if lib.ggml_backend_dev_type(device) == GGML_BACKEND_DEVICE_TYPE_GPU:
                free, total = ctypes.c_size_t(), ctypes.c_size_t()
                lib.ggml_backend_dev_memory(device, ctypes.byref(free), ctypes.byref(total))
                name = lib.ggml_backend_dev_description(device).decode(errors="replace")
                return FreeMemory(free.value, f"free memory on {name} (of {total.value / GiB:.1f} GB, from llama.cpp)")
    except (AttributeError, OSError, ImportError):
        pass
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout.split()
            return FreeMemory(int(out[0]) * 2**20, "free GPU memory (from nvidia-smi)")
        except (subprocess.SubprocessError, ValueError, IndexError):
            pass
    return None


def _mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("cannot tell how much memory is free")
