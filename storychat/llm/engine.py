"""The small interface the answer pipeline talks to, whatever runs the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol


class EngineError(RuntimeError):
    """The engine cannot do what was asked; the message says what to do instead."""


@dataclass(frozen=True)
class Message:
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class EngineInfo:
    model: str
    n_ctx: int
    n_ctx_train: int
    can_offload: bool
    gpu_layers: int
    n_layer: int
    flash_attn: bool
    kv_type: str
    kv_bytes: int = 0  # memory the KV cache holds for the whole context
    prefill_tps: float = 0.0  # from the startup probe, 0 when not measured
    decode_tps: float = 0.0

    def startup_line(self) -> str:
        offload = "yes" if self.can_offload else "no"
        kv_size = f" ({self.kv_bytes / 2**20:,.0f} MiB)" if self.kv_bytes else ""
        line = (
            f"model {self.model} | context {self.n_ctx} tokens (trained {self.n_ctx_train}) | "
            f"GPU offload supported: {offload} | layers on GPU: {self.gpu_layers}/{self.n_layer} | "
            f"flash attention: {'on' if self.flash_attn else 'off'} | KV cache: {self.kv_type}{kv_size}"
        )
        if self.prefill_tps:
            line += f" | prefill {self.prefill_tps:,.0f} tok/s, decode {self.decode_tps:,.1f} tok/s"
        return line


@dataclass(frozen=True)
class Usage:
    """Token counts of the last generation.

    ``prompt_evaluated`` is how many prompt tokens the engine actually computed;
    the rest came from its cache (a reused prefix).
    """

    prompt_tokens: int
    prompt_evaluated: int
    completion_tokens: int
    prefix_source: str = ""  # where the stable prefix came from: live, ram, disk, cold, prompt


class Engine(Protocol):
    def info(self) -> EngineInfo: ...

    @property
    def context_length(self) -> int: ...

    def tokenize(self, text: str) -> list[int]: ...

    def count(self, text: str) -> int: ...

    def stream_chat(
        self,
        messages: list[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        grammar: str | None = None,
        cache_label: str = "",
    ) -> Iterator[str]:
        """Yield the answer text piece by piece; ``last_usage`` is set when it ends.

        ``grammar`` is llama.cpp GBNF the answer must follow. ``cache_label``
        names what the first message holds (a collection), so a cache can
        drop what it kept for older versions of it.
        """
        ...

    @property
    def last_usage(self) -> Usage | None: ...
