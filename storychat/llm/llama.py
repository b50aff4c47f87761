"""The embedded engine: llama-cpp-python running a GGUF file in this process.

Prompts are rendered with the GGUF's own chat template, so the engine knows
the exact tokens of the stable prefix (the system message with the stories).
That prefix is restored from a KV snapshot when one exists; llama-cpp-python's
prefix matching then evaluates only the rest of the prompt. Otherwise the whole
prompt is evaluated, and once the answer has streamed the state is written to a
snapshot file in the background, when restoring it is expected to beat a
prefill (see ``snapshot_estimate``).
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Generator, Iterator

import llama_cpp
import numpy as np
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from storychat.config import DEFAULTS
from storychat.llm.engine import ChatStream, EngineError, EngineInfo, Message, StopGenerating, Usage
from storychat.llm.gguf import model_shape, read_metadata
from storychat.llm.kvcache import KVCache, SnapshotError, snapshot_key
from storychat.llm.memory import estimate, free_memory, kv_bytes, largest_context

KV_TYPES = {
    "f16": llama_cpp.GGML_TYPE_F16,
    "q8_0": llama_cpp.GGML_TYPE_Q8_0,
    "q4_0": llama_cpp.GGML_TYPE_Q4_0,
}
FLASH_ATTN_MODES = ("on", "off", "auto")
PARTIAL = "-partial"  # a prefix source whose snapshot held only the start of the prefix
# Templates for GGUFs that carry none: plain ChatML.
CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
@dataclass(frozen=True)
class SnapshotEstimate:
    """Whether a snapshot of ``tokens`` prefix tokens pays: reading it back vs evaluating them again."""

    tokens: int
    bytes: int
    read_bytes_per_s: float  # this disk, measured by the cache
    prefill_tps: float  # this engine, measured by the startup probe (or its last cold prompt)

    @property
    def restore_s(self) -> float:
        return self.bytes / self.read_bytes_per_s

    @property
    def prefill_s(self) -> float:
        return self.tokens / self.prefill_tps

    @property
    def pays(self) -> bool:
        return self.restore_s < self.prefill_s

    def sentence(self) -> str:
        verdict = "snapshots are taken" if self.pays else "no snapshots: prefill is cheaper"
        return (
            f"KV snapshot of {self.tokens:,} model tokens ({self.bytes / 2**30:.2f} GiB): restore about {self.restore_s:.2f} s "
            f"at the {self.read_bytes_per_s / 2**20:,.0f} MiB/s this disk reads, prefill about {self.prefill_s:.2f} s "
            f"at {self.prefill_tps:,.0f} model tokens/s: {verdict}"
        )


@dataclass(frozen=True)
class TurnSpeed:
    depth: int  # tokens already in the context
    turn_s: float  # seconds to evaluate the turn's tokens after them
    decode_tps: float  # decode speed at that depth


@dataclass(frozen=True)
class EngineOptions:
    n_ctx: int | None = None  # cap; the model's trained context when None
    gpu_layers: int | None = None  # None: all layers when the build can offload, else 0
    flash_attn: str = DEFAULTS.flash_attn  # "on", "off", or "auto": see use_flash_attn
    kv_type: str = DEFAULTS.kv_type
    threads: int | None = None  # None: the physical cores, as llama.cpp counts them
    cache: KVCache | None = None
    on_load_progress: Callable[[float], None] | None = None  # called with 0..1 while llama.cpp loads the weights


@dataclass(frozen=True, kw_only=True)
class LlamaInfo(EngineInfo):
    n_ctx_train: int
    can_offload: bool
    gpu_layers: int
    n_layer: int
    flash_attn: bool
    kv_type: str
    kv_bytes: int = 0  # memory the KV cache holds for the whole context
    probe_load: float = 0.0  # the machine's 1-minute load average when the speed probe ran

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


def probe_conditions(load: float) -> str:
    """How busy the machine was while the speed probe ran: other work slows both speeds."""
    cores = os.cpu_count() or 1
    if load < 0.5:
        return "on an idle machine"
    return f"under a load average of {load:.1f} on {cores} cores (other work was running and slowed it)"


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
            self._context_free.wait()  # a snapshot of the last answer may still be being written
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
        # After an answer its snapshot is written in the background, without the lock;
        # whoever uses the context next waits for this.
        self._context_free = threading.Event()
        self._context_free.set()
        self._writer: threading.Thread | None = None
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
            parameters=llama_cpp.llama_model_n_params(self._llm.model),
        )
        self._kv_per_token = kv_bytes(shape, 1, options.kv_type)
        self._formatter = self._chat_formatter()
        self._prefix_memo: tuple[str, list[int]] = ("", [])
        self._observed_tps = 0.0  # prefill speed of the last cold prompt, when no probe ran

    def info(self) -> LlamaInfo:
        return self._info

    def report(self) -> list[str]:
        info = self._info
        lines = [
            f"Model: {info.model}, context {info.n_ctx:,} model tokens (trained {info.n_ctx_train:,})",
            f"GPU offload: {'supported' if info.can_offload else 'not supported by this build or no GPU found'}; "
            f"layers on GPU: {info.gpu_layers}/{info.n_layer}",
            f"Flash attention: {'on' if info.flash_attn else 'off'}; KV cache: {info.kv_type}, {info.kv_bytes / 2**20:,.0f} MiB",
        ]
        if info.prefill_tps:
            lines.append(
                f"Speed probe at startup, {probe_conditions(info.probe_load)}: prefill {info.prefill_tps:,.0f} "
                f"model tokens/s, decode {info.decode_tps:,.1f} model tokens/s"
            )
        free = free_memory(info.gpu_layers > 0)
        lines.append(estimate(self.path, info.n_ctx, info.kv_type, info.flash_attn).sentence(info.model))
        lines.append(
            f"Largest context that fits the {free.bytes / 2**30:.1f} GB of {free.source}: "
            f"{largest_context(self.path, info.kv_type, free.bytes, info.n_ctx_train, info.flash_attn):,} model tokens"
        )
        snapshot = self.snapshot_estimate(info.n_ctx)
        if self.options.cache is None:
            lines.append("KV snapshots: off (--cache-disk 0)")
        elif snapshot:
            lines.append(snapshot.sentence() + " (a full context)")
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
            probe_load=os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0,
            prefill_tps=round(len(tokens) / (prefilled - started), 1),
            decode_tps=round(decode_tokens / (decoded - prefilled), 1),
        )
        return self._info

    @_serialised
    def turn_speed(self, depth: int, turn: int = 40, decode: int = 16) -> TurnSpeed:
        """What a follow-up costs deep in a context: ``turn`` tokens evaluated, then ``decode``
        decoded, after ``depth`` tokens of filler. The context is left empty."""
        tokens = (self.tokenize("As a planner, I want to see every story we wrote, so that I can plan. ") * depth)[: depth + turn]
        self._llm.reset()
        self._llm.eval(tokens[:depth])
        started = time.perf_counter()
        self._llm.eval(tokens[depth:])
        evaluated = time.perf_counter()
        for token in tokens[:decode]:
            self._llm.eval([token])
        decoded = time.perf_counter()
        self._llm.reset()
        return TurnSpeed(depth=depth, turn_s=evaluated - started, decode_tps=decode / (decoded - evaluated))

    def _fitting_context(self, trained: int, on_gpu: bool) -> int:
        """The trained length, capped by --n-ctx and by what the free memory holds."""
        wanted = context_size(trained, self.options.n_ctx)
        free = free_memory(on_gpu)
        fits = largest_context(self.path, self.options.kv_type, free.bytes, trained, self._flash_attn)
        if fits < wanted:
            self.notes.append(
                f"context capped at {max(256, fits)} tokens (asked for {wanted}) to fit the "
                f"{free.bytes / 2**30:.1f} GB of {free.source}"
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
            on_load_progress=self.options.on_load_progress,
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
            self._context_free.wait()
            prompt, formatted = self._prompt(messages)
            prefix = self._stable_prefix(messages)
            self._llm.start_counting()
            source = self._load_prefix(prefix, cache_label)
            pieces: list[str] = []
            started = time.perf_counter()
            first_token_at = 0.0
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
            failed = True
            try:
                for chunk in stream:
                    first_token_at = first_token_at or time.perf_counter()
                    text = chunk["choices"][0]["text"]
                    if text:
                        pieces.append(text)
                        yield text
                failed = False
            except GeneratorExit:  # the reader stopped early: the prompt is evaluated all the same
                failed = False
                raise
            except StopGenerating:  # stopped on purpose: counted below, as an answer that ended
                failed = False
            finally:
                stream.close()
                if source is None or source.endswith(PARTIAL):
                    if first_token_at and self._llm.prompt_evaluated:
                        self._observed_tps = self._llm.prompt_evaluated / (first_token_at - started)
                    saved = not failed and self._snapshot_after(prefix, cache_label)
                    source = source or ("cold" if saved else "prompt")
            return Usage(
                prompt_tokens=len(prompt),
                prompt_evaluated=self._llm.prompt_evaluated,
                completion_tokens=self.count("".join(pieces)),
                prefix_source=source,
            )

    def snapshot_estimate(self, tokens: int) -> SnapshotEstimate | None:
        """What a snapshot of ``tokens`` prefix tokens would cost to restore and save; None without a cache."""
        cache = self.options.cache
        prefill_tps = self._info.prefill_tps or self._observed_tps
        if cache is None or not prefill_tps:
            return None
        return SnapshotEstimate(tokens, tokens * self._kv_per_token, cache.read_speed(), prefill_tps)

    def wait_for_snapshot(self) -> None:
        """Return once the snapshot being written, if any, is on disk."""
        if self._writer:
            self._writer.join()
            self._writer = None

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

    def _load_prefix(self, prefix: list[int], label: str) -> str | None:
        """Make the KV cache start with ``prefix`` when it can; say where it came from.

        "live": already there; "ram"/"disk": restored from a snapshot; "ram-partial"/"disk-partial":
        the snapshot of the label's earlier stories restored, the prompt evaluating from their first
        change on. None: the prompt evaluates it (a snapshot may be taken after the answer).
        """
        live = _common(self._llm.input_ids[: self._llm.n_tokens].tolist(), prefix)
        if live == len(prefix):
            return "live"
        cache = self.options.cache
        found = cache.find(self._snapshot_key(prefix)) if cache else None
        if found:
            path, source = found
            if self._restore(path, prefix):
                cache.used(path.stem)
                return source
            cache.discard(path.stem)  # llama.cpp rejected it: written by another build or damaged
        return self._load_partial(prefix, label, live) if cache else None

    def _load_partial(self, prefix: list[int], label: str, live: int) -> str | None:
        """Restore the label's snapshot when it shares more of ``prefix`` than the live context does."""
        labelled = self.options.cache.labelled(label)
        if labelled is None:
            return None
        key, tokens = labelled
        shared = _common(tokens, prefix)
        found = self.options.cache.find(key)
        if shared <= live or not found:
            return None  # llama.cpp reuses the live context's common start by itself
        path, source = found
        if not self._restore(path, prefix[:shared]):
            self.options.cache.discard(key)
            return None
        self.options.cache.used(key)
        return source + PARTIAL

    def _snapshot_key(self, prefix: list[int]) -> str:
        return snapshot_key(self.path, self.context_length, self.options.kv_type, self._flash_attn, tuple(prefix))

    def _snapshot_after(self, prefix: list[int], label: str) -> bool:
        """Start writing the context's state to a snapshot file if that pays; True when started."""
        estimate = self.snapshot_estimate(len(prefix))
        if estimate is None or not estimate.pays:
            return False
        n = self._llm.n_tokens
        tokens = (llama_cpp.llama_token * n)(*self._llm.input_ids[:n].tolist())
        self._context_free.clear()
        self._writer = threading.Thread(
            target=self._write_snapshot, args=(self._snapshot_key(prefix), label, tokens, prefix), name="kv-snapshot"
        )
        self._writer.start()
        return True

    def _write_snapshot(self, key: str, label: str, tokens, prefix: list[int]) -> None:
        ctx = self._llm._ctx.ctx

        def write(path: Path) -> bool:
            try:
                return llama_cpp.llama_state_save_file(ctx, os.fsencode(path), tokens, len(tokens))
            finally:
                self._context_free.set()  # the file is written; fsync and eviction need no context

        try:
            self.options.cache.save(key, label, llama_cpp.llama_state_get_size(ctx) + 12 + 4 * len(tokens), write, prefix)
        except (SnapshotError, OSError) as exc:
            self.notes.append(str(exc))
            print(f"Note: {exc}", file=sys.stderr, flush=True)
        finally:
            self._context_free.set()

    def _restore(self, path: Path, prefix: list[int]) -> bool:
        """Load a snapshot file into the context; False (and an empty context) if llama.cpp rejects it."""
        capacity = self.context_length
        tokens = (llama_cpp.llama_token * capacity)()
        n = ctypes.c_size_t()
        loaded = llama_cpp.llama_state_load_file(self._llm._ctx.ctx, os.fsencode(path), tokens, capacity, ctypes.byref(n))
        restored = np.ctypeslib.as_array(tokens)[: n.value]
        if not loaded or restored[: len(prefix)].tolist() != prefix:
            self._llm.reset()
            return False
        self._llm.input_ids[: n.value] = restored
        self._llm.n_tokens = n.value
        self._llm._requires_eval = True  # no logits come with a snapshot: evaluate at least one token
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

    def __init__(self, *args, on_load_progress: Callable[[float], None] | None = None, **kwargs):
        self._load_progress = None
        if on_load_progress:
            # Kept on self: llama.cpp holds only a C pointer to it while the weights load.
            self._load_progress = llama_cpp.llama_progress_callback(lambda progress, _: on_load_progress(progress) or True)
        super().__init__(*args, **kwargs)

    # Llama() makes its llama.cpp model params and loads the weights with them inside its
    # constructor, with no argument for a progress callback; this setter adds ours as they are made.
    @property
    def model_params(self):
        return self._model_params

    @model_params.setter
    def model_params(self, params) -> None:
        if self._load_progress is not None:
            params.progress_callback = self._load_progress
        self._model_params = params

    def start_counting(self) -> None:
        self.prompt_evaluated = 0
        self._counting = True

    def eval(self, tokens):
        if getattr(self, "_counting", False):
            self.prompt_evaluated += len(tokens)
        super().eval(tokens)

    def sample(self, *args, **kwargs):
        self._counting = False
        return super().sample(*args, **kwargs)
