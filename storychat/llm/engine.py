"""The small interface the answer pipeline talks to, whatever runs the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, Iterator, Protocol

# Tokens a chat template adds around each message (role markers, separators).
MESSAGE_OVERHEAD = 8


class EngineError(RuntimeError):
    """The engine cannot do what was asked; the message says what to do instead."""


@dataclass(frozen=True)
class Message:
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class EngineInfo:
    """What every engine says about itself. Each engine adds its own facts in a
    subclass, with its own startup line; ``Engine.report`` is the full self-check."""

    model: str
    n_ctx: int
    prefill_tps: float = 0.0  # from a startup probe, 0 when not measured
    decode_tps: float = 0.0
    parameters: int | None = None  # the model's parameter count, None when the engine cannot tell

    def startup_line(self) -> str:
        return f"model {self.model} | context {self.n_ctx} tokens"


@dataclass(frozen=True)
class Usage:
    """Token counts of one generation.

    ``prompt_evaluated`` is how many prompt tokens the engine actually computed;
    the rest came from its cache (a reused prefix).
    """

    prompt_tokens: int
    prompt_evaluated: int
    completion_tokens: int
    prefix_source: str = ""  # where the stable prefix came from: live, ram, disk, ram-partial, disk-partial, cold, prompt


class StopGenerating(Exception):
    """Thrown into an answer's generation to end it early and still count it (``ChatStream.stop``)."""


class ChatStream:
    """The text of one answer, piece by piece; ``usage`` is set once the last piece is read, or on ``stop``.

    Closing it part-way (or dropping it) ends the generation and frees the engine.
    """

    def __init__(self, pieces: Generator[str, None, Usage]):
        self._pieces = pieces
        self.usage: Usage | None = None

    def __iter__(self) -> Iterator[str]:
        self.usage = yield from self._pieces

    def stop(self) -> None:
        """End the generation now and keep the usage of what it read and wrote: an answer cut short on purpose
        (it repeats itself) still says how many tokens it took."""
        try:
            self._pieces.throw(StopGenerating)
        except StopIteration as ended:
            self.usage = ended.value
        except StopGenerating:
            pass  # a generation not yet started, or one that cannot count what it did

    def close(self) -> None:
        self._pieces.close()


class Engine(Protocol):
    def info(self) -> EngineInfo: ...

    def report(self) -> list[str]:
        """The runtime self-check, one fact a line: for ``storychat info`` and the UI's Model panel."""
        ...

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
    ) -> ChatStream:
        """The answer to ``messages``, streamed.

        ``grammar`` is llama.cpp GBNF the answer must follow. ``cache_label``
        names what the first message holds (a collection), so a cache can
        drop what it kept for older versions of it.
        """
        ...
