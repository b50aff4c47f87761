"""The embedded engine: llama-cpp-python running a GGUF file in this process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import llama_cpp

from storychat.llm.engine import EngineInfo, Message, Usage
from storychat.llm.gguf import model_shape, read_metadata

KV_TYPES = {
    "f16": llama_cpp.GGML_TYPE_F16,
    "q8_0": llama_cpp.GGML_TYPE_Q8_0,
    "q4_0": llama_cpp.GGML_TYPE_Q4_0,
}


class EngineError(RuntimeError):
    pass


@dataclass(frozen=True)
class EngineOptions:
    n_ctx: int | None = None  # cap; the model's trained context when None
    gpu_layers: int | None = None  # None: all layers when the build can offload, else 0
    flash_attn: bool = True
    kv_type: str = "f16"
    threads: int | None = None


def context_size(trained: int, cap: int | None) -> int:
    """The context to allocate: the trained length, capped, as a multiple of 256.

    llama.cpp pads n_ctx up to a multiple of 256 while llama-cpp-python sizes
    its token buffer with the requested value, so anything else breaks long prompts.
    """
    wanted = min(trained, cap) if cap else trained
    return max(256, wanted // 256 * 256)


class LlamaEngine:
    def __init__(self, model_path: Path, options: EngineOptions = EngineOptions()):
        if options.kv_type not in KV_TYPES:
            raise EngineError(f"--kv-type {options.kv_type}: choose one of {', '.join(KV_TYPES)}")
        if options.kv_type != "f16" and not options.flash_attn:
            raise EngineError(
                f"--kv-type {options.kv_type} quantises the V cache, which llama.cpp only supports "
                "with flash attention. Drop --no-flash-attn, or use --kv-type f16."
            )
        shape = model_shape(read_metadata(model_path))
        can_offload = bool(llama_cpp.llama_supports_gpu_offload())
        gpu_layers = options.gpu_layers if options.gpu_layers is not None else (-1 if can_offload else 0)
        n_ctx = context_size(shape.context_length, options.n_ctx)
        kv = KV_TYPES[options.kv_type]
        try:
            self._llm = _CountingLlama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_gpu_layers=gpu_layers,
                flash_attn=options.flash_attn,
                type_k=kv,
                type_v=kv,
                n_threads=options.threads,
                verbose=False,
            )
        except ValueError as exc:
            raise EngineError(
                f"llama.cpp could not load {model_path.name} with a {n_ctx}-token context: {exc}. "
                "Try a smaller --n-ctx, fewer --gpu-layers, or --kv-type q8_0."
            ) from exc
        on_gpu = 0 if not can_offload else (shape.n_layer if gpu_layers < 0 else min(gpu_layers, shape.n_layer))
        self._info = EngineInfo(
            model=model_path.name,
            n_ctx=self._llm.n_ctx(),
            n_ctx_train=shape.context_length,
            can_offload=can_offload,
            gpu_layers=on_gpu,
            n_layer=shape.n_layer,
            flash_attn=options.flash_attn,
            kv_type=options.kv_type,
        )
        self._last_usage: Usage | None = None

    def info(self) -> EngineInfo:
        return self._info

    @property
    def context_length(self) -> int:
        return self._info.n_ctx

    @property
    def last_usage(self) -> Usage | None:
        return self._last_usage

    def tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def count(self, text: str) -> int:
        return len(self.tokenize(text))

    def stream_chat(
        self, messages: list[Message], *, max_tokens: int, temperature: float = 0.0, grammar: str | None = None
    ) -> Iterator[str]:
        self._last_usage = None
        self._llm.start_counting()
        pieces: list[str] = []
        stream = self._llm.create_chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            stream=True,
            max_tokens=max_tokens,
            temperature=temperature,
            seed=0,
            grammar=llama_cpp.LlamaGrammar.from_string(grammar, verbose=False) if grammar else None,
        )
        try:
            for chunk in stream:
                text = chunk["choices"][0]["delta"].get("content")
                if text:
                    pieces.append(text)
                    yield text
        finally:
            stream.close()
            self._last_usage = Usage(
                prompt_tokens=self._llm.prompt_tokens,
                prompt_evaluated=self._llm.prompt_evaluated,
                completion_tokens=self.count("".join(pieces)),
            )


class _CountingLlama(llama_cpp.Llama):
    """Records how many prompt tokens each generation really evaluates.

    ``generate`` drops the prefix it shares with the KV cache and passes only
    the rest to the first ``eval`` call; later calls are sampled tokens.
    """

    def start_counting(self) -> None:
        self.prompt_tokens = 0
        self.prompt_evaluated = 0
        self._counting = True

    def eval(self, tokens):  # noqa: ANN001 - signature of the parent
        first = getattr(self, "_counting", False)
        self._counting = False
        super().eval(tokens)
        if first:
            self.prompt_evaluated = len(tokens)
            self.prompt_tokens = self.n_tokens
