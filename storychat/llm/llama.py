"""The embedded engine: llama-cpp-python running a GGUF file in this process.

Prompts are rendered with the GGUF's own chat template, so the engine knows
the exact tokens of the stable prefix (the system message with the stories).
That prefix is restored from a KV snapshot when one exists, or evaluated once
and snapshotted; llama-cpp-python's prefix matching then evaluates only the
rest of the prompt.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Generator, Iterator

import llama_cpp
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from storychat.config import DEFAULTS
from storychat.llm.engine import ChatStream, EngineError, EngineInfo, Message, Usage
from storychat.llm.gguf import model_shape, read_metadata
from storychat.llm.kvcache import KVCache, Snapshot, snapshot_key
from storychat.llm.memory import estimate, free_memory, kv_bytes, largest_context

KV_TYPES = {
    "f16": llama_cpp.GGML_TYPE_F16,
    "q8_0": llama_cpp.GGML_TYPE_Q8_0,
    "q4_0": llama_cpp.GGML_TYPE_Q4_0,
}
FLASH_ATTN_MODES = ("on", "off", "auto")
# Templates for GGUFs that carry none: plain ChatML.
CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# Shorter prefixes are cheaper to recompute than to snapshot.
MIN_SNAPSHOT_TOKENS = 256


@dataclass(frozen=True)
class EngineOptions:
    n_ctx: int | None = None  # cap; the model's trained context when None
    gpu_layers: int | None = None  # None: all layers when the build can offload, else 0
    flash_attn: str = DEFAULTS.flash_attn  # "on", "off", or "auto": see use_flash_attn
    kv_type: str = DEFAULTS.kv_type
    threads: int | None = None  # None: the physical cores, as llama.cpp counts them
    cache: KVCache | None = None


@dataclass(frozen=True, kw_only=True)
class LlamaInfo(EngineInfo):
    n_ctx_train: int
    can_offload: bool
    gpu_layers: int
    n_layer: int
    flash_attn: bool
    kv_type: str
    kv_bytes: int = 0  # memory the KV cache holds for the whole context

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


def context_size(trained: int, cap: int | None) -> int:
    """The context to allocate: the trained length, capped, as a multiple of 256.

    llama.cpp pads n_ctx up to a multiple of 256 while llama-cpp-python sizes
    its token buffer with the requested value, so anything else breaks long prompts.
    """
    wanted = min(trained, cap) if cap else trained
    return max(256, wanted // 256 * 256)


def use_flash_attn(mode: str, kv_type: str, on_gpu: bool) -> bool:
    """Resolve --flash-attn on|off|auto.

    auto turns it on when layers run on a GPU or the V cache is quantised
    (which needs it), and off on a CPU: there, llama.cpp's flash-attention
    kernel walks the whole KV cache per query row, so a follow-up question
    over a warm 3.6k-token corpus took 6x longer with it (docs/benchmarks.md).
    """
    if mode not in FLASH_ATTN_MODES:
        raise EngineError(f"--flash-attn {mode}: choose one of {', '.join(FLASH_ATTN_MODES)}")
    if kv_type != "f16" and mode == "off":
        raise EngineError(
            f"--kv-type {kv_type} quantises the V cache, which llama.cpp only supports "
            "with flash attention. Drop --flash-attn off, or use --kv-type f16."
        )
    return mode == "on" or (mode == "auto" and (on_gpu or kv_type != "f16"))


def physical_cores() -> int:
    """CPU cores this process may use, hyperthread siblings counted once (llama.cpp's -t default)."""
    if not hasattr(os, "sched_getaffinity"):  # macOS, Windows
        return os.cpu_count() or 1
    cpus = os.sched_getaffinity(0)
    siblings = set()
    for cpu in cpus:
        try:
            siblings.add(Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list").read_text().strip())
        except OSError:
            return len(cpus)
    return max(1, len(siblings))


def _serialised(method):
    """Run ``method`` holding the engine's lock: one llama.cpp context does one thing at a time."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class LlamaEngine:
    """One llama.cpp context. Its calls are serialised: a caller waits for the one before it to finish."""

    def __init__(self, model_path: Path, options: EngineOptions = EngineOptions()):
        if options.kv_type not in KV_TYPES:
            raise EngineError(f"--kv-type {options.kv_type}: choose one of {', '.join(KV_TYPES)}")
        self.path = model_path
        self.options = options
        self._lock = threading.Lock()  # a plain Lock: a stream may be finished on another thread than it began
        shape = model_shape(read_metadata(model_path))
        can_offload = bool(llama_cpp.llama_supports_gpu_offload())
        gpu_layers = options.gpu_layers if options.gpu_layers is not None else (-1 if can_offload else 0)
        self.notes: list[str] = []
        on_gpu = gpu_layers != 0 and can_offload
        self._flash_attn = use_flash_attn(options.flash_attn, options.kv_type, on_gpu)
        n_ctx = self._fitting_context(shape.context_length, on_gpu)
        for n_ctx, gpu_layers in _fallbacks(n_ctx, gpu_layers, shape.n_layer):
            try:
                self._llm = self._open(n_ctx, gpu_layers)
                break
            except ValueError as exc:
                self.notes.append(f"could not allocate a {n_ctx}-token context with {_layers(gpu_layers)} on the GPU ({exc})")
        else:
            raise EngineError(
                f"llama.cpp could not load {model_path.name}: " + "; ".join(self.notes)
                + ". Try a smaller --n-ctx, fewer --gpu-layers, or --kv-type q8_0."
            )
        if self.notes:
            self.notes.append(f"loaded with a {n_ctx}-token context and {_layers(gpu_layers)} on the GPU instead")
        layers_on_gpu = 0 if not can_offload else (shape.n_layer if gpu_layers < 0 else min(gpu_layers, shape.n_layer))
        self._info = LlamaInfo(
            model=model_path.name,
            n_ctx=self._llm.n_ctx(),
            n_ctx_train=shape.context_length,
            can_offload=can_offload,
            gpu_layers=layers_on_gpu,
            n_layer=shape.n_layer,
            flash_attn=self._flash_attn,
            kv_type=options.kv_type,
            kv_bytes=kv_bytes(shape, self._llm.n_ctx(), options.kv_type),
        )
        self._formatter = self._chat_formatter()
        self._prefix_memo: tuple[str, list[int]] = ("", [])

    def info(self) -> LlamaInfo:
        return self._info

    def report(self) -> list[str]:
        info = self._info
        lines = [
            f"Model: {info.model}, context {info.n_ctx:,} tokens (trained {info.n_ctx_train:,})",
            f"GPU offload: {'supported' if info.can_offload else 'not supported by this build or no GPU found'}; "
            f"layers on GPU: {info.gpu_layers}/{info.n_layer}",
            f"Flash attention: {'on' if info.flash_attn else 'off'}; KV cache: {info.kv_type}, {info.kv_bytes / 2**20:,.0f} MiB",
        ]
        if info.prefill_tps:
            lines.append(f"Speed probe: prefill {info.prefill_tps:,.0f} tokens/s, decode {info.decode_tps:,.1f} tokens/s")
        on_gpu = info.gpu_layers > 0
        free = free_memory(on_gpu)
        lines.append(estimate(self.path, info.n_ctx, info.kv_type, info.flash_attn).sentence(info.model))
        lines.append(
            f"Largest context that fits the {free / 2**30:.1f} GB of free {'GPU' if on_gpu else 'host'} memory: "
            f"{largest_context(self.path, info.kv_type, free, info.n_ctx_train, info.flash_attn):,} tokens"
        )
        lines += [f"Note: {note}" for note in self.notes]
        lines.append(f"llama-cpp-python {llama_cpp.__version__}: {llama_cpp.llama_print_system_info().decode().strip()}")
        return lines

    @_serialised
    def state_size(self, tokens: list[int]) -> int:
        """Bytes of llama.cpp's state with ``tokens`` evaluated from an empty cache: what their snapshot takes."""
        self._llm.reset()
        self._llm.eval(tokens)
        return llama_cpp.llama_state_get_size(self._llm._ctx.ctx)

    @_serialised
    def probe(self, prompt_tokens: int = 128, decode_tokens: int = 16) -> LlamaInfo:
        """Measure prefill and decode speed on a short probe; the result is kept in ``info()``."""
        tokens = (self.tokenize("As a user, I want to see every story I wrote, so that I can plan. ") * 64)[:prompt_tokens]
        self._llm.reset()
        self._llm.eval(tokens[:8])  # the first batch pays for page-ins and warm-up; do not time it
        self._llm.reset()
        started = time.perf_counter()
        self._llm.eval(tokens)
        prefilled = time.perf_counter()
        for token in tokens[:decode_tokens]:
            self._llm.eval([token])
        decoded = time.perf_counter()
        self._llm.reset()
        self._info = replace(
            self._info,
            prefill_tps=round(len(tokens) / (prefilled - started), 1),
            decode_tps=round(decode_tokens / (decoded - prefilled), 1),
        )
        return self._info

    def _fitting_context(self, trained: int, on_gpu: bool) -> int:
        """The trained length, capped by --n-ctx and by what the free memory holds."""
        wanted = context_size(trained, self.options.n_ctx)
        free = free_memory(on_gpu)
        fits = largest_context(self.path, self.options.kv_type, free, trained, self._flash_attn)
        if fits < wanted:
            self.notes.append(
                f"context capped at {max(256, fits)} tokens (asked for {wanted}) to fit the "
                f"{free / 2**30:.1f} GB of free {'GPU' if on_gpu else 'host'} memory"
            )
        return max(256, min(wanted, fits))

    def _open(self, n_ctx: int, gpu_layers: int) -> "_CountingLlama":
        kv = KV_TYPES[self.options.kv_type]
        return _CountingLlama(
            model_path=str(self.path),
            n_ctx=n_ctx,
            n_gpu_layers=gpu_layers,
            flash_attn=self._flash_attn,
            type_k=kv,
            type_v=kv,
            n_threads=self.options.threads or physical_cores(),
            verbose=False,
        )

    @property
    def context_length(self) -> int:
        return self._info.n_ctx

    def tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def count(self, text: str) -> int:
        return len(self.tokenize(text))

    def stream_chat(
        self,
        messages: list[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        grammar: str | None = None,
        cache_label: str = "",
    ) -> ChatStream:
        return ChatStream(self._generate(messages, max_tokens, temperature, grammar, cache_label))

    def _generate(
        self, messages: list[Message], max_tokens: int, temperature: float, grammar: str | None, cache_label: str
    ) -> Generator[str, None, Usage]:
        with self._lock:  # held until the answer ends or its stream is closed
            prompt, formatted = self._prompt(messages)
            self._llm.start_counting()
            source = self._load_prefix(self._stable_prefix(messages), cache_label)
            pieces: list[str] = []
            stream = self._llm.create_completion(
                prompt=prompt,
                stream=True,
                max_tokens=max_tokens,
                temperature=temperature,
                seed=0,
                stop=formatted.stop,
                stopping_criteria=formatted.stopping_criteria,
                grammar=llama_cpp.LlamaGrammar.from_string(grammar, verbose=False) if grammar else None,
            )
            try:
                for chunk in stream:
                    text = chunk["choices"][0]["text"]
                    if text:
                        pieces.append(text)
                        yield text
            finally:
                stream.close()
            return Usage(
                prompt_tokens=len(prompt),
                prompt_evaluated=self._llm.prompt_evaluated,
                completion_tokens=self.count("".join(pieces)),
                prefix_source=source,
            )

    def _chat_formatter(self) -> Jinja2ChatFormatter:
        model = self._llm._model
        eos, bos = self._llm.token_eos(), self._llm.token_bos()
        return Jinja2ChatFormatter(
            template=self._llm.metadata.get("tokenizer.chat_template") or CHATML,
            eos_token=model.token_get_text(eos) if eos != -1 else "",
            bos_token=model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )

    def _prompt(self, messages: list[Message]):
        formatted = self._formatter(messages=[{"role": m.role, "content": m.content} for m in messages])
        tokens = self._llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True)
        return tokens, formatted

    def _stable_prefix(self, messages: list[Message]) -> list[int]:
        """Tokens every prompt starting with this first message shares.

        Rendered with two different questions after it: the common start is
        exactly what the chat template makes of the first message.
        """
        first = messages[0]
        if self._prefix_memo[0] != first.content:
            a, _ = self._prompt([first, Message("user", "a")])
            b, _ = self._prompt([first, Message("user", "b")])
            self._prefix_memo = (first.content, a[: _common(a, b)])
        return self._prefix_memo[1]

    def _load_prefix(self, prefix: list[int], label: str) -> str:
        """Make the KV cache start with ``prefix``; say where it came from.

        "live": already there; "ram"/"disk": restored from a snapshot;
        "cold": evaluated now (and snapshotted). Without a cache, or for a
        short prefix, generation evaluates it as usual ("prompt").
        """
        cache = self.options.cache
        live = _common(self._llm.input_ids[: self._llm.n_tokens].tolist(), prefix)
        if live == len(prefix):
            return "live"
        if cache is None or len(prefix) < MIN_SNAPSHOT_TOKENS:
            return "prompt"
        key = snapshot_key(self.path, self.context_length, self.options.kv_type, self._flash_attn, tuple(prefix))
        found = cache.get(key)
        if found:
            if self._restore(found[0]):
                return found[1]
            cache.discard(key)  # llama.cpp rejected it: written by another build or damaged
            live = 0
        self._llm.n_tokens = live
        self._llm.eval(prefix[live:])
        cache.put(key, Snapshot(tuple(prefix), self._state(), label))
        return "cold"

    def _state(self) -> bytes:
        ctx = self._llm._ctx.ctx
        size = llama_cpp.llama_state_get_size(ctx)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(ctx, buffer, size)
        return ctypes.string_at(buffer, written)

    def _restore(self, snapshot: Snapshot) -> bool:
        """Load a snapshot into the context; False (and an empty cache) if llama.cpp rejects it."""
        buffer = (ctypes.c_uint8 * len(snapshot.state)).from_buffer_copy(snapshot.state)
        if llama_cpp.llama_state_set_data(self._llm._ctx.ctx, buffer, len(snapshot.state)) != len(snapshot.state):
            self._llm.reset()
            return False
        n = len(snapshot.tokens)
        self._llm.input_ids[:n] = snapshot.tokens
        self._llm.n_tokens = n
        self._llm._requires_eval = True  # logits are not part of the snapshot's use
        return True


def _fallbacks(n_ctx: int, gpu_layers: int, n_layer: int) -> Iterator[tuple[int, int]]:
    """What to try when allocation fails: halve the context down to 2048, then the GPU layers."""
    yield n_ctx, gpu_layers
    while n_ctx > 2048:
        n_ctx = max(2048, n_ctx // 2 // 256 * 256)
        yield n_ctx, gpu_layers
    layers = n_layer if gpu_layers < 0 else gpu_layers
    while layers > 0:
        layers //= 2
        yield n_ctx, layers


def _layers(gpu_layers: int) -> str:
    return "all layers" if gpu_layers < 0 else f"{gpu_layers} layers"


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class _CountingLlama(llama_cpp.Llama):
    """Counts the prompt tokens a generation really evaluates.

    Everything evaluated between ``start_counting`` and the first sampled
    token is prompt work; what prefix matching or a snapshot skipped is not.
    """

    def start_counting(self) -> None:
        self.prompt_evaluated = 0
        self._counting = True

    def eval(self, tokens):  # noqa: ANN001 - signature of the parent
        if getattr(self, "_counting", False):
            self.prompt_evaluated += len(tokens)
        super().eval(tokens)

    def sample(self, *args, **kwargs):
        self._counting = False
        return super().sample(*args, **kwargs)
